//! Retention: evidence older than `store.retention_days` is purged (interactions, resolved
//! tickets, idle conversations), by `personabot evidence purge` and by a background task in
//! `serve` that runs at start and then every hour. The clock is a parameter, so the task is
//! tested with an injected one.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::engine::pipeline::Pipeline;
use crate::store::{Store, StoreError};

const DAY_MS: u64 = 86_400_000;

/// How often `serve` purges.
pub const EVERY: Duration = Duration::from_secs(3600);

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub interactions: usize,
    pub tickets: usize,
    pub conversations: usize,
}

/// The oldest time (ms since the epoch) kept at `now_ms` with a window of `days` days; `None`
/// when retention is off (`days == 0`).
pub fn cutoff(now_ms: u64, days: u32) -> Option<u64> {
    (days > 0).then(|| now_ms.saturating_sub(u64::from(days) * DAY_MS))
}

/// Purges what is older than the window at `now_ms` (nothing when `days == 0`).
pub fn purge(store: &Store, now_ms: u64, days: u32) -> Result<Purged, StoreError> {
    let Some(cutoff) = cutoff(now_ms, days) else {
        return Ok(Purged::default());
    };
    let interactions = store.purge_before(cutoff)?;
    let (tickets, conversations) = store.purge_stale_before(cutoff)?;
    Ok(Purged {
        interactions,
        tickets,
        conversations,
    })
}

/// The background task: purges at once, then every `every`, reading the time from `clock`
/// (ms since the epoch). Runs until aborted; does nothing when `days == 0`.
pub async fn run(
    pipeline: Arc<Pipeline>,
    days: u32,
    every: Duration,
    clock: impl Fn() -> u64 + Send + Sync + 'static,
) {
    if days == 0 {
        return;
    }
    let clock = Arc::new(clock);
    loop {
        let (p, clock) = (pipeline.clone(), clock.clone());
        match tokio::task::spawn_blocking(move || purge(p.store(), clock(), days)).await {
            Ok(Ok(purged)) if purged != Purged::default() => tracing::info!(
                interactions = purged.interactions,
                tickets = purged.tickets,
                conversations = purged.conversations,
                "retention purge"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention purge failed"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_days_before_now_and_zero_days_keeps_everything() {
        let table = [
            (100 * DAY_MS, 30, Some(70 * DAY_MS)),
            (100 * DAY_MS, 180, Some(0)),
            (100 * DAY_MS, 0, None),
            (DAY_MS + 5, 1, Some(5)),
        ];
        for (now, days, want) in table {
            assert_eq!(cutoff(now, days), want, "{now} {days}");
        }
    }
}
