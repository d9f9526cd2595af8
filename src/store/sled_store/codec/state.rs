//! Conversation states: a version byte then postcard, or the JSON of older stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::line::{line_out, lines, LineIn, LineInV1, LineOut, StoredLine};
use super::{encode, json_or_corrupt, read, StoreError, Texts};
use crate::core::conversation::{AwaitingFeedback, ContactState, ConversationState, OpenTicket};

/// The first byte of a conversation state in the first binary form (lines inline).
const STATE_V1: u8 = 1;
/// The first byte of a conversation state in the binary form, version 2: the bot's lines with
/// their known texts by reference.
const STATE_V2: u8 = 2;

const WHAT: &str = "a conversation state";

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

/// [`StateOut`]'s fields, owned (`L`: the lines of the form read).
#[derive(Deserialize)]
struct StateIn<L> {
    persona_scores: BTreeMap<String, f32>,
    last_intent: Option<String>,
    misses: u32,
    pending_choices: Vec<String>,
    awaiting_feedback: Option<AwaitingFeedback>,
    open_ticket: Option<OpenTicket>,
    last_ticket: Option<u64>,
    turns: u32,
    recent: Vec<L>,
    updated_ms: u64,
    other_tickets: Vec<OpenTicket>,
    frustrated: bool,
    contact: (Option<u64>, bool, Option<u64>),
    shown_answers: Vec<String>,
}

/// A conversation state's bytes in the store: [`STATE_V2`] then postcard. (Postcard is
/// positional: a new field of [`ConversationState`] needs a new version byte, and the
/// destructuring here fails to compile until it has one.)
pub(in crate::store::sled_store) fn encode_state(
    state: &ConversationState,
    texts: &Texts,
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
    let recent = recent.iter().map(|line| line_out(line, texts)).collect();
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
    encode(STATE_V2, &out, WHAT)
}

/// A conversation state from its stored bytes: a binary form, or the JSON of older stores.
pub(in crate::store::sled_store) fn decode_state(
    bytes: &[u8],
) -> Result<ConversationState, StoreError> {
    match bytes.first() {
        Some(&STATE_V2) => whole(read::<StateIn<LineIn>>(&bytes[1..], WHAT)?),
        Some(&STATE_V1) => whole(read::<StateIn<LineInV1>>(&bytes[1..], WHAT)?),
        _ => json_or_corrupt(bytes, WHAT),
    }
}

fn whole<L: StoredLine>(s: StateIn<L>) -> Result<ConversationState, StoreError> {
    let (awaiting, asked, ticket) = s.contact;
    Ok(ConversationState {
        persona_scores: s.persona_scores,
        last_intent: s.last_intent,
        misses: s.misses,
        pending_choices: s.pending_choices,
        awaiting_feedback: s.awaiting_feedback,
        open_ticket: s.open_ticket,
        last_ticket: s.last_ticket,
        turns: s.turns,
        recent: lines(s.recent)?,
        updated_ms: s.updated_ms,
        other_tickets: s.other_tickets,
        frustrated: s.frustrated,
        contact: ContactState {
            awaiting,
            asked,
            ticket,
        },
        shown_answers: s.shown_answers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conversation::{Actor, TranscriptLine};

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

    /// The bot's known text, as a catalog answer would be.
    const KNOWN: &str = "Sorry about that. Refunds reach your card in 5 to 10 days.";

    #[test]
    fn binary_form_round_trips_and_is_smaller_than_json() {
        let (_dir, texts) = super::super::check::texts_with(&[KNOWN]);
        super::super::check::round_trips(
            samples(),
            STATE_V2,
            |s| encode_state(s, &texts),
            decode_state,
        );
    }

    #[test]
    fn a_bot_line_keeps_its_known_text_by_reference_and_other_lines_as_written() {
        let (_dir, texts) = super::super::check::texts_with(&[KNOWN]);
        let mut state = samples().remove(1);
        state.recent = vec![
            line(Actor::Customer, KNOWN, Some("u_00ff")),
            line(Actor::Bot, &format!("{KNOWN} Anything else?"), None),
            line(Actor::Agent("ana".into()), KNOWN, None),
        ];
        let bytes = encode_state(&state, &texts).unwrap();
        let copies = bytes
            .windows(KNOWN.len())
            .filter(|w| *w == KNOWN.as_bytes())
            .count();
        assert_eq!(copies, 2, "the customer's and the agent's lines only");
        assert_eq!(decode_state(&bytes).unwrap(), state);
    }

    #[test]
    fn states_of_the_first_binary_form_are_still_read() {
        // STATE_V1: the same fields, each line's text inline.
        #[derive(Serialize)]
        struct V1Line<'a>(u64, u8, &'a str, Option<&'a str>);
        let line = V1Line(5, 1, "Sorry about that.", None);
        let mut bytes = vec![STATE_V1];
        bytes = postcard::to_extend(&BTreeMap::<String, f32>::new(), bytes).unwrap();
        // last_intent, misses, pending_choices, awaiting_feedback, open_ticket, last_ticket,
        // turns: all empty or zero.
        bytes.extend([0, 0, 0, 0, 0, 0, 1]);
        bytes = postcard::to_extend(&vec![line], bytes).unwrap();
        // updated_ms, other_tickets, frustrated, contact, shown_answers.
        bytes.extend([9, 0, 0, 0, 0, 0, 0]);
        let state = decode_state(&bytes).unwrap();
        assert_eq!(
            (state.turns, state.updated_ms, state.recent[0].text.as_str()),
            (1, 9, "Sorry about that.")
        );
        assert_eq!(state.recent[0].from, Actor::Bot);
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
        let (_dir, texts) = super::super::check::texts_with(&[]);
        let state = &samples()[1];
        let bytes = encode_state(state, &texts).unwrap();
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
