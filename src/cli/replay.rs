//! `personabot replay`: the logged interactions re-run through the selected catalog.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use personabot::catalog::settings::Settings;
use personabot::catalog::Catalog;

use super::store_access::StoreAccess;
use super::{compile, since_ms};

#[derive(Args, Debug)]
pub(crate) struct ReplayArgs {
    /// Only interactions newer than this (e.g. 30d, 12h).
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// Example messages shown per change.
    #[arg(long, default_value_t = 3, value_name = "N")]
    examples: usize,
    /// One JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

/// `personabot replay`: the logged interactions through the selected catalog.
pub(crate) fn replay(
    store: &dyn StoreAccess,
    catalog: &Catalog,
    settings: &Settings,
    args: &ReplayArgs,
) -> Result<ExitCode> {
    let filter = personabot::store::InteractionFilter {
        since_ms: since_ms(args.since.as_deref())?,
        ..Default::default()
    };
    let interactions = store.interactions(&filter)?;
    let classifier = compile(catalog, settings)?;
    let report = personabot::owner::replay::replay(
        catalog,
        &classifier,
        &settings.classify,
        &interactions,
        args.examples,
    );
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", personabot::owner::replay::render(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}
