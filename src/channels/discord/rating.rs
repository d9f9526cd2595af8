//! Discord's "How did we do?": after a resolve, five buttons where the customer wrote (the
//! channel or DM of the ticket's conversation); a press is taken only from the ticket's customer.

use serenity::all::{
    ChannelId, ComponentInteraction, Context, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage,
};
use serenity::http::Http;

use super::wire::{delivery_channel, fit, id, no_pings, rating_components, MAX_CONTENT};
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
            let label = csat::LABELS
                .get(usize::from(rating).saturating_sub(1))
                .copied()
                .unwrap_or_default();
            let content = fit(
                &format!("{}\n\n→ {label}\n{}", csat::QUESTION, csat::THANKS),
                MAX_CONTENT,
            );
            CreateInteractionResponse::UpdateMessage(
                CreateInteractionResponseMessage::new()
                    .content(content)
                    .components(Vec::new())
                    .allowed_mentions(no_pings()),
            )
        }
        Some(Err(e)) => super::wire::text_response(&e.user_message(), true),
        None => super::wire::text_response(crate::core::wording::SOMETHING_WRONG, true),
    };
    if let Err(e) = c.create_response(&ctx.http, response).await {
        tracing::error!(error = %e, "Discord rating response failed");
    }
}
