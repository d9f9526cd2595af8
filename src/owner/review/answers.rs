//! Counting self-help answers: which answers offered the buttons (only those count in the
//! resolution rate), how they were rated, which still ended in a ticket, and how each answer
//! variant did, compared with the other variants of the same answer.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::stats::{compare, wilson, Arm, Interval};
use super::{ratio, AnswerExperiment, IntentAnswers, VariantReview};
use crate::catalog::Catalog;
use crate::core::route::DecisionKind;
use crate::store::{Interaction, Ticket};

/// The button a self-help answer offers for "That helped".
const HELPED_ACTION: &str = "helped";

/// Whether an answer offered "That helped" / "Talk to a human", so that it counts in the
/// self-help resolution rate. Answers record the buttons they offered (`route.actions`); an
/// answer without any (a greeting, thanks) never counts, nor does one that offered only a
/// person. Records from before answers stored their buttons (an answer naming a variant, with
/// no actions) count unless the current catalog marks the intent `feedback = false`.
pub(crate) fn offered_buttons(catalog: &Catalog, i: &Interaction) -> bool {
    if i.route.kind != DecisionKind::Answer {
        return false;
    }
    if !i.route.actions.is_empty() {
        return i.route.actions.iter().any(|a| a == HELPED_ACTION);
    }
    i.route.answer.is_some()
        && i.intent
            .as_ref()
            .and_then(|x| catalog.intent(&x.id))
            .is_none_or(|intent| intent.feedback)
}

/// The customer's rating of an answer: `Some(true)` helped, `Some(false)` did not.
pub(super) fn rating(i: &Interaction) -> Option<bool> {
    i.feedback.as_ref().map(|f| f.helped)
}

/// The self-help answers (interaction ids) that still ended in a ticket: a ticket names the
/// answer as the interaction that led to it, is about the answer's intent, and the customer
/// did not say the answer did not help (that counts as "not helped" instead).
pub(super) fn escalated_answers(
    catalog: &Catalog,
    interactions: &[&Interaction],
    tickets: &[Ticket],
) -> HashSet<u64> {
    let by_id: HashMap<u64, &Interaction> = interactions.iter().map(|i| (i.id, *i)).collect();
    tickets
        .iter()
        .filter_map(|t| {
            let answer = by_id.get(&t.interaction)?;
            let same_intent = match (&t.intent, &answer.intent) {
                (Some(a), Some(b)) => a.id == b.id,
                _ => false,
            };
            (same_intent && offered_buttons(catalog, answer) && rating(answer) != Some(false))
                .then_some(answer.id)
        })
        .collect()
}

/// How one group of self-help answers (a persona's, an intent's, a variant's) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct AnswerCounts {
    pub(super) shown: usize,
    pub(super) helped: usize,
    pub(super) not_helped: usize,
    pub(super) escalated: usize,
}

impl AnswerCounts {
    /// Counts one self-help answer.
    pub(super) fn add(&mut self, helped: Option<bool>, escalated: bool) {
        self.shown += 1;
        self.helped += usize::from(helped == Some(true));
        self.not_helped += usize::from(helped == Some(false));
        self.escalated += usize::from(escalated);
    }

    pub(super) fn variant(&self, variant: String) -> VariantReview {
        VariantReview {
            variant,
            shown: self.shown,
            helped: self.helped,
            not_helped: self.not_helped,
            unrated: self.shown.saturating_sub(self.helped + self.not_helped),
            resolution_rate: ratio(self.helped, self.shown).unwrap_or(0.0),
            interval: wilson(self.helped, self.shown).unwrap_or(Interval {
                low: 0.0,
                high: 1.0,
            }),
            rated_help_rate: ratio(self.helped, self.helped + self.not_helped),
        }
    }

    pub(super) fn intent(&self, intent: String) -> IntentAnswers {
        IntentAnswers {
            intent,
            answers: self.shown,
            helped: self.helped,
            not_helped: self.not_helped,
            escalated_after_answer: self.escalated,
            resolution_rate: ratio(self.helped, self.shown),
            not_helped_rate: ratio(self.not_helped, self.shown),
            escalation_after_answer_rate: ratio(self.escalated, self.shown),
        }
    }
}

/// A variant name split into its answer and its number: `pricing/default#2` is
/// (`pricing/default`, 2); a name without a number is its own answer, variant 1.
pub fn split_variant(name: &str) -> (&str, Option<usize>) {
    match name.rsplit_once('#') {
        Some((answer, n)) => match n.parse::<usize>() {
            Ok(n) if n > 0 && !answer.is_empty() => (answer, Some(n)),
            _ => (name, None),
        },
        None => (name, None),
    }
}

