//! The evidence store as the store commands see it: the sled store opened directly, or the store
//! of a `serve` running on the same data folder, reached through its control socket.
//!
//! Both implement [`StoreAccess`] with the same results, so a command prints the same bytes
//! whichever it was given.

use personabot::ops::retention::Windows;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use personabot::catalog::settings::USER_HASH_KEY_ENV;
use personabot::store::{
    now_ms, works_team, Account, AuditEntry, Interaction, InteractionFilter, Store, Ticket,
    TicketStatus,
};

use super::control;

/// What `evidence forget` did: the records deleted, then the compaction that took them out of
/// the store's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Forgotten {
    pub interactions: usize,
    pub tickets: usize,
    pub conversations: usize,
    /// Records kept by the compaction that followed.
    pub records_kept: usize,
    /// In a cluster: which nodes applied it and which will when they come back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<personabot::cluster::forget::ClusterForgot>,
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
    /// Audit entries (an older `serve` does not send it).
    #[serde(default)]
    pub audit: usize,
}

/// The store operations the commands use. Errors are final: their text is what the command
/// prints.
pub(crate) trait StoreAccess {
    fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>>;
    fn tickets(&self, team: Option<&str>, status: Option<TicketStatus>) -> Result<Vec<Ticket>>;
    fn ticket(&self, id: u64) -> Result<Option<Ticket>>;
    /// The customer's earlier tickets and conversations beside ticket `id` (its `"history"`).
    fn history(&self, id: u64) -> Result<Vec<serde_json::Value>>;
    fn claim_ticket(&self, id: u64, agent: &str) -> Result<Ticket>;
    fn resolve_ticket(&self, id: u64, agent: &str) -> Result<Ticket>;
    fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket>;
    /// An agent's reply to the customer: it takes a running `serve` (the channels deliver it).
    fn reply_ticket(&self, id: u64, agent: &str, text: &str) -> Result<Ticket>;
    /// Assigns the ticket to `to` (an agent account of its team), audited under `by`.
    fn assign_ticket(&self, id: u64, to: &str, by: &str) -> Result<Ticket>;
    /// An internal note: agents see it, the customer never does.
    fn note_ticket(&self, id: u64, agent: &str, text: &str) -> Result<Ticket>;
    /// Writes the matching interactions as JSON Lines; returns how many.
    fn export(&self, filter: &InteractionFilter, out: &mut dyn Write) -> Result<usize>;
    /// Deletes a user's records, then compacts the store.
    fn forget_user(&self, user: &str) -> Result<Forgotten>;
    fn compact(&self) -> Result<Compaction>;
    /// Deletes what is older than its window at `now_ms`.
    fn purge(&self, now_ms: u64, windows: Windows) -> Result<Purge>;
    /// Creates an account for `by`; returns its new token.
    fn add_account(&self, account: &Account, by: &str) -> Result<String>;
    fn accounts(&self) -> Result<Vec<Account>>;
    fn remove_account(&self, name: &str, by: &str) -> Result<()>;
    /// Gives an account a new token (returned); the old one and its sessions stop working.
    fn rotate_account(&self, name: &str, by: &str) -> Result<String>;
    fn audit_log(&self, since_ms: Option<u64>) -> Result<Vec<AuditEntry>>;
}

/// Who runs this command, for the audit log: the system user (the host is trusted with the
/// store), else `cli`.
pub(crate) fn cli_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|u| !u.is_empty() && u.len() <= 64)
        .unwrap_or_else(|| "cli".into())
}

/// Writes one command's action to the audit log (`via: "cli"`).
pub(crate) fn audit(
    store: &Store,
    who: &str,
    action: &str,
    ticket: Option<u64>,
    target: Option<String>,
) -> Result<()> {
    store.record_audit(&AuditEntry {
        at_ms: now_ms(),
        who: who.to_string(),
        action: action.to_string(),
        ticket,
        target,
        via: "cli".into(),
        from: None,
    })?;
    Ok(())
}

pub(crate) fn add_account(store: &Store, account: &Account, by: &str) -> Result<String> {
    let token = store.add_account(account)?;
    audit(store, by, "account_add", None, Some(account.name.clone()))?;
    Ok(token.token)
}

pub(crate) fn remove_account(store: &Store, name: &str, by: &str) -> Result<()> {
    store.remove_account(name)?;
    audit(store, by, "account_remove", None, Some(name.to_string()))
}

pub(crate) fn rotate_account(store: &Store, name: &str, by: &str) -> Result<String> {
    let token = store.rotate_account(name)?;
    audit(store, by, "account_rotate", None, Some(name.to_string()))?;
    Ok(token.token)
}

/// A ticket action taken by a command, audited under the `--agent` name.
pub(crate) fn ticket_action(
    store: &Store,
    id: u64,
    agent: &str,
    action: &str,
    run: impl FnOnce() -> Result<Ticket>,
) -> Result<Ticket> {
    let ticket = run()?;
    audit(store, agent, action, Some(id), None)?;
    Ok(ticket)
}

