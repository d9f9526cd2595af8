//! The sled evidence store: interactions (persona evidence), tickets and conversation state.
//!
//! Text is redacted and user ids are hashed before anything is written. A write that returns
//! `Ok` has been flushed to disk.

pub mod history;
pub(crate) mod ids;
mod records;
pub mod redact;
pub mod search;
mod sled_store;

pub use records::Csat;
#[cfg(test)]
pub(crate) use records::{bare_interaction, shown_answer};
pub use records::{
    Account, AccountRole, Actor, AuditEntry, Delivery, EvidenceRecord, Feedback, Interaction,
    InteractionFilter, Label, Note, Priority, RouteRecord, ScoredId, Ticket, TicketStatus,
    TranscriptLine,
};
pub use sled_store::{
    spaced_id, ClusterNode, OutboxEntry, OutboxStream, TicketEvent, MAX_CLUSTER_NODES,
};
pub use sled_store::{
    token_hash, valid_account_name, CommitStats, Compacted, ForgetReport, NewToken, Session, Store,
    StoreError, TicketChange, TicketPatch, TurnReceipt, TurnWrite,
};
pub use sled_store::{works_team, Assigned, MAX_NOTE_CHARS};

/// The control socket a running `serve` listens on, in the store's folder (kept there across
/// compactions), through which the store commands reach the store it holds.
pub const CONTROL_SOCKET: &str = "control.sock";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// RFC 3339 time (UTC, seconds) for a millisecond timestamp.
pub fn format_time(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        .to_string()
}
