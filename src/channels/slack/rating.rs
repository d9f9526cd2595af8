//! Slack's "How did we do?": after a resolve, five Block Kit buttons in the customer's thread;
//! a press (through the signed interactivity endpoint) is taken only from the ticket's customer.

use crate::engine::csat;
use crate::engine::pipeline::PipelineEvent;
use crate::engine::AppState;

use super::api::Api;
use super::wire::{escape, parse_conversation, rating_actions, Press};
use super::{ephemeral, replace_answer, CHANNEL, SOMETHING_WRONG};

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
/// then shows the choice, without buttons); anyone else is told, privately, and nothing is
/// stored.
pub(super) async fn on_press(state: &AppState, api: &Api, ticket: u64, rating: u8, p: Press) {
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
            replace_answer(api, &p, &text).await;
        }
        Ok(Err(e)) => ephemeral(api, &p, &e.user_message()).await,
        Err(_) => ephemeral(api, &p, SOMETHING_WRONG).await,
    }
}
