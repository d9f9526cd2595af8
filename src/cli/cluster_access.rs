//! The cluster as the owner's commands see it when `cluster.nats_url` is set: every node's
//! records read back from the JetStream streams (`PB_EVIDENCE`, `PB_TICKETS`), never a store's
//! files, so no data folder is needed.
//!
//! It is one more [`StoreAccess`] beside the store itself and a running `serve`'s socket:
//! `evidence export`, `review`, `suggest` and `replay` run unchanged on it and print the same
//! shapes. Reading is all it does, plus `evidence forget`, which asks every node to forget (see
//! `personabot::cluster::forget`). An export and a forget are each recorded in the cluster's
//! audit log (`PB_AUDIT`, see `personabot::cluster::audit`) first, and do not run when that
//! fails; `audit --cluster` lists that log. Anything that changes a node's store (ticket
//! actions, accounts, purge, compaction) is refused: it belongs to the node, run without
//! `cluster.nats_url` on its data folder.

use std::io::Write;

use anyhow::{bail, Context, Result};

use personabot::catalog::settings::ClusterSettings;
use personabot::cluster::{audit, forget, read};
use personabot::ops::retention::Windows;
use personabot::store::{
    now_ms, Account, AuditEntry, Interaction, InteractionFilter, Ticket, TicketStatus,
};

use super::store_access::{cli_user, Compaction, Forgotten, Purge, StoreAccess};

/// The cluster's streams, read on demand (each call reads them afresh).
pub(crate) struct ClusterAccess {
    runtime: tokio::runtime::Runtime,
    js: async_nats::jetstream::Context,
    /// How long `PB_AUDIT` keeps its entries when this makes it (`store.audit_retention_days`).
    audit_days: u32,
}

/// Connects to the cluster's NATS (credentials from the URL, from the environment only).
pub(crate) fn open(settings: &ClusterSettings, windows: Windows) -> Result<ClusterAccess> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the NATS client")?;
    let js = runtime
        .block_on(read::connect(settings, "personabot-cli"))
        .context("cannot reach the cluster (cluster.nats_url)")?;
    Ok(ClusterAccess {
        runtime,
        js,
        audit_days: windows.audit_days,
    })
}

impl ClusterAccess {
    fn load(&self, tickets: bool) -> Result<read::ClusterRecords> {
        let records = self
            .runtime
            .block_on(read::load(&self.js, tickets))
            .context("cannot read the cluster's streams")?;
        if records.unreadable > 0 {
            eprintln!(
                "warning: {} message(s) of the cluster's streams could not be read and were skipped",
                records.unreadable
            );
        }
        Ok(records)
    }

    /// Records the command's `action` on the whole cluster in `PB_AUDIT`, as the user running it.
    fn audit(&self, action: &str) -> Result<()> {
        let entry = AuditEntry {
            at_ms: now_ms(),
            who: cli_user(),
            action: action.into(),
            ticket: None,
            target: Some("cluster".into()),
            via: "cli".into(),
            from: None,
        };
        self.runtime
            .block_on(audit::record(&self.js, &entry, self.audit_days))
            .with_context(|| format!("cannot record the {action} in the cluster's audit log"))
    }

    fn refused<T>(&self, what: &str) -> Result<T> {
        bail!(
            "{what} belongs to one node's own store: run it on that node's data folder without \
             cluster.nats_url (unset PERSONABOT__CLUSTER__NATS_URL)"
        )
    }
}

impl StoreAccess for ClusterAccess {
    fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>> {
        let mut all = self.load(false)?.interactions;
        all.retain(|i| filter.matches(i));
        Ok(all)
    }

    fn tickets(&self, team: Option<&str>, status: Option<TicketStatus>) -> Result<Vec<Ticket>> {
        let mut all = self.load(true)?.tickets;
        all.retain(|t| {
            team.is_none_or(|want| t.team == want) && status.is_none_or(|s| t.status == s)
        });
        Ok(all)
    }

