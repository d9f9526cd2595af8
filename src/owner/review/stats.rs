//! The statistics behind the A/B answer comparison: the Wilson score interval of a helped rate
//! and the two-proportion z-test between two answer variants. Pure functions of counts.
//!
//! Why a z-test rather than "the 95% intervals do not overlap": two 95% intervals that do not
//! overlap is a much stricter test than 95% (about 99.5% for equal sizes), so an owner would
//! keep showing a losing text for far longer than needed; the pooled two-proportion z-test
//! answers the question asked ("is this variant's helped rate different from that one's?") at
//! the stated level. Its normal approximation holds only with enough answers on both sides
//! (at least 5 expected helped and 5 expected not helped per variant): below that no verdict is
//! given. Several variants of one answer are each compared with the leader, at 95% overall
//! (Bonferroni: each comparison at 5% divided by the number of comparisons).

use serde::Serialize;

/// The two-sided 97.5th percentile of the standard normal distribution: a 95% level.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The overall chance of calling a variant better when it is not.
pub const ALPHA: f64 = 0.05;

/// Answers each side of a comparison needs, helped and not helped, for the normal
/// approximation of the z-test to hold (the usual `n·p ≥ 5` and `n·(1−p) ≥ 5` rule).
const MIN_EXPECTED: f64 = 5.0;

/// A confidence interval on a rate, both ends in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The 95% Wilson score interval of `successes` out of `trials` (None without trials). Unlike
/// the plain `p ± z·se` interval it stays within 0..=1 and behaves with few trials or rates
/// near 0 or 1.
pub fn wilson(successes: usize, trials: usize) -> Option<Interval> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// The complementary error function, to about 1e-7 (Numerical Recipes' Chebyshev fit `erfcc`).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * (-x * x + poly).exp();
    if x >= 0.0 {
        value
    } else {
        2.0 - value
    }
}

/// The outcome of a two-proportion z-test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ZTest {
    /// `(p1 − p2) / se`, with the pooled standard error.
    pub z: f64,
    /// Two-sided.
    pub p_value: f64,
}

/// The pooled two-proportion z-test of `k1/n1` against `k2/n2`; None when a side has no trials
/// or every trial went the same way (no variance to test against).
pub fn two_proportion(k1: usize, n1: usize, k2: usize, n2: usize) -> Option<ZTest> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let pooled = (k1 + k2) as f64 / (a + b);
    let se = (pooled * (1.0 - pooled) * (1.0 / a + 1.0 / b)).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return None;
    }
    let z = (k1 as f64 / a - k2 as f64 / b) / se;
    Some(ZTest {
        z,
        p_value: erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0),
    })
}

/// Whether both sides hold enough answers for the z-test's normal approximation.
fn large_enough(k1: usize, n1: usize, k2: usize, n2: usize) -> bool {
    let pooled = (k1 + k2) as f64 / (n1 + n2).max(1) as f64;
    [n1, n2].iter().all(|&n| {
        let n = n as f64;
        n * pooled >= MIN_EXPECTED && n * (1.0 - pooled) >= MIN_EXPECTED
    })
}

/// One arm of an A/B comparison: a variant, how often it helped and how often it was shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Arm<'a> {
    pub name: &'a str,
    pub helped: usize,
    pub shown: usize,
}

/// A variant that helps more than another, with 95% confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub better: String,
    pub worse: String,
    pub z: f64,
    pub p_value: f64,
    /// The level each comparison was held to (5% over the comparisons made).
    pub level: f64,
}

