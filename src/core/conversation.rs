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
    /// Earlier tickets still open beside `open_ticket` (one ticket per need), oldest first.
    /// `open_ticket` is always the most recent open one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_tickets: Vec<OpenTicket>,
    /// The customer sounded frustrated in this conversation: every ticket it opens is `high`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub frustrated: bool,
    /// The contact question, once asked, and where the answer went.
    #[serde(skip_serializing_if = "ContactState::is_empty")]
    pub contact: ContactState,
    /// The self-help answers shown (`route.answer` names), oldest first, at most
    /// [`SHOWN_ANSWERS`]: one asked for again gets a pointer instead of the whole text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shown_answers: Vec<String>,
}

/// The optional email question on a web handoff: asked at most once per conversation; the
/// email itself lives only on tickets (so `forget` and retention take it with them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactState {
    /// The bot asked for an email for this ticket: the next message may be the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<u64>,
    /// The question was asked in this conversation: it is never asked again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub asked: bool,
    /// The ticket holding the email the customer gave; later tickets copy it from there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u64>,
}

impl ContactState {
    fn is_empty(&self) -> bool {
        *self == ContactState::default()
    }
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
    /// Every open ticket, the most recent first.
    pub fn open_tickets(&self) -> impl Iterator<Item = &OpenTicket> {
        self.open_ticket
            .iter()
            .chain(self.other_tickets.iter().rev())
    }

    /// The most recent open ticket of `team`.
    pub fn open_ticket_of(&self, team: &str) -> Option<&OpenTicket> {
        self.open_tickets().find(|o| o.team == team)
    }

    /// Records a newly opened ticket as the most recent; the one before stays open beside it.
    pub fn open(&mut self, ticket: OpenTicket) {
        if let Some(before) = self.open_ticket.replace(ticket) {
            self.other_tickets.push(before);
        }
    }

    /// Forgets the open ticket `id` (resolved, forgotten or purged): the most recent of the
    /// others, if any, becomes `open_ticket`. Whether it was open here.
    pub fn release(&mut self, id: u64) -> bool {
        if self.open_ticket.as_ref().is_some_and(|o| o.id == id) {
            self.open_ticket = self.other_tickets.pop();
            return true;
        }
        let before = self.other_tickets.len();
        self.other_tickets.retain(|o| o.id != id);
        before != self.other_tickets.len()
    }

    /// Updates who claimed the open ticket `id`; whether it was open here.
    pub fn set_claimed(&mut self, id: u64, claimed_by: Option<String>) -> bool {
        let found = self
            .open_ticket
            .iter_mut()
            .chain(self.other_tickets.iter_mut())
            .find(|o| o.id == id);
        match found {
            Some(open) => {
                open.claimed_by = claimed_by;
                true
            }
            None => false,
        }
    }

    /// Remembers that the answer `name` was shown, keeping the last [`SHOWN_ANSWERS`].
    pub(crate) fn note_shown(&mut self, name: &str) {
        self.shown_answers.retain(|n| n != name);
        self.shown_answers.push(name.to_string());
        if self.shown_answers.len() > SHOWN_ANSWERS {
            let extra = self.shown_answers.len() - SHOWN_ANSWERS;
            self.shown_answers.drain(..extra);
        }
    }
}

impl ConversationState {
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
        assert!(state.other_tickets.is_empty() && !state.frustrated);
        assert_eq!(state.contact, ContactState::default());
        let old = r#"{"open_ticket":{"id":4,"team":"security","claimed_by":null},"turns":2}"#;
        let state: ConversationState = serde_json::from_str(old).unwrap();
        assert_eq!(state.open_tickets().map(|o| o.id).collect::<Vec<_>>(), [4]);
    }

    fn open(id: u64, team: &str) -> OpenTicket {
        OpenTicket {
            id,
            team: team.into(),
            claimed_by: None,
        }
    }

    #[test]
    fn several_tickets_stay_open_and_release_promotes_the_most_recent() {
        let mut state = ConversationState::default();
        state.open(open(1, "security"));
        state.open(open(2, "sales"));
        state.open(open(3, "billing"));
        let ids = |s: &ConversationState| s.open_tickets().map(|o| o.id).collect::<Vec<_>>();
        assert_eq!(ids(&state), [3, 2, 1]);
        assert_eq!(state.open_ticket_of("sales").map(|o| o.id), Some(2));
        assert!(state.set_claimed(1, Some("ana".into())));
        assert_eq!(state.other_tickets[0].claimed_by.as_deref(), Some("ana"));
        assert!(!state.set_claimed(9, None));
        assert!(state.release(3));
        assert_eq!(ids(&state), [2, 1]);
        assert!(state.release(1));
        assert_eq!(ids(&state), [2]);
        assert!(!state.release(1));
        assert!(state.release(2));
        assert!(state.open_ticket.is_none() && state.other_tickets.is_empty());
        let json = serde_json::to_string(&state).unwrap();
        assert!(
            !json.contains("other_tickets") && !json.contains("contact"),
            "{json}"
        );
    }
}
