//! The Slack channel (stub: being written).

use axum::Router;

use crate::server::AppState;

/// HTTP routes of this channel (webhooks).
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// Starts background work (delivery of agent replies, polling) when the channel's secrets are
/// set; says once why it stays off otherwise.
pub async fn start(_state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    None
}
