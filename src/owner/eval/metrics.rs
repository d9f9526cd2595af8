//! The metrics of one evaluation: accuracy, macro-F1, per-label precision/recall/F1,
//! confused pairs and the none-label split, from (gold, predicted) pairs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::tradeoff::TradeoffPoint;
use super::NO_INTENT;

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
    /// With a none label, the threshold trade-off (set by [`super::run`]; empty otherwise).
    pub tradeoff: Vec<TradeoffPoint>,
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
/// with it is correct exactly when no intent was predicted. `seconds` is left at 0 and
/// `tradeoff` empty.
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
        tradeoff: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
