//! Mining: keyword additions and removals for one profile from the evidence documents, with
//! their support, counter-evidence and proposed weights.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::evidence::{examples_of, Doc, Source};
use super::{Action, ProfileKind, SuggestOptions, Suggestion, Support};
use crate::catalog::Keyword;
use crate::core::text;

/// A profile's keywords (and exclusions, which a new keyword must not repeat).
pub(super) struct Profile<'a> {
    pub(super) id: &'a str,
    pub(super) keywords: &'a [Keyword],
    pub(super) exclude: &'a [String],
    pub(super) threshold: f64,
}

/// The profile's typical keyword weight (median of the positive ones, 1.0 without any).
fn median_weight(keywords: &[Keyword]) -> f64 {
    let mut weights: Vec<f64> = keywords
        .iter()
        .filter(|k| k.weight > 0.0)
        .map(|k| f64::from(k.weight))
        .collect();
    if weights.is_empty() {
        return 1.0;
    }
    weights.sort_by(f64::total_cmp);
    weights[weights.len() / 2]
}

/// Rounded up to one decimal, within the catalog's weight range.
pub(super) fn round_weight(w: f64) -> f64 {
    ((w * 10.0 - 1e-6).ceil() / 10.0).clamp(0.1, MAX_PROPOSED_WEIGHT)
}

/// Proposed weights never exceed this: a term that needs more is not one term's job.
const MAX_PROPOSED_WEIGHT: f64 = 3.0;

pub(super) fn additions(
    kind: ProfileKind,
    profile: &Profile<'_>,
    docs: &[Doc],
    index: &HashMap<&str, Vec<usize>>,
    options: &SuggestOptions,
) -> Vec<Suggestion> {
    let supporting: Vec<&Doc> = docs
        .iter()
        .filter(|d| {
            d.truth.as_deref() == Some(profile.id)
                && matches!(d.source, Source::Relabelled | Source::Rephrased)
        })
        .collect();
    if supporting.is_empty() {
        return Vec::new();
    }
    let known: HashSet<Vec<String>> = profile
        .keywords
        .iter()
        .map(|k| k.words.clone())
        .chain(profile.exclude.iter().map(|e| text::words(e)))
        .collect();
    let mut per_term: BTreeMap<&str, Vec<&Doc>> = BTreeMap::new();
    for d in &supporting {
        for t in &d.terms {
            per_term.entry(t.as_str()).or_default().push(d);
        }
    }
    let typical = median_weight(profile.keywords);
    let mut candidates: Vec<Suggestion> = Vec::new();
    for (term, holders) in per_term {
        if holders.len() < options.min_support {
            continue;
        }
        let words: Vec<String> = term.split(' ').map(str::to_string).collect();
        if known.contains(&words) {
            continue;
        }
        let (mut agreeing, mut counter) = (0usize, 0usize);
        for &n in index.get(term).into_iter().flatten() {
            match docs[n].truth.as_deref() {
                Some(t) if t == profile.id => agreeing += 1,
                Some(_) => counter += 1,
                None => {}
            }
        }
        if (agreeing as f64) < options.min_share * (agreeing + counter) as f64 {
            continue;
        }
        let relabelled = holders
            .iter()
            .filter(|d| d.source == Source::Relabelled)
            .count();
        let rephrased = holders.len() - relabelled;
        let needed = holders
            .iter()
            .filter_map(|d| d.needed_weight)
            .fold(0.0, f64::max);
        candidates.push(Suggestion {
            kind,
            profile: profile.id.to_string(),
            action: Action::Add,
            term: term.to_string(),
            weight: round_weight(typical.max(needed)),
            support: Support {
                relabelled,
                rephrased,
                not_helped: 0,
                total: holders.len(),
                counter,
            },
            examples: examples_of(holders.iter().copied(), options.examples),
        });
    }
    // Best supported first (single words before phrases at equal support). A phrase whose
    // words are all keywords already, or kept, adds nothing; nor does a word of a kept phrase.
    candidates.sort_by(|a, b| {
        b.support
            .total
            .cmp(&a.support.total)
            .then(a.support.counter.cmp(&b.support.counter))
            .then(a.term.split(' ').count().cmp(&b.term.split(' ').count()))
            .then(a.term.cmp(&b.term))
    });
    let mut covered: HashSet<String> = profile
        .keywords
        .iter()
        .filter(|k| k.weight > 0.0 && k.words.len() == 1)
        .map(|k| k.words[0].clone())
        .collect();
    let mut in_phrases: HashSet<String> = HashSet::new();
    let mut kept = Vec::new();
    for c in candidates {
        if kept.len() == options.max_additions {
            break;
        }
        let words: Vec<&str> = c.term.split(' ').collect();
        let redundant = if words.len() == 1 {
            in_phrases.contains(words[0])
        } else {
            words.iter().all(|w| covered.contains(*w))
        };
        if redundant {
            continue;
        }
        if words.len() == 1 {
            covered.insert(c.term.clone());
        } else {
            in_phrases.extend(words.iter().map(|w| w.to_string()));
        }
        kept.push(c);
    }
    kept
}

