//! The evidence suggest mines: logged interactions turned into documents (one per message for
//! intents, one per conversation for personas), each with its candidate terms, the keywords
//! that fired, what the bot said and what it really was; and the misses nothing explains.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{ExampleMessage, TermCount, Unattributed};
use crate::catalog::Catalog;
use crate::core::route::{DecisionKind, Thresholds};
use crate::core::text;
use crate::store::redact::{CARD_MARK, EMAIL_MARK, IBAN_MARK, PHONE_MARK};
use crate::store::Interaction;

/// True for a word that may be (part of) a suggested term: two or more characters, not only
/// digits, not a stopword.
pub fn is_content_word(word: &str) -> bool {
    word.chars().nth(1).is_some()
        && !word.chars().all(|c| c.is_ascii_digit())
        && !crate::core::text::is_stopword(word)
}

/// The candidate terms of a logged (redacted) message: its content words and its two-word
/// phrases of content words, normalised as the matcher does (lowercase words joined by one
/// space). Redaction marks such as `[email]` are not the customer's words and are skipped.
pub fn candidate_terms(text: &str) -> BTreeSet<String> {
    let mut cleaned = text.to_string();
    for mark in [EMAIL_MARK, IBAN_MARK, CARD_MARK, PHONE_MARK] {
        cleaned = cleaned.replace(mark, " ");
    }
    let words = text::words(&cleaned);
    let mut terms: BTreeSet<String> = words
        .iter()
        .filter(|w| is_content_word(w))
        .cloned()
        .collect();
    for pair in words.windows(2) {
        if is_content_word(&pair[0]) && is_content_word(&pair[1]) {
            terms.insert(format!("{} {}", pair[0], pair[1]));
        }
    }
    terms
}

/// Where a document's evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// Nothing to learn from it directly; it only counts as counter-evidence.
    Routine,
    /// An agent gave it another profile than the bot did.
    Relabelled,
    /// An answer the customer said did not help (no agent label).
    NotHelped,
    /// A miss whose next message matched an intent.
    Rephrased,
    /// A miss nothing explains.
    Unattributed,
}

/// One unit of evidence: a message (intents) or a conversation (personas).
#[derive(Debug, Clone)]
pub(super) struct Doc {
    /// The interaction shown as its example.
    pub(super) interaction: u64,
    pub(super) text: String,
    pub(super) terms: BTreeSet<String>,
    /// `(profile, keyword as written)` that fired on this axis.
    pub(super) fired: BTreeSet<(String, String)>,
    /// What the bot said.
    pub(super) logged: Option<String>,
    /// What it really is, as far as the store knows.
    pub(super) truth: Option<String>,
    pub(super) source: Source,
    /// Intents: the weight a single new keyword of `truth` would need for it to win here.
    pub(super) needed_weight: Option<f64>,
}

fn score_of(scores: &[crate::store::ScoredId], id: &str) -> f64 {
    scores
        .iter()
        .find(|s| s.id == id)
        .map_or(0.0, |s| f64::from(s.score))
}

/// The smallest weight that lets one new keyword of `target` carry a message: past the
/// threshold and ahead of the best other intent by the margin.
fn needed_weight(i: &Interaction, target: &str, threshold: f64, margin: f64) -> f64 {
    let own = score_of(&i.intent_scores, target);
    let rival = i
        .intent_scores
        .iter()
        .filter(|s| s.id != target)
        .map(|s| f64::from(s.score))
        .fold(0.0, f64::max);
    let to_pass = -(1.0 - threshold).ln();
    let to_lead = rival / (1.0 - margin).max(0.01) + 0.05;
    (to_pass.max(to_lead) - own).max(0.0)
}

fn intent_threshold(catalog: &Catalog, thresholds: &Thresholds, id: &str) -> f64 {
    catalog
        .intent(id)
        .and_then(|i| i.threshold)
        .unwrap_or(thresholds.intent_threshold)
}

/// A message that only told who the customer is (not a miss): no intent, and its top persona
/// passed its threshold on this message alone.
fn says_only_who(i: &Interaction, catalog: &Catalog, thresholds: &Thresholds) -> bool {
    i.route.kind == DecisionKind::Fallback
        && i.persona_scores.first().is_some_and(|top| {
            let threshold = catalog
                .persona(&top.id)
                .and_then(|p| p.threshold)
                .unwrap_or(thresholds.persona_threshold);
            top.confidence >= threshold
        })
}

