//! Retention across the streams, beside each node's own purge (`ops::retention`).
//!
//! - `PB_EVIDENCE` gets `max_age` = `store.retention_days` (0: kept forever), so JetStream drops
//!   an interaction about when the nodes purge it: a message is published seconds after its
//!   turn, or, after a NATS outage, as soon as NATS is back, so it outlives its turn by at most
//!   that delay (the same holds for a relabelled version, published when an agent relabels).
//!   Every node sets it when it starts; give all nodes the same `store.retention_days`.
//! - `PB_TICKETS` gets no `max_age`: an open ticket is kept however old it is, so its events
//!   must stay too. Instead each node, at start and then every hour, deletes its own events
//!   (`pb.tickets.<node>`) of tickets its store no longer holds (purged when resolved and older
//!   than the window, or forgotten).
//! - `PB_CONTROL` keeps a request at most `forget::CONTROL_MAX_AGE`.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::Context;

use super::outbox::{stream_config, subject, OutboxStream, TICKETS_STREAM};
use super::{publisher, read, ClusterError};
use crate::ops::retention::{Windows, EVERY};
use crate::store::{Store, TicketEvent};

const DAY: Duration = Duration::from_secs(86_400);

/// `PB_EVIDENCE`'s `max_age` for a window of `days` (zero: no limit).
pub fn evidence_max_age(days: u32) -> Duration {
    DAY * days
}

/// The stream sequences of `events` (sequence, ticket id) whose ticket is not in `kept`.
pub fn expired_events(events: &[(u64, u64)], kept: &HashSet<u64>) -> Vec<u64> {
    events
        .iter()
        .filter(|(_, ticket)| !kept.contains(ticket))
        .map(|(seq, _)| *seq)
        .collect()
}

/// Sets `PB_EVIDENCE`'s `max_age` for `windows` (creating the stream if missing).
pub async fn apply_max_age(js: &Context, windows: Windows) -> Result<(), ClusterError> {
    let nats = |e: &dyn std::fmt::Display| ClusterError::Nats(format!("PB_EVIDENCE: {e}"));
    let wanted = evidence_max_age(windows.evidence_days);
    let mut stream = js
        .get_or_create_stream(stream_config(OutboxStream::Evidence))
        .await
        .map_err(|e| nats(&e))?;
    let info = stream.info().await.map_err(|e| nats(&e))?;
    if info.config.max_age != wanted {
        let mut config = info.config.clone();
        config.max_age = wanted;
        js.update_stream(config).await.map_err(|e| nats(&e))?;
    }
    Ok(())
}

/// Deletes `node`'s ticket events of tickets `store` no longer holds; returns how many.
pub async fn purge_ticket_events(
    js: &Context,
    store: &Store,
    node: &str,
) -> Result<usize, ClusterError> {
    let nats = |e: &dyn std::fmt::Display| ClusterError::Nats(format!("PB_TICKETS: {e}"));
    let mine = read::read_all(
        js,
        TICKETS_STREAM,
        Some(&subject(OutboxStream::Tickets, node)),
    )
    .await?;
    let events: Vec<(u64, u64)> = mine
        .iter()
        .filter_map(|(seq, payload)| {
            serde_json::from_slice::<TicketEvent>(payload)
                .ok()
                .map(|e| (*seq, e.ticket.id))
        })
        .collect();
    if events.is_empty() {
        return Ok(0);
    }
    let ids: HashSet<u64> = events.iter().map(|(_, id)| *id).collect();
    let reader = store.clone();
    let kept = tokio::task::spawn_blocking(move || -> Result<HashSet<u64>, ClusterError> {
        let mut kept = HashSet::new();
        for id in ids {
            if reader.ticket(id)?.is_some() {
                kept.insert(id);
            }
        }
        Ok(kept)
    })
    .await
    .map_err(|e| nats(&e))??;
    let doomed = expired_events(&events, &kept);
    if doomed.is_empty() {
        return Ok(0);
    }
    let stream = js.get_stream(TICKETS_STREAM).await.map_err(|e| nats(&e))?;
    let mut deleted = 0;
    for seq in doomed {
        if stream.delete_message(seq).await.map_err(|e| nats(&e))? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// The node's task: sets `max_age` (retrying until NATS answers), then purges its expired
/// ticket events at once and every hour. Nothing to do when retention is off.
pub async fn run(js: Context, store: Store, node: String, windows: Windows) {
    if windows.evidence_days == 0 {
        return;
    }
    let mut failed = None;
    while let Err(e) = apply_max_age(&js, windows).await {
        tracing::warn!(error = %e, "cluster: cannot set the evidence stream's max_age yet");
        let wait = publisher::backoff(failed);
        failed = Some(wait);
        tokio::time::sleep(wait).await;
    }
    loop {
        match purge_ticket_events(&js, &store, &node).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "cluster: expired ticket events purged"),
            Err(e) => tracing::warn!(error = %e, "cluster: purging ticket events failed"),
        }
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_follows_the_window() {
        for (days, age) in [(0, 0), (1, 86_400), (180, 180 * 86_400)] {
            assert_eq!(evidence_max_age(days), Duration::from_secs(age), "{days}");
        }
    }

    #[test]
    fn events_of_tickets_no_longer_kept_expire() {
        let kept: HashSet<u64> = [16, 33].into_iter().collect();
        for (events, doomed) in [
            (vec![], vec![]),
            (vec![(1, 16), (2, 33)], vec![]),
            (vec![(1, 16), (2, 17), (3, 17), (4, 33)], vec![2, 3]),
            (vec![(5, 48)], vec![5]),
        ] {
            assert_eq!(expired_events(&events, &kept), doomed, "{events:?}");
        }
    }
}
