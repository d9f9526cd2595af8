//! Suggest: keyword additions and removals for each persona and intent profile, mined from the
//! logged evidence (agent relabels, "did not help" answers, unmatched messages the customer
//! rephrased), each with its support, and rendered as a unified diff against the catalog files.
//!
//! Deciding is pure: [`suggest`] reads interactions and the catalog, [`edit_files`] turns the
//! suggestions into edited file texts with `toml_edit` (comments and formatting outside the
//! changed keys stay byte-identical), [`render_diff`] shows exactly those edits, and
//! [`predict`] replays the logged interactions through the edited catalog. Only
//! [`write_edits`] touches the disk.
//!
//! What counts as evidence, per axis (a "document" is one message for intents, one
//! conversation for personas, because a persona is judged over the whole conversation):
//!
//! - its *truth*: the agent's label when there is one; else, for intents, the logged intent of an
//!   answer or ticket (a clarify, a miss or a "did not help" answer proves nothing), or the
//!   intent of the message that rephrased a miss; for personas, the last persona logged.
//! - an **addition** of term `t` to profile `X` is supported by documents relabelled to `X` (or
//!   misses rephrased as `X`) that contain `t`; it is kept when at least `min_support`
//!   documents support it and at least `min_share` of the documents that contain `t` and have a
//!   known truth belong to `X` (the rest are its counter-evidence).
//! - a **removal** of keyword `k` from profile `Y` is supported by documents logged as `Y` where
//!   `k` fired and that were relabelled away from `Y` or (intents) answered without helping; it
//!   is kept when at least `min_support` documents support it and at least `min_share` of the
//!   documents where `k` fired for `Y` are such mistakes (the rest, truly `Y`, are its
//!   counter-evidence).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;
use toml_edit::{DocumentMut, Item, Table, TableLike};

use crate::catalog::{self, Catalog, CatalogSources, Keyword, Team};
use crate::classify::Classifier;
use crate::replay::{self, LabelAgreement};
use crate::route::Thresholds;
use crate::store::redact::{CARD_MARK, EMAIL_MARK, IBAN_MARK, PHONE_MARK};
use crate::store::Interaction;
use crate::text;

/// Why suggestions could not be made, edited or written.
#[derive(Debug, Error)]
pub enum SuggestError {
    #[error("unknown {kind} `{id}`: it is not in the catalog")]
    UnknownProfile { kind: ProfileKind, id: String },
    #[error("no catalog file for {kind} `{id}`")]
    NoFile { kind: ProfileKind, id: String },
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("the edited catalog does not load (a bug in suggest): {0}")]
    EditedCatalog(String),
    #[error("{}: changed on disk since it was read; run suggest again", .0.display())]
    ChangedOnDisk(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Which axis a profile belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileKind {
    Persona,
    Intent,
}

impl ProfileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Persona => "persona",
            Self::Intent => "intent",
        }
    }

    /// The catalog folder holding this kind's files.
    pub fn folder(self) -> &'static str {
        match self {
            Self::Persona => "personas",
            Self::Intent => "intents",
        }
    }
}

impl std::fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Remove,
}

/// Knobs of [`suggest`].
#[derive(Debug, Clone)]
pub struct SuggestOptions {
    /// Only this persona's profile (with `intent`, both; with neither, every profile).
    pub persona: Option<String>,
    /// Only this intent's profile.
    pub intent: Option<String>,
    /// Documents needed before a term is suggested.
    pub min_support: usize,
    /// Share of the documents holding the term (additions) or where it fired (removals) that
    /// must agree with the suggestion.
    pub min_share: f64,
    /// Additions kept per profile, best supported first.
    pub max_additions: usize,
    /// Example messages kept per suggestion.
    pub examples: usize,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions {
            persona: None,
            intent: None,
            min_support: 2,
            min_share: 0.8,
            max_additions: 10,
            examples: 3,
        }
    }
}

