//! `personabot check`: settings and catalog errors together as `path:line:col: message`, then
//! every intent's `[[examples]]` through the classifier and router.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use personabot::catalog;
use personabot::catalog::examples::run_examples;
use personabot::catalog::settings::{Settings, SettingsError};

use super::{catalog_sources, compile, load_settings, settings_file};
use crate::Cli;

pub(crate) fn check(cli: &Cli) -> Result<ExitCode> {
    // Settings and catalog errors are reported together, each as `path:line:col: message`.
    let mut problems = catalog::Diagnostics::default();
    let mut other = Vec::new();
    let settings = match load_settings(cli) {
        Ok(s) => Some(s),
        Err(e) => {
            match e.downcast_ref::<SettingsError>() {
                Some(SettingsError::File(diags)) => problems.extend(diags.clone()),
                _ => other.push(format!("{e:#}")),
            }
            None
        }
    };
    // Without valid settings, the catalog is still checked against the teams it can see: the
    // built-in ones and those the settings file names.
    let teams = match &settings {
        Some(s) => s.teams.clone(),
        None => Settings::teams_despite_errors(settings_file(cli).as_deref()),
    };
    let catalog = match catalog_sources(cli).and_then(|s| catalog::load_from_sources(s, &teams)) {
        Ok(c) => Some(c),
        Err(diags) => {
            problems.extend(diags);
            None
        }
    };
    let (Some(settings), Some(catalog)) = (settings, catalog) else {
        for d in problems.iter() {
            println!("{d}");
        }
        for e in &other {
            println!("{e}");
        }
        eprintln!("{} error(s)", problems.len() + other.len());
        return Ok(ExitCode::FAILURE);
    };
    let started = Instant::now();
    let classifier = compile(&catalog, &settings)?;
    let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (run, failures) = run_examples(&catalog, &classifier, &settings.classify);
    for f in &failures {
        println!("{}", f.message);
    }
    if !failures.is_empty() {
        eprintln!("{} of {run} examples failed", failures.len());
        return Ok(ExitCode::FAILURE);
    }
    let (terms, patterns) = classifier.size();
    println!(
        "ok: {} personas, {} intents, {} teams; {run} examples pass; {terms} terms and {patterns} patterns compiled in {compile_ms:.1} ms",
        catalog.personas.len(),
        catalog.intents.len(),
        catalog.teams.len(),
    );
    Ok(ExitCode::SUCCESS)
}
