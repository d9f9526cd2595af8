//! Choosing the intent threshold on held-out rows: the highest confidence threshold that turns
//! away at most a budgeted share of the in-scope messages the profiles route right.
//!
//! Why this rule: out-of-scope messages from a source never seen in training cannot be
//! calibrated on, but what the threshold costs in scope can. Every message below the threshold
//! falls back, so the highest threshold within the budget turns away the most of whatever is out
//! of scope (the none label's held-out rows, and messages from elsewhere) for that cost.
//! Measured with profiles learned on banking77-oos's train file (`--none-label oos`), scored on
//! its valid file and on bitext's val file (generic customer service, a source never seen):
//! the earlier rule, the threshold with the best held-out accuracy, chose 0.819 and lost 4.4
//! points in scope (0.811 against 0.855 with no threshold; none recall 0.63 in-domain, 0.84 on
//! bitext); this rule at 0.01 chose 0.742 and lost 1.1 points (0.845; none recall 0.37
//! in-domain, 0.67 on bitext); at 0.02 it chose 0.800 and lost 3.8 points, as the held-out
//! slice is small: 0.01 keeps the loss within the goal of 2 points.

/// The budget when `--none-label` is given and no other is: a share of 0.01 of the held-out
/// in-scope messages may be turned away.
pub const DEFAULT_MAX_IN_SCOPE_LOSS: f64 = 0.01;

/// The threshold chosen and what it does on the held-out rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The confidence every learned intent needs (floored to 3 decimals, as written).
    pub threshold: f64,
    /// The budget it was chosen for (0 when no threshold was calibrated).
    pub max_in_scope_loss: f64,
    /// Held-out rows not labelled with the none label.
    pub in_scope_rows: usize,
    /// Held-out rows labelled with the none label.
    pub none_rows: usize,
    /// In-scope accuracy with no threshold (every message takes its top intent).
    pub in_scope_unrejected: f64,
    /// In-scope accuracy at the threshold.
    pub in_scope_accuracy: f64,
    /// Share of the none rows that fall back at the threshold.
    pub none_recall: f64,
    /// Right rows (either kind) over all held-out rows, at the threshold.
    pub accuracy: f64,
}

/// The figures of `threshold` on the held-out rows: per row the top intent's label and
/// confidence (`None` when no intent scored) and the gold label.
fn measure(
    predictions: &[Option<(&str, f64)>],
    gold: &[&str],
    none_label: Option<&str>,
    threshold: f64,
) -> (usize, usize, usize, usize) {
    let (mut in_scope, mut in_scope_right, mut none, mut none_right) = (0, 0, 0, 0);
    for (p, g) in predictions.iter().zip(gold) {
        let predicted = p.filter(|(_, c)| *c >= threshold).map(|(l, _)| l);
        if Some(*g) == none_label {
            none += 1;
            none_right += usize::from(predicted.is_none());
        } else {
            in_scope += 1;
            in_scope_right += usize::from(predicted == Some(*g));
        }
    }
    (in_scope, in_scope_right, none, none_right)
}

