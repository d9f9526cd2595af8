//! The routing decision, pure: from a message's scores, the conversation so far and the catalog,
//! choose a self-help answer, a ticket for a team, a clarifying question or a fallback.

use serde::{Deserialize, Serialize};

use crate::core::classify::{Classification, MatchOptions};
use crate::core::conversation::{ConversationState, OpenTicket};
use crate::core::model::Catalog;

mod answers;
mod choice;
mod decision;
mod reply;
#[cfg(test)]
mod scope_tests;
#[cfg(test)]
mod tests;
pub mod tone;

pub use answers::{
    answer_choice, answer_text, choose_answer, choose_part, sent_reply, stored_reply,
    variant_index, AnswerChoice, EXAMPLE_CONVERSATION,
};
pub use decision::{advance, choose_persona, decide, force_ticket};
pub use reply::reply_text;

/// Thresholds and limits for picking persona and intent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Minimum intent confidence, unless the intent sets its own.
    pub intent_threshold: f64,
    /// Minimum persona confidence, unless the persona sets its own.
    pub persona_threshold: f64,
    /// Minimum relative lead of the best candidate over the runner-up, (s1 - s2) / s1. Below it,
    /// two intents are ambiguous (clarify) and two personas are undecided (no persona).
    pub margin: f64,
    /// Consecutive misses before a fallback becomes a ticket for `support`.
    pub max_misses: u32,
    /// A keyword also matches other forms of its words ("crash": crashes, crashed, crashing).
    pub inflections: bool,
    /// A message word of 5 letters or more within one edit of a catalog word matches it.
    pub typos: bool,
    /// A misspelt hit counts this share of its term's weight (0 to 1).
    pub typo_weight: f64,
}

impl Thresholds {
    /// How the classifier matches terms under these settings.
    pub fn match_options(&self) -> MatchOptions {
        MatchOptions {
            inflections: self.inflections,
            typos: self.typos,
            typo_weight: self.typo_weight as f32,
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            intent_threshold: 0.5,
            persona_threshold: 0.5,
            margin: 0.15,
            max_misses: 2,
            inflections: true,
            typos: true,
            typo_weight: f64::from(MatchOptions::default().typo_weight),
        }
    }
}

/// The team that receives tickets nothing else claims.
pub(crate) const FALLBACK_TEAM: &str = "support";

/// The route kinds of the decision JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    Answer,
    Ticket,
    Clarify,
    Fallback,
}

impl DecisionKind {
    /// Every kind, in the order of the decision JSON's documentation.
    pub const ALL: [DecisionKind; 4] = [
        DecisionKind::Answer,
        DecisionKind::Ticket,
        DecisionKind::Clarify,
        DecisionKind::Fallback,
    ];

    /// The kind named `answer`, `ticket`, `clarify` or `fallback`.
    pub fn parse(name: &str) -> Option<DecisionKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Ticket => "ticket",
            Self::Clarify => "clarify",
            Self::Fallback => "fallback",
        }
    }
}

impl std::fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored route kind compares with its name, as logs and exports write it.
impl PartialEq<str> for DecisionKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DecisionKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for DecisionKind {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// A chosen persona or intent.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub index: u32,
    pub id: String,
    pub confidence: f64,
    /// Relative lead over the runner-up, in 0..=1 (1 when there is none).
    pub margin: f64,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub persona: Option<Pick>,
    pub intent: Option<Pick>,
    pub kind: DecisionKind,
    pub team: Option<String>,
    /// The answer shown: `<intent>/<persona|default>`, `...#N` for the N-th text of an A/B
    /// test, `.../<part>` for a focused part (see [`choose_answer`]).
    pub answer: Option<String>,
    /// The answer text for the variant.
    pub answer_text: Option<String>,
    /// Intent ids offered when clarifying.
    pub choices: Vec<String>,
    /// Why this route, in words an agent reads on the ticket.
    pub reason: String,
    /// The intent a ticket is about (for an escalation: the conversation's intent).
    pub subject_intent: Option<String>,
    /// A ticket already owns the conversation: the message joins it instead of opening one.
    pub joins_ticket: Option<OpenTicket>,
    /// The message said who the customer is but not what they want: a fallback that is not a
    /// miss.
    pub persona_only: bool,
    /// The answer is self-help the customer can rate (its intent has `feedback` on); greetings,
    /// thanks and confirmations are not.
    pub self_help: bool,
    /// The message sounds frustrated ([`tone::frustrated`]): the reply opens with an apology,
    /// and the ticket it opens or joins is `high` priority.
    pub frustrated: bool,
    /// A new ticket opened for another team while this ticket stays open (one ticket per need):
    /// the reply names both.
    pub beside: Option<OpenTicket>,
    /// The answer was already shown in the conversation: `answer_text` is a short pointer to
    /// it, and the reply offers a person only.
    pub repeat: bool,
}

/// The buttons under a self-help answer: "That helped" and "Talk to a human".
pub const FEEDBACK_ACTIONS: &[&str] = &["helped", "human"];

/// The button under a pointer to an answer already shown: "Talk to a human".
pub const REPEAT_ACTIONS: &[&str] = &["human"];

impl Decision {
    /// A self-help answer the customer can rate: it gets the "That helped" / "Talk to a human"
    /// buttons on every channel.
    pub(crate) fn offers_feedback(&self) -> bool {
        self.kind == DecisionKind::Answer
            && self.self_help
            && self.answer_text.is_some()
            && !self.repeat
    }

    /// The buttons the reply offers (the turn JSON's `"actions"`): [`FEEDBACK_ACTIONS`] under a
    /// self-help answer, none under greetings, thanks, confirmations, handoffs and fallbacks.
    pub fn actions(&self) -> &'static [&'static str] {
        if self.offers_feedback() {
            FEEDBACK_ACTIONS
        } else if self.repeat {
            REPEAT_ACTIONS
        } else {
            &[]
        }
    }
}

/// Classifies and routes one message as the first of a new conversation (no logging):
/// what `personabot classify` shows.
pub fn run_single(
    catalog: &Catalog,
    thresholds: &Thresholds,
    classifier: &crate::core::classify::Classifier,
    text_in: &str,
) -> (Decision, Classification) {
    let classification = classifier.classify(text_in);
    let state = ConversationState::default();
    let mut decision = decide(catalog, thresholds, text_in, &classification, &state);
    choose_answer(
        catalog,
        &mut decision,
        text_in,
        &classification,
        &state,
        EXAMPLE_CONVERSATION,
    );
    (decision, classification)
}
