//! Discord's "How did we do?": after a resolve, five buttons where the customer wrote (the
//! channel or DM of the ticket's conversation); a press is taken only from the ticket's customer.
//! Once rated, "Add a comment" opens a form (a modal) whose text is stored with the rating.

use serenity::all::{
    ChannelId, ComponentInteraction, Context, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage, ModalInteraction,
};
use serenity::http::Http;

use super::wire::{
    comment_components, comment_modal, delivery_channel, fit, id, modal_comment, no_pings,
    rating_components, text_response, Control, MAX_CONTENT,
};
use super::{blocking, send, Shared};
use crate::engine::csat;
use crate::store::Ticket;

/// Asks the customer of the just-resolved ticket `t` to rate it.
pub(super) async fn ask(http: &Http, t: &Ticket) {
    let Some(channel) = delivery_channel(&t.conversation).and_then(id::<ChannelId>) else {
        return;
    };
    let m = CreateMessage::new()
        .content(csat::QUESTION)
        .components(rating_components(t.id))
        .allowed_mentions(no_pings());
    let (result, attempts) = send(http, channel, m).await;
    if let Err(e) = result {
        tracing::error!(error = %e, attempts, ticket = t.id, "rating question not delivered");
    }
}

/// A press of a rating button: stores the rating when the presser is the ticket's customer
/// (the question then says what they chose, without buttons); anyone else is told, privately,
/// that only the customer can rate, and nothing is stored.
pub(super) async fn on_press(
    s: &Shared,
    ctx: &Context,
    c: &ComponentInteraction,
    ticket: u64,
    rating: u8,
) {
    let presser = c.user.id.get().to_string();
    let pipeline = s.state.pipeline.clone();
    let rated =
        blocking(move || csat::rate_ticket(&pipeline, ticket, &presser, rating, None)).await;
    let response = match rated {
        Some(Ok(_)) => {
            let content = format!(
                "{}\n\n→ {}\n{}",
                csat::QUESTION,
                label(rating),
                csat::THANKS
            );
            updated(&content, comment_components(ticket))
        }
        Some(Err(e)) => text_response(&e.user_message(), true),
        None => text_response(crate::core::wording::SOMETHING_WRONG, true),
    };
    if let Err(e) = c.create_response(&ctx.http, response).await {
        tracing::error!(error = %e, "Discord rating response failed");
    }
}

/// The label of a rating ("4 – good").
fn label(rating: u8) -> &'static str {
    csat::LABELS
        .get(usize::from(rating).saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// The question's message, updated in place to `content` with `components`.
fn updated(
    content: &str,
    components: Vec<serenity::all::CreateActionRow>,
) -> CreateInteractionResponse {
    CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .content(fit(content, MAX_CONTENT))
            .components(components)
            .allowed_mentions(no_pings()),
    )
}

/// "Add a comment": the comment form, for the ticket's customer once they rated it.
pub(super) async fn on_comment_press(
    s: &Shared,
    ctx: &Context,
    c: &ComponentInteraction,
    ticket: u64,
) {
    let presser = c.user.id.get().to_string();
    let pipeline = s.state.pipeline.clone();
    let allowed = blocking(move || csat::ticket_to_rate(&pipeline, ticket, &presser)).await;
    let response = match allowed {
        Some(Ok(_)) => CreateInteractionResponse::Modal(comment_modal(ticket)),
        Some(Err(e)) => text_response(&e.user_message(), true),
        None => text_response(crate::core::wording::SOMETHING_WRONG, true),
    };
    if let Err(e) = c.create_response(&ctx.http, response).await {
        tracing::error!(error = %e, "Discord comment form failed");
    }
}

/// The comment form sent: the comment (redacted, as all customer text) is stored with the
/// customer's rating, and the question says thanks, without buttons.
pub(super) async fn on_modal(s: &Shared, ctx: &Context, m: &ModalInteraction) {
    let Some(Control::RateModal { ticket }) = Control::parse(&m.data.custom_id) else {
        return;
    };
    let presser = m.user.id.get().to_string();
    let comment = csat::comment(modal_comment(&m.data.components).as_deref());
    let pipeline = s.state.pipeline.clone();
    let stored = blocking(move || csat::comment_ticket(&pipeline, ticket, &presser, comment)).await;
    let response = match stored {
        Some(Ok(t)) => {
            let rating = t.csat.map_or(0, |c| c.rating);
            let content = format!(
                "{}\n\n→ {}\nThank you for your feedback!",
                csat::QUESTION,
                label(rating)
            );
            updated(&content, Vec::new())
        }
        Some(Err(e)) => text_response(&e.user_message(), true),
        None => text_response(crate::core::wording::SOMETHING_WRONG, true),
    };
    if let Err(e) = m.create_response(&ctx.http, response).await {
        tracing::error!(error = %e, "Discord comment response failed");
    }
}
