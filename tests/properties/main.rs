//! Property tests (proptest) for the parts every customer message or catalog file goes through:
//! classification never panics and is deterministic, normalisation is idempotent, redaction
//! removes generated personal data, catalog loading never panics on arbitrary or near-valid
//! TOML, the decision JSON is valid JSON, echoed text can never mention or link on Discord
//! or Slack, and a rendered answer never mentions or links outside http, https and mailto.
//!
//! Case counts are small enough for CI (the whole crate runs in well under 30 s in debug); set
//! `PROPTEST_CASES=N` to run every property N times instead (the megabyte message N/100 times).

mod catalog_loading;
mod classification;
mod echo;
mod prefilter;
mod redaction;
mod strategies;

use std::sync::OnceLock;

use personabot::catalog::settings::Settings;
use personabot::catalog::{self, Catalog, CatalogSources};
use personabot::core::classify::Classifier;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The persisted failing cases, replayed before new ones by every property. Named explicitly:
/// proptest's default derives the file from the source file of each property, which in a test
/// folder would be a new file per module under tests/proptest-regressions/.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/properties.proptest-regressions"
);

fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        // Shrinking stays bounded so a failure is reported quickly in CI.
        max_shrink_iters: 2048,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    }
}

/// The shipped catalog and settings, compiled once per test binary.
struct Shipped {
    settings: Settings,
    catalog: Catalog,
    classifier: Classifier,
    /// Every keyword and exclusion of the shipped catalog, as written.
    terms: Vec<String>,
}

fn shipped() -> &'static Shipped {
    static SHIPPED: OnceLock<Shipped> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let settings = Settings::built_in();
        let catalog = catalog::load_from_sources(CatalogSources::built_in(), &settings.teams)
            .unwrap_or_else(|d| panic!("the built-in catalog loads: {d}"));
        let classifier = Classifier::new(&catalog).expect("the built-in catalog compiles");
        let mut terms: Vec<String> = catalog
            .personas
            .iter()
            .flat_map(|p| p.keywords.iter().map(|k| k.term.clone()))
            .chain(
                catalog
                    .intents
                    .iter()
                    .flat_map(|i| i.keywords.iter().map(|k| k.term.clone())),
            )
            .chain(catalog.intents.iter().flat_map(|i| i.exclude.clone()))
            .collect();
        terms.sort();
        terms.dedup();
        Shipped {
            settings,
            catalog,
            classifier,
            terms,
        }
    })
}
