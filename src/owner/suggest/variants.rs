//! A/B answers: the variants that lost. An answer shown in several texts (`route.answer` like
//! `pricing/startup-founder#2`) is compared as `personabot review` compares it (helped over
//! shown, self-help answers only, a two-proportion z-test at 95% against the leading variant);
//! each variant the leader beats with confidence is proposed for retirement: its text leaves
//! the intent's `[answers]` array.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::owner::review::{compare, offered_buttons, split_variant, Arm};
use crate::store::Interaction;

/// A variant that helps less than another variant of the same answer, with 95% confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retirement {
    /// The variant: `pricing/startup-founder#2`.
    pub variant: String,
    pub intent: String,
    /// The `[answers]` key: a persona id or `default`.
    pub key: String,
    /// Its place in the key's array, from 1. The variants after it move up one number.
    pub number: usize,
    /// Self-help answers it was shown in, and how many the customer marked "That helped".
    pub shown: usize,
    pub helped: usize,
    /// The variant that beat it, with its counts.
    pub beaten_by: String,
    pub beaten_by_shown: usize,
    pub beaten_by_helped: usize,
    pub z: f64,
    pub p_value: f64,
}

/// (shown, helped) per variant.
type Tally = BTreeMap<String, (usize, usize)>;

/// The losing variants in `interactions`, for the answers `wanted(intent, key)` selects, in
/// variant order.
pub(super) fn retirements(
    catalog: &Catalog,
    interactions: &[Interaction],
    wanted: impl Fn(&str, &str) -> bool,
) -> Vec<Retirement> {
    let mut tally = Tally::new();
    for i in interactions.iter().filter(|i| offered_buttons(catalog, i)) {
        if let Some(variant) = &i.route.answer {
            let entry = tally.entry(variant.clone()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(i.feedback.as_ref().is_some_and(|f| f.helped));
        }
    }
    let mut by_answer: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for name in tally.keys() {
        if let (answer, Some(n)) = split_variant(name) {
            by_answer.entry(answer).or_default().push((n, name));
        }
    }
    let mut out = Vec::new();
    for (answer, mut arms) in by_answer {
        let Some((intent, key)) = answer.split_once('/') else {
            continue;
        };
        if arms.len() < 2 || !wanted(intent, key) {
            continue;
        }
        arms.sort_unstable();
        let tested: Vec<Arm<'_>> = arms
            .iter()
            .map(|(_, name)| Arm {
                name,
                shown: tally[*name].0,
                helped: tally[*name].1,
            })
            .collect();
        for verdict in compare(&tested) {
            let (Some(&(number, _)), Some(&(shown, helped)), Some(&(won_shown, won_helped))) = (
                arms.iter().find(|(_, name)| *name == verdict.worse),
                tally.get(&verdict.worse),
                tally.get(&verdict.better),
            ) else {
                continue;
            };
            out.push(Retirement {
                intent: intent.to_string(),
                key: key.to_string(),
                number,
                shown,
                helped,
                beaten_by_shown: won_shown,
                beaten_by_helped: won_helped,
                z: verdict.z,
                p_value: verdict.p_value,
                variant: verdict.worse,
                beaten_by: verdict.better,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::catalog::settings::Settings;
    use crate::catalog::{load_from_sources, CatalogSources};
    use crate::store::{shown_answer, Feedback};

    fn shipped() -> Catalog {
        let settings =
            Settings::load_with_env(None, Some(HashMap::new())).expect("default settings");
        load_from_sources(CatalogSources::built_in(), &settings.teams).expect("the catalog")
    }

    /// `shown` self-help answers of `variant`, `helped` of them marked "That helped".
    fn shown(variant: &str, shown: usize, helped: usize, actions: &[&str]) -> Vec<Interaction> {
        (0..shown)
            .map(|n| {
                let mut i = shown_answer(n as u64, variant, actions);
                i.feedback = (n < helped).then_some(Feedback {
                    helped: true,
                    at_ms: 1,
                });
                i
            })
            .collect()
    }

    /// (case, interactions, wanted intent, expected retired variants)
    type RetireCase = (
        &'static str,
        Vec<Vec<Interaction>>,
        Option<&'static str>,
        Vec<&'static str>,
    );

    #[test]
    fn retires_only_the_variants_that_lost_with_confidence() {
        let catalog = shipped();
        let buttons = ["helped", "human"];
        let table: Vec<RetireCase> = vec![
            (
                "a clear loser",
                vec![
                    shown("pricing/default#1", 100, 60, &buttons),
                    shown("pricing/default#2", 100, 40, &buttons),
                ],
                None,
                vec!["pricing/default#2"],
            ),
            (
                "too close to call",
                vec![
                    shown("pricing/default#1", 100, 45, &buttons),
                    shown("pricing/default#2", 100, 40, &buttons),
                ],
                None,
                vec![],
            ),
            (
                "only answers that offered the buttons count",
                vec![
                    shown("pricing/default#1", 100, 60, &buttons),
                    shown("pricing/default#2", 100, 40, &["human"]),
                ],
                None,
                vec![],
            ),
            (
                "another intent is not asked about",
                vec![
                    shown("pricing/default#1", 100, 60, &buttons),
                    shown("pricing/default#2", 100, 40, &buttons),
                ],
                Some("refund"),
                vec![],
            ),
            (
                "a single text has nothing to lose against",
                vec![shown("pricing/default", 100, 10, &buttons)],
                None,
                vec![],
            ),
            (
                "three texts, one loser",
                vec![
                    shown("pricing/startup-founder#1", 200, 88, &buttons),
                    shown("pricing/startup-founder#2", 200, 90, &buttons),
                    shown("pricing/startup-founder#3", 200, 60, &buttons),
                ],
                None,
                vec!["pricing/startup-founder#3"],
            ),
        ];
        for (case, groups, intent, want) in table {
            let interactions: Vec<Interaction> = groups.into_iter().flatten().collect();
            let got = retirements(&catalog, &interactions, |i, _| {
                intent.is_none_or(|want| want == i)
            });
            let names: Vec<&str> = got.iter().map(|r| r.variant.as_str()).collect();
            assert_eq!(names, want, "{case}");
            for r in &got {
                assert_eq!(r.intent, "pricing", "{case}");
                assert!(r.p_value < 0.05, "{case}: {r:?}");
            }
        }
    }

    #[test]
    fn a_retirement_names_its_key_number_and_the_winner() {
        let catalog = shipped();
        let buttons = ["helped", "human"];
        let interactions: Vec<Interaction> = [
            shown("pricing/startup-founder#1", 100, 40, &buttons),
            shown("pricing/startup-founder#2", 100, 60, &buttons),
        ]
        .into_iter()
        .flatten()
        .collect();
        let got = retirements(&catalog, &interactions, |_, _| true);
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(
            (r.intent.as_str(), r.key.as_str(), r.number),
            ("pricing", "startup-founder", 1)
        );
        assert_eq!((r.shown, r.helped), (100, 40));
        assert_eq!(r.beaten_by, "pricing/startup-founder#2");
        assert_eq!((r.beaten_by_shown, r.beaten_by_helped), (100, 60));
        assert!((r.z - 2.828427).abs() < 1e-5, "{r:?}");
    }
}
