//! How a report is shown: the terminal text and the `eval --json` object.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::metrics::{Confusion, LabelScore, NoneSplit, Report};
use super::tradeoff::TradeoffPoint;
use super::{CONFUSED_JSON, CONFUSED_SHOWN};

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
    /// With a none label: the threshold trade-off.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tradeoff: &'a [TradeoffPoint],
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
        tradeoff: &report.tradeoff,
        seconds: (report.seconds * 1e6).round() / 1e6,
        msgs_per_sec: report.msgs_per_sec(),
    }
}

/// The threshold trade-off table (with a none label), after a blank line; nothing without one.
fn render_tradeoff(out: &mut String, report: &Report) {
    if report.tradeoff.is_empty() {
        return;
    }
    let total: usize = report.tradeoff.iter().map(|p| p.intents).sum();
    let _ = writeln!(
        out,
        "\nout-of-scope trade-off (one threshold for every intent; `<-` marks the catalog's):"
    );
    let _ = writeln!(
        out,
        "{:>9}  {:>17}  {:>11}  {:>8}",
        "threshold", "in-scope accuracy", "none recall", "accuracy"
    );
    for p in &report.tradeoff {
        let _ = write!(
            out,
            "{:>9.3}  {:>17.4}  {:>11.4}  {:>8.4}",
            p.threshold, p.in_scope_accuracy, p.none_recall, p.accuracy
        );
        if p.intents > 0 {
            let _ = write!(out, "  <- {} of {total} intents", p.intents);
        }
        let _ = writeln!(out);
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
    render_tradeoff(&mut out, report);

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
    use crate::owner::eval::metrics::score;
    use crate::owner::eval::NO_INTENT;

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
}