/// An assignment taken by a command, audited under `by` with the assignee as its target.
pub(crate) fn assign(
    store: &Store,
    id: u64,
    by: &str,
    to: &str,
    run: impl FnOnce() -> Result<Ticket>,
) -> Result<Ticket> {
    let ticket = run()?;
    audit(store, by, "assign", Some(id), Some(to.to_string()))?;
    Ok(ticket)
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

    fn history(&self, id: u64) -> Result<Vec<serde_json::Value>> {
        history(&self.0, id)
    }

    fn claim_ticket(&self, id: u64, agent: &str) -> Result<Ticket> {
        ticket_action(&self.0, id, agent, "claim", || {
            Ok(self.0.claim_ticket(id, agent)?)
        })
    }

    fn resolve_ticket(&self, id: u64, agent: &str) -> Result<Ticket> {
        ticket_action(&self.0, id, agent, "resolve", || {
            Ok(self.0.resolve_ticket(id, agent)?)
        })
    }

    fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket> {
        ticket_action(&self.0, id, agent, "relabel", || {
            Ok(self.0.relabel_ticket(id, intent, persona, agent)?)
        })
    }

    fn reply_ticket(&self, id: u64, _agent: &str, _text: &str) -> Result<Ticket> {
        // Without a running serve no channel could deliver it: refused rather than stored
        // unsent.
        bail!(
            "no `serve` is running on this data folder: a reply to ticket #{id} needs the \
             running serve to reach the customer"
        )
    }

    fn assign_ticket(&self, id: u64, to: &str, by: &str) -> Result<Ticket> {
        assign(&self.0, id, by, to, || {
            let team = self
                .0
                .ticket(id)?
                .with_context(|| format!("ticket #{id} not found"))?
                .team;
            let accounts = self.0.accounts()?;
            if !accounts
                .iter()
                .any(|a| a.name == to && works_team(a, &team))
            {
                bail!("`{to}` is not an agent account of team `{team}`");
            }
            Ok(self.0.assign_ticket_at(id, to, now_ms())?)
        })
    }

    fn note_ticket(&self, id: u64, agent: &str, text: &str) -> Result<Ticket> {
        ticket_action(&self.0, id, agent, "note", || {
            Ok(self.0.note_ticket_at(id, agent, text, now_ms())?)
        })
    }

    fn export(&self, filter: &InteractionFilter, out: &mut dyn Write) -> Result<usize> {
        export(&self.0, filter, out, &cli_user())
    }

    fn forget_user(&self, user: &str) -> Result<Forgotten> {
        forget(&self.0, user, &cli_user())
    }

    fn compact(&self) -> Result<Compaction> {
        compact(&self.0)
    }

    fn purge(&self, now_ms: u64, windows: Windows) -> Result<Purge> {
        purge(&self.0, now_ms, windows)
    }

    fn add_account(&self, account: &Account, by: &str) -> Result<String> {
        add_account(&self.0, account, by)
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        Ok(self.0.accounts()?)
    }

    fn remove_account(&self, name: &str, by: &str) -> Result<()> {
        remove_account(&self.0, name, by)
    }

    fn rotate_account(&self, name: &str, by: &str) -> Result<String> {
        rotate_account(&self.0, name, by)
    }

    fn audit_log(&self, since_ms: Option<u64>) -> Result<Vec<AuditEntry>> {
        Ok(self.0.audit_log(since_ms)?)
    }
}

/// An export, audited under `by`.
pub(crate) fn export(
    store: &Store,
    filter: &InteractionFilter,
    out: &mut dyn Write,
    by: &str,
) -> Result<usize> {
    let n = store.export(filter, out)?;
    audit(store, by, "export", None, None)?;
    Ok(n)
}

/// Forget then compact, as `evidence forget` does offline and over the socket alike; audited
/// under `by` (who was forgotten is not kept, not even as a hash: it would outlive them).
pub(crate) fn forget(store: &Store, user: &str, by: &str) -> Result<Forgotten> {
    let r = store.forget_user(user)?;
    let c = store.compact()?;
    audit(store, by, "forget", None, None)?;
    Ok(Forgotten {
        interactions: r.interactions,
        tickets: r.tickets,
        conversations: r.conversations,
        records_kept: c.records,
        cluster: None,
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

pub(crate) fn purge(store: &Store, now_ms: u64, windows: Windows) -> Result<Purge> {
    let p = personabot::ops::retention::purge(store, now_ms, windows)?;
    Ok(Purge {
        interactions: p.interactions,
        tickets: p.tickets,
        conversations: p.conversations,
        audit: p.audit,
    })
}

/// The history of ticket `id`'s customer, as JSON values (empty for an unknown ticket).
pub(crate) fn history(store: &Store, id: u64) -> Result<Vec<serde_json::Value>> {
    let Some(ticket) = store.ticket(id)? else {
        return Ok(Vec::new());
    };
    let entries = store.customer_history(&ticket)?;
    Ok(entries
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?)
}
