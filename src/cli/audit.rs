//! `personabot audit`: the audit log of agent and owner actions (sign-ins, ticket actions,
//! exports, forgets, account changes), oldest first; with `--cluster`, the cluster's own log of
//! the exports and forgets run on every node at once.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use personabot::store::{format_time, AuditEntry};

use super::since_ms;
use super::store_access::StoreAccess;

#[derive(Args, Debug)]
pub(crate) struct AuditArgs {
    /// Only the last AGE (e.g. 7d, 12h).
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// The cluster's own log instead of this store's: the evidence exports and forgets run on
    /// the whole cluster (needs cluster.nats_url).
    #[arg(long)]
    pub(crate) cluster: bool,
}

/// One entry as a line of text.
fn line(e: &AuditEntry) -> String {
    let mut text = format!("{}  {:<16} {:<15}", format_time(e.at_ms), e.who, e.action);
    if let Some(id) = e.ticket {
        text.push_str(&format!(" ticket #{id}"));
    }
    if let Some(target) = &e.target {
        text.push_str(&format!(" {target}"));
    }
    text.push_str(&format!("  ({}", e.via));
    if let Some(from) = &e.from {
        text.push_str(&format!(" from {from}"));
    }
    text.push(')');
    text
}

pub(crate) fn audit(store: &dyn StoreAccess, args: &AuditArgs) -> Result<ExitCode> {
    let since = since_ms(args.since.as_deref())?;
    let list = store.audit_log(since)?;
    let out = &mut std::io::stdout().lock();
    for e in &list {
        if args.json {
            serde_json::to_writer(&mut *out, e)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", line(e))?;
        }
    }
    if list.is_empty() && !args.json {
        writeln!(out, "(no audit entries)")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_as_text() {
        let mut e = AuditEntry {
            at_ms: 0,
            who: "ann".into(),
            action: "claim".into(),
            ticket: Some(3),
            target: None,
            via: "http".into(),
            from: Some("127.0.0.1".into()),
        };
        assert_eq!(
            line(&e),
            "1970-01-01T00:00:00Z  ann              claim           ticket #3  (http from 127.0.0.1)"
        );
        e.ticket = None;
        e.target = Some("bob".into());
        e.from = None;
        e.via = "cli".into();
        assert!(
            line(&e).ends_with("claim           bob  (cli)"),
            "{}",
            line(&e)
        );
    }
}
