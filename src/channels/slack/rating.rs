//! Slack's "How did we do?": after a resolve, five Block Kit buttons in the customer's thread;
//! a press (through the signed interactivity endpoint) is taken only from the ticket's customer.
//! Once rated, "Add a comment" opens a form (a modal view, `views.open`) whose text is stored
//! with the rating when it is sent (`view_submission`).

use crate::engine::csat;
use crate::engine::pipeline::PipelineEvent;
use crate::engine::AppState;

use super::api::Api;
use super::wire::{
    comment_actions, comment_view, escape, parse_conversation, rating_actions, Press, RatingAction,
};
use super::{ephemeral, replace_answer_with, CHANNEL, SOMETHING_WRONG};

/// Asks the customer of each Slack ticket just resolved to rate it, in the ticket's thread.
pub(super) async fn ask_for_ratings(
    api: Api,
    mut events: tokio::sync::broadcast::Receiver<PipelineEvent>,
) {
    while let Some(event) = crate::engine::pipeline::next_event(&mut events, CHANNEL).await {
        let Some(ticket) = csat::asks_for_rating(&event) else {
            continue;
        };
        if ticket.channel != CHANNEL {
            continue;
        }
        let Some((channel, thread)) = parse_conversation(&ticket.conversation) else {
            continue;
        };
        let controls = [rating_actions(ticket.id)];
        let (sent, attempts) = api
            .post(channel, thread, &escape(csat::QUESTION), &controls)
            .await;
        if let Err(e) = sent {
            tracing::error!(error = %e, attempts, ticket = ticket.id, "rating question not delivered");
        }
    }
}

/// A press of a rating button: stored when the presser is the ticket's customer (the question
/// then shows the choice, with "Add a comment"); anyone else is told, privately, and nothing
/// is stored.
pub(super) async fn on_press(
    state: &AppState,
    api: &Api,
    ticket: u64,
    action: RatingAction,
    p: Press,
) {
    let rating = match action {
        RatingAction::Rate(rating) => rating,
        RatingAction::Comment { trigger_id } => {
            return open_comment_form(state, api, ticket, &trigger_id, &p).await
        }
    };
    let presser = p.presser.clone();
    let rated = state
        .blocking(move |pl| csat::rate_ticket(pl, ticket, &presser, rating, None))
        .await;
    match rated {
        Ok(Ok(t)) => {
            let p = Press {
                conversation: t.conversation,
                ..p
            };
            let label = csat::LABELS
                .get(usize::from(rating).saturating_sub(1))
                .copied()
                .unwrap_or_default();
            let text = format!(
                "{}\n\n_→ {}_\n{}",
                escape(csat::QUESTION),
                escape(label),
                escape(csat::THANKS)
            );
            replace_answer_with(api, &p, &text, &[comment_actions(ticket)]).await;
        }
        Ok(Err(e)) => ephemeral(api, &p, &e.user_message()).await,
        Err(_) => ephemeral(api, &p, SOMETHING_WRONG).await,
    }
}

/// "Add a comment": the form, for the ticket's customer only.
async fn open_comment_form(state: &AppState, api: &Api, ticket: u64, trigger_id: &str, p: &Press) {
    let presser = p.presser.clone();
    let allowed = state
        .blocking(move |pl| csat::ticket_to_rate(pl, ticket, &presser))
        .await;
    match allowed {
        Ok(Ok(_)) => {
            let body = serde_json::json!({"trigger_id": trigger_id, "view": comment_view(ticket)});
            let (opened, _) = api.call("views.open", &body).await;
            if let Err(e) = opened {
                tracing::warn!(error = %e, ticket, "the rating's comment form did not open");
            }
        }
        Ok(Err(e)) => ephemeral(api, p, &e.user_message()).await,
        Err(_) => ephemeral(api, p, SOMETHING_WRONG).await,
    }
}

/// The comment form sent by `user`: stored (redacted) with their rating of `ticket`.
pub(super) async fn on_comment(state: &AppState, ticket: u64, user: &str, text: Option<String>) {
    let user = user.to_string();
    let comment = csat::comment(text.as_deref());
    let stored = state
        .blocking(move |pl| csat::comment_ticket(pl, ticket, &user, comment))
        .await;
    match stored {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, ticket, "a rating's comment was refused"),
        Err(e) => tracing::error!(error = %e, ticket, "a rating's comment was not stored"),
    }
}
