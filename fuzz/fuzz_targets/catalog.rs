//! Fuzz target: catalog loading and validation on arbitrary files. The input is split on NUL
//! (which TOML text cannot hold) into a persona file and intent files. Errors are fine; a
//! panic, a diagnostic pointing outside its file, or a catalog that loads but does not
//! compile is a bug.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use personabot::catalog::{self, CatalogSources};
use personabot::core::classify::Classifier;
use personabot::catalog::settings::Settings;

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(Settings::built_in)
}

const PERSONAS: [&str; 2] = ["founder", "seller"];
const INTENTS: [&str; 3] = ["pricing", "refund", "billing"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut sources = CatalogSources {
        intents_dir: PathBuf::from("intents"),
        ..CatalogSources::default()
    };
    for (i, file) in text
        .split('\0')
        .take(PERSONAS.len() + INTENTS.len())
        .enumerate()
    {
        match PERSONAS.get(i) {
            Some(id) => sources.personas.push((
                PathBuf::from(format!("personas/{id}.toml")),
                file.to_string(),
            )),
            None => sources.intents.push((
                PathBuf::from(format!("intents/{}.toml", INTENTS[i - PERSONAS.len()])),
                file.to_string(),
            )),
        }
    }
    match catalog::load_from_sources(sources.clone(), &settings().teams) {
        Ok(catalog) => {
            let classifier = Classifier::new(&catalog).expect("a loaded catalog compiles");
            for intent in &catalog.intents {
                for example in &intent.examples {
                    let _ = classifier.classify(&example.text);
                }
            }
        }
        Err(diags) => {
            for d in diags.iter() {
                if d.path == PathBuf::from("intents") {
                    continue;
                }
                let (_, file) = sources
                    .personas
                    .iter()
                    .chain(&sources.intents)
                    .find(|(p, _)| *p == d.path)
                    .expect("a diagnostic names a given file");
                let lines: Vec<&str> = file.split('\n').collect();
                assert!(
                    d.line >= 1 && d.line <= lines.len(),
                    "{d}: line outside the file"
                );
                let width = lines[d.line - 1].chars().count();
                assert!(
                    d.col >= 1 && d.col <= width + 1,
                    "{d}: column outside the line"
                );
            }
        }
    }
});
