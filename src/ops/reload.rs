//! Hot reload: `serve` recompiles the catalog and the decision settings when `personas/`,
//! `intents/`, `replies/` or the settings file change (or on SIGHUP), and swaps them in only when
//! `personabot check` would pass. A broken change keeps the old rules serving; its errors are
//! logged as `check` prints them and shown in `/healthz` and the metrics.
//!
//! What reloads: personas, intents, saved replies, teams, `classify.*` and
//! `limits.max_message_chars`. Other settings (listen address, tokens, channels, store) are
//! read once at start: a change to them is reported as needing a restart, and the rest of the
//! change still applies.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::catalog::examples::run_examples;
use crate::catalog::settings::Settings;
use crate::catalog::{self, CatalogSources};
use crate::core::classify::Classifier;
use crate::engine::pipeline::{Pipeline, Rules};
use crate::store::now_ms;

/// Where the rules come from.
#[derive(Debug, Clone, Default)]
pub struct ReloadSource {
    /// The folder holding `personas/` and `intents/`; `None`: the built-in catalog.
    pub catalog_dir: Option<PathBuf>,
    /// The settings file; `None`: built-in defaults and the environment.
    pub settings_file: Option<PathBuf>,
    /// `serve --listen`, which overrides `http.listen` from the file.
    pub listen: Option<String>,
}

pub use crate::engine::runtime::{ReloadState, ReloadStatus};

