//! The out-of-scope trade-off of a catalog on rows with a none label: for each confidence
//! threshold, applied to every intent alike, the in-scope accuracy and the none recall. Higher
//! thresholds turn more out-of-scope messages away (none recall up) and lose more in-scope
//! messages to a fallback (in-scope accuracy down); the table shows where the catalog stands.

use serde::Serialize;

/// The thresholds every table shows, beside the ones the catalog's intents use: 0 (no
/// rejection) to 0.95 in steps of 0.05.
pub const TRADEOFF_GRID: [f64; 20] = [
    0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
    0.85, 0.9, 0.95,
];

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeoffPoint {
    /// The confidence an intent needs, every intent alike.
    pub threshold: f64,
    /// Rows not labelled with the none label whose top intent is theirs and reaches the
    /// threshold, over all such rows.
    pub in_scope_accuracy: f64,
    /// Rows labelled with the none label whose top intent (if any) stays below the threshold,
    /// over all such rows.
    pub none_recall: f64,
    /// Right rows (either kind) over all rows.
    pub accuracy: f64,
    /// How many of the catalog's intents use this threshold (their own, else
    /// `classify.intent_threshold`); 0 for a row of the grid only.
    pub intents: usize,
}

/// The trade-off over `rows`: per row its gold label and its top intent's label and
/// confidence before any threshold (`None` when no intent scored). `catalog_thresholds` holds
/// each intent's threshold; their distinct values join [`TRADEOFF_GRID`]. Sorted by threshold.
pub fn tradeoff(
    rows: &[(&str, Option<(&str, f64)>)],
    none_label: &str,
    catalog_thresholds: &[f64],
) -> Vec<TradeoffPoint> {
    let same = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let mut thresholds: Vec<f64> = TRADEOFF_GRID.to_vec();
    thresholds.extend_from_slice(catalog_thresholds);
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup_by(|a, b| same(*a, *b));
    let in_scope = rows.iter().filter(|(g, _)| *g != none_label).count();
    let none = rows.len() - in_scope;
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    thresholds
        .into_iter()
        .map(|t| {
            let (mut in_scope_right, mut none_right) = (0, 0);
            for (gold, top) in rows {
                let predicted = top.filter(|(_, c)| *c >= t).map(|(label, _)| label);
                if *gold == none_label {
                    none_right += usize::from(predicted.is_none());
                } else {
                    in_scope_right += usize::from(predicted == Some(*gold));
                }
            }
            TradeoffPoint {
                threshold: t,
                in_scope_accuracy: ratio(in_scope_right, in_scope),
                none_recall: ratio(none_right, none),
                accuracy: ratio(in_scope_right + none_right, rows.len()),
                intents: catalog_thresholds.iter().filter(|&&c| same(c, t)).count(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn table_by_threshold() {
        // Four in-scope rows (right at 0.9 and 0.6, wrong at 0.8, no intent) and two none rows
        // (top intent at 0.7, none).
        let rows = [
            ("a", Some(("a", 0.9))),
            ("b", Some(("b", 0.6))),
            ("a", Some(("b", 0.8))),
            ("b", None),
            ("oos", Some(("a", 0.7))),
            ("oos", None),
        ];
        let table = tradeoff(&rows, "oos", &[0.72, 0.72, 0.5]);
        // The grid plus 0.72; 0.5 is on the grid already.
        assert_eq!(table.len(), TRADEOFF_GRID.len() + 1);
        assert!(table.windows(2).all(|w| w[0].threshold < w[1].threshold));
        // (threshold, in-scope accuracy, none recall, accuracy, intents)
        let cases = [
            (0.0, 2.0 / 4.0, 1.0 / 2.0, 3.0 / 6.0, 0),
            (0.5, 2.0 / 4.0, 1.0 / 2.0, 3.0 / 6.0, 1),
            (0.6, 2.0 / 4.0, 1.0 / 2.0, 3.0 / 6.0, 0),
            (0.65, 1.0 / 4.0, 1.0 / 2.0, 2.0 / 6.0, 0),
            (0.72, 1.0 / 4.0, 2.0 / 2.0, 3.0 / 6.0, 2),
            (0.95, 0.0, 1.0, 2.0 / 6.0, 0),
        ];
        for (t, in_scope, none, accuracy, intents) in cases {
            let p = table
                .iter()
                .find(|p| close(p.threshold, t))
                .unwrap_or_else(|| panic!("no row {t} in {table:?}"));
            assert!(close(p.in_scope_accuracy, in_scope), "{t}: {p:?}");
            assert!(close(p.none_recall, none), "{t}: {p:?}");
            assert!(close(p.accuracy, accuracy), "{t}: {p:?}");
            assert_eq!(p.intents, intents, "{t}: {p:?}");
        }
    }

    #[test]
    fn no_rows_of_a_kind_is_zero_not_nan() {
        let table = tradeoff(&[("a", Some(("a", 0.9)))], "oos", &[]);
        assert!(table.iter().all(|p| p.none_recall == 0.0));
        let table = tradeoff(&[("oos", None)], "oos", &[]);
        assert!(table.iter().all(|p| p.in_scope_accuracy == 0.0));
        assert!(table.iter().all(|p| p.none_recall == 1.0));
    }
}
