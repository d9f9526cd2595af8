//! Cluster mode's part of the store: the node's registration (name and index, in `meta`), the
//! cluster-unique ids, and the `outbox` tree of records waiting to be published to JetStream.
//!
//! In cluster mode the turn writer adds, in the same transaction as the turn, one outbox entry
//! for the interaction (as stored: redacted) and one for the ticket it opened or joined; the
//! cluster's publisher sends them in key order and deletes each once JetStream acknowledged it.
//! Keys are the interaction's id then a kind byte, so they survive compaction unchanged.
//!
//! Every other change of a ticket (an agent's claim, reply, resolve, relabel, assignment or
//! note, a customer's rating, a ticket opened by "Talk to a human") writes a ticket event too,
//! in the same transaction as the change ([`write_change`]). Those entries have their own key
//! space: a number from the store's id generator (the one interaction ids come from, so they
//! interleave with turns in time) then kind byte 2, and `Nats-Msg-Id` `<node>-t-<ticket>-a<seq>`.
//! A relabel also republishes the interaction that opened the ticket (now carrying the label)
//! to `PB_EVIDENCE` under kind byte 3 and `Nats-Msg-Id` `<node>-i-<id>-l<at_ms>`; readers keep
//! the last version of each interaction id.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{abort, Store, StoreError};
use crate::store::records::{Interaction, Ticket};

/// The `meta` key of the node's registration.
const NODE_KEY: &str = "cluster_node";

/// How many nodes a cluster may have: ids are spaced by this.
pub const MAX_NODES: u64 = 16;

/// This node in its cluster: its name and its index (`0..MAX_NODES`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNode {
    pub node: String,
    pub index: u8,
}

/// A cluster-unique id: the store's own sequence number `local` spaced by [`MAX_NODES`] and
/// offset by the node's index (`local * 16 + index`), so no two nodes ever hand out the same id
/// and each node's ids still grow. Without a cluster, `local` itself (ids as before).
pub fn spaced_id(local: u64, index: Option<u8>) -> u64 {
    match index {
        Some(index) => local
            .saturating_mul(MAX_NODES)
            .saturating_add(u64::from(index) % MAX_NODES),
        None => local,
    }
}

/// The stream an outbox entry goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxStream {
    /// Redacted interactions (`PB_EVIDENCE`).
    Evidence,
    /// Ticket events (`PB_TICKETS`).
    Tickets,
}

/// One record waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub stream: OutboxStream,
    /// The `Nats-Msg-Id`: the same on every attempt, so JetStream drops a republished copy.
    pub msg_id: String,
    /// The message body (JSON).
    pub payload: String,
}

/// A ticket event as published to `PB_TICKETS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    /// What happened: `opened` or `updated` (a turn: a customer message, a priority raise),
    /// or an agent's or customer's action: `claimed`, `resolved`, `relabelled`, `assigned`,
    /// `note`, `message` (an agent's reply), `rated`.
    pub event: String,
    /// The node that owns the ticket.
    pub node: String,
    /// The interaction (turn) that caused the event; for an action, the interaction that
    /// opened the ticket.
    pub interaction: u64,
    pub at_ms: u64,
    /// The ticket as stored after the event, without its `contact` (how to reach the
    /// customer stays on the owning node, as it never goes into evidence).
    pub ticket: Ticket,
    /// Whether the ticket has a contact on its node.
    pub has_contact: bool,
}

/// Cluster mode, once [`Store::join_cluster`] turned it on: shared by the store's open
/// database(s) and its writer.
#[derive(Debug)]
pub(super) struct ClusterState {
    pub(super) node: ClusterNode,
    /// Woken after each turn that added outbox entries.
    pub(super) wake: Arc<tokio::sync::Notify>,
}

pub(super) type ClusterCell = Arc<OnceLock<ClusterState>>;

fn entry_key(interaction: u64, stream: OutboxStream) -> [u8; 9] {
    keyed(
        interaction,
        match stream {
            OutboxStream::Evidence => 0,
            OutboxStream::Tickets => 1,
        },
    )
}

/// Kind byte of a ticket event written by a change other than a turn.
const CHANGE_KIND: u8 = 2;
/// Kind byte of an interaction republished after a relabel.
const RELABELLED_KIND: u8 = 3;

fn keyed(sequence: u64, kind: u8) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[..8].copy_from_slice(&sequence.to_be_bytes());
    key[8] = kind;
    key
}

