//! Pure turn planning: from the conversation as read, the message, the rules, one clock value
//! and the ids the store hands out, what a turn writes, replies and announces. No store, no
//! lock, no clock of its own: the [pipeline](super::pipeline) reads, plans, writes and emits.

use std::sync::Arc;

use crate::catalog::settings::Settings;
use crate::catalog::Catalog;
use crate::core::classify::{confidence, Classification, Classifier, Score, Target};
use crate::core::conversation::ConversationState;
use crate::core::route::{Decision, DecisionKind, Pick, Thresholds};
use crate::store::{EvidenceRecord, ScoredId, Ticket};

mod contact;
mod feedback;
mod message;
#[cfg(test)]
mod tests;

pub(crate) use feedback::{plan_feedback, FeedbackInput, FeedbackStep, FeedbackWrite, Rated};
pub use message::reply_as_sent;
pub(crate) use message::{plan_turn, StagedTurn, TextWork, TurnInput, TurnPlan, TurnStep};

/// A customer message from any channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// terminal | http | discord | slack | telegram ...
    pub channel: String,
    /// The conversation (thread, DM, chat session) the message belongs to.
    pub conversation: String,
    /// The author's id on that channel (hashed before storage).
    pub user: String,
    pub text: String,
}

/// What the pipeline did with a message.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub decision: Decision,
    /// The text to send back; `None` means stay silent (an agent owns the conversation).
    pub reply: Option<String>,
    /// The ticket opened or joined.
    pub ticket: Option<Ticket>,
    /// The stored interaction, if the message was stored.
    pub interaction: Option<u64>,
    /// The message was cut to the length limit.
    pub truncated: bool,
    /// The message's own scores and evidence (empty for button presses).
    pub classification: Classification,
    /// The catalog the turn was decided on: `decision` and `classification` index into it,
    /// even when the catalog was reloaded meanwhile.
    pub catalog: Arc<Catalog>,
}

/// What happened to tickets, for channels that notify agents or deliver agent replies.
#[derive(Debug, Clone)]
pub enum PipelineEvent {
    /// A ticket was opened (on any channel).
    TicketOpened(Ticket),
    /// A ticket was claimed, resolved or relabelled.
    TicketUpdated(Ticket),
    /// A customer wrote in a conversation a ticket owns (`text` is redacted).
    CustomerMessage { ticket: u64, text: String },
    /// An agent replied; the ticket's channel delivers `text` to the customer.
    AgentReply {
        ticket: Ticket,
        agent: String,
        text: String,
    },
    /// A ticket was assigned (by an agent, or round-robin) to `ticket.assigned_to`.
    TicketAssigned(Ticket),
    /// An agent wrote an internal note: for agents only, never delivered to the customer.
    TicketNote {
        ticket: Ticket,
        agent: String,
        text: String,
        /// Where it was written: `discord`, `slack`, `http` (the desk and the API) or `cli`.
        from: &'static str,
    },
    /// The customer rated a resolved ticket ("How did we do?"): `ticket.csat`.
    TicketRated(Ticket),
    /// A customer's frustration raised an open ticket to high priority.
    TicketRaised(Ticket),
}

/// How a message is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Route as the catalog says.
    Route,
    /// The customer asked for a person outright (e.g. `/ticket`): always a ticket, for the team of
    /// the message's intent (else `support`).
    Ticket,
}

/// What a turn decides with: the catalog, its compiled matcher and the settings that shape
/// decisions. Swapped whole by [`Pipeline::reload`](super::pipeline::Pipeline::reload); each
/// turn works on the snapshot it started with, so a reload never mixes two catalogs in one
/// decision.
#[derive(Clone)]
pub struct Rules {
    pub catalog: Arc<Catalog>,
    pub classifier: Arc<Classifier>,
    pub thresholds: Thresholds,
    /// Longer messages are cut to this many characters.
    pub max_chars: usize,
}

impl Rules {
    pub fn new(catalog: Arc<Catalog>, classifier: Arc<Classifier>, settings: &Settings) -> Rules {
        Rules {
            catalog,
            classifier,
            thresholds: settings.classify,
            max_chars: settings.limits.max_message_chars,
        }
    }
}

