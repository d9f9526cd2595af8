//! Tickets: a version byte then postcard (the transcript's bot lines with their known texts by
//! reference), or the JSON of older stores.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::line::{line_out, lines, LineIn, LineOut};
use super::{encode, json_or_corrupt, read, StoreError, Texts};
use crate::store::records::{
    Csat, EvidenceRecord, Label, Note, Priority, ScoredId, Ticket, TicketStatus,
};

/// The first byte of a ticket in the binary form, version 1. JSON tickets start with `{`.
const TICKET_V1: u8 = 1;

const WHAT: &str = "a ticket";

/// The ticket as written: its owner first (read alone by [`decode_ticket_owner`]), then every
/// other field.
#[derive(Serialize)]
struct TicketOut<'a> {
    channel: &'a str,
    conversation: &'a str,
    id: u64,
    team: &'a str,
    status: TicketStatus,
    created_ms: u64,
    updated_ms: u64,
    user: &'a str,
    persona: &'a Option<ScoredId>,
    intent: &'a Option<ScoredId>,
    evidence: &'a [EvidenceRecord],
    reason: &'a str,
    interaction: u64,
    transcript: Vec<LineOut<'a>>,
    claimed_by: &'a Option<String>,
    resolved_by: &'a Option<String>,
    relabels: &'a [Label],
    contact: &'a Option<String>,
    priority: Priority,
    assigned_to: &'a Option<String>,
    notes: &'a [Note],
    /// [`Csat`]: rating, comment, at_ms (its JSON form skips an empty comment, which a
    /// positional format cannot).
    csat: Option<(u8, &'a Option<String>, u64)>,
}

/// [`TicketOut`]'s fields, owned.
#[derive(Deserialize)]
struct TicketIn {
    channel: String,
    conversation: String,
    id: u64,
    team: String,
    status: TicketStatus,
    created_ms: u64,
    updated_ms: u64,
    user: String,
    persona: Option<ScoredId>,
    intent: Option<ScoredId>,
    evidence: Vec<EvidenceRecord>,
    reason: String,
    interaction: u64,
    transcript: Vec<LineIn>,
    claimed_by: Option<String>,
    resolved_by: Option<String>,
    relabels: Vec<Label>,
    contact: Option<String>,
    priority: Priority,
    assigned_to: Option<String>,
    notes: Vec<Note>,
    csat: Option<(u8, Option<String>, u64)>,
}

/// A ticket's bytes in the store: [`TICKET_V1`] then postcard. (Postcard is positional: a new
/// field of [`Ticket`] needs a new version byte, and the destructuring here fails to compile
/// until it has one.)
pub(in crate::store::sled_store) fn encode_ticket(
    t: &Ticket,
    texts: &Texts,
) -> Result<Vec<u8>, StoreError> {
    let Ticket {
        id,
        team,
        status,
        created_ms,
        updated_ms,
        channel,
        conversation,
        user,
        persona,
        intent,
        evidence,
        reason,
        interaction,
        transcript,
        claimed_by,
        resolved_by,
        relabels,
        contact,
        priority,
        assigned_to,
        notes,
        csat,
    } = t;
    let out = TicketOut {
        channel,
        conversation,
        id: *id,
        team,
        status: *status,
        created_ms: *created_ms,
        updated_ms: *updated_ms,
        user,
        persona,
        intent,
        evidence,
        reason,
        interaction: *interaction,
        transcript: transcript.iter().map(|l| line_out(l, texts)).collect(),
        claimed_by,
        resolved_by,
        relabels,
        contact,
        priority: *priority,
        assigned_to,
        notes,
        csat: csat.as_ref().map(|c| (c.rating, &c.comment, c.at_ms)),
    };
    encode(TICKET_V1, &out, WHAT)
}

/// A ticket from its stored bytes: the binary form, or the JSON of older stores.
pub(in crate::store::sled_store) fn decode_ticket(bytes: &[u8]) -> Result<Ticket, StoreError> {
    match bytes.first() {
        Some(&TICKET_V1) => {
            let t: TicketIn = read(&bytes[1..], WHAT)?;
            Ok(Ticket {
                id: t.id,
                team: t.team,
                status: t.status,
                created_ms: t.created_ms,
                updated_ms: t.updated_ms,
                channel: t.channel,
                conversation: t.conversation,
                user: t.user,
                persona: t.persona,
                intent: t.intent,
                evidence: t.evidence,
                reason: t.reason,
                interaction: t.interaction,
                transcript: lines(t.transcript)?,
                claimed_by: t.claimed_by,
                resolved_by: t.resolved_by,
                relabels: t.relabels,
                contact: t.contact,
                priority: t.priority,
                assigned_to: t.assigned_to,
                notes: t.notes,
                csat: t.csat.map(|(rating, comment, at_ms)| Csat {
                    rating,
                    comment,
                    at_ms,
                }),
            })
        }
        _ => json_or_corrupt(bytes, WHAT),
    }
}

/// The part of a stored ticket that says whose it is, read before the whole record (borrowed
/// from the bytes where it can be: the binary form, and JSON strings without escapes).
#[derive(Deserialize)]
struct Owner<'a> {
    #[serde(borrow)]
    channel: Cow<'a, str>,
    #[serde(borrow)]
    conversation: Cow<'a, str>,
}

