//! `personabot eval`: measures a catalog on a labelled CSV: the prediction rule, the metrics
//! (accuracy, macro-F1, per-label precision/recall/F1, confused pairs, the none-label split) and
//! how they are printed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::core::classify::{confidence, Classifier};
use crate::core::route::Thresholds;
use crate::owner::dataset::LabelledRow;

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
    let (index, confidence) = top_intent(classifier, text)?;
    let threshold = catalog.intents[index]
        .threshold
        .unwrap_or(thresholds.intent_threshold);
    let declined = catalog.intents[index].route.kind == crate::core::model::RouteKind::Fallback;
    (confidence >= threshold && !declined).then_some(index)
}

/// The top-scoring intent of `text` (index into `catalog.intents`) and its confidence, before
/// any threshold: what [`predict`] judges, and what `learn` calibrates thresholds on.
pub fn top_intent(classifier: &Classifier, text: &str) -> Option<(usize, f64)> {
    let c = classifier.classify(text);
    let top = c.intents.first()?;
    Some((top.index as usize, confidence(top.score)))
}

/// The predictions for `rows` (indices into `catalog.intents`), and the seconds the loop took.
/// `tick` is called after each row (a progress bar).
pub(crate) fn predict_all(
    catalog: &Catalog,
    classifier: &Classifier,
    thresholds: &Thresholds,
    rows: &[LabelledRow],
    mut tick: impl FnMut(),
) -> (Vec<Option<usize>>, f64) {
    let started = Instant::now();
    let predictions = rows
        .iter()
        .map(|row| {
            let p = predict(catalog, classifier, thresholds, &row.text);
            tick();
            p
        })
        .collect();
    (predictions, started.elapsed().as_secs_f64())
}

/// Evaluates `catalog` on `rows`: predicts every row, then scores the predicted labels
/// ([`crate::catalog::Intent::label`]) against the gold ones. `none_label` names the gold label
/// meaning "no intent".
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
    let (predictions, seconds) = predict_all(catalog, classifier, thresholds, rows, tick);
    let pairs: Vec<(&str, Option<&str>)> = rows
        .iter()
        .zip(&predictions)
        .map(|(row, p)| (row.label.as_str(), p.map(|i| catalog.intents[i].label())))
        .collect();
    let mut report = score(&pairs, none_label);
    report.seconds = seconds;
    Ok(report)
}

/// Precision, recall and F1 of one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    #[serde(skip)]
    pub label: String,
    /// Correct predictions of the label / all predictions of it (0 when never predicted).
    pub precision: f64,
    /// Correct predictions of the label / rows labelled with it (0 when no row is).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Rows labelled with it.
    pub support: usize,
}

/// A (gold, predicted) pair that differs, and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub gold: String,
    /// A label, the none label, or [`NO_INTENT`].
    pub predicted: String,
    pub count: usize,
}

/// The split of a run with a none label: in-scope rows (any other gold label) and none rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoneSplit {
    /// The gold label meaning "no intent".
    pub none_label: String,
    /// Rows labelled with the none label.
    pub none_support: usize,
    /// Share of none rows predicted as no intent (0 when there are none).
    pub none_recall: f64,
    /// Rows with any other label.
    pub in_scope_n: usize,
    /// Accuracy over the in-scope rows (0 when there are none).
    pub in_scope_accuracy: f64,
    /// Share of in-scope rows predicted as no intent (lost to a fallback).
    pub in_scope_fallback_rate: f64,
}

/// The metrics of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Mean F1 over the labels of the gold column.
    pub macro_f1: f64,
    /// The gold labels, then any label only predicted; sorted by label.
    pub per_label: Vec<LabelScore>,
    /// Every confused pair: by count, most first (ties by gold, then predicted).
    pub confused: Vec<Confusion>,
    /// Set when a none label was given.
    pub none: Option<NoneSplit>,
    /// Seconds the classification loop took.
    pub seconds: f64,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