/// The evidence behind one suggestion (counts of documents: messages for intents,
/// conversations for personas).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Support {
    /// Add: relabelled to the profile and holding the term. Remove: relabelled away from the
    /// profile with the keyword among the hits.
    pub relabelled: usize,
    /// Add (intents): misses whose rephrasing matched the profile.
    pub rephrased: usize,
    /// Remove (intents): answers of the profile the customer said did not help.
    pub not_helped: usize,
    /// The sum of the above.
    pub total: usize,
    /// Add: documents that hold the term but belong to another profile. Remove: documents that
    /// truly belong to the profile where the keyword fired.
    pub counter: usize,
}

/// One logged message shown as an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExampleMessage {
    pub interaction: u64,
    pub text: String,
}

/// One keyword change to one profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub kind: ProfileKind,
    pub profile: String,
    pub action: Action,
    /// For additions, the normalised words joined by one space; for removals, the key as
    /// written in the file.
    pub term: String,
    /// Add: the proposed weight. Remove: the current weight.
    pub weight: f64,
    pub support: Support,
    /// Supporting messages, oldest first.
    pub examples: Vec<ExampleMessage>,
}

/// A term of unattributed misses and how many misses hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermCount {
    pub term: String,
    pub count: usize,
}

/// Misses that no rephrasing explains: reported, never turned into suggestions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unattributed {
    pub messages: usize,
    /// The most frequent terms, most frequent first (at most ten).
    pub top_terms: Vec<TermCount>,
    pub examples: Vec<ExampleMessage>,
}

/// What [`suggest`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Suggestions {
    /// Interactions read.
    pub interactions: usize,
    /// Messages an agent relabelled to another intent.
    pub intent_relabels: usize,
    /// Conversations an agent relabelled to another persona.
    pub persona_relabels: usize,
    /// Answers the customer said did not help (and no agent relabelled).
    pub not_helped: usize,
    /// Misses (no intent, or a clarifying question) whose next message matched an intent.
    pub rephrased: usize,
    pub unattributed: Unattributed,
    /// Sorted by kind, profile, action (additions first), support (largest first), term.
    pub suggestions: Vec<Suggestion>,
    pub min_support: usize,
}

