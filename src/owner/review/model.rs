//! The review's report types: what `personabot review --json` and `/v1/review` print.

use std::collections::BTreeMap;

use serde::Serialize;

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Review {
    pub generated_ms: u64,
    /// The window: `since_ms` (None: all the evidence kept) to `until_ms`.
    pub since_ms: Option<u64>,
    pub until_ms: u64,
    /// The persona filter, if any.
    pub persona_filter: Option<String>,
    /// Messages in the window (all personas; the denominator of each persona's share).
    pub messages: usize,
    /// Start dates (Mondays, UTC, `YYYY-MM-DD`) of the weeks in `PersonaReview::weekly`.
    pub weeks: Vec<String>,
    /// Busiest first; `-` holds the messages without a persona.
    pub personas: Vec<PersonaReview>,
    pub unclear: UnclearMessages,
    pub silent_keywords: SilentKeywords,
    /// Persona keywords that fired for more than one persona, most messages first.
    pub shared_keywords: Vec<SharedKeyword>,
    pub relabels: Relabels,
}

/// One persona's share of the traffic and how it was served.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PersonaReview {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub messages: usize,
    /// `messages` over all messages in the window.
    pub share: f64,
    /// Messages per week, aligned with `Review::weeks`.
    pub weekly: Vec<usize>,
    /// Messages the bot decided (not added to an already open ticket).
    pub decided: usize,
    pub answers: usize,
    pub helped: usize,
    pub not_helped: usize,
    /// Tickets opened for this persona.
    pub tickets: usize,
    pub clarify: usize,
    pub fallback: usize,
    /// `helped / answers` (None without answers).
    pub resolution_rate: Option<f64>,
    /// `tickets / decided`.
    pub escalation_rate: Option<f64>,
    pub clarify_rate: Option<f64>,
    pub fallback_rate: Option<f64>,
    /// Most frequent intents of the persona's decided messages (`-`: no intent).
    pub top_intents: Vec<Count>,
    /// The answer variants shown to this persona, most shown first.
    pub variants: Vec<VariantReview>,
}

/// An id (or term) and how many messages had it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub id: String,
    pub messages: usize,
    /// Of the messages it is counted among.
    pub share: f64,
}

/// How one answer variant (`<intent>/<persona|default>`) performed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantReview {
    pub variant: String,
    pub shown: usize,
    pub helped: usize,
    pub not_helped: usize,
    /// Shown and not rated.
    pub unrated: usize,
    /// `helped / shown`.
    pub resolution_rate: f64,
    /// `helped / (helped + not_helped)` (None when nobody rated it).
    pub rated_help_rate: Option<f64>,
}

/// The messages the catalog did not understand well, and the words in them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UnclearMessages {
    /// Decided messages in the window (the denominator).
    pub decided: usize,
    /// No intent, routed to the fallback (or its ticket after repeated misses).
    pub unmatched: usize,
    /// A clarifying question (two intents too close).
    pub clarify: usize,
    /// An intent below the low-confidence line.
    pub low_confidence: usize,
    pub low_confidence_line: f64,
    /// Most frequent words and two-word phrases (stopwords left out), with the profiles that
    /// already have the term.
    pub terms: Vec<UnclearTerm>,
    /// A few of the messages, newest first.
    pub examples: Vec<String>,
}

/// A term of the unclear messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnclearTerm {
    pub term: String,
    pub messages: usize,
    /// Profiles (`persona:ID` / `intent:ID`) that already list it as a keyword.
    pub in_profiles: Vec<String>,
    pub examples: Vec<String>,
}

/// Keywords with no hit in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SilentKeywords {
    /// Keywords looked at.
    pub keywords: usize,
    /// Of those, how many never fired.
    pub silent: usize,
    /// Per profile (`persona:ID` / `intent:ID`), in catalog order.
    pub profiles: Vec<SilentProfile>,
}

/// One profile's silent keywords.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilentProfile {
    pub profile: String,
    pub keywords: usize,
    pub silent: Vec<String>,
}

/// A term that fired for several personas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedKeyword {
    pub term: String,
    /// Messages it fired in, per persona.
    pub personas: BTreeMap<String, usize>,
    /// Messages it fired in (any persona).
    pub messages: usize,
}

/// Agent corrections, from what the bot said to what the agent said.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Relabels {
    /// Messages carrying an agent label.
    pub labelled: usize,
    /// Labels that agreed with the bot on the labelled axes.
    pub confirmed: usize,
    /// Intent corrections, most frequent first.
    pub intent: Vec<Relabel>,
    /// Persona corrections, most frequent first.
    pub persona: Vec<Relabel>,
}

/// One kind of correction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relabel {
    pub from: String,
    pub to: String,
    pub messages: usize,
    pub examples: Vec<String>,
}