/// The ticket event of `ticket` as stored after `event`, without its contact.
fn ticket_event(
    node: &ClusterNode,
    event: &str,
    interaction: u64,
    at_ms: u64,
    ticket: &Ticket,
) -> TicketEvent {
    TicketEvent {
        event: event.to_string(),
        node: node.node.clone(),
        interaction,
        at_ms,
        ticket: Ticket {
            contact: None,
            ..ticket.clone()
        },
        has_contact: ticket.contact.is_some(),
    }
}

/// Writes the ticket event of a change other than a turn (`event`, e.g. `claimed`) inside the
/// change's transaction; `sequence` is a fresh number from the store's id generator.
pub(super) fn write_change(
    outbox: &TransactionalTree,
    node: &ClusterNode,
    sequence: u64,
    event: &str,
    ticket: &Ticket,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let body = ticket_event(node, event, ticket.interaction, ticket.updated_ms, ticket);
    let entry = OutboxEntry {
        stream: OutboxStream::Tickets,
        msg_id: format!("{}-t-{}-a{sequence}", node.node, ticket.id),
        payload: serde_json::to_string(&body).map_err(abort)?,
    };
    outbox.insert(
        &keyed(sequence, CHANGE_KIND),
        serde_json::to_vec(&entry).map_err(abort)?,
    )?;
    Ok(())
}

/// Writes `interaction` again (as stored, after a relabel at `at_ms`) for `PB_EVIDENCE`, inside
/// the relabel's transaction.
pub(super) fn write_relabelled(
    outbox: &TransactionalTree,
    node: &ClusterNode,
    sequence: u64,
    interaction: &Interaction,
    at_ms: u64,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let entry = OutboxEntry {
        stream: OutboxStream::Evidence,
        msg_id: format!("{}-i-{}-l{at_ms}", node.node, interaction.id),
        payload: serde_json::to_string(interaction).map_err(abort)?,
    };
    outbox.insert(
        &keyed(sequence, RELABELLED_KIND),
        serde_json::to_vec(&entry).map_err(abort)?,
    )?;
    Ok(())
}

/// Writes the outbox entries of one turn inside the turn's transaction.
pub(super) fn write_entries(
    outbox: &TransactionalTree,
    node: &ClusterNode,
    interaction: &Interaction,
    ticket: Option<(&str, &Ticket)>,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let evidence = OutboxEntry {
        stream: OutboxStream::Evidence,
        msg_id: format!("{}-i-{}", node.node, interaction.id),
        payload: serde_json::to_string(interaction).map_err(abort)?,
    };
    let key = entry_key(interaction.id, OutboxStream::Evidence);
    outbox.insert(&key, serde_json::to_vec(&evidence).map_err(abort)?)?;
    if let Some((event, ticket)) = ticket {
        let body = ticket_event(node, event, interaction.id, interaction.at_ms, ticket);
        let entry = OutboxEntry {
            stream: OutboxStream::Tickets,
            msg_id: format!("{}-t-{}-{}", node.node, ticket.id, interaction.id),
            payload: serde_json::to_string(&body).map_err(abort)?,
        };
        let key = entry_key(interaction.id, OutboxStream::Tickets);
        outbox.insert(&key, serde_json::to_vec(&entry).map_err(abort)?)?;
    }
    Ok(())
}

/// Cluster mode's share of a ticket change: this node and a fresh sequence number for the
/// change's outbox entries, or `None` outside cluster mode.
pub(super) type ChangeSlot<'a> = Option<(&'a ClusterNode, u64)>;

impl super::OpenDb {
    /// A [`ChangeSlot`] for one ticket change (taken before its transaction).
    pub(super) fn change_slot(&self) -> Result<ChangeSlot<'_>, StoreError> {
        match self.cluster.get() {
            Some(state) => Ok(Some((&state.node, self.next_interaction_id()?))),
            None => Ok(None),
        }
    }

    /// Wakes the publisher after a change wrote outbox entries (and was flushed).
    pub(super) fn wake_publisher(&self) {
        if let Some(state) = self.cluster.get() {
            state.wake.notify_one();
        }
    }
}

/// The index the store in `meta` registered under, if any.
pub(super) fn remembered_index(meta: &sled::Tree) -> Result<Option<u8>, StoreError> {
    match meta.get(NODE_KEY)? {
        Some(bytes) => Ok(Some(serde_json::from_slice::<ClusterNode>(&bytes)?.index)),
        None => Ok(None),
    }
}

