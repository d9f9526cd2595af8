//! `personabot evidence`: export, forget, purge and compact the logged evidence.

use personabot::ops::retention::Windows;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use personabot::catalog::settings::Settings;
use personabot::store::{now_ms, InteractionFilter};

use super::since_ms;
use super::store_access::StoreAccess;

#[derive(Subcommand, Debug)]
pub(crate) enum EvidenceCommand {
    /// Write interactions as JSON Lines.
    Export {
        /// Only the last DURATION (e.g. 30d, 12h).
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        #[arg(long)]
        persona: Option<String>,
        #[arg(long)]
        intent: Option<String>,
        /// answer | ticket | clarify | fallback | helped | not-helped
        #[arg(long)]
        outcome: Option<String>,
        /// File to write [default: stdout].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Delete every interaction, ticket and conversation of a user.
    Forget {
        /// The user's id on its channel (as the channel reported it).
        #[arg(long)]
        user: String,
    },
    /// Delete interactions, resolved tickets and idle conversations older than the retention
    /// window (store.retention_days).
    Purge,
    /// Rewrite the store with only its live records, so deleted ones leave the files too.
    Compact,
}

impl EvidenceCommand {
    /// Whether it reaches the whole cluster when `cluster.nats_url` is set (export and forget);
    /// purge and compaction stay with a node's own store.
    pub(crate) fn reads_the_cluster(&self) -> bool {
        matches!(self, Self::Export { .. } | Self::Forget { .. })
    }
}

/// Exports through a buffer into `out`, flushed; how many interactions.
fn export_to(
    store: &dyn StoreAccess,
    filter: &InteractionFilter,
    out: impl Write,
) -> Result<usize> {
    let mut w = std::io::BufWriter::new(out);
    let n = store.export(filter, &mut w)?;
    w.flush()?;
    Ok(n)
}

pub fn evidence(
    store: &dyn StoreAccess,
    settings: &Settings,
    cmd: &EvidenceCommand,
) -> Result<ExitCode> {
    match cmd {
        EvidenceCommand::Export {
            since,
            persona,
            intent,
            outcome,
            out,
        } => {
            let since_ms = since_ms(since.as_deref())?;
            if let Some(o) = outcome {
                const OUTCOMES: [&str; 6] = [
                    "answer",
                    "ticket",
                    "clarify",
                    "fallback",
                    "helped",
                    "not-helped",
                ];
                if !OUTCOMES.contains(&o.as_str()) {
                    bail!(
                        "unknown --outcome `{o}`: use one of {}",
                        OUTCOMES.join(", ")
                    );
                }
            }
            let filter = InteractionFilter {
                since_ms,
                until_ms: None,
                persona: persona.clone(),
                intent: intent.clone(),
                outcome: outcome.clone(),
            };
            let n = match out {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let written = export_to(store, &filter, file);
                    if written.is_err() {
                        // No partial export is left behind to be taken for a whole one.
                        let _ = std::fs::remove_file(path);
                    }
                    written?
                }
                None => export_to(store, &filter, std::io::stdout().lock())?,
            };
            eprintln!("exported {n} interaction(s)");
        }
        EvidenceCommand::Forget { user } => {
            let r = store.forget_user(user)?;
            println!(
                "forgot user: {} interaction(s), {} ticket(s), {} conversation(s) deleted",
                r.interactions, r.tickets, r.conversations
            );
            match &r.cluster {
                None => eprintln!(
                    "store compacted: {} records kept, the deleted ones are gone from its files",
                    r.records_kept
                ),
                Some(cluster) => {
                    for n in &cluster.applied {
                        println!(
                            "node {}: {} interaction(s), {} ticket(s), {} conversation(s), {} stream message(s) deleted; store compacted",
                            n.node, n.interactions, n.tickets, n.conversations, n.messages
                        );
                    }
                    if !cluster.pending.is_empty() {
                        println!(
                            "not answered yet (down or slow; they forget when they read PB_CONTROL again): {}",
                            cluster.pending.join(", ")
                        );
                    }
                }
            }
        }
        EvidenceCommand::Compact => {
            let c = store.compact()?;
            println!(
                "compacted: {} records kept; {} -> {} bytes",
                c.records, c.bytes_before, c.bytes_after
            );
        }
        EvidenceCommand::Purge => {
            let windows = Windows::of(&settings.store);
            let days = windows.evidence_days;
            let p = store.purge(now_ms(), windows)?;
            if days == 0 {
                println!("retention is off (store.retention_days = 0): no evidence purged");
            } else {
                println!(
                    "purged {} interaction(s), {} resolved ticket(s) and {} idle conversation(s) older than {days} days",
                    p.interactions, p.tickets, p.conversations
                );
            }
            if windows.audit_days > 0 {
                println!(
                    "purged {} audit log record(s) older than {} days",
                    p.audit, windows.audit_days
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