fn fired_on<'a>(i: &'a Interaction, axis: &str) -> impl Iterator<Item = (String, String)> + 'a {
    let prefix = format!("{axis}:");
    i.evidence.iter().filter_map(move |e| {
        e.target
            .strip_prefix(&prefix)
            .map(|id| (id.to_string(), e.term.clone()))
    })
}

/// The interactions of each conversation, in order.
fn conversations(interactions: &[Interaction]) -> BTreeMap<(&str, &str), Vec<&Interaction>> {
    let mut by: BTreeMap<(&str, &str), Vec<&Interaction>> = BTreeMap::new();
    for i in interactions {
        by.entry((&i.channel, &i.conversation)).or_default().push(i);
    }
    for turns in by.values_mut() {
        turns.sort_by_key(|i| i.id);
    }
    by
}

/// One document per message the bot decided (messages added to an already open ticket are
/// skipped, as in replay).
pub(super) fn intent_docs(
    catalog: &Catalog,
    thresholds: &Thresholds,
    interactions: &[Interaction],
) -> Vec<Doc> {
    let mut docs = Vec::new();
    for turns in conversations(interactions).values() {
        let mut tickets_seen: HashSet<u64> = HashSet::new();
        let decided: Vec<&Interaction> = turns
            .iter()
            .copied()
            .filter(|i| i.ticket.is_none_or(|t| tickets_seen.insert(t)))
            .collect();
        for (n, i) in decided.iter().enumerate() {
            let logged = i.intent.as_ref().map(|s| s.id.clone());
            let label = i.label.as_ref().and_then(|l| l.intent.clone());
            let miss = (logged.is_none() || i.route.kind == DecisionKind::Clarify)
                && !says_only_who(i, catalog, thresholds);
            let (truth, source) = if let Some(label) = label {
                let source = if logged.as_ref() != Some(&label) {
                    Source::Relabelled
                } else {
                    Source::Routine
                };
                (Some(label), source)
            } else if i.feedback.as_ref().is_some_and(|f| !f.helped) && logged.is_some() {
                (None, Source::NotHelped)
            } else if miss {
                match decided
                    .get(n + 1)
                    .and_then(|next| rephrased_as(catalog, next))
                {
                    Some(intent) => (Some(intent), Source::Rephrased),
                    None => (None, Source::Unattributed),
                }
            } else if logged.is_some()
                && matches!(i.route.kind, DecisionKind::Answer | DecisionKind::Ticket)
            {
                (logged.clone(), Source::Routine)
            } else {
                (None, Source::Routine)
            };
            let needed_weight = match (&truth, source) {
                (Some(t), Source::Relabelled | Source::Rephrased) => Some(needed_weight(
                    i,
                    t,
                    intent_threshold(catalog, thresholds, t),
                    thresholds.margin,
                )),
                _ => None,
            };
            docs.push(Doc {
                interaction: i.id,
                text: i.text.clone(),
                terms: candidate_terms(&i.text),
                fired: fired_on(i, "intent").collect(),
                logged,
                truth,
                source,
                needed_weight,
            });
        }
    }
    docs
}

/// The intent of a message that rephrases a miss: its label, else the intent of an answer or
/// ticket, when that intent is an ordinary one (priority 0: not a handoff, greeting or thanks).
fn rephrased_as(catalog: &Catalog, next: &Interaction) -> Option<String> {
    let intent = match next.label.as_ref().and_then(|l| l.intent.clone()) {
        Some(label) => label,
        None if matches!(next.route.kind, DecisionKind::Answer | DecisionKind::Ticket) => {
            next.intent.as_ref()?.id.clone()
        }
        None => return None,
    };
    catalog
        .intent(&intent)
        .filter(|i| i.priority == 0)
        .map(|_| intent)
}