/// The id form used in evidence targets.
pub fn target_name(catalog: &Catalog, target: Target) -> String {
    match target {
        Target::Persona(i) => format!("persona:{}", catalog.personas[i as usize].id),
        Target::Intent(i) => format!("intent:{}", catalog.intents[i as usize].id),
        Target::Veto(i) => format!("exclude:{}", catalog.intents[i as usize].id),
    }
}

/// Cuts `text` to at most `max` characters, on a character boundary.
pub fn truncate_chars(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    }
}

/// The polite answer to an empty message, which is not a turn (nothing is stored); `None` when
/// the message has something to decide on.
pub(crate) fn empty_message(rules: &Rules, text: &str) -> Option<Outcome> {
    let (text, truncated) = truncate_chars(text.trim(), rules.max_chars);
    if !text.chars().all(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(Outcome {
        reply: Some(crate::core::wording::EMPTY_MESSAGE.into()),
        decision: empty_decision(),
        ticket: None,
        interaction: None,
        truncated,
        classification: Classification::default(),
        catalog: rules.catalog.clone(),
    })
}

/// The clock value as the time business hours are checked at.
fn timestamp(now_ms: u64) -> jiff::Timestamp {
    let ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::MAX)
}

/// The turn's persona with the score its confidence came from: the conversation's evidence for
/// that persona from earlier turns (accumulated and capped) plus this message's own score, summed
/// as [`choose_persona`](crate::core::route::choose_persona) sums them. So `confidence` is
/// always `1 - e^-score`, also when the persona was said several turns ago.
fn scored_persona(
    pick: &Option<Pick>,
    classification: &Classification,
    state: &ConversationState,
) -> Option<ScoredId> {
    pick.as_ref().map(|p| {
        let past = state.persona_scores.get(&p.id).copied().unwrap_or(0.0);
        let now: f32 = classification
            .personas
            .iter()
            .filter(|s| s.index == p.index)
            .map(|s| s.score)
            .sum();
        ScoredId {
            id: p.id.clone(),
            confidence: p.confidence,
            score: past + now,
        }
    })
}

/// The turn's intent with this message's score for it. An intent the customer chose (a button,
/// an answer to a clarifying question) has confidence 1.0 and keeps whatever score the message's
/// own words gave it, often 0.0.
fn scored_intent(pick: &Option<Pick>, classification: &Classification) -> Option<ScoredId> {
    pick.as_ref().map(|p| ScoredId {
        id: p.id.clone(),
        confidence: p.confidence,
        score: classification
            .intents
            .iter()
            .find(|s| s.index == p.index)
            .map_or(0.0, |s| s.score),
    })
}

fn scored_list(scores: &[Score], id: impl Fn(u32) -> String) -> Vec<ScoredId> {
    scores
        .iter()
        .map(|s| ScoredId {
            id: id(s.index),
            confidence: confidence(s.score),
            score: s.score,
        })
        .collect()
}

fn evidence(catalog: &Catalog, classification: &Classification) -> Vec<EvidenceRecord> {
    classification
        .evidence
        .iter()
        .map(|e| EvidenceRecord {
            term: e.term.clone(),
            target: target_name(catalog, e.target),
            weight: e.weight,
        })
        .collect()
}

fn classification_score(c: &Classification, catalog: &Catalog, intent: &str) -> Option<ScoredId> {
    c.intents
        .iter()
        .find(|s| catalog.intents[s.index as usize].id == intent)
        .map(|s| ScoredId {
            id: intent.to_string(),
            confidence: confidence(s.score),
            score: s.score,
        })
}

/// A pick the customer made by pressing a button (or that an earlier turn stored).
fn certain(intent: &str) -> Pick {
    Pick {
        index: 0,
        id: intent.to_string(),
        confidence: 1.0,
        margin: 1.0,
    }
}

fn empty_decision() -> Decision {
    Decision {
        persona: None,
        intent: None,
        kind: DecisionKind::Fallback,
        team: None,
        answer: None,
        answer_text: None,
        choices: Vec::new(),
        reason: "empty message".into(),
        subject_intent: None,
        joins_ticket: None,
        persona_only: false,
        self_help: false,
        frustrated: false,
        beside: None,
        repeat: false,
    }
}
