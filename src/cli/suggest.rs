//! `personabot suggest`: keyword changes mined from the evidence, as a diff or applied.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use personabot::catalog::settings::Settings;
use personabot::catalog::Catalog;
use personabot::store::InteractionFilter;

use super::store_access::StoreAccess;
use super::{catalog_dir, catalog_sources, since_ms};
use crate::Cli;

#[derive(Args, Debug)]
pub(crate) struct SuggestArgs {
    /// Only this persona's profile (with --intent: both).
    #[arg(long, value_name = "ID")]
    persona: Option<String>,
    /// Only this intent's profile (with --persona: both).
    #[arg(long, value_name = "ID")]
    intent: Option<String>,
    /// Write the changes into the catalog files instead of printing the diff.
    #[arg(long)]
    apply: bool,
    /// Only interactions newer than this (e.g. 30d, 12h).
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// Supporting messages (conversations, for personas) a suggestion needs.
    #[arg(long, default_value_t = 2, value_name = "N")]
    min_support: usize,
    /// Example messages shown per suggestion.
    #[arg(long, default_value_t = 3, value_name = "N")]
    examples: usize,
    /// One JSON object (suggestions, diff, predicted effect) instead of the diff and summary.
    #[arg(long)]
    json: bool,
}

/// `personabot suggest`: keyword changes mined from the evidence. The summary (support,
/// examples, predicted effect) goes to stderr so that stdout is a diff `patch -p1` takes as is;
/// with `--apply` the files are written and stdout says what changed in each.
pub(crate) fn suggest(
    cli: &Cli,
    store: &dyn StoreAccess,
    catalog: &Catalog,
    settings: &Settings,
    args: &SuggestArgs,
) -> Result<ExitCode> {
    use personabot::owner::suggest;
    let dir = catalog_dir(cli);
    if args.apply && dir.is_none() {
        bail!(
            "--apply needs catalog files to edit, and this is the built-in catalog (no personas/ or intents/ here): run it in your catalog folder or pass --catalog DIR"
        );
    }
    let options = suggest::SuggestOptions {
        persona: args.persona.clone(),
        intent: args.intent.clone(),
        min_support: args.min_support.max(1),
        examples: args.examples,
        ..Default::default()
    };
    let filter = InteractionFilter {
        since_ms: since_ms(args.since.as_deref())?,
        ..Default::default()
    };
    let interactions = store.interactions(&filter)?;
    let found = suggest::suggest(catalog, &settings.classify, &interactions, &options)?;
    let sources = catalog_sources(cli).map_err(|d| anyhow::anyhow!("{d}"))?;
    let edits = suggest::edit_files(&sources, &found.suggestions, &found.retire)?;
    let prediction = suggest::predict(
        &sources,
        &edits,
        &settings.teams,
        &settings.classify,
        &interactions,
    )?;
    let diff = suggest::render_diff(&edits);
    if args.apply {
        suggest::write_edits(&edits)?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let written: Option<Vec<&str>> = args
            .apply
            .then(|| edits.iter().map(|e| e.path.as_str()).collect());
        let mut report = serde_json::to_value(&found)?;
        report["diff"] = diff.into();
        report["predicted"] = serde_json::to_value(&prediction)?;
        report["applied"] = serde_json::to_value(written)?;
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    eprint!("{}", suggest::render_summary(&found, Some(&prediction)));
    if !args.apply {
        write!(out, "{diff}")?;
        return Ok(ExitCode::SUCCESS);
    }
    if edits.is_empty() {
        writeln!(out, "nothing to change")?;
    }
    let dir = dir.unwrap_or_default();
    for e in &edits {
        let mut changes: Vec<String> = e.added.iter().map(|t| format!("added {t:?}")).collect();
        changes.extend(e.removed.iter().map(|t| format!("removed {t:?}")));
        changes.extend(
            e.retired
                .iter()
                .map(|v| format!("retired the answer variant {v}")),
        );
        writeln!(
            out,
            "wrote {}: {}",
            dir.join(&e.path).display(),
            changes.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