/// Removes the outbox entries of interaction `id` (forgotten before it was published): its
/// turn's, the events of the ticket it opened, and its republished versions.
pub(super) fn forget_entries(outbox: &sled::Tree, id: u64) -> Result<(), StoreError> {
    for stream in [OutboxStream::Evidence, OutboxStream::Tickets] {
        outbox.remove(entry_key(id, stream))?;
    }
    for entry in outbox.iter() {
        let (key, bytes) = entry?;
        let kind = key.get(8).copied();
        if !matches!(kind, Some(CHANGE_KIND | RELABELLED_KIND)) {
            continue;
        }
        let entry: OutboxEntry = serde_json::from_slice(&bytes)?;
        if about_interaction(&entry, id) {
            outbox.remove(key)?;
        }
    }
    Ok(())
}

/// Whether a change's entry is about interaction `id`: a ticket event of the ticket it opened,
/// or that interaction republished.
fn about_interaction(entry: &OutboxEntry, id: u64) -> bool {
    #[derive(Deserialize)]
    struct Ids {
        #[serde(default)]
        id: Option<u64>,
        #[serde(default)]
        interaction: Option<u64>,
    }
    let Ok(ids) = serde_json::from_str::<Ids>(&entry.payload) else {
        return false;
    };
    match entry.stream {
        OutboxStream::Tickets => ids.interaction == Some(id),
        OutboxStream::Evidence => ids.id == Some(id),
    }
}

impl Store {
    /// The node registration kept in this store, if it ever joined a cluster.
    pub fn cluster_node(&self) -> Result<Option<ClusterNode>, StoreError> {
        match self.current()?.meta.get(NODE_KEY)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Turns cluster mode on for this store: remembers `node` (durably), spaces new ticket and
    /// interaction ids by its index, and makes every turn write its outbox entries. Returns the
    /// notifier woken after each such turn. Once per store handle: a second call with another
    /// node is refused.
    pub fn join_cluster(&self, node: &ClusterNode) -> Result<Arc<tokio::sync::Notify>, StoreError> {
        let open = self.current()?;
        if let Some(state) = self.shared.cluster.get().filter(|s| s.node != *node) {
            return Err(StoreError::Conflict(format!(
                "this store already serves as cluster node {:?}",
                state.node.node
            )));
        }
        // Remembered before any turn can use the index.
        open.meta.insert(NODE_KEY, serde_json::to_vec(node)?)?;
        open.meta.flush()?;
        let state = self.shared.cluster.get_or_init(|| ClusterState {
            node: node.clone(),
            wake: Arc::new(tokio::sync::Notify::new()),
        });
        Ok(state.wake.clone())
    }

    /// Up to `limit` outbox entries, oldest first, with their keys.
    pub fn outbox_batch(&self, limit: usize) -> Result<Vec<(Vec<u8>, OutboxEntry)>, StoreError> {
        let open = self.current()?;
        let mut out = Vec::new();
        for entry in open.outbox.iter().take(limit) {
            let (key, bytes) = entry?;
            out.push((key.to_vec(), serde_json::from_slice(&bytes)?));
        }
        Ok(out)
    }

    /// Removes published outbox entries (durably).
    pub fn outbox_remove(&self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        let open = self.current()?;
        let mut batch = sled::Batch::default();
        for key in keys {
            batch.remove(key.as_slice());
        }
        open.outbox.apply_batch(batch)?;
        open.outbox.flush()?;
        Ok(())
    }

    /// How many entries wait in the outbox.
    pub fn outbox_pending(&self) -> usize {
        self.current().map_or(0, |open| open.outbox.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_spaced_by_node_index() {
        for (local, index, id) in [
            (1, None, 1),
            (2, None, 2),
            (41, None, 41),
            (1, Some(0), 16),
            (1, Some(1), 17),
            (1, Some(15), 31),
            (2, Some(0), 32),
            (2, Some(1), 33),
            (100, Some(7), 1607),
        ] {
            assert_eq!(spaced_id(local, index), id, "{local} {index:?}");
        }
        // Two nodes never share an id, and each node's ids grow.
        let a: Vec<u64> = (1..200).map(|n| spaced_id(n, Some(0))).collect();
        let b: Vec<u64> = (1..200).map(|n| spaced_id(n, Some(1))).collect();
        assert!(a.iter().all(|id| !b.contains(id)));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn entry_keys_order_by_interaction_then_kind() {
        let keys = [
            entry_key(1, OutboxStream::Evidence),
            entry_key(1, OutboxStream::Tickets),
            keyed(1, CHANGE_KIND),
            keyed(1, RELABELLED_KIND),
            entry_key(2, OutboxStream::Evidence),
            keyed(17, CHANGE_KIND),
            entry_key(256, OutboxStream::Evidence),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