/// Scores `(gold, predicted)` pairs; `None` is "no intent". Without `none_label` a row with no
/// intent is wrong. With it, no intent counts as predicting the none label, and a row labelled
/// with it is correct exactly when no intent was predicted. `seconds` is left at 0.
pub fn score(pairs: &[(&str, Option<&str>)], none_label: Option<&str>) -> Report {
    #[derive(Default)]
    struct Counts {
        support: usize,
        predicted: usize,
        correct: usize,
    }
    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut gold_labels: BTreeSet<&str> = BTreeSet::new();
    let mut confused: HashMap<(&str, &str), usize> = HashMap::new();
    let mut correct = 0;
    for &(gold, predicted) in pairs {
        gold_labels.insert(gold);
        let is_correct = if Some(gold) == none_label {
            predicted.is_none()
        } else {
            predicted == Some(gold)
        };
        let shown = predicted.or(none_label);
        counts.entry(gold).or_default().support += 1;
        if let Some(p) = shown {
            counts.entry(p).or_default().predicted += 1;
        }
        if is_correct {
            correct += 1;
            counts.entry(gold).or_default().correct += 1;
        } else {
            *confused
                .entry((gold, shown.unwrap_or(NO_INTENT)))
                .or_default() += 1;
        }
    }
    let per_label: Vec<LabelScore> = counts
        .iter()
        .map(|(&label, c)| {
            let precision = ratio(c.correct, c.predicted);
            let recall = ratio(c.correct, c.support);
            LabelScore {
                label: label.to_string(),
                precision,
                recall,
                f1: f1(precision, recall),
                support: c.support,
            }
        })
        .collect();
    let gold_f1: Vec<f64> = per_label
        .iter()
        .filter(|s| gold_labels.contains(s.label.as_str()))
        .map(|s| s.f1)
        .collect();
    let macro_f1 = if gold_f1.is_empty() {
        0.0
    } else {
        gold_f1.iter().sum::<f64>() / gold_f1.len() as f64
    };
    let mut confused: Vec<Confusion> = confused
        .into_iter()
        .map(|((gold, predicted), count)| Confusion {
            gold: gold.to_string(),
            predicted: predicted.to_string(),
            count,
        })
        .collect();
    confused.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.gold.cmp(&b.gold))
            .then_with(|| a.predicted.cmp(&b.predicted))
    });
    let none = none_label.map(|label| {
        let (mut none_rows, mut none_hits) = (0, 0);
        let (mut in_scope, mut in_scope_correct, mut in_scope_fallback) = (0, 0, 0);
        for &(gold, predicted) in pairs {
            if gold == label {
                none_rows += 1;
                none_hits += usize::from(predicted.is_none());
            } else {
                in_scope += 1;
                in_scope_correct += usize::from(predicted == Some(gold));
                in_scope_fallback += usize::from(predicted.is_none());
            }
        }
        NoneSplit {
            none_label: label.to_string(),
            none_support: none_rows,
            none_recall: ratio(none_hits, none_rows),
            in_scope_n: in_scope,
            in_scope_accuracy: ratio(in_scope_correct, in_scope),
            in_scope_fallback_rate: ratio(in_scope_fallback, in_scope),
        }
    });
    Report {
        n: pairs.len(),
        correct,
        accuracy: ratio(correct, pairs.len()),
        macro_f1,
        per_label,
        confused,
        none,
        seconds: 0.0,
    }
}

impl Report {
    /// Messages classified per second (0 when the loop took no measurable time).
    pub fn msgs_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            (self.n as f64 / self.seconds).round()
        } else {
            0.0
        }
    }

    /// The per-label scores, worst F1 first (ties: most support first, then by label).
    pub(crate) fn worst_first(&self) -> Vec<&LabelScore> {
        let mut labels: Vec<&LabelScore> = self.per_label.iter().collect();
        labels.sort_by(|a, b| {
            a.f1.total_cmp(&b.f1)
                .then_with(|| b.support.cmp(&a.support))
                .then_with(|| a.label.cmp(&b.label))
        });
        labels
    }
}

/// The `eval --json` object.
#[derive(Debug, Serialize)]
pub struct ReportJson<'a> {
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    #[serde(flatten)]
    pub none: Option<&'a NoneSplit>,
    pub per_label: BTreeMap<&'a str, &'a LabelScore>,
    /// The first [`CONFUSED_JSON`] confused pairs.
    pub confused: &'a [Confusion],
    pub seconds: f64,
    pub msgs_per_sec: f64,
}

