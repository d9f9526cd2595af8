//! `personabot review`: what the evidence says per persona and about the catalog.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use personabot::catalog::Catalog;
use personabot::store::now_ms;

use super::since_ms;
use super::store_access::StoreAccess;

#[derive(Args, Debug)]
pub(crate) struct ReviewArgs {
    /// Only messages newer than this (e.g. 30d, 12h) [default: all the evidence kept].
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// Only this persona (`-`: messages without a persona).
    #[arg(long, value_name = "ID")]
    persona: Option<String>,
    /// One JSON object instead of the tables.
    #[arg(long, conflicts_with = "html")]
    json: bool,
    /// Write a self-contained HTML report with charts to FILE (the tables still print).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Another store to merge into the review (repeatable): the stores of shard processes
    /// that each own a share of the conversations.
    #[arg(long, value_name = "DIR")]
    pub(crate) shard: Vec<PathBuf>,
}

/// `personabot review`: the evidence per persona and across the catalog.
pub(crate) fn review(
    stores: &[Box<dyn StoreAccess>],
    catalog: &Catalog,
    args: &ReviewArgs,
) -> Result<ExitCode> {
    use personabot::owner::review;
    let now = now_ms();
    let options = review::ReviewOptions {
        since_ms: since_ms(args.since.as_deref())?,
        persona: args.persona.clone(),
        now_ms: now,
        ..Default::default()
    };
    // Several stores (shards) merge: a conversation lives in one store, so each is read whole.
    let (mut interactions, mut tickets) = (Vec::new(), Vec::new());
    for store in stores {
        interactions.extend(store.interactions(&options.window())?);
        tickets.extend(store.tickets(None, None)?);
    }
    let report = review::build(catalog, &interactions, &tickets, &options)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    write!(out, "{}", review::render_text(&report))?;
    if let Some(path) = &args.html {
        let page = review::render_html(&report, &review::HtmlTarget::default());
        std::fs::write(path, page)
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
        writeln!(out, "\nHTML report written to {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
