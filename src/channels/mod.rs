//! Channel adapters: each turns its platform's messages into [`Inbound`](crate::pipeline::Inbound)
//! and sends the pipeline's replies back. One file per channel.

pub mod discord;
pub mod terminal;
pub mod web;

use axum::Router;

use crate::server::AppState;

/// The HTTP routes of every channel that has any (one line per channel).
pub fn routes() -> Router<AppState> {
    Router::new().merge(web::routes())
}
