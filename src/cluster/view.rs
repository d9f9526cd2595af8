//! A view of every node's tickets: a task reads `PB_TICKETS` from its start (an ordered pull
//! consumer: ephemeral, no acknowledgements, recreated by async-nats on a gap) and keeps, per
//! ticket id, the latest ticket and the node that owns it; then it keeps following live.
//!
//! "Latest" is decided by [`supersedes`]: the newer `ticket.updated_ms` wins, ties by stream
//! order (a rating keeps the ticket's `updated_ms`, and comes later in the stream). Every node
//! holds every ticket of the cluster this way (its JSON, without the customer's contact) in
//! memory. Changes are also broadcast ([`View::subscribe`]) for the agents' live events.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use async_nats::jetstream::Context;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::outbox::{stream_config, OutboxStream, TicketEvent};
use crate::store::Ticket;

/// The event kind that removes a ticket from the view (its node deleted it, e.g. forgot
/// its customer).
pub const FORGOTTEN: &str = "forgotten";

/// A ticket as the view holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// The node that owns the ticket.
    pub node: String,
    pub ticket: Ticket,
    /// The event that last changed it (`opened`, `claimed`, ...).
    pub event: String,
    /// Its position in `PB_TICKETS`.
    pub sequence: u64,
}

/// Whether an event at (`updated_ms`, `sequence`) replaces what the view holds (`held`, the
/// same pair, if anything): the newer `updated_ms` wins, ties by stream order.
pub fn supersedes(held: Option<(u64, u64)>, incoming: (u64, u64)) -> bool {
    match held {
        None => true,
        Some((ms, sequence)) => incoming.0 > ms || (incoming.0 == ms && incoming.1 > sequence),
    }
}

/// Every node's tickets, shared by the node's HTTP handlers.
#[derive(Debug, Clone)]
pub struct View {
    tickets: Arc<RwLock<HashMap<u64, Held>>>,
    changes: broadcast::Sender<Held>,
}

impl Default for View {
    fn default() -> Self {
        View {
            tickets: Arc::default(),
            changes: broadcast::channel(1024).0,
        }
    }
}

impl View {
    /// Applies one event read at `sequence`; returns whether it changed the view. An event
    /// `forgotten` (a ticket deleted on its node) removes the ticket.
    pub fn apply(&self, event: TicketEvent, sequence: u64) -> bool {
        let id = event.ticket.id;
        if event.event == FORGOTTEN {
            return self.remove(id);
        }
        let held = Held {
            node: event.node,
            ticket: event.ticket,
            event: event.event,
            sequence,
        };
        {
            let mut tickets = self.tickets.write().unwrap_or_else(|p| p.into_inner());
            let current = tickets.get(&id).map(|h| (h.ticket.updated_ms, h.sequence));
            if !supersedes(current, (held.ticket.updated_ms, sequence)) {
                return false;
            }
            tickets.insert(id, held.clone());
        }
        // Nobody listening is fine.
        let _ = self.changes.send(held);
        true
    }

    /// Drops ticket `id` (its node no longer has it); returns whether the view held it.
    pub fn remove(&self, id: u64) -> bool {
        let mut tickets = self.tickets.write().unwrap_or_else(|p| p.into_inner());
        tickets.remove(&id).is_some()
    }

    /// The ticket `id` as last seen, with its node.
    pub fn get(&self, id: u64) -> Option<Held> {
        self.read().get(&id).cloned()
    }

    /// The tickets of every node but `except` (the asking node, which reads its own store).
    pub fn others(&self, except: &str) -> Vec<Held> {
        self.read()
            .values()
            .filter(|h| h.node != except)
            .cloned()
            .collect()
    }

    /// Every ticket the view holds, of every node.
    pub fn all(&self) -> Vec<Held> {
        self.read().values().cloned().collect()
    }

