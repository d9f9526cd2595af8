//! `personabot eval`: measures a catalog on a labelled CSV: the prediction rule (here), the
//! metrics (accuracy, macro-F1, per-label precision/recall/F1, confused pairs, the none-label
//! split; [`metrics`]), the threshold trade-off ([`tradeoff`]) and how they are printed
//! ([`render`]).

use std::time::Instant;

use crate::catalog::Catalog;
use crate::core::classify::{confidence, Classifier};
use crate::core::route::Thresholds;
use crate::owner::dataset::LabelledRow;

mod metrics;
mod render;
mod tradeoff;

pub use metrics::{score, Confusion, LabelScore, NoneSplit, Report};
pub use render::{render, report_json, ReportJson};
pub use tradeoff::{tradeoff, TradeoffPoint};

/// How a row with no predicted intent is shown when no `--none-label` names it.
pub(crate) const NO_INTENT: &str = "(none)";

/// Confused pairs shown in the terminal.
pub(crate) const CONFUSED_SHOWN: usize = 10;

/// Confused pairs in the JSON report.
pub(crate) const CONFUSED_JSON: usize = 20;

/// Why an evaluation cannot run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(
        "--none-label `{label}` is also the label of intent `{intent}`: the none label must mean \
         \"no intent\", so no intent may predict it"
    )]
    NoneLabelIsAnIntent { label: String, intent: String },
}

/// The threshold intent `index` needs: its own, else `thresholds.intent_threshold`.
fn threshold_of(catalog: &Catalog, thresholds: &Thresholds, index: usize) -> f64 {
    catalog.intents[index]
        .threshold
        .unwrap_or(thresholds.intent_threshold)
}

/// The intent `eval` predicts for `text`, as an index into `catalog.intents`: the top intent of
/// [`Classifier::classify`] when its confidence reaches its threshold (the intent's own, else
/// `thresholds.intent_threshold`); `None` (no intent, a fallback) otherwise, and when the top
/// intent is an out-of-scope one (route kind `fallback`).
///
/// This is the rule `learn` calibrates thresholds for; it ignores conversation state, priority
/// and the clarify margin.
pub fn predict(
    catalog: &Catalog,
    classifier: &Classifier,
    thresholds: &Thresholds,
    text: &str,
) -> Option<usize> {
    let (index, confidence) =
        top_intent(classifier, text).filter(|&(i, _)| !declines(catalog, i))?;
    (confidence >= threshold_of(catalog, thresholds, index)).then_some(index)
}

/// True when intent `index` is an out-of-scope one (route kind `fallback`): its win means no
/// intent, at any threshold.
fn declines(catalog: &Catalog, index: usize) -> bool {
    catalog.intents[index].route.kind == crate::core::model::RouteKind::Fallback
}

/// The top-scoring intent of `text` (index into `catalog.intents`) and its confidence, before
/// any threshold: what [`predict`] judges, and what `learn` calibrates thresholds on.
pub fn top_intent(classifier: &Classifier, text: &str) -> Option<(usize, f64)> {
    let c = classifier.classify(text);
    let top = c.intents.first()?;
    Some((top.index as usize, confidence(top.score)))
}

/// The top intent and its confidence of every row (before any threshold; `None` when an
/// out-of-scope intent wins), and the seconds the loop took. `tick` is called after each row (a progress bar).
fn top_all(
    catalog: &Catalog,
    classifier: &Classifier,
    rows: &[LabelledRow],
    mut tick: impl FnMut(),
) -> (Vec<Option<(usize, f64)>>, f64) {
    let started = Instant::now();
    let tops = rows
        .iter()
        .map(|row| {
            let top = top_intent(classifier, &row.text).filter(|&(i, _)| !declines(catalog, i));
            tick();
            top
        })
        .collect();
    (tops, started.elapsed().as_secs_f64())
}

