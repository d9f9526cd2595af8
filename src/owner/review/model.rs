//! The review's report types: what `personabot review --json` and `/v1/review` print.

use std::collections::BTreeMap;

use serde::Serialize;

pub use super::stats::{Interval, Verdict};

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
    /// Of those, the messages of the persona filter (all of them without a filter): the count
    /// the report is about.
    pub selected_messages: usize,
    /// Start dates (Mondays, UTC, `YYYY-MM-DD`) of the weeks in `PersonaReview::weekly`.
    pub weeks: Vec<String>,
    /// Busiest first; `-` holds the messages without a persona.
    pub personas: Vec<PersonaReview>,
    pub unclear: UnclearMessages,
    pub silent_keywords: SilentKeywords,
    /// Persona keywords that fired for more than one persona, most messages first.
    pub shared_keywords: Vec<SharedKeyword>,
    pub relabels: Relabels,
    /// Self-help answers per intent (of the selected personas): how they were rated and how
    /// many still ended in a ticket. Most answers first.
    pub answers_by_intent: Vec<IntentAnswers>,
    /// Tickets opened per team (of the selected personas), most first.
    pub teams: Vec<TeamTickets>,
    /// Answers with several variants (`<intent>/<key>#<n>`), each variant's counts, and the
    /// variants that help more than others with 95% confidence.
    pub experiments: Vec<AnswerExperiment>,
    /// How the teams served the tickets, per team and per persona (response times, overdue,
    /// customer ratings).
    pub service: super::service::ServiceReview,
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
    /// Decided messages answered from the catalog, greetings and thanks included.
    pub answers: usize,
    /// Of those, the self-help answers: those that offered "That helped" / "Talk to a human".
    pub self_help_answers: usize,
    /// Self-help answers the customer marked "That helped".
    pub helped: usize,
    /// Self-help answers the customer said did not help ("Talk to a human", "that didn't help").
    pub not_helped: usize,
    /// Self-help answers followed by a ticket on the same intent without a "not helped" rating.
    pub escalated_after_answer: usize,
    /// Tickets opened for this persona.
    pub tickets: usize,
    /// Of those, the tickets marked `"priority": "high"` (a frustrated customer).
    pub high_priority: usize,
    pub clarify: usize,
    pub fallback: usize,
    /// `helped / self_help_answers` (None without self-help answers).
    pub resolution_rate: Option<f64>,
    /// `escalated_after_answer / self_help_answers`.
    pub escalation_after_answer_rate: Option<f64>,
    /// `tickets / decided`.
    pub escalation_rate: Option<f64>,
    pub clarify_rate: Option<f64>,
    pub fallback_rate: Option<f64>,
    /// Most frequent intents of the persona's decided messages (`-`: no intent).
    pub top_intents: Vec<Count>,
    /// The self-help answer variants shown to this persona, most shown first.
    pub variants: Vec<VariantReview>,
}

/// One intent's self-help answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentAnswers {
    pub intent: String,
    /// Self-help answers shown (those that offered the buttons).
    pub answers: usize,
    pub helped: usize,
    pub not_helped: usize,
    /// Answers followed by a ticket on the same intent without a "not helped" rating.
    pub escalated_after_answer: usize,
    /// `helped / answers`.
    pub resolution_rate: Option<f64>,
    /// `not_helped / answers`.
    pub not_helped_rate: Option<f64>,
    /// `escalated_after_answer / answers`.
    pub escalation_after_answer_rate: Option<f64>,
}

/// One team's tickets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamTickets {
    pub team: String,
    pub tickets: usize,
    /// Tickets marked `"priority": "high"`.
    pub high_priority: usize,
}

/// One answer shown in several variants, compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerExperiment {
    /// The answer without the variant number: `pricing/startup-founder`.
    pub answer: String,
    /// Its variants (all personas of the selection), in variant order.
    pub variants: Vec<VariantReview>,
    /// Variants that help more than another with 95% confidence (a two-proportion z-test of
    /// the helped rates against the leading variant); empty until the data says so.
    pub better: Vec<Verdict>,
}

/// An id (or term) and how many messages had it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub id: String,
    pub messages: usize,
    /// Of the messages it is counted among.
    pub share: f64,
}

/// How one answer variant (`<intent>/<persona|default>`, `#<n>` for one of several texts)
/// performed as a self-help answer (`shown` counts only answers that offered the buttons).
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
    /// The 95% Wilson score interval of `resolution_rate`.
    pub interval: Interval,
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
