//! Interactions: a version byte then postcard, or the JSON of older stores.

use serde::{Deserialize, Serialize};

use super::texts::{StoredText, StoredTextIn};
use super::{encode, json_or_corrupt, read, StoreError, Texts};
use crate::core::route::DecisionKind;
use crate::store::records::{
    Delivery, EvidenceRecord, Feedback, Interaction, Label, RouteRecord, ScoredId,
};

/// The first byte of an interaction in the first binary form (its reply inline). JSON records
/// start with `{`.
const INTERACTION_V1: u8 = 1;
/// The first byte of an interaction in the binary form, version 2: the reply's known texts by
/// reference.
const INTERACTION_V2: u8 = 2;

const WHAT: &str = "an interaction";

/// The interaction as written: borrowed fields, in this order.
#[derive(Serialize)]
struct InteractionOut<'a> {
    id: u64,
    at_ms: u64,
    channel: &'a str,
    conversation: &'a str,
    user: &'a str,
    text: &'a str,
    persona: &'a Option<ScoredId>,
    intent: &'a Option<ScoredId>,
    persona_scores: &'a [ScoredId],
    intent_scores: &'a [ScoredId],
    evidence: &'a [EvidenceRecord],
    kind: DecisionKind,
    team: &'a Option<String>,
    answer: &'a Option<String>,
    reason: &'a str,
    actions: &'a [String],
    reply: Option<StoredText<'a>>,
    answer_at: Option<u64>,
    ticket: Option<u64>,
    feedback: &'a Option<Feedback>,
    label: &'a Option<Label>,
    delivery: &'a Option<Delivery>,
}

/// The interaction as read: [`InteractionOut`]'s fields, owned (`R`: the reply of the form
/// read).
#[derive(Deserialize)]
struct InteractionIn<R> {
    id: u64,
    at_ms: u64,
    channel: String,
    conversation: String,
    user: String,
    text: String,
    persona: Option<ScoredId>,
    intent: Option<ScoredId>,
    persona_scores: Vec<ScoredId>,
    intent_scores: Vec<ScoredId>,
    evidence: Vec<EvidenceRecord>,
    kind: DecisionKind,
    team: Option<String>,
    answer: Option<String>,
    reason: String,
    actions: Vec<String>,
    reply: Option<R>,
    answer_at: Option<u64>,
    ticket: Option<u64>,
    feedback: Option<Feedback>,
    label: Option<Label>,
    delivery: Option<Delivery>,
}

/// An interaction's bytes in the store: [`INTERACTION_V2`] then postcard. (Postcard is
/// positional: a new field of [`Interaction`] needs a new version byte, and the destructuring
/// here fails to compile until it has one.)
pub(in crate::store::sled_store) fn encode_interaction(
    i: &Interaction,
    texts: &Texts,
) -> Result<Vec<u8>, StoreError> {
    let Interaction {
        id,
        at_ms,
        channel,
        conversation,
        user,
        text,
        persona,
        intent,
        persona_scores,
        intent_scores,
        evidence,
        route:
            RouteRecord {
                kind,
                team,
                answer,
                reason,
                actions,
            },
        reply,
        answer_at,
        ticket,
        feedback,
        label,
        delivery,
    } = i;
    let out = InteractionOut {
        id: *id,
        at_ms: *at_ms,
        channel,
        conversation,
        user,
        text,
        persona,
        intent,
        persona_scores,
        intent_scores,
        evidence,
        kind: *kind,
        team,
        answer,
        reason,
        actions,
        reply: reply.as_deref().map(|r| texts.encode(r)),
        answer_at: answer_at.map(|a| a as u64),
        ticket: *ticket,
        feedback,
        label,
        delivery,
    };
    encode(INTERACTION_V2, &out, WHAT)
}

/// An interaction from its stored bytes: a binary form, or the JSON of older stores.
pub(in crate::store::sled_store) fn decode_interaction(
    bytes: &[u8],
) -> Result<Interaction, StoreError> {
    match bytes.first() {
        Some(&INTERACTION_V2) => whole(
            read::<InteractionIn<StoredTextIn>>(&bytes[1..], WHAT)?,
            StoredTextIn::resolve,
        ),
        Some(&INTERACTION_V1) => whole(read::<InteractionIn<String>>(&bytes[1..], WHAT)?, Ok),
        _ => json_or_corrupt(bytes, WHAT),
    }
}