    /// How many tickets the view holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the view holds no ticket yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes from now on (for live events).
    pub fn subscribe(&self) -> broadcast::Receiver<Held> {
        self.changes.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Held>> {
        self.tickets.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Follows `PB_TICKETS` into `view` forever, from the start; after a failure it resumes after
/// the last event it applied.
pub async fn follow(js: Context, view: View) {
    let mut next = 1u64;
    let mut failed: Option<Duration> = None;
    loop {
        if let Some(wait) = failed {
            tokio::time::sleep(wait).await;
        }
        match read_from(&js, &view, &mut next).await {
            Ok(()) => failed = None,
            Err(e) => {
                tracing::debug!(error = %e, "cluster: following the ticket events failed; retrying");
                failed = Some(super::publisher::backoff(failed));
            }
        }
    }
}

async fn read_from(js: &Context, view: &View, next: &mut u64) -> Result<(), String> {
    let stream = js
        .get_or_create_stream(stream_config(OutboxStream::Tickets))
        .await
        .map_err(|e| e.to_string())?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: *next,
            },
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| e.to_string())?;
        let sequence = message.info().map_err(|e| e.to_string())?.stream_sequence;
        *next = sequence + 1;
        match serde_json::from_slice::<TicketEvent>(&message.payload) {
            Ok(event) => {
                view.apply(event, sequence);
            }
            Err(e) => tracing::warn!(error = %e, sequence, "cluster: an unreadable ticket event"),
        }
    }
    Err("the ticket events ended".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newer_update_wins_ties_by_stream_order() {
        for (held, incoming, want) in [
            (None, (5, 1), true),
            (Some((5, 1)), (6, 2), true),
            (Some((5, 1)), (5, 2), true),
            (Some((5, 2)), (5, 2), false),
            (Some((5, 3)), (5, 2), false),
            (Some((6, 1)), (5, 2), false),
            (Some((6, 9)), (7, 3), true),
        ] {
            assert_eq!(supersedes(held, incoming), want, "{held:?} {incoming:?}");
        }
    }

    fn event(id: u64, node: &str, kind: &str, updated_ms: u64) -> TicketEvent {
        let ticket: Ticket = serde_json::from_value(serde_json::json!({
            "id": id, "team": "billing", "status": "open", "created_ms": 0,
            "updated_ms": updated_ms, "channel": "web", "conversation": "c", "user": "u",
            "persona": null, "intent": null, "evidence": [], "reason": "", "interaction": 1,
            "transcript": [], "claimed_by": null, "resolved_by": null, "relabels": []
        }))
        .expect("a ticket");
        TicketEvent {
            event: kind.into(),
            node: node.into(),
            interaction: 1,
            at_ms: updated_ms,
            ticket,
            has_contact: false,
        }
    }

    #[test]
    fn the_view_keeps_the_latest_of_each_ticket_and_tells_of_changes() {
        let view = View::default();
        let mut changes = view.subscribe();
        assert!(view.apply(event(17, "b", "opened", 10), 1));
        assert!(view.apply(event(16, "a", "opened", 11), 2));
        assert!(view.apply(event(17, "b", "claimed", 20), 3));
        // A stale copy (e.g. read again after a reconnect) changes nothing.
        assert!(!view.apply(event(17, "b", "opened", 10), 1));
        assert_eq!(view.get(17).map(|h| h.event), Some("claimed".into()));
        assert_eq!(view.len(), 2);
        let others: Vec<u64> = view.others("a").iter().map(|h| h.ticket.id).collect();
        assert_eq!(others, [17]);
        let told: Vec<String> = std::iter::from_fn(|| changes.try_recv().ok())
            .map(|h| h.event)
            .collect();
        assert_eq!(told, ["opened", "opened", "claimed"]);
        // A forgotten ticket leaves the view.
        assert!(view.apply(event(17, "b", FORGOTTEN, 30), 4));
        assert_eq!(view.get(17), None);
        assert!(!view.remove(17));
    }
}