/// One document per conversation: every message's words and persona hits. Its truth is the
/// latest agent label, else the last persona logged; it is relabelled when the agent's persona
/// differs from the one logged on the message the agent labelled.
pub(super) fn persona_docs(interactions: &[Interaction]) -> Vec<Doc> {
    let mut docs = Vec::new();
    for turns in conversations(interactions).values() {
        let labelled = turns
            .iter()
            .rev()
            .find(|i| i.label.as_ref().is_some_and(|l| l.persona.is_some()));
        let last_logged = turns
            .iter()
            .rev()
            .find_map(|i| i.persona.as_ref().map(|p| p.id.clone()));
        let (shown, logged, truth, source) = match labelled {
            Some(i) => {
                let label = i.label.as_ref().and_then(|l| l.persona.clone());
                let logged = i.persona.as_ref().map(|p| p.id.clone());
                let source = if logged != label {
                    Source::Relabelled
                } else {
                    Source::Routine
                };
                (*i, logged, label, source)
            }
            None => (turns[0], last_logged.clone(), last_logged, Source::Routine),
        };
        let text = turns
            .iter()
            .map(|i| i.text.as_str())
            .collect::<Vec<_>>()
            .join(" / ");
        docs.push(Doc {
            interaction: shown.id,
            terms: turns
                .iter()
                .flat_map(|i| candidate_terms(&i.text))
                .collect(),
            fired: turns.iter().flat_map(|i| fired_on(i, "persona")).collect(),
            text,
            logged,
            truth,
            source,
            needed_weight: None,
        });
    }
    docs
}

pub(super) fn term_index(docs: &[Doc]) -> HashMap<&str, Vec<usize>> {
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, d) in docs.iter().enumerate() {
        for t in &d.terms {
            index.entry(t.as_str()).or_default().push(n);
        }
    }
    index
}

pub(super) fn examples_of<'a>(
    docs: impl Iterator<Item = &'a Doc>,
    limit: usize,
) -> Vec<ExampleMessage> {
    let mut shown: Vec<ExampleMessage> = docs
        .map(|d| ExampleMessage {
            interaction: d.interaction,
            text: d.text.clone(),
        })
        .collect();
    shown.sort_by_key(|e| e.interaction);
    shown.truncate(limit);
    shown
}

