//! Conversation states: a version byte then postcard, or the JSON of older stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{decode, encode, StoreError};
use crate::core::conversation::{
    Actor, AwaitingFeedback, ContactState, ConversationState, OpenTicket, TranscriptLine,
};

/// The first byte of a conversation state in the binary form, version 1.
const STATE_V1: u8 = 1;

/// Who wrote a line, as written (an enum postcard can encode: the JSON form is adjacently
/// tagged).
#[derive(Serialize)]
enum ActorOut<'a> {
    Customer,
    Bot,
    Agent(&'a str),
}

#[derive(Deserialize)]
enum ActorIn {
    Customer,
    Bot,
    Agent(String),
}

#[derive(Serialize)]
struct LineOut<'a> {
    at_ms: u64,
    from: ActorOut<'a>,
    text: &'a str,
    user: &'a Option<String>,
}

#[derive(Deserialize)]
struct LineIn {
    at_ms: u64,
    from: ActorIn,
    text: String,
    user: Option<String>,
}

/// The state as written: every field, in this order.
#[derive(Serialize)]
struct StateOut<'a> {
    persona_scores: &'a BTreeMap<String, f32>,
    last_intent: &'a Option<String>,
    misses: u32,
    pending_choices: &'a [String],
    awaiting_feedback: &'a Option<AwaitingFeedback>,
    open_ticket: &'a Option<OpenTicket>,
    last_ticket: Option<u64>,
    turns: u32,
    recent: Vec<LineOut<'a>>,
    updated_ms: u64,
    other_tickets: &'a [OpenTicket],
    frustrated: bool,
    /// [`ContactState`]: awaiting, asked, ticket.
    contact: (Option<u64>, bool, Option<u64>),
    shown_answers: &'a [String],
}

/// [`StateOut`]'s fields, owned.
#[derive(Deserialize)]
struct StateIn {
    persona_scores: BTreeMap<String, f32>,
    last_intent: Option<String>,
    misses: u32,
    pending_choices: Vec<String>,
    awaiting_feedback: Option<AwaitingFeedback>,
    open_ticket: Option<OpenTicket>,
    last_ticket: Option<u64>,
    turns: u32,
    recent: Vec<LineIn>,
    updated_ms: u64,
    other_tickets: Vec<OpenTicket>,
    frustrated: bool,
    contact: (Option<u64>, bool, Option<u64>),
    shown_answers: Vec<String>,
}

/// A conversation state's bytes in the store: [`STATE_V1`] then postcard. (Postcard is
/// positional: a new field of [`ConversationState`] needs a new version byte, and the
/// destructuring here fails to compile until it has one.)
pub(in crate::store::sled_store) fn encode_state(
    state: &ConversationState,
) -> Result<Vec<u8>, StoreError> {
    let ConversationState {
        persona_scores,
        last_intent,
        misses,
        pending_choices,
        awaiting_feedback,
        open_ticket,
        last_ticket,
        turns,
        recent,
        updated_ms,
        other_tickets,
        frustrated,
        contact:
            ContactState {
                awaiting,
                asked,
                ticket,
            },
        shown_answers,
    } = state;
    let recent = recent
        .iter()
        .map(|line| LineOut {
            at_ms: line.at_ms,
            from: match &line.from {
                Actor::Customer => ActorOut::Customer,
                Actor::Bot => ActorOut::Bot,
                Actor::Agent(name) => ActorOut::Agent(name),
            },
            text: &line.text,
            user: &line.user,
        })
        .collect();
    let out = StateOut {
        persona_scores,
        last_intent,
        misses: *misses,
        pending_choices,
        awaiting_feedback,
        open_ticket,
        last_ticket: *last_ticket,
        turns: *turns,
        recent,
        updated_ms: *updated_ms,
        other_tickets,
        frustrated: *frustrated,
        contact: (*awaiting, *asked, *ticket),
        shown_answers,
    };
    encode(STATE_V1, &out, "a conversation state")
}

