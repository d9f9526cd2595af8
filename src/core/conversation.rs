//! Per-conversation state: the sticky persona evidence, what the bot is waiting for, and who
//! owns the conversation (the bot, or a human team once a ticket is open).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who wrote a transcript line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum Actor {
    Customer,
    Bot,
    Agent(String),
}

/// One line of a ticket transcript (redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub at_ms: u64,
    pub from: Actor,
    pub text: String,
    /// Who wrote a customer line: the keyed hash of their user id (a conversation may have
    /// several customers), so forgetting them removes it from every transcript. `None` for bot
    /// and agent lines, and for lines stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// The self-help answer the customer has not yet rated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwaitingFeedback {
    pub interaction: u64,
    pub intent: String,
    pub variant: String,
}

/// The ticket that owns the conversation until it is resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenTicket {
    pub id: u64,
    pub team: String,
    /// The agent who claimed it; while set, the bot stays silent.
    pub claimed_by: Option<String>,
}

/// State carried between the turns of one conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationState {
    /// Accumulated persona scores over all turns, by persona id.
    pub persona_scores: BTreeMap<String, f32>,
    /// The last intent routed in this conversation (not counting escalations).
    pub last_intent: Option<String>,
    /// Consecutive messages with no intent past its threshold.
    pub misses: u32,
    /// Intent ids offered in a clarifying question, awaiting the customer's choice.
    pub pending_choices: Vec<String>,
    pub awaiting_feedback: Option<AwaitingFeedback>,
    pub open_ticket: Option<OpenTicket>,
    /// The most recent ticket of the conversation, open or not (so a customer still sees the
    /// last agent reply after the ticket is resolved).
    pub last_ticket: Option<u64>,
    /// Customer messages seen.
    pub turns: u32,
    /// The last lines of the conversation (redacted), handed to a ticket as its transcript.
    pub recent: Vec<TranscriptLine>,
    /// When the conversation last changed (ms since the epoch), for retention.
    pub updated_ms: u64,
    /// The self-help answers shown (`route.answer` names), oldest first, at most
    /// [`SHOWN_ANSWERS`]: one asked for again gets a pointer instead of the whole text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shown_answers: Vec<String>,
}

/// How many shown answers a conversation remembers.
pub const SHOWN_ANSWERS: usize = 8;

/// How many transcript lines a conversation keeps for the next ticket.
pub const RECENT_LINES: usize = 20;

/// Upper bound on an accumulated persona score, so one very long conversation cannot pin a
/// persona forever.
pub(crate) const MAX_PERSONA_SCORE: f32 = 20.0;

impl ConversationState {
    /// Adds one message's persona scores (by id) to the accumulated evidence.
    pub(crate) fn accumulate_personas<'a>(
        &mut self,
        scores: impl IntoIterator<Item = (&'a str, f32)>,
    ) {
        for (id, score) in scores {
            let total = self.persona_scores.entry(id.to_string()).or_insert(0.0);
            *total = (*total + score).clamp(-MAX_PERSONA_SCORE, MAX_PERSONA_SCORE);
        }
    }
}

impl ConversationState {
    /// Remembers that the answer `name` was shown, keeping the last [`SHOWN_ANSWERS`].
    pub(crate) fn note_shown(&mut self, name: &str) {
        self.shown_answers.retain(|n| n != name);
        self.shown_answers.push(name.to_string());
        if self.shown_answers.len() > SHOWN_ANSWERS {
            let extra = self.shown_answers.len() - SHOWN_ANSWERS;
            self.shown_answers.drain(..extra);
        }
    }

    /// Appends a transcript line, keeping the last [`RECENT_LINES`].
    pub(crate) fn remember(&mut self, line: TranscriptLine) {
        self.recent.push(line);
        if self.recent.len() > RECENT_LINES {
            let extra = self.recent.len() - RECENT_LINES;
            self.recent.drain(..extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persona_evidence_accumulates_and_is_capped() {
        let mut state = ConversationState::default();
        state.accumulate_personas([("startup-founder", 1.5)]);
        state.accumulate_personas([("startup-founder", 1.0), ("investor", 0.5)]);
        assert_eq!(state.persona_scores["startup-founder"], 2.5);
        assert_eq!(state.persona_scores["investor"], 0.5);
        for _ in 0..100 {
            state.accumulate_personas([("investor", 3.0)]);
        }
        assert_eq!(state.persona_scores["investor"], MAX_PERSONA_SCORE);
    }

    #[test]
    fn shown_answers_are_bounded_and_kept_once() {
        let mut state = ConversationState::default();
        for n in 0..SHOWN_ANSWERS + 3 {
            state.note_shown(&format!("a/{n}"));
        }
        state.note_shown("a/5");
        assert_eq!(state.shown_answers.len(), SHOWN_ANSWERS);
        assert_eq!(state.shown_answers.first().map(String::as_str), Some("a/3"));
        assert_eq!(state.shown_answers.last().map(String::as_str), Some("a/5"));
        assert_eq!(
            state.shown_answers.iter().filter(|n| *n == "a/5").count(),
            1
        );
    }

    #[test]
    fn old_state_without_new_fields_still_loads() {
        let state: ConversationState = serde_json::from_str(r#"{"misses":1}"#).unwrap();
        assert_eq!(state.misses, 1);
        assert!(state.open_ticket.is_none());
    }
}
