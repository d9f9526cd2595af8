//! Where outbox entries go: the streams (`PB_EVIDENCE`, `PB_TICKETS`, file storage, created if
//! missing), each node's subjects (`pb.evidence.<node>`, `pb.tickets.<node>`) and the
//! `Nats-Msg-Id` that lets JetStream drop a copy published again after a crash.
//!
//! Why this is "a documented, tested outbox that survives kill -9": a turn's interaction and
//! ticket are written in one sled transaction together with their outbox entries, and that
//! transaction is flushed to disk before the customer gets the answer. So every acknowledged
//! message is on disk in the outbox, even if the process is killed right after answering or
//! NATS is down. The publisher sends the outbox in key order, waits for JetStream's publish
//! acknowledgement (the message is then stored in the stream's files) and only then deletes the
//! entry; after a restart it resumes with whatever is left. A crash between the acknowledgement
//! and the deletion publishes the entry again, and JetStream drops it as a duplicate (same
//! `Nats-Msg-Id` within the stream's duplicate window, [`DUPLICATE_WINDOW`]); consumers that
//! read older history can drop repeats by the id too.

use std::time::Duration;

use async_nats::jetstream::stream;

pub use crate::store::{OutboxEntry, OutboxStream, TicketEvent};

/// The stream of every node's redacted interactions.
pub const EVIDENCE_STREAM: &str = "PB_EVIDENCE";
/// The stream of every node's ticket events.
pub const TICKETS_STREAM: &str = "PB_TICKETS";

/// How long JetStream remembers a `Nats-Msg-Id` to drop a republished copy.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The stream `kind` goes to.
pub fn stream_name(kind: OutboxStream) -> &'static str {
    match kind {
        OutboxStream::Evidence => EVIDENCE_STREAM,
        OutboxStream::Tickets => TICKETS_STREAM,
    }
}

/// The subject `node` publishes `kind` on.
pub fn subject(kind: OutboxStream, node: &str) -> String {
    match kind {
        OutboxStream::Evidence => format!("pb.evidence.{node}"),
        OutboxStream::Tickets => format!("pb.tickets.{node}"),
    }
}

/// The configuration of the stream of `kind`: every node's subjects, on disk.
pub fn stream_config(kind: OutboxStream) -> stream::Config {
    let subjects = match kind {
        OutboxStream::Evidence => "pb.evidence.>",
        OutboxStream::Tickets => "pb.tickets.>",
    };
    stream::Config {
        name: stream_name(kind).into(),
        description: Some(match kind {
            OutboxStream::Evidence => "personabot: redacted interactions, every node".into(),
            OutboxStream::Tickets => "personabot: ticket events, every node".into(),
        }),
        subjects: vec![subjects.into()],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_entries_go() {
        for (kind, node, stream, subject_) in [
            (OutboxStream::Evidence, "a", "PB_EVIDENCE", "pb.evidence.a"),
            (OutboxStream::Tickets, "a", "PB_TICKETS", "pb.tickets.a"),
            (
                OutboxStream::Evidence,
                "eu-2",
                "PB_EVIDENCE",
                "pb.evidence.eu-2",
            ),
        ] {
            assert_eq!(stream_name(kind), stream);
            assert_eq!(subject(kind, node), subject_);
            let config = stream_config(kind);
            assert_eq!(config.name, stream);
            assert_eq!(config.storage, stream::StorageType::File);
            let pattern = &config.subjects[0];
            let prefix = pattern.trim_end_matches('>');
            assert!(subject_.starts_with(prefix), "{subject_} in {pattern}");
        }
    }
}