/// A conversation state from its stored bytes: the binary form, or the JSON of older stores.
pub(in crate::store::sled_store) fn decode_state(
    bytes: &[u8],
) -> Result<ConversationState, StoreError> {
    decode(bytes, STATE_V1, "a conversation state", |s: StateIn| {
        let (awaiting, asked, ticket) = s.contact;
        ConversationState {
            persona_scores: s.persona_scores,
            last_intent: s.last_intent,
            misses: s.misses,
            pending_choices: s.pending_choices,
            awaiting_feedback: s.awaiting_feedback,
            open_ticket: s.open_ticket,
            last_ticket: s.last_ticket,
            turns: s.turns,
            recent: s
                .recent
                .into_iter()
                .map(|line| TranscriptLine {
                    at_ms: line.at_ms,
                    from: match line.from {
                        ActorIn::Customer => Actor::Customer,
                        ActorIn::Bot => Actor::Bot,
                        ActorIn::Agent(name) => Actor::Agent(name),
                    },
                    text: line.text,
                    user: line.user,
                })
                .collect(),
            updated_ms: s.updated_ms,
            other_tickets: s.other_tickets,
            frustrated: s.frustrated,
            contact: ContactState {
                awaiting,
                asked,
                ticket,
            },
            shown_answers: s.shown_answers,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(from: Actor, text: &str, user: Option<&str>) -> TranscriptLine {
        TranscriptLine {
            at_ms: 1_700_000_000_000,
            from,
            text: text.into(),
            user: user.map(str::to_string),
        }
    }

    /// An empty state, and one with every part set.
    fn samples() -> Vec<ConversationState> {
        let mut full = ConversationState::default();
        full.accumulate_personas([("startup-founder", 1.5), ("investor", -0.25)]);
        full.last_intent = Some("pricing".into());
        full.misses = 1;
        full.pending_choices = vec!["billing".into(), "refund".into()];
        full.awaiting_feedback = Some(AwaitingFeedback {
            interaction: 9,
            intent: "pricing".into(),
            variant: "pricing/default".into(),
        });
        full.open(OpenTicket {
            id: 1,
            team: "billing".into(),
            claimed_by: None,
        });
        full.open(OpenTicket {
            id: 2,
            team: "sales".into(),
            claimed_by: Some("ana".into()),
        });
        full.last_ticket = Some(2);
        full.turns = 4;
        full.recent = vec![
            line(Actor::Customer, "Zoë – charged twice 💳", Some("u_00ff")),
            line(Actor::Bot, "Sorry about that.", None),
            line(Actor::Agent("ana".into()), "Refund on its way", None),
        ];
        full.updated_ms = 1_700_000_000_001;
        full.frustrated = true;
        full.contact = ContactState {
            awaiting: Some(2),
            asked: true,
            ticket: Some(1),
        };
        full.shown_answers = vec!["pricing/default".into()];
        vec![ConversationState::default(), full]
    }

    #[test]
    fn binary_form_round_trips_and_is_smaller_than_json() {
        super::super::check::round_trips(samples(), STATE_V1, encode_state, decode_state);
    }

    #[test]
    fn json_states_of_older_stores_are_still_read() {
        let old = br#"{"open_ticket":{"id":4,"team":"security","claimed_by":null},"turns":2,
            "recent":[{"at_ms":1,"from":{"kind":"agent","name":"ana"},"text":"hi"}]}"#;
        let state = decode_state(old).unwrap();
        assert_eq!(state.open_tickets().map(|o| o.id).collect::<Vec<_>>(), [4]);
        assert_eq!(state.recent[0].from, Actor::Agent("ana".into()));
    }

    #[test]
    fn lines_stay_plain_utf8_in_the_binary_form() {
        let state = &samples()[1];
        let bytes = encode_state(state).unwrap();
        for l in &state.recent {
            let needle = l.text.as_bytes();
            assert!(
                bytes.windows(needle.len()).any(|w| w == needle),
                "{:?}",
                l.text
            );
        }
    }

    #[test]
    fn unreadable_states_are_errors_not_panics() {
        let cases: [&[u8]; 5] = [b"", b"\x07", b"\x01", b"\x01\x05\xff", b"{\"turns\":"];
        for bytes in cases {
            assert!(decode_state(bytes).is_err(), "{bytes:?}");
        }
    }
}
