//! The evidence store as the store commands see it: the sled store opened directly, or the store
//! of a `serve` running on the same data folder, reached through its control socket.
//!
//! Both implement [`StoreAccess`] with the same results, so a command prints the same bytes
//! whichever it was given.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use personabot::catalog::settings::USER_HASH_KEY_ENV;
use personabot::store::{Interaction, InteractionFilter, Store, Ticket, TicketStatus};

use super::control;

/// What `evidence forget` did: the records deleted, then the compaction that took them out of
/// the store's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Forgotten {
    pub interactions: usize,
    pub tickets: usize,
    pub conversations: usize,
    /// Records kept by the compaction that followed.
    pub records_kept: usize,
}

/// What `evidence compact` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Compaction {
    pub records: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// What `evidence purge` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Purge {
    pub interactions: usize,
    pub tickets: usize,
    pub conversations: usize,
}

/// The store operations the commands use. Errors are final: their text is what the command
/// prints.
pub(crate) trait StoreAccess {
    fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>>;
    fn tickets(&self, team: Option<&str>, status: Option<TicketStatus>) -> Result<Vec<Ticket>>;
    fn ticket(&self, id: u64) -> Result<Option<Ticket>>;
    fn claim_ticket(&self, id: u64, agent: &str) -> Result<Ticket>;
    fn resolve_ticket(&self, id: u64, agent: &str) -> Result<Ticket>;
    fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket>;
    /// Writes the matching interactions as JSON Lines; returns how many.
    fn export(&self, filter: &InteractionFilter, out: &mut dyn Write) -> Result<usize>;
    /// Deletes a user's records, then compacts the store.
    fn forget_user(&self, user: &str) -> Result<Forgotten>;
    fn compact(&self) -> Result<Compaction>;
    /// Deletes what is older than `days` at `now_ms`.
    fn purge(&self, now_ms: u64, days: u32) -> Result<Purge>;
}

/// Opens the store in `dir`: through the control socket of a `serve` running on it, else
/// directly.
pub(crate) fn open(dir: &Path) -> Result<Box<dyn StoreAccess>> {
    if let Some(remote) = control::Remote::connect(dir) {
        return Ok(Box::new(remote));
    }
    let key = std::env::var(USER_HASH_KEY_ENV).ok();
    let store = Store::open(dir, key.as_deref())
        .with_context(|| format!("cannot open the evidence store in {}", dir.display()))?;
    Ok(Box::new(Local(store)))
}

/// The sled store itself.
pub(crate) struct Local(pub Store);

impl StoreAccess for Local {
    fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>> {
        Ok(self.0.interactions(filter)?)
    }

    fn tickets(&self, team: Option<&str>, status: Option<TicketStatus>) -> Result<Vec<Ticket>> {
        Ok(self.0.tickets(team, status)?)
    }

    fn ticket(&self, id: u64) -> Result<Option<Ticket>> {
        Ok(self.0.ticket(id)?)
    }

    fn claim_ticket(&self, id: u64, agent: &str) -> Result<Ticket> {
        Ok(self.0.claim_ticket(id, agent)?)
    }

    fn resolve_ticket(&self, id: u64, agent: &str) -> Result<Ticket> {
        Ok(self.0.resolve_ticket(id, agent)?)
    }

    fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket> {
        Ok(self.0.relabel_ticket(id, intent, persona, agent)?)
    }

    fn export(&self, filter: &InteractionFilter, out: &mut dyn Write) -> Result<usize> {
        Ok(self.0.export(filter, out)?)
    }

    fn forget_user(&self, user: &str) -> Result<Forgotten> {
        forget(&self.0, user)
    }

    fn compact(&self) -> Result<Compaction> {
        compact(&self.0)
    }

    fn purge(&self, now_ms: u64, days: u32) -> Result<Purge> {
        purge(&self.0, now_ms, days)
    }
}

/// Forget then compact, as `evidence forget` does offline and over the socket alike.
pub(crate) fn forget(store: &Store, user: &str) -> Result<Forgotten> {
    let r = store.forget_user(user)?;
    let c = store.compact()?;
    Ok(Forgotten {
        interactions: r.interactions,
        tickets: r.tickets,
        conversations: r.conversations,
        records_kept: c.records,
    })
}

pub(crate) fn compact(store: &Store) -> Result<Compaction> {
    let c = store.compact()?;
    Ok(Compaction {
        records: c.records,
        bytes_before: c.bytes_before,
        bytes_after: c.bytes_after,
    })
}

pub(crate) fn purge(store: &Store, now_ms: u64, days: u32) -> Result<Purge> {
    let p = personabot::ops::retention::purge(store, now_ms, days)?;
    Ok(Purge {
        interactions: p.interactions,
        tickets: p.tickets,
        conversations: p.conversations,
    })
}