/// The interaction read, with its reply made whole by `reply`.
fn whole<R>(
    i: InteractionIn<R>,
    reply: impl FnOnce(R) -> Result<String, StoreError>,
) -> Result<Interaction, StoreError> {
    Ok(Interaction {
        id: i.id,
        at_ms: i.at_ms,
        channel: i.channel,
        conversation: i.conversation,
        user: i.user,
        text: i.text,
        persona: i.persona,
        intent: i.intent,
        persona_scores: i.persona_scores,
        intent_scores: i.intent_scores,
        evidence: i.evidence,
        route: RouteRecord {
            kind: i.kind,
            team: i.team,
            answer: i.answer,
            reason: i.reason,
            actions: i.actions,
        },
        reply: i.reply.map(reply).transpose()?,
        answer_at: i.answer_at.and_then(|a| usize::try_from(a).ok()),
        ticket: i.ticket,
        feedback: i.feedback,
        label: i.label,
        delivery: i.delivery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(id: &str, confidence: f64) -> ScoredId {
        ScoredId {
            id: id.into(),
            confidence,
            score: 1.25,
        }
    }

    /// A bare interaction, and one with every optional part set.
    fn samples() -> Vec<Interaction> {
        let bare = crate::store::bare_interaction(7, 1_700_000_000_000);
        let mut full = bare.clone();
        full.id = u64::MAX;
        full.text = "Zoë's invoice – charged twice 💳".into();
        full.persona = Some(scored("startup-founder", 0.8647));
        full.intent = Some(scored("pricing", 0.889_2));
        full.persona_scores = vec![scored("startup-founder", 0.8647), scored("investor", 0.1)];
        full.intent_scores = vec![scored("pricing", 0.889_2)];
        full.evidence = vec![EvidenceRecord {
            term: "how much".into(),
            target: "intent:pricing".into(),
            weight: 1.0,
        }];
        full.route = RouteRecord {
            kind: DecisionKind::Answer,
            team: Some("sales".into()),
            answer: Some("pricing/startup-founder".into()),
            reason: "intent pricing".into(),
            actions: vec!["helped".into(), "human".into()],
        };
        full.reply = Some("Here you go: ".into());
        full.answer_at = Some(13);
        full.ticket = Some(3);
        full.feedback = Some(Feedback {
            helped: false,
            at_ms: 5,
        });
        full.label = Some(Label {
            intent: Some("billing".into()),
            persona: None,
            by: "ana".into(),
            at_ms: 6,
        });
        full.delivery = Some(Delivery {
            ok: false,
            attempts: 3,
            error: Some("timeout".into()),
            at_ms: 7,
        });
        vec![bare, full]
    }

    /// A fixed sentence of the bot's.
    const KNOWN: &str = "I've passed this to our team; a person will pick it up from here.";

    #[test]
    fn binary_form_round_trips_and_is_smaller_than_json() {
        let (_dir, texts) = super::super::check::texts_with(&[KNOWN]);
        super::super::check::round_trips(
            samples(),
            INTERACTION_V2,
            |i| encode_interaction(i, &texts),
            decode_interaction,
        );
        // The reply's known sentence is stored by reference.
        let mut i = samples().remove(1);
        i.reply = Some(format!("{KNOWN} Here you go: "));
        let bytes = encode_interaction(&i, &texts).unwrap();
        assert!(!bytes.windows(KNOWN.len()).any(|w| w == KNOWN.as_bytes()));
        assert_eq!(decode_interaction(&bytes).unwrap(), i);
    }

    #[test]
    fn records_of_the_first_binary_form_are_still_read() {
        // INTERACTION_V1 differs from the current form only in an inline reply: without a
        // reply, its bytes are the current form's under the old version byte.
        let (_dir, texts) = super::super::check::texts_with(&[]);
        let mut i = samples().remove(1);
        i.reply = None;
        let mut bytes = encode_interaction(&i, &texts).unwrap();
        bytes[0] = INTERACTION_V1;
        assert_eq!(decode_interaction(&bytes).unwrap(), i);
    }

    #[test]
    fn json_records_of_older_stores_are_still_read() {
        // A record written before `answer_at` and `actions` existed.
        let old = br#"{"id":1,"at_ms":2,"channel":"http","conversation":"c","user":"u_1",
            "text":"hi","persona":null,"intent":null,"persona_scores":[],"intent_scores":[],
            "evidence":[],"route":{"kind":"fallback","team":null,"answer":null,"reason":"r"},
            "reply":"hello","ticket":null,"feedback":null,"label":null}"#;
        let i = decode_interaction(old).unwrap();
        assert_eq!(
            (i.id, i.reply.as_deref(), i.answer_at),
            (1, Some("hello"), None)
        );
    }

    #[test]
    fn text_stays_plain_utf8_in_the_binary_form() {
        // The privacy tests search sled's files for customer text: it must be there to find.
        let (_dir, texts) = super::super::check::texts_with(&[]);
        let i = &samples()[1];
        let bytes = encode_interaction(i, &texts).unwrap();
        for needle in [&i.text, &i.channel, &i.user, "Here you go: "] {
            assert!(
                bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} not found as UTF-8"
            );
        }
    }

    #[test]
    fn unreadable_records_are_errors_not_panics() {
        let cases: [&[u8]; 5] = [b"", b"\x00", b"\x01", b"\x01\xff\xff", b"{not json"];
        for bytes in cases {
            assert!(decode_interaction(bytes).is_err(), "{bytes:?}");
        }
    }
}
