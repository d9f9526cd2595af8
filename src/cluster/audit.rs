//! The cluster's own audit log: the owner's commands that reach every node's evidence at once
//! (`evidence export` and `evidence forget` run with `cluster.nats_url`) leave no trace in any
//! node's store, so each is recorded in the stream `PB_AUDIT` before it runs, and `personabot
//! audit --cluster` lists them.
//!
//! A command that cannot record its entry (JetStream did not acknowledge it) does not run: an
//! export of every customer's evidence is never unrecorded. `PB_AUDIT` keeps its entries for
//! `store.audit_retention_days` when the stream is made (0: forever), as the nodes keep theirs.
//! Entries name who ran the command and from where; never whom a forget was about.

use std::time::Duration;

use async_nats::jetstream::{stream, Context};

use super::{read, ClusterError};
use crate::store::AuditEntry;

/// The stream of cluster-wide audit entries.
pub const AUDIT_STREAM: &str = "PB_AUDIT";
/// The subject its entries are published on.
pub const AUDIT_SUBJECT: &str = "pb.audit";

const DAY: Duration = Duration::from_secs(24 * 3600);

/// `PB_AUDIT`: limits retention, on disk, entries kept `audit_days` days (0: forever).
pub fn audit_config(audit_days: u32) -> stream::Config {
    stream::Config {
        name: AUDIT_STREAM.into(),
        description: Some("personabot: the owner's cluster-wide commands (export, forget)".into()),
        subjects: vec![AUDIT_SUBJECT.into()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: DAY * audit_days,
        ..Default::default()
    }
}

/// Records `entry` in `PB_AUDIT` (made on first use with `audit_days`); returns once JetStream
/// acknowledged it.
pub async fn record(js: &Context, entry: &AuditEntry, audit_days: u32) -> Result<(), ClusterError> {
    let nats = |what: &str, e: &dyn std::fmt::Display| ClusterError::Nats(format!("{what}: {e}"));
    js.get_or_create_stream(audit_config(audit_days))
        .await
        .map_err(|e| nats(&format!("cannot open {AUDIT_STREAM}"), &e))?;
    let payload = serde_json::to_vec(entry).map_err(|e| nats("cannot encode the entry", &e))?;
    js.publish(AUDIT_SUBJECT, payload.into())
        .await
        .map_err(|e| nats(&format!("cannot record in {AUDIT_STREAM}"), &e))?
        .await
        .map_err(|e| nats(&format!("{AUDIT_STREAM} did not acknowledge the entry"), &e))?;
    Ok(())
}

/// The entries of `PB_AUDIT` from `since_ms` on, oldest first, and how many did not parse.
pub async fn load(
    js: &Context,
    since_ms: Option<u64>,
) -> Result<(Vec<AuditEntry>, usize), ClusterError> {
    let payloads = read::read_all(js, AUDIT_STREAM, None).await?;
    Ok(entries(
        payloads.iter().map(|(_, p)| p.as_slice()),
        since_ms,
    ))
}

/// The entries among `payloads` (in stream order) from `since_ms` on, oldest first, and how
/// many did not parse.
fn entries<'a>(
    payloads: impl Iterator<Item = &'a [u8]>,
    since_ms: Option<u64>,
) -> (Vec<AuditEntry>, usize) {
    let mut unreadable = 0;
    let mut list: Vec<AuditEntry> = payloads
        .filter_map(|p| match serde_json::from_slice::<AuditEntry>(p) {
            Ok(e) => Some(e),
            Err(_) => {
                unreadable += 1;
                None
            }
        })
        .filter(|e| since_ms.is_none_or(|since| e.at_ms >= since))
        .collect();
    // Stable: entries of one millisecond keep their stream order.
    list.sort_by_key(|e| e.at_ms);
    (list, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: u64, action: &str) -> AuditEntry {
        AuditEntry {
            at_ms,
            who: "owner".into(),
            action: action.into(),
            ticket: None,
            target: Some("cluster".into()),
            via: "cli".into(),
            from: None,
        }
    }

    #[test]
    fn the_stream_keeps_entries_for_the_audit_window() {
        let config = audit_config(30);
        assert_eq!(config.name, AUDIT_STREAM);
        assert_eq!(config.subjects, vec![AUDIT_SUBJECT.to_string()]);
        assert_eq!(config.retention, stream::RetentionPolicy::Limits);
        assert_eq!(config.storage, stream::StorageType::File);
        assert_eq!(config.max_age, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(
            audit_config(0).max_age,
            Duration::ZERO,
            "0 days: kept forever"
        );
    }

    #[test]
    fn entries_are_read_oldest_first_from_since_and_bad_ones_counted() {
        let payloads: Vec<Vec<u8>> = vec![
            serde_json::to_vec(&entry(30, "forget")).unwrap(),
            b"not json".to_vec(),
            serde_json::to_vec(&entry(10, "export")).unwrap(),
            serde_json::to_vec(&entry(20, "export")).unwrap(),
        ];
        let read = |since| entries(payloads.iter().map(Vec::as_slice), since);
        let (all, bad) = read(None);
        let at: Vec<(u64, &str)> = all.iter().map(|e| (e.at_ms, e.action.as_str())).collect();
        assert_eq!(at, [(10, "export"), (20, "export"), (30, "forget")]);
        assert_eq!(bad, 1);
        let (recent, _) = read(Some(20));
        assert_eq!(recent.len(), 2);
        assert!(recent.iter().all(|e| e.at_ms >= 20));
    }
}