pub(super) fn removals(
    kind: ProfileKind,
    profile: &Profile<'_>,
    docs: &[Doc],
    options: &SuggestOptions,
) -> Vec<Suggestion> {
    let mistaken = |d: &Doc| {
        d.logged.as_deref() == Some(profile.id)
            && match d.source {
                Source::Relabelled => d.truth.as_deref() != Some(profile.id),
                Source::NotHelped => true,
                _ => false,
            }
    };
    let mut out = Vec::new();
    for keyword in profile.keywords.iter().filter(|k| k.weight > 0.0) {
        let key = (profile.id.to_string(), keyword.term.clone());
        let fired: Vec<&Doc> = docs.iter().filter(|d| d.fired.contains(&key)).collect();
        let wrong: Vec<&Doc> = fired.iter().copied().filter(|d| mistaken(d)).collect();
        if wrong.len() < options.min_support {
            continue;
        }
        let counter = fired
            .iter()
            .filter(|d| d.truth.as_deref() == Some(profile.id))
            .count();
        if (wrong.len() as f64) < options.min_share * (wrong.len() + counter) as f64 {
            continue;
        }
        let relabelled = wrong
            .iter()
            .filter(|d| d.source == Source::Relabelled)
            .count();
        out.push(Suggestion {
            kind,
            profile: profile.id.to_string(),
            action: Action::Remove,
            term: keyword.term.clone(),
            // The shortest decimal of the f32 as written in the file (0.8, not 0.800000011920929).
            weight: keyword
                .weight
                .to_string()
                .parse()
                .unwrap_or(f64::from(keyword.weight)),
            support: Support {
                relabelled,
                rephrased: 0,
                not_helped: wrong.len() - relabelled,
                total: wrong.len(),
                counter,
            },
            examples: examples_of(wrong.into_iter(), options.examples),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::owner::suggest::evidence::{candidate_terms, term_index};

    #[test]
    fn weights_round_up_and_stay_in_range() {
        for (raw, expected) in [
            (1.2, 1.2),
            (1.41, 1.5),
            (0.0, 0.1),
            (7.0, 3.0),
            (0.999, 1.0),
        ] {
            assert_eq!(round_weight(raw), expected, "raw {raw}");
        }
    }

    fn keyword(term: &str, weight: f32) -> Keyword {
        Keyword {
            term: term.into(),
            words: text::words(term),
            weight,
            exact: false,
        }
    }

    fn doc(id: u64, text: &str, logged: Option<&str>, truth: Option<&str>, source: Source) -> Doc {
        Doc {
            interaction: id,
            text: text.into(),
            terms: candidate_terms(text),
            fired: BTreeSet::new(),
            logged: logged.map(str::to_string),
            truth: truth.map(str::to_string),
            source,
            needed_weight: Some(1.0),
        }
    }

    fn options(min_support: usize) -> SuggestOptions {
        SuggestOptions {
            min_support,
            ..Default::default()
        }
    }

    /// A named case: documents, and the additions to `billing` expected as (term, relabelled,
    /// rephrased, counter).
    type AdditionCase = (
        &'static str,
        Vec<Doc>,
        Vec<(&'static str, usize, usize, usize)>,
    );

    /// A named case: documents, and the removal of `plan` expected as (relabelled, not helped,
    /// counter), or none.
    type RemovalCase = (&'static str, Vec<Doc>, Option<(usize, usize, usize)>);

    /// (docs, expected additions to `billing` as (term, relabelled, rephrased, counter)).
    #[test]
    fn additions_table() {
        use Source::*;
        let billing = vec![
            keyword("invoice", 1.5),
            keyword("charge", 0.8),
            keyword("vat", 1.5),
        ];
        let cases: Vec<AdditionCase> = vec![
            (
                "two relabels share a new word",
                vec![
                    doc(
                        1,
                        "paypal please",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(
                        2,
                        "paying via paypal",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                ],
                vec![("paypal", 2, 0, 0)],
            ),
            (
                "one relabel is not enough",
                vec![doc(
                    1,
                    "paypal please",
                    Some("pricing"),
                    Some("billing"),
                    Relabelled,
                )],
                vec![],
            ),
            (
                "relabel and rephrase add up",
                vec![
                    doc(
                        1,
                        "paypal please",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(2, "paypal?", None, Some("billing"), Rephrased),
                ],
                vec![("paypal", 1, 1, 0)],
            ),
            (
                "common elsewhere: rejected; rare elsewhere: kept with its counter-evidence",
                vec![
                    doc(
                        1,
                        "paypal plan",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(
                        2,
                        "plan paypal",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(3, "paypal plan", Some("billing"), Some("billing"), Routine),
                    doc(4, "paypal plan", Some("billing"), Some("billing"), Routine),
                    doc(5, "which plan", Some("pricing"), Some("pricing"), Routine),
                    doc(6, "growth plan", Some("pricing"), Some("pricing"), Routine),
                    doc(
                        7,
                        "paypal integration",
                        Some("integration"),
                        Some("integration"),
                        Routine,
                    ),
                ],
                vec![("paypal", 2, 0, 1)],
            ),
            (
                "an existing keyword is never added, nor stopwords",
                vec![
                    doc(
                        1,
                        "the invoice is it",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(
                        2,
                        "is the invoice it",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                ],
                vec![],
            ),
            (
                "a phrase overlapping a kept word is redundant",
                vec![
                    doc(
                        1,
                        "sepa mandate",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(
                        2,
                        "sepa mandate",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                ],
                vec![("mandate", 2, 0, 0), ("sepa", 2, 0, 0)],
            ),
            (
                "a phrase of words already in the profile is redundant",
                vec![
                    doc(
                        1,
                        "invoice vat",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(
                        2,
                        "invoice vat",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                ],
                vec![],
            ),
            (
                "a phrase is kept where its new word alone is not specific",
                vec![
                    doc(
                        1,
                        "gift invoice",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(
                        2,
                        "gift invoice",
                        Some("pricing"),
                        Some("billing"),
                        Relabelled,
                    ),
                    doc(3, "gift ideas", Some("pricing"), Some("pricing"), Routine),
                    doc(4, "gift cards", Some("pricing"), Some("pricing"), Routine),
                ],
                vec![("gift invoice", 2, 0, 0)],
            ),
            (
                "unknown truth is neither support nor counter-evidence",
                vec![
                    doc(1, "paypal", Some("pricing"), Some("billing"), Relabelled),
                    doc(2, "paypal", Some("pricing"), Some("billing"), Relabelled),
                    doc(3, "paypal", None, None, Unattributed),
                    doc(4, "paypal", Some("pricing"), None, NotHelped),
                ],
                vec![("paypal", 2, 0, 0)],
            ),
        ];
        for (name, docs, expected) in cases {
            let profile = Profile {
                id: "billing",
                keywords: &billing,
                exclude: &[],
                threshold: 0.5,
            };
            let index = term_index(&docs);
            let got: Vec<(String, usize, usize, usize)> =
                additions(ProfileKind::Intent, &profile, &docs, &index, &options(2))
                    .into_iter()
                    .map(|s| {
                        (
                            s.term,
                            s.support.relabelled,
                            s.support.rephrased,
                            s.support.counter,
                        )
                    })
                    .collect();
            let want: Vec<(String, usize, usize, usize)> = expected
                .into_iter()
                .map(|(t, a, b, c)| (t.to_string(), a, b, c))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    /// (docs with `plan` fired for pricing or not, expected removal support (relabelled,
    /// not helped, counter) or none).
    #[test]
    fn removals_table() {
        use Source::*;
        let pricing = vec![keyword("plan", 0.5), keyword("plans to", -0.8)];
        let fired = |mut d: Doc, terms: &[&str]| {
            for t in terms {
                d.fired.insert(("pricing".into(), t.to_string()));
            }
            d
        };
        let cases: Vec<RemovalCase> = vec![
            (
                "relabelled away twice, never right",
                vec![
                    fired(
                        doc(1, "a", Some("pricing"), Some("integration"), Relabelled),
                        &["plan"],
                    ),
                    fired(
                        doc(2, "b", Some("pricing"), Some("billing"), Relabelled),
                        &["plan"],
                    ),
                ],
                Some((2, 0, 0)),
            ),
            (
                "not helped counts too",
                vec![
                    fired(
                        doc(1, "a", Some("pricing"), Some("integration"), Relabelled),
                        &["plan"],
                    ),
                    fired(doc(2, "b", Some("pricing"), None, NotHelped), &["plan"]),
                ],
                Some((1, 1, 0)),
            ),
            (
                "fires in many correct messages: kept",
                vec![
                    fired(
                        doc(1, "a", Some("pricing"), Some("integration"), Relabelled),
                        &["plan"],
                    ),
                    fired(doc(2, "b", Some("pricing"), None, NotHelped), &["plan"]),
                    fired(
                        doc(3, "c", Some("pricing"), Some("pricing"), Routine),
                        &["plan"],
                    ),
                ],
                None,
            ),
            (
                "a few right among many wrong: removed, counted",
                (1..=8)
                    .map(|n| {
                        fired(
                            doc(n, "a", Some("pricing"), Some("billing"), Relabelled),
                            &["plan"],
                        )
                    })
                    .chain([fired(
                        doc(9, "b", Some("pricing"), Some("pricing"), Routine),
                        &["plan"],
                    )])
                    .collect(),
                Some((8, 0, 1)),
            ),
            (
                "negative keywords are never removed",
                vec![
                    fired(
                        doc(1, "a", Some("pricing"), Some("billing"), Relabelled),
                        &["plans to"],
                    ),
                    fired(
                        doc(2, "b", Some("pricing"), Some("billing"), Relabelled),
                        &["plans to"],
                    ),
                ],
                None,
            ),
            (
                "it did not fire: not its fault",
                vec![
                    doc(1, "a", Some("pricing"), Some("billing"), Relabelled),
                    doc(2, "b", Some("pricing"), Some("billing"), Relabelled),
                ],
                None,
            ),
        ];
        for (name, docs, expected) in cases {
            let profile = Profile {
                id: "pricing",
                keywords: &pricing,
                exclude: &[],
                threshold: 0.5,
            };
            let got: Vec<(usize, usize, usize)> =
                removals(ProfileKind::Intent, &profile, &docs, &options(2))
                    .into_iter()
                    .map(|s| {
                        assert_eq!(s.term, "plan", "{name}");
                        (
                            s.support.relabelled,
                            s.support.not_helped,
                            s.support.counter,
                        )
                    })
                    .collect();
            assert_eq!(got, expected.into_iter().collect::<Vec<_>>(), "{name}");
        }
    }
}
