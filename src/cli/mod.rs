//! The command line's commands, one file each, and what they share: finding the settings file
//! and the catalog, compiling it, and reaching the evidence store (directly, or through a running
//! `serve`'s control socket).

pub(crate) mod agents;
pub(crate) mod audit;
pub(crate) mod chat;
pub(crate) mod check;
pub(crate) mod classify;
pub(crate) mod cluster_access;
pub(crate) mod control;
pub(crate) mod eval;
pub(crate) mod evidence;
pub(crate) mod learn;
pub(crate) mod replay;
pub(crate) mod review;
pub(crate) mod serve;
pub(crate) mod store_access;
pub(crate) mod suggest;
pub(crate) mod tickets;
pub(crate) mod tickets_search;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use personabot::catalog::settings::{Settings, USER_HASH_KEY_ENV};
use personabot::catalog::{self, Catalog, CatalogSources};
use personabot::core::classify::Classifier;
use personabot::store::{now_ms, Store};

use crate::Cli;

/// The settings file in use: `--config FILE`, else `personabot.toml` when present.
pub(crate) fn settings_file(cli: &Cli) -> Option<PathBuf> {
    match &cli.config {
        Some(path) => Some(path.clone()),
        None => Some(PathBuf::from("personabot.toml")).filter(|p| p.is_file()),
    }
}

pub(crate) fn load_settings(cli: &Cli) -> Result<Settings> {
    let file = settings_file(cli);
    Settings::load(file.as_deref()).with_context(|| match &file {
        Some(f) => format!("invalid settings in {}", f.display()),
        None => "invalid settings".to_string(),
    })
}

/// Reads the catalog sources: `--catalog DIR`, else `.` when it has a catalog, else built-in.
pub(crate) fn catalog_sources(cli: &Cli) -> Result<CatalogSources, catalog::Diagnostics> {
    match catalog_dir(cli) {
        Some(dir) => CatalogSources::read_dir(&dir),
        None => {
            tracing::info!("no personas/ or intents/ here: using the built-in catalog");
            Ok(CatalogSources::built_in())
        }
    }
}

/// The catalog folder in use: `--catalog DIR`, else `.` when it has a catalog; `None` for the
/// built-in catalog (also the folder `suggest --apply` edits and `serve` watches).
pub(crate) fn catalog_dir(cli: &Cli) -> Option<PathBuf> {
    match &cli.catalog {
        Some(dir) => Some(dir.clone()),
        None if Path::new("personas").is_dir() || Path::new("intents").is_dir() => {
            Some(PathBuf::from("."))
        }
        None => None,
    }
}

pub(crate) fn load_catalog(cli: &Cli, settings: &Settings) -> Result<Catalog> {
    let loaded = catalog_sources(cli).and_then(|s| catalog::load_from_sources(s, &settings.teams));
    match loaded {
        Ok(c) => Ok(c),
        Err(diags) => {
            for d in diags.iter() {
                eprintln!("{d}");
            }
            bail!(
                "the catalog has {} error(s); run `personabot check`",
                diags.len()
            )
        }
    }
}

pub(crate) fn compile(catalog: &Catalog, settings: &Settings) -> Result<Classifier> {
    let started = Instant::now();
    let classifier = Classifier::with_options(catalog, settings.classify.match_options())
        .map_err(anyhow::Error::msg)?;
    let (terms, patterns) = classifier.size();
    tracing::info!(
        terms,
        patterns,
        compile_ms = started.elapsed().as_secs_f64() * 1000.0,
        "catalog compiled"
    );
    Ok(classifier)
}

/// The cutoff (ms since the epoch) of a `--since` age such as `30d` or `12h`.
pub(crate) fn since_ms(since: Option<&str>) -> Result<Option<u64>> {
    Ok(since
        .map(|s| personabot::owner::review::since_cutoff(s, now_ms()))
        .transpose()?)
}

/// Opens the sled store itself (for `serve` and `chat`, which need it to themselves).
pub(crate) fn open_store(cli: &Cli) -> Result<Store> {
    let key = std::env::var(USER_HASH_KEY_ENV).ok();
    Store::open(&cli.data, key.as_deref())
        .with_context(|| format!("cannot open the evidence store in {}", cli.data.display()))
}