/// The answers shown in several numbered variants, with each variant's counts and the
/// confident comparisons between them. Answers in name order.
pub(super) fn experiments(variants: &BTreeMap<String, AnswerCounts>) -> Vec<AnswerExperiment> {
    let mut by_answer: BTreeMap<&str, Vec<(usize, &str, &AnswerCounts)>> = BTreeMap::new();
    for (name, counts) in variants {
        if let (answer, Some(n)) = split_variant(name) {
            by_answer
                .entry(answer)
                .or_default()
                .push((n, name.as_str(), counts));
        }
    }
    by_answer
        .into_iter()
        .filter(|(_, arms)| arms.len() > 1)
        .map(|(answer, mut arms)| {
            arms.sort_by_key(|(n, _, _)| *n);
            let tested: Vec<Arm<'_>> = arms
                .iter()
                .map(|(_, name, c)| Arm {
                    name,
                    helped: c.helped,
                    shown: c.shown,
                })
                .collect();
            AnswerExperiment {
                answer: answer.to_string(),
                better: compare(&tested),
                variants: arms
                    .iter()
                    .map(|(_, name, c)| c.variant(name.to_string()))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::settings::Settings;
    use crate::catalog::{load_from_sources, CatalogSources};
    use crate::store::{shown_answer, Feedback, ScoredId};

    fn shipped() -> Catalog {
        let settings =
            Settings::load_with_env(None, Some(HashMap::new())).expect("default settings");
        load_from_sources(CatalogSources::built_in(), &settings.teams).expect("the catalog")
    }

    fn answer(id: u64, intent: &str, actions: &[&str], helped: Option<bool>) -> Interaction {
        let mut i = shown_answer(id, &format!("{intent}/default"), actions);
        i.feedback = helped.map(|helped| Feedback { helped, at_ms: 1 });
        i
    }

    #[test]
    fn only_answers_that_offered_the_buttons_count() {
        let catalog = shipped();
        let mut ticket = answer(9, "refund", &[], None);
        ticket.route.kind = DecisionKind::Ticket;
        let mut nameless = answer(10, "pricing", &[], None);
        nameless.route.answer = None;
        // (case, interaction, offered)
        let table = [
            (
                "a self-help answer",
                answer(1, "pricing", &["helped", "human"], None),
                true,
            ),
            ("a greeting", answer(2, "greeting", &[], Some(true)), false),
            (
                "a pointer offering only a person",
                answer(3, "pricing", &["human"], None),
                false,
            ),
            (
                "an old answer of a self-help intent",
                answer(4, "pricing", &[], None),
                true,
            ),
            ("an old greeting", answer(5, "greeting", &[], None), false),
            (
                "an old answer of an intent since removed",
                answer(6, "gone", &[], None),
                true,
            ),
            ("a ticket", ticket, false),
            ("an answer that named no variant", nameless, false),
        ];
        for (case, i, want) in table {
            assert_eq!(offered_buttons(&catalog, &i), want, "{case}");
        }
    }

    #[test]
    fn variant_names_split_into_answer_and_number() {
        let table = [
            (
                "pricing/startup-founder#2",
                ("pricing/startup-founder", Some(2)),
            ),
            ("pricing/default#10", ("pricing/default", Some(10))),
            ("pricing/default", ("pricing/default", None)),
            ("pricing/default#0", ("pricing/default#0", None)),
            ("pricing/default#x", ("pricing/default#x", None)),
            ("#2", ("#2", None)),
        ];
        for (name, want) in table {
            assert_eq!(split_variant(name), want, "{name}");
        }
    }

    #[test]
    fn experiments_group_numbered_variants_of_one_answer() {
        let counts = |shown, helped| AnswerCounts {
            shown,
            helped,
            not_helped: shown - helped,
            escalated: 0,
        };
        let variants: BTreeMap<String, AnswerCounts> = [
            ("pricing/default#1", counts(100, 60)),
            ("pricing/default#2", counts(100, 40)),
            ("pricing/startup-founder", counts(50, 20)),
            ("refund/default#1", counts(3, 1)),
        ]
        .into_iter()
        .map(|(n, c)| (n.to_string(), c))
        .collect();
        let found = experiments(&variants);
        assert_eq!(found.len(), 1, "one answer has two variants: {found:?}");
        let e = &found[0];
        assert_eq!(e.answer, "pricing/default");
        let names: Vec<&str> = e.variants.iter().map(|v| v.variant.as_str()).collect();
        assert_eq!(names, ["pricing/default#1", "pricing/default#2"]);
        assert_eq!(e.better.len(), 1);
        assert_eq!(
            (e.better[0].better.as_str(), e.better[0].worse.as_str()),
            ("pricing/default#1", "pricing/default#2")
        );
    }

    #[test]
    fn an_escalation_after_an_answer_is_a_ticket_on_its_intent_without_not_helped() {
        let catalog = shipped();
        let ticket = |interaction: u64, intent: &str| {
            let mut t: Ticket = serde_json::from_value(serde_json::json!({
                "id": interaction + 100, "team": "sales", "status": "open", "created_ms": 1,
                "updated_ms": 1, "channel": "http", "conversation": "c", "user": "u",
                "persona": null, "intent": null, "evidence": [], "reason": "",
                "interaction": interaction, "transcript": [], "claimed_by": null,
                "resolved_by": null, "relabels": []
            }))
            .expect("a ticket");
            t.intent = Some(ScoredId {
                id: intent.into(),
                confidence: 1.0,
                score: 0.0,
            });
            t
        };
        let answers = [
            answer(1, "pricing", &["helped", "human"], None),
            answer(2, "pricing", &["helped", "human"], Some(false)),
            answer(3, "pricing", &["helped", "human"], Some(true)),
            answer(4, "pricing", &["helped", "human"], None),
            answer(5, "greeting", &[], None),
            answer(6, "pricing", &["helped", "human"], None),
        ];
        let tickets = [
            ticket(1, "pricing"),  // escalated after the answer
            ticket(2, "pricing"),  // "not helped": counted there, not here
            ticket(3, "pricing"),  // helped, then wanted a person anyway
            ticket(4, "billing"),  // another need
            ticket(5, "greeting"), // not a self-help answer
        ];
        let all: Vec<&Interaction> = answers.iter().collect();
        let mut got: Vec<u64> = escalated_answers(&catalog, &all, &tickets)
            .into_iter()
            .collect();
        got.sort_unstable();
        assert_eq!(got, [1, 3]);
    }
}