/// Chooses the threshold for `max_in_scope_loss` (a share, 0 to 1; `None`: no threshold, 0):
/// the highest at which the in-scope rows routed right with no threshold lose at most that
/// share of the in-scope rows to a fallback. In-scope rows routed wrong do not count: turning
/// them away loses nothing.
pub fn choose_threshold(
    predictions: &[Option<(&str, f64)>],
    gold: &[&str],
    none_label: Option<&str>,
    max_in_scope_loss: Option<f64>,
) -> Calibration {
    let threshold = match max_in_scope_loss {
        None => 0.0,
        Some(budget) => {
            // Confidences of the in-scope rows routed right, lowest first: keeping all but the
            // `allowed` lowest means a threshold at the next one.
            let mut right: Vec<f64> = predictions
                .iter()
                .zip(gold)
                .filter(|(_, g)| Some(**g) != none_label)
                .filter_map(|(p, g)| p.filter(|(l, _)| l == g).map(|(_, c)| c))
                .collect();
            right.sort_by(f64::total_cmp);
            let in_scope = gold.iter().filter(|g| Some(**g) != none_label).count();
            let allowed = (budget.clamp(0.0, 1.0) * in_scope as f64 + 1e-9).floor() as usize;
            match right.get(allowed) {
                // Floored so the value written keeps these rows (the 1e-6 absorbs binary
                // fractions such as 0.29 * 1000 = 289.99999999999997).
                Some(c) => ((c * 1000.0) + 1e-6).floor() / 1000.0,
                None if right.is_empty() => 0.0,
                None => 1.0,
            }
        }
    };
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let (in_scope, in_scope_right, none, none_right) =
        measure(predictions, gold, none_label, threshold);
    let (_, unrejected, _, _) = measure(predictions, gold, none_label, 0.0);
    Calibration {
        threshold,
        max_in_scope_loss: max_in_scope_loss.unwrap_or(0.0),
        in_scope_rows: in_scope,
        none_rows: none,
        in_scope_unrejected: ratio(unrejected, in_scope),
        in_scope_accuracy: ratio(in_scope_right, in_scope),
        none_recall: ratio(none_right, none),
        accuracy: ratio(in_scope_right + none_right, gold.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_threshold_within_the_budget() {
        // Ten in-scope rows, eight routed right at 0.55, 0.6, ..., 0.9 (stepping 0.05), one
        // routed wrong at 0.95, one with no intent; two none rows at 0.62 and 0.85.
        let mut preds: Vec<Option<(&str, f64)>> = [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
            .into_iter()
            .map(|c| Some(("a", c)))
            .collect();
        preds.extend([
            Some(("b", 0.95)),
            None,
            Some(("a", 0.62)),
            Some(("a", 0.85)),
        ]);
        let mut gold = vec!["a"; 10];
        gold.extend(["none", "none"]);
        // (budget, threshold, in-scope accuracy, none recall)
        let cases = [
            // No budget: no threshold; the none rows are misrouted.
            (None, 0.0, 0.8, 0.0),
            // 0 of 10 may go: the lowest right row's confidence (0.55) stays.
            (Some(0.0), 0.55, 0.8, 0.0),
            // 0.05 of 10 is 0 rows too.
            (Some(0.05), 0.55, 0.8, 0.0),
            // 1 row may go: threshold at the second lowest (0.6); the none row at 0.62 stays.
            (Some(0.1), 0.6, 0.7, 0.0),
            // 2 rows: threshold 0.65 turns the none row at 0.62 away.
            (Some(0.2), 0.65, 0.6, 0.5),
            // 6 rows: threshold 0.85; the none row at 0.85 still passes.
            (Some(0.6), 0.85, 0.2, 0.5),
            // 8 rows or more: every right row may go; nothing passes.
            (Some(0.8), 1.0, 0.0, 1.0),
            (Some(1.5), 1.0, 0.0, 1.0),
        ];
        for (budget, threshold, in_scope, none) in cases {
            let c = choose_threshold(&preds, &gold, Some("none"), budget);
            assert!((c.threshold - threshold).abs() < 1e-9, "{budget:?}: {c:?}");
            assert!(
                (c.in_scope_accuracy - in_scope).abs() < 1e-9,
                "{budget:?}: {c:?}"
            );
            assert!((c.none_recall - none).abs() < 1e-9, "{budget:?}: {c:?}");
            assert!((c.in_scope_unrejected - 0.8).abs() < 1e-9);
            assert_eq!((c.in_scope_rows, c.none_rows), (10, 2));
        }
    }

    #[test]
    fn thresholds_are_floored_to_what_is_written() {
        let preds = [Some(("a", 0.8)), Some(("a", 0.74389))];
        let c = choose_threshold(&preds, &["a", "a"], None, Some(0.0));
        assert_eq!(c.threshold, 0.743);
        assert_eq!(c.in_scope_accuracy, 1.0);
        // No in-scope row right: nothing to keep, no threshold.
        let c = choose_threshold(&[None], &["a"], None, Some(0.5));
        assert_eq!(c.threshold, 0.0);
    }
}
