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
//!
//! Answers shown in several texts (A/B variants, `route.answer` like `pricing/default#2`) are
//! compared too: a variant that helps less than the leading variant of the same answer with
//! 95% confidence (as `personabot review` judges it) is proposed for retirement, and the edit
//! removes its text from the intent's `[answers]` array.

use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;

use crate::catalog::Catalog;
use crate::core::route::Thresholds;
use crate::store::Interaction;

mod edit;
mod evidence;
mod mine;
mod predict;
mod render;
mod variants;

pub use edit::{edit_files, render_diff, write_edits, FileEdit};
pub use evidence::{candidate_terms, is_content_word};
pub use predict::{predict, Prediction};
pub use render::render_summary;
pub use variants::Retirement;

use evidence::{intent_docs, persona_docs, term_index, unattributed, Doc, Source};
use mine::{additions, removals, round_weight, Profile};

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
    /// Answer variants that lost to another variant of the same answer: texts to retire.
    pub retire: Vec<Retirement>,
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
    // --persona selects that persona's answer texts, --intent that intent's.
    found.retire = variants::retirements(catalog, interactions, |intent, key| {
        everything || wanted(ProfileKind::Intent, intent) || wanted(ProfileKind::Persona, key)
    });
    found.suggestions.sort_by(|a, b| {
        (a.kind, &a.profile, a.action)
            .cmp(&(b.kind, &b.profile, b.action))
            .then(b.support.total.cmp(&a.support.total))
            .then(a.term.cmp(&b.term))
    });
    Ok(found)
}
