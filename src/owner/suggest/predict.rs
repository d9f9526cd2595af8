//! The predicted effect: the logged interactions replayed through the current and the edited
//! catalog, and the catalog's examples checked against the edited one.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{FileEdit, SuggestError};
use crate::catalog::{self, CatalogSources, Team};
use crate::core::classify::Classifier;
use crate::core::route::Thresholds;
use crate::owner::replay::{self, LabelAgreement};
use crate::store::Interaction;

/// What the edited catalog would do to the logged messages, next to the current catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Prediction {
    /// Relabelled messages routed as the agent said, by the current catalog...
    pub intent_labels_now: LabelAgreement,
    /// ...and by the edited one.
    pub intent_labels_after: LabelAgreement,
    pub persona_labels_now: LabelAgreement,
    pub persona_labels_after: LabelAgreement,
    /// Messages replayed, and how many differ from the logged decision, now and after.
    pub replayed: usize,
    pub flipped_now: usize,
    pub flipped_after: usize,
    /// Logged misses (no intent) that would get an intent, now and after.
    pub misses_matched_now: usize,
    pub misses_matched_after: usize,
    /// The catalog's `[[examples]]` (what `personabot check` runs) that fail after the edits,
    /// as `path:line:col: message`.
    pub examples_failing_after: Vec<String>,
}

fn edited_sources(sources: &CatalogSources, edits: &[FileEdit]) -> CatalogSources {
    let mut edited = sources.clone();
    for (path, text) in edited.personas.iter_mut().chain(edited.intents.iter_mut()) {
        if let Some(e) = edits.iter().find(|e| &e.source == path) {
            text.clone_from(&e.after);
        }
    }
    edited
}

fn misses_matched(report: &replay::ReplayReport) -> usize {
    report
        .by_change
        .get("intent")
        .into_iter()
        .flatten()
        .filter(|(change, _)| change.starts_with("- -> "))
        .map(|(_, n)| n)
        .sum()
}

/// Replays `interactions` through the current catalog (`sources`) and the edited one, so the
/// effect of the edits is known before they are written. Fails if the edited catalog does not
/// load (which would be a bug here).
pub fn predict(
    sources: &CatalogSources,
    edits: &[FileEdit],
    teams: &BTreeMap<String, Team>,
    thresholds: &Thresholds,
    interactions: &[Interaction],
) -> Result<Prediction, SuggestError> {
    let run = |sources: CatalogSources| -> Result<_, SuggestError> {
        let catalog = catalog::load_from_sources(sources, teams)
            .map_err(|d| SuggestError::EditedCatalog(d.to_string()))?;
        let classifier = Classifier::new(&catalog).map_err(SuggestError::EditedCatalog)?;
        let report = replay::replay(&catalog, &classifier, thresholds, interactions, 0);
        let (_, failures) =
            crate::catalog::examples::run_examples(&catalog, &classifier, thresholds);
        Ok((report, failures))
    };
    let (now, _) = run(sources.clone())?;
    let (after, failures) = run(edited_sources(sources, edits))?;
    Ok(Prediction {
        examples_failing_after: failures.into_iter().map(|f| f.message).collect(),
        replayed: after.replayed,
        flipped_now: now.flipped,
        flipped_after: after.flipped,
        misses_matched_now: misses_matched(&now),
        misses_matched_after: misses_matched(&after),
        intent_labels_now: now.intent_labels,
        intent_labels_after: after.intent_labels,
        persona_labels_now: now.persona_labels,
        persona_labels_after: after.persona_labels,
    })
}