pub(super) fn unattributed(docs: &[Doc], examples: usize) -> Unattributed {
    let misses: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.source == Source::Unattributed)
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &misses {
        for t in &d.terms {
            *counts.entry(t.as_str()).or_insert(0) += 1;
        }
    }
    let mut top: Vec<TermCount> = counts
        .into_iter()
        .map(|(term, count)| TermCount {
            term: term.to_string(),
            count,
        })
        .collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then(a.term.cmp(&b.term)));
    top.truncate(10);
    Unattributed {
        messages: misses.len(),
        top_terms: top,
        examples: examples_of(misses.into_iter(), examples),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::catalog::{self, CatalogSources, Team};
    use crate::store::{EvidenceRecord, Feedback, Label, RouteRecord, ScoredId};

    #[test]
    fn candidate_terms_table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Do you accept PayPal?",
                &["accept", "accept paypal", "paypal"],
            ),
            ("the the the", &[]),
            ("order 12345 is late", &["late", "order"]),
            ("mail me at [email] or [phone]", &["mail"]),
            (
                "Zahlung per Überweisung",
                &[
                    "per",
                    "per überweisung",
                    "zahlung",
                    "zahlung per",
                    "überweisung",
                ],
            ),
            ("don't x", &[]),
        ];
        for (text, expected) in cases {
            let got: Vec<String> = candidate_terms(text).into_iter().collect();
            assert_eq!(got, *expected, "text {text:?}");
        }
    }

    fn interaction(
        id: u64,
        conversation: &str,
        text: &str,
        intent: Option<&str>,
        kind: &str,
    ) -> Interaction {
        let scored = intent.map(|i| ScoredId {
            id: i.into(),
            confidence: 0.7,
            score: 1.2,
        });
        Interaction {
            channel: "test".into(),
            conversation: conversation.into(),
            user: "u".into(),
            text: text.into(),
            intent: scored.clone(),
            intent_scores: scored.into_iter().collect(),
            route: RouteRecord {
                kind: DecisionKind::parse(kind).expect("a route kind"),
                team: None,
                answer: None,
                reason: String::new(),
                actions: Vec::new(),
            },
            ..crate::store::bare_interaction(id, id)
        }
    }

    fn test_catalog() -> Catalog {
        let sources = CatalogSources {
            personas: vec![(
                PathBuf::from("personas/founder.toml"),
                "[keywords]\nfounder = 2.0\n".into(),
            )],
            intents: vec![
                (
                    PathBuf::from("intents/billing.toml"),
                    "[keywords]\ninvoice = 1.5\n".into(),
                ),
                (
                    PathBuf::from("intents/pricing.toml"),
                    "[keywords]\nprice = 1.2\n".into(),
                ),
                (
                    PathBuf::from("intents/human-agent.toml"),
                    "priority = 10\n[keywords]\nhuman = 2.0\n".into(),
                ),
            ],
            intents_dir: PathBuf::from("intents"),
            replies: Vec::new(),
        };
        let support = Team {
            name: "Support".into(),
            description: String::new(),
            response_time: String::new(),
            hours: String::new(),
            timezone: String::new(),
            discord_channel: None,
            discord_role: None,
            aliases: Vec::new(),
            ..Team::default()
        };
        let teams = BTreeMap::from([("support".to_string(), support)]);
        catalog::load_from_sources(sources, &teams).expect("test catalog")
    }

    /// Which source each message of a conversation is given.
    #[test]
    fn intent_sources_table() {
        let catalog = test_catalog();
        let thresholds = Thresholds::default();
        let relabelled = {
            let mut i = interaction(1, "a", "price of paypal", Some("pricing"), "answer");
            i.label = Some(Label {
                intent: Some("billing".into()),
                persona: None,
                by: "agent".into(),
                at_ms: 5,
            });
            i.feedback = Some(Feedback {
                helped: false,
                at_ms: 3,
            });
            i
        };
        let not_helped = {
            let mut i = interaction(2, "b", "price sheet", Some("pricing"), "answer");
            i.feedback = Some(Feedback {
                helped: false,
                at_ms: 3,
            });
            i
        };
        let says_who = {
            let mut i = interaction(8, "f", "I am a founder", None, "fallback");
            i.persona_scores.push(ScoredId {
                id: "founder".into(),
                confidence: 0.86,
                score: 2.0,
            });
            i
        };
        let interactions = vec![
            relabelled,
            not_helped,
            // Only who the customer is, then a question: not a miss to learn from.
            says_who,
            interaction(9, "f", "the price?", Some("pricing"), "answer"),
            // A miss rephrased as billing.
            interaction(3, "c", "paypal?", None, "fallback"),
            interaction(4, "c", "my invoice", Some("billing"), "ticket"),
            // A miss followed by a handoff: not attributed.
            interaction(5, "d", "paypal?", None, "fallback"),
            interaction(6, "d", "a human please", Some("human-agent"), "ticket"),
            // The last message of a conversation, a miss.
            interaction(7, "e", "zzz", None, "fallback"),
        ];
        let docs = intent_docs(&catalog, &thresholds, &interactions);
        let got: Vec<(u64, Source, Option<&str>)> = docs
            .iter()
            .map(|d| (d.interaction, d.source, d.truth.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Source::Relabelled, Some("billing")),
                (2, Source::NotHelped, None),
                (3, Source::Rephrased, Some("billing")),
                (4, Source::Routine, Some("billing")),
                (5, Source::Unattributed, None),
                (6, Source::Routine, Some("human-agent")),
                (7, Source::Unattributed, None),
                (8, Source::Routine, None),
                (9, Source::Routine, Some("pricing")),
            ]
        );
    }

    #[test]
    fn persona_docs_span_the_conversation() {
        let mut first = interaction(1, "a", "I run a seed stage company", None, "fallback");
        first.persona = Some(ScoredId {
            id: "founder".into(),
            confidence: 0.6,
            score: 1.0,
        });
        first.evidence.push(EvidenceRecord {
            term: "founder".into(),
            target: "persona:founder".into(),
            weight: 2.0,
        });
        let mut second = interaction(2, "a", "price please", Some("pricing"), "answer");
        second.persona = first.persona.clone();
        second.label = Some(Label {
            intent: None,
            persona: Some("investor".into()),
            by: "agent".into(),
            at_ms: 9,
        });
        let docs = persona_docs(&[first, second]);
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(d.source, Source::Relabelled);
        assert_eq!(d.truth.as_deref(), Some("investor"));
        assert_eq!(d.logged.as_deref(), Some("founder"));
        assert!(
            d.terms.contains("seed") && d.terms.contains("price"),
            "{:?}",
            d.terms
        );
        assert!(d.fired.contains(&("founder".into(), "founder".into())));
    }
}
