//! The channels: each turns its platform's messages into [`Inbound`] messages for the one
//! runtime ([`AppState::handle`], after [`AppState::admit`] for the flood limit) and delivers
//! the replies back. What they share is in [`kit`]: button labels, ordered delivery per
//! conversation, the retry policy, and the relay of agents' replies.
//!
//! Adding a channel: a file (or folder) here implementing [`Channel`], and one line in
//! [`ALL`]. `serve` then mounts its routes and starts it with the others, and shutdown stops
//! it with them. The terminal channel is `personabot chat`, not part of `serve`.
//!
//! [`Inbound`]: crate::engine::pipeline::Inbound

pub mod dedupe;
pub mod discord;
pub mod kit;
pub mod markdown;
pub mod slack;
pub mod telegram;
pub mod terminal;
pub mod thread_note;
pub mod web;

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use tokio::task::JoinHandle;

use crate::engine::AppState;

/// A boxed future, as channels return from [`Channel::start`].
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One chat platform the bot serves on. Only [`name`](Channel::name) is required: a channel
/// without webhooks keeps the default [`routes`](Channel::routes) (none), and one without
/// background work keeps the default [`start`](Channel::start) (nothing runs).
pub trait Channel: Sync {
    /// The name recorded with each interaction and in the metrics (`http`, `slack`...).
    fn name(&self) -> &'static str;

    /// The HTTP routes it receives on (webhooks, pages). Default: none.
    fn routes(&self) -> Router<AppState> {
        Router::new()
    }

    /// Starts its background work (a gateway connection, polling, relaying agents' replies)
    /// once `serve` is up. A channel whose secrets are missing says so once on stderr and
    /// returns [`Running::default`]; an error stops `serve`. Default: nothing to run.
    fn start(&self, state: AppState) -> BoxFuture<Result<Running, StartError>> {
        let _ = state;
        Box::pin(async { Ok(Running::default()) })
    }
}

/// What a started channel leaves running.
#[derive(Default)]
pub struct Running {
    /// Background tasks, aborted at shutdown.
    pub tasks: Vec<JoinHandle<()>>,
    /// A graceful stop run at shutdown, alongside the HTTP drain (Discord closes its gateway
    /// and lets its handlers answer). Default: none.
    pub stop: Option<BoxFuture<()>>,
}

impl Running {
    /// Background tasks only, no graceful stop.
    pub fn tasks(tasks: impl IntoIterator<Item = JoinHandle<()>>) -> Running {
        Running {
            tasks: tasks.into_iter().collect(),
            stop: None,
        }
    }
}

/// A channel that is configured but cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the {channel} channel: {message}")]
pub struct StartError {
    pub channel: &'static str,
    pub message: String,
}

/// Every channel `serve` runs, one line each.
pub(crate) const ALL: &[&dyn Channel] = &[
    &web::WebChannel,
    &slack::SlackChannel,
    &telegram::TelegramChannel,
    &discord::DiscordChannel,
];

/// The HTTP routes of every channel.
pub fn routes() -> Router<AppState> {
    ALL.iter().fold(Router::new(), |router, channel| {
        router.merge(channel.routes())
    })
}

/// Starts every channel, in [`ALL`]'s order; the first that fails to start stops the rest.
pub async fn start_all(state: AppState) -> Result<Vec<Running>, StartError> {
    let mut running = Vec::new();
    for channel in ALL {
        running.push(channel.start(state.clone()).await?);
    }
    Ok(running)
}

/// Stops what [`start_all`] started: the background tasks at once (no more polling or
/// relaying), then each graceful stop.
pub async fn stop_all(running: Vec<Running>) {
    let mut stops = Vec::new();
    for r in running {
        for task in r.tasks {
            task.abort();
        }
        stops.extend(r.stop);
    }
    for stop in stops {
        stop.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_is_listed_once_with_its_recorded_name() {
        let names: Vec<&str> = ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["web", "slack", "telegram", "discord"]);
        assert_eq!(slack::CHANNEL, "slack");
        assert_eq!(telegram::CHANNEL, "telegram");
        assert_eq!(discord::CHANNEL, "discord");
        // Metrics label them, and no bridge may take their names.
        use crate::catalog::settings::RESERVED_CHANNELS;
        for name in names.iter().chain([&terminal::CHANNEL]) {
            assert!(RESERVED_CHANNELS.contains(name), "{name}");
        }
    }
}