/// A stored ticket's channel and conversation, without reading the rest of it.
pub(in crate::store::sled_store) fn decode_ticket_owner(
    bytes: &[u8],
) -> Result<(Cow<'_, str>, Cow<'_, str>), StoreError> {
    let owner: Owner<'_> = match bytes.first() {
        Some(&TICKET_V1) => read(&bytes[1..], WHAT)?,
        _ => json_or_corrupt(bytes, WHAT)?,
    };
    Ok((owner.channel, owner.conversation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conversation::{Actor, TranscriptLine};

    const ANSWER: &str = "You can manage most billing yourself in Settings > Billing.";

    fn line(from: Actor, text: &str) -> TranscriptLine {
        TranscriptLine {
            at_ms: 1_700_000_000_000,
            from,
            text: text.into(),
            user: None,
        }
    }

    /// A bare ticket, and one with every optional part set.
    fn samples() -> Vec<Ticket> {
        let bare = Ticket {
            id: 100,
            team: "billing".into(),
            status: TicketStatus::Open,
            created_ms: 1_796_454_587_934,
            updated_ms: 1_796_454_587_934,
            channel: "bench".into(),
            conversation: "w1-231".into(),
            user: "u_1674dd6470e4143efdc0cd117fb5cf54".into(),
            persona: None,
            intent: None,
            evidence: vec![],
            reason: "billing goes to billing".into(),
            interaction: 417,
            transcript: vec![],
            claimed_by: None,
            resolved_by: None,
            relabels: vec![],
            contact: None,
            priority: Priority::Normal,
            assigned_to: None,
            notes: vec![],
            csat: None,
        };
        let mut full = bare.clone();
        full.status = TicketStatus::Resolved;
        full.persona = Some(ScoredId {
            id: "startup-founder".into(),
            confidence: 0.86,
            score: 1.5,
        });
        full.intent = Some(ScoredId {
            id: "billing".into(),
            confidence: 0.55,
            score: 0.8,
        });
        full.evidence = vec![EvidenceRecord {
            term: "cancel".into(),
            target: "intent:billing".into(),
            weight: 0.8,
        }];
        full.transcript = vec![
            TranscriptLine {
                user: Some(full.user.clone()),
                ..line(Actor::Customer, "If I make a transaction can I cancel it?")
            },
            line(
                Actor::Bot,
                &format!("{ANSWER}\n\nI've passed this to our Billing team (ticket #100)."),
            ),
            line(Actor::Agent("ana".into()), "Done, refunded."),
        ];
        full.claimed_by = Some("ana".into());
        full.resolved_by = Some("ana".into());
        full.relabels = vec![Label {
            intent: Some("refund".into()),
            persona: None,
            by: "ana".into(),
            at_ms: 6,
        }];
        full.contact = Some("zoe@example.com".into());
        full.priority = Priority::High;
        full.assigned_to = Some("bo".into());
        full.notes = vec![Note {
            at_ms: 7,
            by: "ana".into(),
            text: "VIP".into(),
        }];
        let mut no_comment = full.clone();
        full.csat = Some(Csat {
            rating: 4,
            comment: Some("quick".into()),
            at_ms: 8,
        });
        no_comment.csat = Some(Csat {
            rating: 2,
            comment: None,
            at_ms: 9,
        });
        vec![bare, full, no_comment]
    }

    #[test]
    fn binary_form_round_trips_and_is_smaller_than_json() {
        let (_dir, texts) = super::super::check::texts_with(&[ANSWER]);
        super::super::check::round_trips(
            samples(),
            TICKET_V1,
            |t| encode_ticket(t, &texts),
            decode_ticket,
        );
    }

    #[test]
    fn the_owner_is_read_from_either_form() {
        let (_dir, texts) = super::super::check::texts_with(&[]);
        let t = &samples()[1];
        let want = (t.channel.as_str(), t.conversation.as_str());
        let binary = encode_ticket(t, &texts).unwrap();
        let json = serde_json::to_vec(t).unwrap();
        for bytes in [&binary, &json] {
            let (channel, conversation) = decode_ticket_owner(bytes).unwrap();
            assert_eq!((&*channel, &*conversation), want);
            // Read in place, not copied.
            assert!(matches!(
                (channel, conversation),
                (Cow::Borrowed(_), Cow::Borrowed(_))
            ));
        }
    }

    #[test]
    fn customer_text_stays_plain_utf8_and_bad_bytes_are_errors() {
        let (_dir, texts) = super::super::check::texts_with(&[ANSWER]);
        let t = &samples()[1];
        let bytes = encode_ticket(t, &texts).unwrap();
        for needle in [
            &t.transcript[0].text,
            &t.user,
            "zoe@example.com",
            "Done, refunded.",
        ] {
            assert!(
                bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?}"
            );
        }
        for bad in [&b""[..], b"\x01", b"\x01\xff\xff", b"\x09", b"{nope"] {
            assert!(decode_ticket(bad).is_err(), "{bad:?}");
            assert!(decode_ticket_owner(bad).is_err(), "{bad:?}");
        }
    }
}