/// The report in the `eval --json` shape.
pub fn report_json(report: &Report) -> ReportJson<'_> {
    ReportJson {
        n: report.n,
        correct: report.correct,
        accuracy: report.accuracy,
        macro_f1: report.macro_f1,
        none: report.none.as_ref(),
        per_label: report
            .per_label
            .iter()
            .map(|s| (s.label.as_str(), s))
            .collect(),
        confused: &report.confused[..report.confused.len().min(CONFUSED_JSON)],
        seconds: (report.seconds * 1e6).round() / 1e6,
        msgs_per_sec: report.msgs_per_sec(),
    }
}

/// The report as the terminal shows it: the summary, the per-label table (worst F1 first) and
/// the most confused pairs.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let gold_labels = report.per_label.iter().filter(|s| s.support > 0).count();
    let _ = writeln!(
        out,
        "messages:          {} ({gold_labels} labels), classified in {:.3} s ({} msgs/s)",
        report.n,
        report.seconds,
        report.msgs_per_sec()
    );
    let _ = writeln!(
        out,
        "accuracy:          {:.4} ({}/{})",
        report.accuracy, report.correct, report.n
    );
    let _ = writeln!(out, "macro-F1:          {:.4}", report.macro_f1);
    if let Some(none) = &report.none {
        let _ = writeln!(
            out,
            "in-scope accuracy: {:.4} over {} row(s); {:.4} lost to no intent",
            none.in_scope_accuracy, none.in_scope_n, none.in_scope_fallback_rate
        );
        if none.none_support == 0 {
            let _ = writeln!(
                out,
                "none recall:       - (no row is labelled {:?})",
                none.none_label
            );
        } else {
            let _ = writeln!(
                out,
                "none recall:       {:.4} over {} row(s) labelled {:?}",
                none.none_recall, none.none_support, none.none_label
            );
        }
    }

    let width = report
        .per_label
        .iter()
        .map(|s| s.label.chars().count())
        .chain(["label".len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>9}  {:>6}  {:>6}  {:>7}",
        "label", "precision", "recall", "f1", "support"
    );
    for s in report.worst_first() {
        let _ = writeln!(
            out,
            "{:<width$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}",
            s.label, s.precision, s.recall, s.f1, s.support
        );
    }

    let _ = writeln!(out, "\nmost confused (gold -> predicted):");
    if report.confused.is_empty() {
        let _ = writeln!(out, "  (none: every row is correct)");
    }
    let shown = &report.confused[..report.confused.len().min(CONFUSED_SHOWN)];
    let count_width = shown.first().map_or(1, |c| c.count.to_string().len());
    for c in shown {
        let _ = writeln!(
            out,
            "  {:>count_width$}  {} -> {}",
            c.count, c.gold, c.predicted
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::settings::Settings;
    use crate::catalog::{load_from_sources, CatalogSources};
    use std::path::PathBuf;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn label<'a>(r: &'a Report, l: &str) -> &'a LabelScore {
        r.per_label
            .iter()
            .find(|s| s.label == l)
            .unwrap_or_else(|| panic!("no label {l} in {:?}", r.per_label))
    }

    /// Expected (label, precision, recall, f1, support).
    type Want = (&'static str, f64, f64, f64, usize);

    struct Case {
        name: &'static str,
        pairs: &'static [(&'static str, Option<&'static str>)],
        none_label: Option<&'static str>,
        correct: usize,
        macro_f1: f64,
        labels: &'static [Want],
        /// (gold, predicted, count), in report order.
        confused: &'static [(&'static str, &'static str, usize)],
    }

    #[test]
    fn metrics_table() {
        let cases = [
            Case {
                name: "all correct",
                pairs: &[("a", Some("a")), ("b", Some("b")), ("a", Some("a"))],
                none_label: None,
                correct: 3,
                macro_f1: 1.0,
                labels: &[("a", 1.0, 1.0, 1.0, 2), ("b", 1.0, 1.0, 1.0, 1)],
                confused: &[],
            },
            // a: predicted 3 times (rows 1, 2, 5), right twice -> P 2/3; 3 gold, 2 found -> R 2/3;
            //    F1 2/3.
            // b: predicted once (row 4), right -> P 1; 2 gold, 1 found -> R 1/2;
            //    F1 2*(1*1/2)/(3/2) = 2/3.
            // c: never predicted, 1 gold -> P 0 (undefined), R 0, F1 0.
            // macro-F1 over a, b, c = (2/3 + 2/3 + 0) / 3 = 4/9.
            Case {
                name: "mixed, no intent is wrong",
                pairs: &[
                    ("a", Some("a")),
                    ("a", Some("a")),
                    ("a", None),
                    ("b", Some("b")),
                    ("b", Some("a")),
                    ("c", None),
                ],
                none_label: None,
                correct: 3,
                macro_f1: 4.0 / 9.0,
                labels: &[
                    ("a", 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 3),
                    ("b", 1.0, 0.5, 2.0 / 3.0, 2),
                    ("c", 0.0, 0.0, 0.0, 1),
                ],
                confused: &[("a", NO_INTENT, 1), ("b", "a", 1), ("c", NO_INTENT, 1)],
            },
            // A predicted label missing from the gold column is listed (support 0, P 0) but is
            // not part of macro-F1. a: predicted once, right -> P 1; 3 gold, 1 found -> R 1/3;
            // F1 2*(1/3)/(4/3) = 1/2. macro-F1 = 1/2 (a only).
            Case {
                name: "predicted-only label",
                pairs: &[("a", Some("a")), ("a", Some("z")), ("a", Some("z"))],
                none_label: None,
                correct: 1,
                macro_f1: 0.5,
                labels: &[("a", 1.0, 1.0 / 3.0, 0.5, 3), ("z", 0.0, 0.0, 0.0, 0)],
                confused: &[("a", "z", 2)],
            },
            // None label "oos": no intent counts as predicting "oos"; rows 5 and 6 are right.
            // oos: predicted 4 times (rows 2, 3, 5, 6), right twice -> P 1/2; 3 gold, 2 found
            //      -> R 2/3; F1 2*(1/3)/(7/6) = 4/7.
            // a:   predicted twice (rows 1, 4), right once -> P 1/2; 2 gold (1, 3) -> R 1/2;
            //      F1 1/2.
            // b:   predicted once (row 7), right -> P 1; 2 gold (2, 7) -> R 1/2; F1 2/3.
            // macro = (4/7 + 1/2 + 2/3) / 3 = 73/126.
            Case {
                name: "none label",
                pairs: &[
                    ("a", Some("a")),
                    ("b", None),
                    ("a", None),
                    ("oos", Some("a")),
                    ("oos", None),
                    ("oos", None),
                    ("b", Some("b")),
                ],
                none_label: Some("oos"),
                correct: 4,
                macro_f1: 73.0 / 126.0,
                labels: &[
                    ("a", 0.5, 0.5, 0.5, 2),
                    ("b", 1.0, 0.5, 2.0 / 3.0, 2),
                    ("oos", 0.5, 2.0 / 3.0, 4.0 / 7.0, 3),
                ],
                confused: &[("a", "oos", 1), ("b", "oos", 1), ("oos", "a", 1)],
            },
        ];
        for case in &cases {
            let r = score(case.pairs, case.none_label);
            let name = case.name;
            assert_eq!(r.n, case.pairs.len(), "{name}");
            assert_eq!(r.correct, case.correct, "{name}");
            assert!(
                close(r.accuracy, case.correct as f64 / case.pairs.len() as f64),
                "{name}"
            );
            assert!(close(r.macro_f1, case.macro_f1), "{name}: {}", r.macro_f1);
            assert_eq!(r.per_label.len(), case.labels.len(), "{name}");
            for &(l, p, rec, f, support) in case.labels {
                let s = label(&r, l);
                assert!(
                    close(s.precision, p),
                    "{name} {l} precision {}",
                    s.precision
                );
                assert!(close(s.recall, rec), "{name} {l} recall {}", s.recall);
                assert!(close(s.f1, f), "{name} {l} f1 {}", s.f1);
                assert_eq!(s.support, support, "{name} {l} support");
            }
            let confused: Vec<(&str, &str, usize)> = r
                .confused
                .iter()
                .map(|c| (c.gold.as_str(), c.predicted.as_str(), c.count))
                .collect();
            assert_eq!(confused, case.confused, "{name}");
            assert_eq!(r.none.is_some(), case.none_label.is_some(), "{name}");
        }
    }

    #[test]
    fn none_split() {
        // in scope: rows 1-4 (a, a, b, b); right: 1 and 3 -> 2/4; no intent: rows 2 and 4 -> 2/4.
        // none rows: 5 and 6; predicted no intent: row 6 -> recall 1/2.
        let pairs = [
            ("a", Some("a")),
            ("a", None),
            ("b", Some("b")),
            ("b", None),
            ("oos", Some("b")),
            ("oos", None),
        ];
        let r = score(&pairs, Some("oos"));
        let none = r.none.as_ref().expect("none split");
        assert_eq!(none.none_label, "oos");
        assert_eq!((none.none_support, none.in_scope_n), (2, 4));
        assert!(close(none.none_recall, 0.5));
        assert!(close(none.in_scope_accuracy, 0.5));
        assert!(close(none.in_scope_fallback_rate, 0.5));
        assert_eq!(r.correct, 3);

        // A none label no row carries: recall is 0 (undefined), everything is in scope.
        let r = score(&[("a", None), ("a", Some("a"))], Some("oos"));
        let none = r.none.as_ref().expect("none split");
        assert_eq!((none.none_support, none.in_scope_n), (0, 2));
        assert!(close(none.none_recall, 0.0));
        assert!(close(none.in_scope_accuracy, 0.5));
        // "oos" was predicted (row 1) though no row carries it: listed, not in macro-F1.
        assert_eq!(label(&r, "oos").support, 0);
        // a: P 1/1, R 1/2 -> F1 2/3, the only gold label.
        assert!(close(r.macro_f1, 2.0 / 3.0));
    }

    #[test]
    fn confused_pairs_most_first_and_json_keeps_twenty() {
        let mut pairs: Vec<(&str, Option<&str>)> = Vec::new();
        let labels: Vec<String> = (0..30).map(|i| format!("l{i:02}")).collect();
        for (i, l) in labels.iter().enumerate() {
            // l00 is confused once, l01 twice, ...
            for _ in 0..=i {
                pairs.push((l.as_str(), Some("x")));
            }
        }
        let r = score(&pairs, None);
        assert_eq!(r.confused.len(), 30);
        assert_eq!(r.confused[0].gold, "l29");
        assert_eq!(r.confused[0].count, 30);
        let json = serde_json::to_value(report_json(&r)).unwrap();
        assert_eq!(json["confused"].as_array().unwrap().len(), CONFUSED_JSON);
        let text = render(&r);
        let after = text.split("most confused").nth(1).unwrap();
        let pairs = after.lines().skip(1).filter(|l| l.contains(" -> "));
        assert_eq!(pairs.count(), CONFUSED_SHOWN);
    }

    #[test]
    fn json_shape() {
        let r = score(&[("a", Some("a")), ("b", None)], None);
        let json = serde_json::to_value(report_json(&r)).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "accuracy",
                "confused",
                "correct",
                "macro_f1",
                "msgs_per_sec",
                "n",
                "per_label",
                "seconds"
            ]
        );
        assert_eq!(
            json["per_label"]["a"],
            serde_json::json!({"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1})
        );
        assert_eq!(
            json["confused"],
            serde_json::json!([{"gold": "b", "predicted": NO_INTENT, "count": 1}])
        );

        let r = score(&[("a", Some("a")), ("oos", None)], Some("oos"));
        let json = serde_json::to_value(report_json(&r)).unwrap();
        for key in [
            "none_label",
            "none_support",
            "none_recall",
            "in_scope_n",
            "in_scope_accuracy",
            "in_scope_fallback_rate",
        ] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
        assert_eq!(json["none_recall"], 1.0);
        assert_eq!(json["accuracy"], 1.0);
    }

    #[test]
    fn render_lists_every_label_worst_first_and_aligned() {
        let r = score(
            &[
                ("good", Some("good")),
                ("a_much_longer_label?", None),
                ("half", Some("half")),
                ("half", Some("good")),
            ],
            None,
        );
        let text = render(&r);
        let table: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("label"))
            .take_while(|l| !l.is_empty())
            .collect();
        let order: Vec<&str> = table[1..]
            .iter()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(order, ["a_much_longer_label?", "half", "good"]);
        let support_end = table[0].len();
        assert!(table.iter().all(|l| l.len() == support_end), "{text}");
        assert!(text.contains("accuracy:          0.5000 (2/4)"), "{text}");
        assert!(text.contains("a_much_longer_label? -> (none)"), "{text}");
    }

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
