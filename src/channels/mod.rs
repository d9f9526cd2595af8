//! Channel adapters: each turns its platform's messages into [`Inbound`](crate::engine::pipeline::Inbound)
//! and sends the pipeline's replies back. One file per channel.

pub mod dedupe;
pub mod discord;
pub mod slack;
pub mod telegram;
pub mod terminal;
pub mod web;

use axum::Router;

use crate::engine::AppState;

/// The HTTP routes of every channel that has any (one line per channel).
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(web::routes())
        .merge(slack::routes())
        .merge(telegram::routes())
}

/// Starts the background work of every channel that has any (one line per channel); each says
/// once at startup why it stays off when its secrets are missing.
pub async fn start_all(state: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut running = Vec::new();
    running.extend(slack::start(state.clone()).await);
    running.extend(telegram::start(state.clone()).await);
    running
}