/// Evaluates `catalog` on `rows`: predicts every row by the rule of [`predict`], then scores the
/// predicted labels ([`crate::catalog::Intent::label`]) against the gold ones. `none_label`
/// names the gold label meaning "no intent"; with it the report also holds the threshold
/// trade-off ([`tradeoff()`]).
pub fn run(
    catalog: &Catalog,
    classifier: &Classifier,
    thresholds: &Thresholds,
    rows: &[LabelledRow],
    none_label: Option<&str>,
    tick: impl FnMut(),
) -> Result<Report, EvalError> {
    if let Some(label) = none_label {
        if let Some(intent) = catalog.intents.iter().find(|i| i.label() == label) {
            return Err(EvalError::NoneLabelIsAnIntent {
                label: label.to_string(),
                intent: intent.id.clone(),
            });
        }
    }
    let (tops, seconds) = top_all(catalog, classifier, rows, tick);
    let pairs: Vec<(&str, Option<&str>)> = rows
        .iter()
        .zip(&tops)
        .map(|(row, top)| {
            let predicted = top
                .filter(|&(i, c)| c >= threshold_of(catalog, thresholds, i))
                .map(|(i, _)| catalog.intents[i].label());
            (row.label.as_str(), predicted)
        })
        .collect();
    let mut report = score(&pairs, none_label);
    report.seconds = seconds;
    if let Some(label) = none_label {
        let labelled: Vec<(&str, Option<(&str, f64)>)> = rows
            .iter()
            .zip(&tops)
            .map(|(row, top)| {
                let top = top.map(|(i, c)| (catalog.intents[i].label(), c));
                (row.label.as_str(), top)
            })
            .collect();
        let used: Vec<f64> = (0..catalog.intents.len())
            .map(|i| threshold_of(catalog, thresholds, i))
            .collect();
        report.tradeoff = tradeoff(&labelled, label, &used);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::settings::Settings;
    use crate::catalog::{load_from_sources, CatalogSources};
    use std::path::PathBuf;

    fn catalog() -> (Catalog, Classifier) {
        let file = |dir: &str, id: &str, text: &str| {
            (PathBuf::from(format!("{dir}/{id}.toml")), text.to_string())
        };
        let sources = CatalogSources {
            personas: vec![file("personas", "founder", "[keywords]\nfounder = 1.5\n")],
            intents: vec![
                file(
                    "intents",
                    "card-lost",
                    "label = \"Card_lost?\"\n[keywords]\n\"lost card\" = 2.0\nstolen = 1.0\n",
                ),
                file(
                    "intents",
                    "greeting",
                    "threshold = 0.9\n[keywords]\nhello = 2.0\nhi = 1.0\n",
                ),
                file(
                    "intents",
                    "refund",
                    "[keywords]\nrefund = 2.0\nmoney = 0.5\n",
                ),
            ],
            intents_dir: PathBuf::from("intents"),
            replies: Vec::new(),
        };
        let catalog = load_from_sources(sources, &Settings::built_in().teams).unwrap();
        let classifier = Classifier::new(&catalog).unwrap();
        (catalog, classifier)
    }

    #[test]
    fn prediction_rule_table() {
        let (catalog, classifier) = catalog();
        let thresholds = Thresholds::default();
        // (text, predicted label): confidence = 1 - e^-score against the intent's threshold,
        // else classify.intent_threshold (0.5).
        let cases = [
            ("please refund me", Some("refund")),       // 2.0 -> 0.86 >= 0.5
            ("where is my money", None),                // 0.5 -> 0.39 < 0.5
            ("I have a lost card", Some("Card_lost?")), // the label, not the id
            ("card stolen, refund it", Some("refund")), // best of 2.0 and 1.0
            ("hello there", None),                      // 2.0 -> 0.86 < the intent's own 0.9
            ("hello hi there", Some("greeting")),       // 3.0 -> 0.95 >= 0.9
            ("what is the weather", None),              // no hit
        ];
        for (text, want) in cases {
            let got = predict(&catalog, &classifier, &thresholds, text)
                .map(|i| catalog.intents[i].label());
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn run_rejects_a_none_label_an_intent_predicts() {
        let (catalog, classifier) = catalog();
        let rows = [LabelledRow {
            text: "hi".into(),
            label: "greeting".into(),
            line: 2,
        }];
        let thresholds = Thresholds::default();
        let err = run(
            &catalog,
            &classifier,
            &thresholds,
            &rows,
            Some("Card_lost?"),
            || {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("intent `card-lost`"), "{err}");
        let mut ticks = 0;
        let r = run(
            &catalog,
            &classifier,
            &thresholds,
            &rows,
            Some("oos"),
            || ticks += 1,
        )
        .unwrap();
        assert_eq!((r.n, ticks), (1, 1));
    }
}