/// Loads settings and catalog from `source` and compiles them, failing on anything
/// `personabot check` reports (settings, catalog files, failing examples).
pub fn compile(source: &ReloadSource) -> Result<(Rules, Settings), Vec<String>> {
    let mut settings = Settings::load(source.settings_file.as_deref()).map_err(|e| {
        vec![match &source.settings_file {
            Some(f) => format!("invalid settings in {}: {e}", f.display()),
            None => format!("invalid settings: {e}"),
        }]
    })?;
    if let Some(listen) = &source.listen {
        settings.http.listen = listen.clone();
    }
    let sources = match &source.catalog_dir {
        Some(dir) => CatalogSources::read_dir(dir),
        None => Ok(CatalogSources::built_in()),
    };
    let catalog = sources
        .and_then(|s| catalog::load_from_sources(s, &settings.teams))
        .map_err(|diags| diags.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let classifier = Classifier::with_options(&catalog, settings.classify.match_options())
        .map_err(|e| vec![e])?;
    let (_, failures) = run_examples(&catalog, &classifier, &settings.classify);
    if !failures.is_empty() {
        return Err(failures.into_iter().map(|f| f.message).collect());
    }
    let rules = Rules::new(Arc::new(catalog), Arc::new(classifier), &settings);
    Ok((rules, settings))
}

/// The settings sections that differ between `running` and `on_disk` and only apply on restart.
pub fn restart_needed(running: &Settings, on_disk: &Settings) -> Vec<String> {
    let mut changed = Vec::new();
    let mut note = |name: &str, same: bool| {
        if !same {
            changed.push(name.to_string());
        }
    };
    note("http", running.http == on_disk.http);
    note("discord", running.discord == on_disk.discord);
    note("slack", running.slack == on_disk.slack);
    note("telegram", running.telegram == on_disk.telegram);
    note("store", running.store == on_disk.store);
    note("privacy", running.privacy == on_disk.privacy);
    note("bridges", running.bridges == on_disk.bridges);
    note("brand", running.brand == on_disk.brand);
    note("cluster", running.cluster == on_disk.cluster);
    note(
        "limits (flood)",
        running.limits.flood_messages == on_disk.limits.flood_messages
            && running.limits.flood_window_secs == on_disk.limits.flood_window_secs,
    );
    note(
        "limits (per address)",
        running.limits.address_requests == on_disk.limits.address_requests
            && running.limits.address_window_secs == on_disk.limits.address_window_secs,
    );
    changed
}

/// Recompiles from `source` and swaps the result into `pipeline`, or keeps the current rules
/// and records why. `running` is the settings the process started with.
pub fn reload(
    source: &ReloadSource,
    pipeline: &Pipeline,
    running: &Settings,
    state: &ReloadState,
) -> ReloadStatus {
    match compile(source) {
        Ok((rules, on_disk)) => {
            let (personas, intents) = (rules.catalog.personas.len(), rules.catalog.intents.len());
            pipeline.reload(rules);
            let restart = restart_needed(running, &on_disk);
            if !restart.is_empty() {
                tracing::warn!(
                    sections = %restart.join(", "),
                    "settings changed that apply only after a restart"
                );
            }
            let status = state.update(|s| {
                s.ok = true;
                s.generation += 1;
                s.loaded_ms = now_ms();
                s.attempts += 1;
                s.errors.clear();
                s.restart_needed = restart;
            });
            tracing::info!(
                generation = status.generation,
                personas,
                intents,
                "catalog reloaded"
            );
            status
        }
        Err(errors) => {
            for e in &errors {
                tracing::error!("{e}");
            }
            tracing::error!(
                errors = errors.len(),
                "the changed catalog or settings are invalid; the previous ones keep serving \
                 (run `personabot check`)"
            );
            state.update(|s| {
                s.ok = false;
                s.attempts += 1;
                s.failures += 1;
                s.errors = shown_errors(errors);
            })
        }
    }
}

/// Errors kept in the status (all of them are in the log).
const ERRORS_SHOWN: usize = 20;

fn shown_errors(mut errors: Vec<String>) -> Vec<String> {
    if errors.len() > ERRORS_SHOWN {
        let more = errors.len() - ERRORS_SHOWN;
        errors.truncate(ERRORS_SHOWN);
        errors.push(format!(
            "... and {more} more (all in the log; run `personabot check`)"
        ));
    }
    errors
}

/// How long the watcher waits after a change for more (editors write several files, or a
/// temporary file then a rename) before reloading once.
pub const SETTLE: Duration = Duration::from_millis(300);

/// What the watcher reacts to: the catalog folders and the settings file.
fn watched(source: &ReloadSource) -> (Vec<PathBuf>, Option<PathBuf>) {
    let dirs = source
        .catalog_dir
        .iter()
        .flat_map(|dir| ["personas", "intents", "replies"].map(|sub| dir.join(sub)))
        .filter(|path| path.is_dir())
        .collect();
    (dirs, source.settings_file.clone())
}

fn settings_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Starts watching `source`'s files; each change (and each `wake` from elsewhere, e.g. SIGHUP)
/// sends one `()` on the returned channel. The watcher lives as long as the returned handle.
pub fn watch(
    source: &ReloadSource,
) -> Result<(notify::RecommendedWatcher, tokio::sync::mpsc::Receiver<()>), notify::Error> {
    use notify::{RecursiveMode, Watcher};
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let (dirs, settings_file) = watched(source);
    let settings_name = settings_file
        .as_ref()
        .and_then(|f| f.file_name().map(|n| n.to_os_string()));
    // Events name paths as the backend sees them (absolute for inotify): compare both forms.
    let catalog_dirs: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| {
            [
                d.clone(),
                std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()),
            ]
        })
        .collect();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            let in_catalog = catalog_dirs.iter().any(|d| p.parent() == Some(d.as_path()))
                && p.extension().is_some_and(|e| e == "toml");
            let is_settings = settings_name
                .as_ref()
                .is_some_and(|n| p.file_name() == Some(n));
            in_catalog || is_settings
        });
        if relevant {
            // A full queue already holds a pending reload.
            let _ = tx.try_send(());
        }
    })?;
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    if let Some(file) = &settings_file {
        watcher.watch(&settings_dir(file), RecursiveMode::NonRecursive)?;
    }
    Ok((watcher, rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sections_read_at_start_need_a_restart() {
        let base = Settings::built_in();
        type Case = (&'static str, fn(&mut Settings), &'static [&'static str]);
        let table: [Case; 6] = [
            ("nothing", |_| {}, &[]),
            ("thresholds", |s| s.classify.margin = 0.42, &[]),
            ("message limit", |s| s.limits.max_message_chars = 99, &[]),
            (
                "listen address",
                |s| s.http.listen = "127.0.0.1:1".into(),
                &["http"],
            ),
            (
                "flood limit and retention",
                |s| {
                    s.limits.flood_messages = 1;
                    s.store.retention_days = 1;
                },
                &["store", "limits (flood)"],
            ),
            (
                "cluster node",
                |s| s.cluster.node = Some("b".into()),
                &["cluster"],
            ),
        ];
        for (what, change, want) in table {
            let mut changed = base.clone();
            change(&mut changed);
            assert_eq!(restart_needed(&base, &changed), want, "{what}");
        }
    }

    #[test]
    fn the_watcher_looks_at_the_catalog_folders_and_the_settings_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("intents")).unwrap();
        let source = ReloadSource {
            catalog_dir: Some(dir.path().to_path_buf()),
            settings_file: Some(PathBuf::from("personabot.toml")),
            listen: None,
        };
        let (dirs, settings) = watched(&source);
        // personas/ is missing: there is nothing to watch there.
        assert_eq!(dirs, [dir.path().join("intents")]);
        assert_eq!(settings_dir(&settings.unwrap()), PathBuf::from("."));
    }
}