    fn ticket(&self, id: u64) -> Result<Option<Ticket>> {
        Ok(self.load(true)?.tickets.into_iter().find(|t| t.id == id))
    }

    fn history(&self, _id: u64) -> Result<Vec<serde_json::Value>> {
        self.refused("a ticket's history")
    }

    fn claim_ticket(&self, _id: u64, _agent: &str) -> Result<Ticket> {
        self.refused("claiming a ticket")
    }

    fn resolve_ticket(&self, _id: u64, _agent: &str) -> Result<Ticket> {
        self.refused("resolving a ticket")
    }

    fn relabel_ticket(
        &self,
        _id: u64,
        _intent: Option<&str>,
        _persona: Option<&str>,
        _agent: &str,
    ) -> Result<Ticket> {
        self.refused("relabelling a ticket")
    }

    fn reply_ticket(&self, _id: u64, _agent: &str, _text: &str) -> Result<Ticket> {
        self.refused("replying to a ticket")
    }

    fn assign_ticket(&self, _id: u64, _to: &str, _by: &str) -> Result<Ticket> {
        self.refused("assigning a ticket")
    }

    fn note_ticket(&self, _id: u64, _agent: &str, _text: &str) -> Result<Ticket> {
        self.refused("a ticket note")
    }

    /// The same JSON Lines a store exports (one interaction per line, oldest first), once the
    /// export is recorded in the cluster's audit log.
    fn export(&self, filter: &InteractionFilter, out: &mut dyn Write) -> Result<usize> {
        self.audit("export")?;
        let interactions = self.interactions(filter)?;
        for i in &interactions {
            serde_json::to_writer(&mut *out, i)?;
            out.write_all(b"\n")?;
        }
        Ok(interactions.len())
    }

    /// Asks every node to forget `user` (`PB_CONTROL`, see `personabot::cluster::forget`) and
    /// waits a moment for their answers: the counts are the answering nodes' sums, and the
    /// nodes that did not answer apply it when they read `PB_CONTROL` again.
    fn forget_user(&self, user: &str) -> Result<Forgotten> {
        self.audit("forget")?;
        let cluster = self
            .runtime
            .block_on(async {
                let request = forget::new_request(user, "cli")?;
                let published = forget::publish(&self.js, &self.js.client(), &request).await?;
                forget::collect(&self.js, published, "cli").await
            })
            .context("cannot ask the cluster to forget")?;
        let sum = |f: fn(&forget::NodeForgot) -> usize| cluster.applied.iter().map(f).sum();
        Ok(Forgotten {
            interactions: sum(|n| n.interactions),
            tickets: sum(|n| n.tickets),
            conversations: sum(|n| n.conversations),
            records_kept: 0,
            cluster: Some(cluster),
        })
    }

    fn compact(&self) -> Result<Compaction> {
        self.refused("compaction")
    }

    fn purge(&self, _now_ms: u64, _windows: Windows) -> Result<Purge> {
        self.refused("purging")
    }

    fn add_account(&self, _account: &Account, _by: &str) -> Result<String> {
        self.refused("adding an account")
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        self.refused("listing accounts")
    }

    fn remove_account(&self, _name: &str, _by: &str) -> Result<()> {
        self.refused("removing an account")
    }

    fn rotate_account(&self, _name: &str, _by: &str) -> Result<String> {
        self.refused("rotating an account")
    }

    /// The cluster's own audit log (`PB_AUDIT`); each node's is in its store.
    fn audit_log(&self, since_ms: Option<u64>) -> Result<Vec<AuditEntry>> {
        let (list, unreadable) = self
            .runtime
            .block_on(audit::load(&self.js, since_ms))
            .context("cannot read the cluster's audit log")?;
        if unreadable > 0 {
            eprintln!(
                "warning: {unreadable} entry(ies) of {} could not be read",
                audit::AUDIT_STREAM
            );
        }
        Ok(list)
    }
}
