//! Retention: evidence older than `store.retention_days` is purged (interactions, resolved
//! tickets, idle conversations), and audit entries older than `store.audit_retention_days`, by
//! `personabot evidence purge` and by a background task in `serve` that runs at start and then
//! every hour. The clock is a parameter, so the task is
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
    pub audit: usize,
}

/// How many days each kind of record is kept (0: forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Interactions, resolved tickets and idle conversations.
    pub evidence_days: u32,
    /// The audit log.
    pub audit_days: u32,
}

impl Windows {
    /// The windows of `settings`.
    pub fn of(settings: &crate::catalog::settings::StoreSettings) -> Windows {
        Windows {
            evidence_days: settings.retention_days,
            audit_days: settings.audit_retention_days,
        }
    }
}

/// The oldest time (ms since the epoch) kept at `now_ms` with a window of `days` days; `None`
/// when retention is off (`days == 0`).
pub fn cutoff(now_ms: u64, days: u32) -> Option<u64> {
    (days > 0).then(|| now_ms.saturating_sub(u64::from(days) * DAY_MS))
}

/// Purges what is older than its window at `now_ms` (nothing for a window of 0 days).
pub fn purge(store: &Store, now_ms: u64, windows: Windows) -> Result<Purged, StoreError> {
    let mut purged = Purged::default();
    if let Some(cutoff) = cutoff(now_ms, windows.evidence_days) {
        purged.interactions = store.purge_before(cutoff)?;
        (purged.tickets, purged.conversations) = store.purge_stale_before(cutoff)?;
    }
    if let Some(cutoff) = cutoff(now_ms, windows.audit_days) {
        purged.audit = store.purge_audit_before(cutoff)?;
    }
    Ok(purged)
}

/// The background task: purges at once, then every `every`, reading the time from `clock`
/// (ms since the epoch). Runs until aborted; does nothing when both windows are 0.
pub async fn run(
    pipeline: Arc<Pipeline>,
    windows: Windows,
    every: Duration,
    clock: impl Fn() -> u64 + Send + Sync + 'static,
) {
    if windows.evidence_days == 0 && windows.audit_days == 0 {
        return;
    }
    let clock = Arc::new(clock);
    loop {
        let (p, clock) = (pipeline.clone(), clock.clone());
        match tokio::task::spawn_blocking(move || purge(p.store(), clock(), windows)).await {
            Ok(Ok(purged)) if purged != Purged::default() => tracing::info!(
                interactions = purged.interactions,
                tickets = purged.tickets,
                conversations = purged.conversations,
                audit = purged.audit,
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
