//! The audit log of agent and owner actions: `audit` (at_ms ++ sequence -> entry JSON), oldest
//! first, and `audit_by_ticket` (ticket id ++ audit key), for a ticket's history.

use super::{OpenDb, Store, StoreError};
use crate::store::records::AuditEntry;

impl OpenDb {
    fn audit_trees(&self) -> Result<(sled::Tree, sled::Tree), StoreError> {
        Ok((
            self.db.open_tree("audit")?,
            self.db.open_tree("audit_by_ticket")?,
        ))
    }

    fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let (log, by_ticket) = self.audit_trees()?;
        let mut key = entry.at_ms.to_be_bytes().to_vec();
        key.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        log.insert(key.as_slice(), serde_json::to_vec(entry)?)?;
        if let Some(ticket) = entry.ticket {
            let mut index = ticket.to_be_bytes().to_vec();
            index.extend_from_slice(&key);
            by_ticket.insert(index, &[])?;
        }
        self.db.flush()?;
        Ok(())
    }

    fn audit_log(&self, since_ms: Option<u64>) -> Result<Vec<AuditEntry>, StoreError> {
        let (log, _) = self.audit_trees()?;
        let start = since_ms.unwrap_or(0).to_be_bytes();
        log.range(start.as_slice()..)
            .map(|entry| Ok(serde_json::from_slice(&entry?.1)?))
            .collect()
    }

    /// Deletes entries before `cutoff_ms` and their ticket index; returns how many.
    fn purge_audit_before(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        let (log, by_ticket) = self.audit_trees()?;
        let mut n = 0;
        for entry in log.range(..cutoff_ms.to_be_bytes().as_slice()) {
            let (key, bytes) = entry?;
            let old: AuditEntry = serde_json::from_slice(&bytes)?;
            if let Some(ticket) = old.ticket {
                let mut index = ticket.to_be_bytes().to_vec();
                index.extend_from_slice(&key);
                by_ticket.remove(index)?;
            }
            log.remove(key)?;
            n += 1;
        }
        self.db.flush()?;
        Ok(n)
    }

    fn ticket_audit(&self, ticket: u64) -> Result<Vec<AuditEntry>, StoreError> {
        let (log, by_ticket) = self.audit_trees()?;
        let mut out = Vec::new();
        for entry in by_ticket.scan_prefix(ticket.to_be_bytes()) {
            let (key, _) = entry?;
            if let Some(bytes) = log.get(&key[8..])? {
                out.push(serde_json::from_slice(&bytes)?);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Appends an entry to the audit log (durable when it returns).
    pub fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.current()?.record_audit(entry)
    }

    /// The audit log from `since_ms` on (all of it with `None`), oldest first.
    pub fn audit_log(&self, since_ms: Option<u64>) -> Result<Vec<AuditEntry>, StoreError> {
        self.current()?.audit_log(since_ms)
    }

    /// Deletes audit entries older than `cutoff_ms`; returns how many.
    pub fn purge_audit_before(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        self.current()?.purge_audit_before(cutoff_ms)
    }

    /// The audit entries about one ticket, oldest first.
    pub fn ticket_audit(&self, ticket: u64) -> Result<Vec<AuditEntry>, StoreError> {
        self.current()?.ticket_audit(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: u64, action: &str, ticket: Option<u64>) -> AuditEntry {
        AuditEntry {
            at_ms,
            who: "ann".into(),
            action: action.into(),
            ticket,
            target: None,
            via: "http".into(),
            from: None,
        }
    }

    #[test]
    fn the_log_by_time_and_by_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Some("k")).unwrap();
        let entries = [
            entry(10, "sign_in", None),
            entry(20, "claim", Some(2)),
            entry(20, "reply", Some(2)),
            entry(30, "claim", Some(12)),
            entry(40, "resolve", Some(2)),
        ];
        for e in &entries {
            store.record_audit(e).unwrap();
        }
        assert_eq!(store.audit_log(None).unwrap(), entries);
        assert_eq!(store.audit_log(Some(25)).unwrap(), entries[3..]);
        let two: Vec<_> = store
            .ticket_audit(2)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(two, ["claim", "reply", "resolve"]);
        assert_eq!(store.ticket_audit(12).unwrap(), [entries[3].clone()]);
        assert!(store.ticket_audit(1).unwrap().is_empty());
    }
}