/// True for a word that may be (part of) a suggested term: two or more characters, not only
/// digits, not a stopword.
pub fn is_content_word(word: &str) -> bool {
    word.chars().nth(1).is_some()
        && !word.chars().all(|c| c.is_ascii_digit())
        && !crate::text::is_stopword(word)
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
enum Source {
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
struct Doc {
    /// The interaction shown as its example.
    interaction: u64,
    text: String,
    terms: BTreeSet<String>,
    /// `(profile, keyword as written)` that fired on this axis.
    fired: BTreeSet<(String, String)>,
    /// What the bot said.
    logged: Option<String>,
    /// What it really is, as far as the store knows.
    truth: Option<String>,
    source: Source,
    /// Intents: the weight a single new keyword of `truth` would need for it to win here.
    needed_weight: Option<f64>,
}

/// A profile's keywords (and exclusions, which a new keyword must not repeat).
struct Profile<'a> {
    id: &'a str,
    keywords: &'a [Keyword],
    exclude: &'a [String],
    threshold: f64,
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
    i.route.kind == "fallback"
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
fn intent_docs(
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
            let miss = (logged.is_none() || i.route.kind == "clarify")
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
            } else if logged.is_some() && matches!(i.route.kind.as_str(), "answer" | "ticket") {
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
        None if matches!(next.route.kind.as_str(), "answer" | "ticket") => {
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
fn persona_docs(interactions: &[Interaction]) -> Vec<Doc> {
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

fn examples_of<'a>(docs: impl Iterator<Item = &'a Doc>, limit: usize) -> Vec<ExampleMessage> {
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
fn round_weight(w: f64) -> f64 {
    ((w * 10.0 - 1e-6).ceil() / 10.0).clamp(0.1, MAX_PROPOSED_WEIGHT)
}

/// Proposed weights never exceed this: a term that needs more is not one term's job.
const MAX_PROPOSED_WEIGHT: f64 = 3.0;

fn additions(
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

fn removals(
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

fn term_index(docs: &[Doc]) -> HashMap<&str, Vec<usize>> {
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, d) in docs.iter().enumerate() {
        for t in &d.terms {
            index.entry(t.as_str()).or_default().push(n);
        }
    }
    index
}

/// Mines keyword additions and removals from `interactions` (any order) for the profiles of
/// `catalog` that `options` selects. Every document counts as evidence, whatever the selection.
pub fn suggest(
    catalog: &Catalog,
    thresholds: &Thresholds,
    interactions: &[Interaction],
    options: &SuggestOptions,
) -> Result<Suggestions, SuggestError> {
    if let Some(id) = options
        .persona
        .as_ref()
        .filter(|p| catalog.persona(p).is_none())
    {
        return Err(SuggestError::UnknownProfile {
            kind: ProfileKind::Persona,
            id: id.clone(),
        });
    }
    if let Some(id) = options
        .intent
        .as_ref()
        .filter(|i| catalog.intent(i).is_none())
    {
        return Err(SuggestError::UnknownProfile {
            kind: ProfileKind::Intent,
            id: id.clone(),
        });
    }
    let everything = options.persona.is_none() && options.intent.is_none();
    let wanted = |kind: ProfileKind, id: &str| {
        everything
            || match kind {
                ProfileKind::Persona => options.persona.as_deref() == Some(id),
                ProfileKind::Intent => options.intent.as_deref() == Some(id),
            }
    };
    let intent_docs = intent_docs(catalog, thresholds, interactions);
    let persona_docs = persona_docs(interactions);
    let mut found = Suggestions {
        interactions: interactions.len(),
        min_support: options.min_support,
        ..Default::default()
    };
    let count = |docs: &[Doc], source: Source| docs.iter().filter(|d| d.source == source).count();
    found.intent_relabels = count(&intent_docs, Source::Relabelled);
    found.persona_relabels = count(&persona_docs, Source::Relabelled);
    found.not_helped = count(&intent_docs, Source::NotHelped);
    found.rephrased = count(&intent_docs, Source::Rephrased);
    found.unattributed = unattributed(&intent_docs, options.examples);

    for (kind, docs) in [
        (ProfileKind::Persona, &persona_docs),
        (ProfileKind::Intent, &intent_docs),
    ] {
        let index = term_index(docs);
        let profiles: Vec<Profile<'_>> = match kind {
            ProfileKind::Persona => catalog
                .personas
                .iter()
                .map(|p| Profile {
                    id: &p.id,
                    keywords: &p.keywords,
                    exclude: &[],
                    threshold: p.threshold.unwrap_or(thresholds.persona_threshold),
                })
                .collect(),
            ProfileKind::Intent => catalog
                .intents
                .iter()
                .map(|i| Profile {
                    id: &i.id,
                    keywords: &i.keywords,
                    exclude: &i.exclude,
                    threshold: i.threshold.unwrap_or(thresholds.intent_threshold),
                })
                .collect(),
        };
        for profile in profiles.iter().filter(|p| wanted(kind, p.id)) {
            let mut added = additions(kind, profile, docs, &index, options);
            if kind == ProfileKind::Persona {
                // No per-message scores to size it from: enough to pass the threshold alone.
                let to_pass = -(1.0 - profile.threshold).ln();
                for s in &mut added {
                    s.weight = round_weight(s.weight.max(to_pass));
                }
            }
            found.suggestions.extend(added);
            found
                .suggestions
                .extend(removals(kind, profile, docs, options));
        }
    }
    found.suggestions.sort_by(|a, b| {
        (a.kind, &a.profile, a.action)
            .cmp(&(b.kind, &b.profile, b.action))
            .then(b.support.total.cmp(&a.support.total))
            .then(a.term.cmp(&b.term))
    });
    Ok(found)
}

fn unattributed(docs: &[Doc], examples: usize) -> Unattributed {
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

/// One catalog file and its edited text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEdit {
    /// Relative to the catalog folder, with `/`: `intents/pricing.toml`.
    pub path: String,
    /// Where it was read from.
    pub source: PathBuf,
    pub before: String,
    pub after: String,
    /// Keys added (as written) and removed.
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

fn file_for<'a>(
    sources: &'a CatalogSources,
    kind: ProfileKind,
    id: &str,
) -> Option<&'a (PathBuf, String)> {
    let files = match kind {
        ProfileKind::Persona => &sources.personas,
        ProfileKind::Intent => &sources.intents,
    };
    files
        .iter()
        .find(|(path, _)| path.file_stem().is_some_and(|s| s == id))
}

/// Formats a proposed weight as TOML writes it (`1.5`, `2.0`).
fn weight_value(weight: f64) -> Item {
    toml_edit::value((weight * 10.0).round() / 10.0)
}

/// Removes `key` from `table`; a comment written on the lines above it moves to the key that
/// follows, so no comment is lost with the key.
fn remove_keeping_comments(table: &mut dyn TableLike, key: &str) -> bool {
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
    let Some(at) = keys.iter().position(|k| k == key) else {
        return false;
    };
    let leading = table
        .key(key)
        .and_then(|k| k.leaf_decor().prefix())
        .and_then(|p| p.as_str())
        .filter(|p| p.contains('#'))
        .map(str::to_string);
    table.remove(key);
    if let (Some(comment), Some(next)) = (leading, keys.get(at + 1)) {
        if let Some(mut next_key) = table.key_mut(next) {
            let own = next_key
                .leaf_decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string();
            next_key
                .leaf_decor_mut()
                .set_prefix(format!("{comment}{own}"));
        }
    }
    true
}

/// Applies the suggestions to the catalog's file texts: removals delete the key, additions
/// append `term = weight` to the profile's `[keywords]` table (quoted only when TOML needs
/// it). Everything else in the file is kept as written. Files with no change are left out.
pub fn edit_files(
    sources: &CatalogSources,
    suggestions: &[Suggestion],
) -> Result<Vec<FileEdit>, SuggestError> {
    let mut by_profile: BTreeMap<(ProfileKind, &str), Vec<&Suggestion>> = BTreeMap::new();
    for s in suggestions {
        by_profile.entry((s.kind, &s.profile)).or_default().push(s);
    }
    let mut edits = Vec::new();
    for ((kind, id), changes) in by_profile {
        let (path, before) = file_for(sources, kind, id).ok_or_else(|| SuggestError::NoFile {
            kind,
            id: id.to_string(),
        })?;
        let toml_error = |message: String| SuggestError::Toml {
            path: path.clone(),
            message,
        };
        let mut doc: DocumentMut = before.parse().map_err(|e| toml_error(format!("{e}")))?;
        let keywords = doc
            .entry("keywords")
            .or_insert_with(|| Item::Table(Table::new()))
            .as_table_like_mut()
            .ok_or_else(|| toml_error("`keywords` is not a table".into()))?;
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for s in changes.iter().filter(|s| s.action == Action::Remove) {
            if remove_keeping_comments(keywords, &s.term) {
                removed.push(s.term.clone());
            }
        }
        for s in changes.iter().filter(|s| s.action == Action::Add) {
            if keywords.get(&s.term).is_none() {
                keywords.insert(&s.term, weight_value(s.weight));
                added.push(s.term.clone());
            }
        }
        let after = doc.to_string();
        if after != *before {
            let name = path.file_name().map_or_else(
                || format!("{id}.toml"),
                |n| n.to_string_lossy().into_owned(),
            );
            edits.push(FileEdit {
                path: format!("{}/{name}", kind.folder()),
                source: path.clone(),
                before: before.clone(),
                after,
                added,
                removed,
            });
        }
    }
    Ok(edits)
}

/// The edits as one unified diff (`a/intents/x.toml` / `b/intents/x.toml`), which
/// `patch -p1` or `git apply` applies in the catalog folder. Empty when nothing changes.
pub fn render_diff(edits: &[FileEdit]) -> String {
    let mut out = String::new();
    for e in edits {
        let diff = similar::TextDiff::from_lines(&e.before, &e.after);
        let _ = write!(
            out,
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&format!("a/{}", e.path), &format!("b/{}", e.path))
        );
    }
    out
}

/// What the edited catalog would do to the logged messages, next to the current catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Prediction {
    /// Relabelled messages routed as the agent said, by the current catalog...
    pub intent_labels_now: LabelAgreement,
    /// ...and by the edited one.
    pub intent_labels_after: LabelAgreement,
    pub persona_labels_now: LabelAgreement,
    pub persona_labels_after: LabelAgreement,
    /// Messages replayed, and how many differ from the logged decision, now and after.
    pub replayed: usize,
    pub flipped_now: usize,
    pub flipped_after: usize,
    /// Logged misses (no intent) that would get an intent, now and after.
    pub misses_matched_now: usize,
    pub misses_matched_after: usize,
    /// The catalog's `[[examples]]` (what `personabot check` runs) that fail after the edits,
    /// as `path:line:col: message`.
    pub examples_failing_after: Vec<String>,
}

fn edited_sources(sources: &CatalogSources, edits: &[FileEdit]) -> CatalogSources {
    let mut edited = sources.clone();
    for (path, text) in edited.personas.iter_mut().chain(edited.intents.iter_mut()) {
        if let Some(e) = edits.iter().find(|e| &e.source == path) {
            text.clone_from(&e.after);
        }
    }
    edited
}

fn misses_matched(report: &replay::ReplayReport) -> usize {
    report
        .by_change
        .get("intent")
        .into_iter()
        .flatten()
        .filter(|(change, _)| change.starts_with("- -> "))
        .map(|(_, n)| n)
        .sum()
}

/// Replays `interactions` through the current catalog (`sources`) and the edited one, so the
/// effect of the edits is known before they are written. Fails if the edited catalog does not
/// load (which would be a bug here).
pub fn predict(
    sources: &CatalogSources,
    edits: &[FileEdit],
    teams: &BTreeMap<String, Team>,
    thresholds: &Thresholds,
    interactions: &[Interaction],
) -> Result<Prediction, SuggestError> {
    let run = |sources: CatalogSources| -> Result<_, SuggestError> {
        let catalog = catalog::load_from_sources(sources, teams)
            .map_err(|d| SuggestError::EditedCatalog(d.to_string()))?;
        let classifier = Classifier::new(&catalog).map_err(SuggestError::EditedCatalog)?;
        let report = replay::replay(&catalog, &classifier, thresholds, interactions, 0);
        let (_, failures) = crate::check::run_examples(&catalog, &classifier, thresholds);
        Ok((report, failures))
    };
    let (now, _) = run(sources.clone())?;
    let (after, failures) = run(edited_sources(sources, edits))?;
    Ok(Prediction {
        examples_failing_after: failures.into_iter().map(|f| f.message).collect(),
        replayed: after.replayed,
        flipped_now: now.flipped,
        flipped_after: after.flipped,
        misses_matched_now: misses_matched(&now),
        misses_matched_after: misses_matched(&after),
        intent_labels_now: now.intent_labels,
        intent_labels_after: after.intent_labels,
        persona_labels_now: now.persona_labels,
        persona_labels_after: after.persona_labels,
    })
}

/// Writes each edit over its file (through a temporary file and a rename), after checking the
/// file still holds the text the edit was made from.
pub fn write_edits(edits: &[FileEdit]) -> Result<(), SuggestError> {
    let write_error = |path: &Path, source| SuggestError::Write {
        path: path.to_path_buf(),
        source,
    };
    for e in edits {
        let current =
            std::fs::read_to_string(&e.source).map_err(|err| write_error(&e.source, err))?;
        if current != e.before {
            return Err(SuggestError::ChangedOnDisk(e.source.clone()));
        }
    }
    for e in edits {
        let mut temp = e.source.clone().into_os_string();
        temp.push(".suggest-tmp");
        let temp = PathBuf::from(temp);
        std::fs::write(&temp, &e.after).map_err(|err| write_error(&temp, err))?;
        std::fs::rename(&temp, &e.source).map_err(|err| write_error(&e.source, err))?;
    }
    Ok(())
}

fn quoted(text: &str, max_chars: usize) -> String {
    let cut: String = text.chars().take(max_chars).collect();
    if cut.len() < text.len() {
        format!("{:?}...", cut)
    } else {
        format!("{cut:?}")
    }
}

/// A weight as the catalog writes it: `1.0`, `0.75`.
fn show_weight(weight: f64) -> String {
    if weight.fract() == 0.0 {
        format!("{weight:.1}")
    } else {
        format!("{weight}")
    }
}

/// The suggestions, their support and the predicted effect, for the terminal.
pub fn render_summary(found: &Suggestions, prediction: Option<&Prediction>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "read {} interaction(s): {} intent relabel(s), {} persona relabel(s), {} not helped, {} rephrased miss(es), {} unattributed miss(es)",
        found.interactions,
        found.intent_relabels,
        found.persona_relabels,
        found.not_helped,
        found.rephrased,
        found.unattributed.messages
    );
    if found.suggestions.is_empty() {
        let _ = writeln!(
            out,
            "no suggestions (each needs at least {} supporting document(s))",
            found.min_support
        );
    }
    for s in &found.suggestions {
        let unit = match s.kind {
            ProfileKind::Intent => "message(s)",
            ProfileKind::Persona => "conversation(s)",
        };
        let mut sources = Vec::new();
        let (verb, counter) = match s.action {
            Action::Add => {
                sources.push(format!("relabelled here {}", s.support.relabelled));
                if s.support.rephrased > 0 {
                    sources.push(format!("rephrased misses {}", s.support.rephrased));
                }
                (
                    format!("add {:?} = {}", s.term, show_weight(s.weight)),
                    format!("found in {} {unit} of other profiles", s.support.counter),
                )
            }
            Action::Remove => {
                sources.push(format!("relabelled away {}", s.support.relabelled));
                if s.support.not_helped > 0 {
                    sources.push(format!("did not help {}", s.support.not_helped));
                }
                (
                    format!("remove {:?} (weight {})", s.term, show_weight(s.weight)),
                    format!("fired in {} correctly routed {unit}", s.support.counter),
                )
            }
        };
        let sources = sources.join(", ");
        let _ = writeln!(
            out,
            "{} {}: {verb}\n    support {} {unit} ({sources}); {counter}",
            s.kind, s.profile, s.support.total
        );
        for e in &s.examples {
            let _ = writeln!(out, "    #{} {}", e.interaction, quoted(&e.text, 160));
        }
    }
    let u = &found.unattributed;
    if u.messages > 0 {
        let terms: Vec<String> = u
            .top_terms
            .iter()
            .map(|t| format!("{} ({})", t.term, t.count))
            .collect();
        let _ = writeln!(
            out,
            "unattributed misses (no rephrasing to learn from): {}; top terms: {}",
            u.messages,
            terms.join(", ")
        );
    }
    if let Some(p) = prediction {
        for (axis, now, after) in [
            ("intent", &p.intent_labels_now, &p.intent_labels_after),
            ("persona", &p.persona_labels_now, &p.persona_labels_after),
        ] {
            if now.relabelled > 0 {
                let _ = writeln!(
                    out,
                    "predicted: {} {axis}-relabelled message(s) routed as the agent said: {} now, {} after",
                    now.relabelled, now.agreed_after, after.agreed_after
                );
            }
        }
        let _ = writeln!(
            out,
            "predicted: misses that get an intent: {} now, {} after; messages decided differently from the log: {} now, {} after (of {})",
            p.misses_matched_now, p.misses_matched_after, p.flipped_now, p.flipped_after, p.replayed
        );
        if !p.examples_failing_after.is_empty() {
            let _ = writeln!(
                out,
                "warning: {} catalog example(s) would fail `personabot check` after this change:",
                p.examples_failing_after.len()
            );
            for f in &p.examples_failing_after {
                let _ = writeln!(out, "    {f}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn interaction(
        id: u64,
        conversation: &str,
        text: &str,
        intent: Option<&str>,
        kind: &str,
    ) -> Interaction {
        Interaction {
            id,
            at_ms: id,
            channel: "test".into(),
            conversation: conversation.into(),
            user: "u".into(),
            text: text.into(),
            persona: None,
            intent: intent.map(|i| ScoredId {
                id: i.into(),
                confidence: 0.7,
                score: 1.2,
            }),
            persona_scores: Vec::new(),
            intent_scores: intent
                .map(|i| ScoredId {
                    id: i.into(),
                    confidence: 0.7,
                    score: 1.2,
                })
                .into_iter()
                .collect(),
            evidence: Vec::new(),
            route: RouteRecord {
                kind: kind.into(),
                team: None,
                answer: None,
                reason: String::new(),
            },
            reply: None,
            ticket: None,
            feedback: None,
            label: None,
            delivery: None,
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
        };
        let support = Team {
            name: "Support".into(),
            description: String::new(),
            response_time: String::new(),
            hours: String::new(),
            timezone: String::new(),
            discord_channel: None,
            discord_role: None,
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

    #[test]
    fn edits_keep_comments_and_quote_only_when_needed() {
        let before = "name = \"Pricing\" # the name\n\n[keywords]\n# money words\nprice = 1.2 # main\n# soft\nplan = 0.5\ncost = 1.0\n\n# answers below\n[answers]\ndefault = \"x\"\n";
        let sources = CatalogSources {
            personas: Vec::new(),
            intents: vec![(PathBuf::from("cat/intents/pricing.toml"), before.into())],
            intents_dir: PathBuf::from("cat/intents"),
        };
        let change = |action, term: &str, weight| Suggestion {
            kind: ProfileKind::Intent,
            profile: "pricing".into(),
            action,
            term: term.into(),
            weight,
            support: Support::default(),
            examples: Vec::new(),
        };
        let edits = edit_files(
            &sources,
            &[
                change(Action::Remove, "plan", 0.5),
                change(Action::Add, "paypal", 1.5),
                change(Action::Add, "wire fee", 2.0),
            ],
        )
        .unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].path, "intents/pricing.toml");
        assert_eq!(
            edits[0].after,
            "name = \"Pricing\" # the name\n\n[keywords]\n# money words\nprice = 1.2 # main\n# soft\ncost = 1.0\npaypal = 1.5\n\"wire fee\" = 2.0\n\n# answers below\n[answers]\ndefault = \"x\"\n"
        );
        let diff = render_diff(&edits);
        assert!(
            diff.starts_with("--- a/intents/pricing.toml\n+++ b/intents/pricing.toml\n"),
            "{diff}"
        );
        assert!(
            diff.contains("\n-plan = 0.5\n") && diff.contains("\n+\"wire fee\" = 2.0\n"),
            "{diff}"
        );
        // Nothing to change: no edit, no diff.
        assert!(edit_files(&sources, &[]).unwrap().is_empty());
    }
}