/// Compares each arm with the leader (the best helped rate; ties: more shown, then name) and
/// returns the arms the leader beats with 95% confidence overall, as verdicts. Arms never
/// shown are left out; no verdict without enough answers on both sides.
pub fn compare(arms: &[Arm<'_>]) -> Vec<Verdict> {
    let shown: Vec<&Arm<'_>> = arms.iter().filter(|a| a.shown > 0).collect();
    let rate = |a: &Arm<'_>| a.helped as f64 / a.shown as f64;
    let Some(leader) = shown.iter().copied().max_by(|a, b| {
        rate(a)
            .total_cmp(&rate(b))
            .then(a.shown.cmp(&b.shown))
            .then(b.name.cmp(a.name))
    }) else {
        return Vec::new();
    };
    let comparisons = shown.len().saturating_sub(1).max(1);
    let level = ALPHA / comparisons as f64;
    shown
        .iter()
        .filter(|a| a.name != leader.name && rate(a) < rate(leader))
        .filter(|a| large_enough(leader.helped, leader.shown, a.helped, a.shown))
        .filter_map(|a| {
            let test = two_proportion(leader.helped, leader.shown, a.helped, a.shown)?;
            (test.p_value < level).then(|| Verdict {
                better: leader.name.to_string(),
                worse: a.name.to_string(),
                z: test.z,
                p_value: test.p_value,
                level,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn wilson_intervals_match_known_values() {
        // (helped, shown, low, high), computed independently.
        let table = [
            (0, 10, 0.0, 0.277533),
            (5, 10, 0.236593, 0.763407),
            (10, 10, 0.722467, 1.0),
            (1, 1, 0.206549, 1.0),
            (0, 1, 0.0, 0.793451),
            (81, 263, 0.255289, 0.366210),
            (45, 50, 0.786398, 0.956524),
            (30, 100, 0.218949, 0.395849),
        ];
        for (k, n, low, high) in table {
            let got = wilson(k, n).unwrap();
            assert!(
                close(got.low, low) && close(got.high, high),
                "{k}/{n}: {got:?}"
            );
        }
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn erfc_matches_the_normal_tail() {
        // (z, two-sided p = erfc(z/√2))
        let table = [
            (0.0, 1.0),
            (0.5, 0.617075),
            (1.0, 0.317311),
            (1.96, 0.049996),
            (2.5, 0.012419),
            (3.0, 0.002700),
        ];
        for (z, p) in table {
            let got = erfc(z / std::f64::consts::SQRT_2);
            assert!((got - p).abs() < 2e-6, "{z}: {got}");
        }
        assert!((erfc(-1.0) - (2.0 - erfc(1.0))).abs() < 1e-12);
    }

    #[test]
    fn two_proportion_z_test_matches_known_values() {
        // (k1, n1, k2, n2, z, p)
        let table = [
            (60, 100, 40, 100, 2.828427, 0.004678),
            (30, 50, 20, 50, 2.0, 0.045500),
            (12, 20, 8, 20, 1.264911, 0.205903),
            (45, 100, 40, 100, 0.715199, 0.474486),
            (40, 100, 60, 100, -2.828427, 0.004678),
        ];
        for (k1, n1, k2, n2, z, p) in table {
            let got = two_proportion(k1, n1, k2, n2).unwrap();
            assert!(close(got.z, z), "{k1}/{n1} vs {k2}/{n2}: {got:?}");
            assert!(
                (got.p_value - p).abs() < 2e-6,
                "{k1}/{n1} vs {k2}/{n2}: {got:?}"
            );
        }
        assert_eq!(two_proportion(1, 0, 1, 2), None, "no trials");
        assert_eq!(two_proportion(0, 10, 0, 10), None, "no variance");
        assert_eq!(two_proportion(10, 10, 10, 10), None, "no variance");
    }

    /// (case, arms, expected (better, worse) pairs)
    type CompareCase<'a> = (&'a str, Vec<Arm<'a>>, Vec<(&'a str, &'a str)>);

    #[test]
    fn compare_names_only_confident_winners() {
        let arm = |name, helped, shown| Arm {
            name,
            helped,
            shown,
        };
        let table: Vec<CompareCase<'_>> = vec![
            (
                "a clear difference",
                vec![arm("p/d#1", 60, 100), arm("p/d#2", 40, 100)],
                vec![("p/d#1", "p/d#2")],
            ),
            (
                "the order of the arms does not matter",
                vec![arm("p/d#1", 40, 100), arm("p/d#2", 60, 100)],
                vec![("p/d#2", "p/d#1")],
            ),
            (
                "the same rates from fewer answers: not significant",
                vec![arm("p/d#1", 12, 20), arm("p/d#2", 8, 20)],
                vec![],
            ),
            (
                "a small difference",
                vec![arm("p/d#1", 45, 100), arm("p/d#2", 40, 100)],
                vec![],
            ),
            (
                "too few helped for the normal approximation",
                vec![arm("p/d#1", 4, 4), arm("p/d#2", 0, 4)],
                vec![],
            ),
            (
                "p = 0.0455 passes alone",
                vec![arm("p/d#1", 30, 50), arm("p/d#2", 20, 50)],
                vec![("p/d#1", "p/d#2")],
            ),
            (
                "but not against 0.025 with three variants",
                vec![
                    arm("p/d#1", 30, 50),
                    arm("p/d#2", 20, 50),
                    arm("p/d#3", 29, 50),
                ],
                vec![],
            ),
            (
                "three variants, one clear loser",
                vec![
                    arm("p/d#1", 90, 200),
                    arm("p/d#2", 60, 200),
                    arm("p/d#3", 88, 200),
                ],
                vec![("p/d#1", "p/d#2")],
            ),
            (
                "a variant never shown is left out",
                vec![arm("p/d#1", 60, 100), arm("p/d#2", 0, 0)],
                vec![],
            ),
            ("nothing shown", vec![], vec![]),
        ];
        for (case, arms, want) in table {
            let got: Vec<(String, String)> = compare(&arms)
                .into_iter()
                .map(|v| (v.better, v.worse))
                .collect();
            let want: Vec<(String, String)> = want
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            assert_eq!(got, want, "{case}");
        }
    }
}
