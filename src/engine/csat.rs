//! The customer's rating after a ticket is resolved ("How did we do?"): 1 to 5 and an optional
//! comment, for the customer's latest resolved ticket in the conversation, stored on that
//! ticket as `csat` (the comment redacted, as all customer text).

use crate::engine::pipeline::{Pipeline, PipelineError};
use crate::store::{Csat, Ticket, TicketStatus};

/// What the customer is asked once their ticket is resolved.
pub const QUESTION: &str = "How did we do?";

/// Longer comments are cut to this many characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// A rating from 1 to 5, or why not.
pub fn rating(value: i64) -> Result<u8, PipelineError> {
    u8::try_from(value)
        .ok()
        .filter(|r| (1..=5).contains(r))
        .ok_or_else(|| PipelineError::Invalid(format!("`rating` must be 1 to 5, not {value}")))
}

/// The comment as stored: trimmed, cut to [`MAX_COMMENT_CHARS`], redacted; None when empty.
pub fn comment(text: Option<&str>) -> Option<String> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    let (text, _) = crate::engine::pipeline::truncate_chars(text, MAX_COMMENT_CHARS);
    Some(crate::store::redact::redact(text).into_owned())
}

/// The ticket a rating is for: the user's (hashed id) latest resolved ticket among a
/// conversation's tickets.
pub fn rated_ticket(tickets: &[Ticket], user: &str) -> Option<u64> {
    tickets
        .iter()
        .filter(|t| t.status == TicketStatus::Resolved && t.user == user)
        .max_by_key(|t| (t.updated_ms, t.id))
        .map(|t| t.id)
}

/// The ticket whose customer is to be asked [`QUESTION`] after `event`: one just resolved (not
/// a later relabel of a resolved ticket) and not rated yet.
pub fn asks_for_rating(event: &crate::engine::pipeline::PipelineEvent) -> Option<&Ticket> {
    let crate::engine::pipeline::PipelineEvent::TicketUpdated(t) = event else {
        return None;
    };
    asks_after_update(t).then_some(t)
}

/// Whether a ticket, as a `TicketUpdated` event carries it, was just resolved (not relabelled
/// after its resolution) and is not rated yet.
pub fn asks_after_update(t: &Ticket) -> bool {
    let relabelled = t.relabels.last().is_some_and(|l| l.at_ms == t.updated_ms);
    t.status == TicketStatus::Resolved && t.csat.is_none() && !relabelled
}

/// Thanks for a rating.
pub const THANKS: &str = "Thank you for your rating!";

/// Told to anyone but the ticket's customer who presses a rating button.
pub const ONLY_THE_CUSTOMER: &str = "Only the customer can rate this.";

/// The five ratings' labels, for buttons (aria-label, title, Block Kit text).
pub const LABELS: [&str; 5] = [
    "1 – very poor",
    "2 – poor",
    "3 – okay",
    "4 – good",
    "5 – excellent",
];

/// Whether `user` (hashed id) may rate `ticket`: it is theirs, and resolved.
pub fn may_rate(ticket: &Ticket, user: &str) -> Result<(), PipelineError> {
    if ticket.user != user {
        return Err(PipelineError::Refused(ONLY_THE_CUSTOMER.into()));
    }
    if ticket.status != TicketStatus::Resolved {
        return Err(PipelineError::Refused(
            "this ticket is not resolved yet".into(),
        ));
    }
    Ok(())
}

/// Ticket `id`, if `user` (the id as the channel reports it) may rate it (see [`may_rate`]).
pub fn ticket_to_rate(pipeline: &Pipeline, id: u64, user: &str) -> Result<Ticket, PipelineError> {
    let store = pipeline.store();
    let ticket = store
        .ticket(id)?
        .ok_or_else(|| PipelineError::Refused("this ticket no longer exists".into()))?;
    may_rate(&ticket, &store.hash_user(user))?;
    Ok(ticket)
}

/// Stores a rating on ticket `id`, now.
fn store_rating(
    pipeline: &Pipeline,
    id: u64,
    rating: u8,
    comment: Option<String>,
) -> Result<Ticket, PipelineError> {
    let at_ms = pipeline.clock_ms();
    let csat = Csat {
        rating,
        comment,
        at_ms,
    };
    pipeline.rate_ticket(id, csat)
}

/// Stores `user`'s rating of ticket `id` (a button that names its ticket): refused unless
/// `user` is the ticket's customer and it is resolved; a later rating replaces an earlier one.
pub fn rate_ticket(
    pipeline: &Pipeline,
    id: u64,
    user: &str,
    rating: u8,
    comment: Option<String>,
) -> Result<Ticket, PipelineError> {
    ticket_to_rate(pipeline, id, user)?;
    store_rating(pipeline, id, rating, comment)
}

/// Adds (or replaces) the comment on `user`'s rating of ticket `id`, keeping the rating:
/// refused unless `user` is the ticket's customer and has rated it.
pub fn comment_ticket(
    pipeline: &Pipeline,
    id: u64,
    user: &str,
    comment: Option<String>,
) -> Result<Ticket, PipelineError> {
    let ticket = ticket_to_rate(pipeline, id, user)?;
    let rating = ticket
        .csat
        .as_ref()
        .map(|c| c.rating)
        .ok_or_else(|| PipelineError::Refused("rate the ticket first".into()))?;
    store_rating(pipeline, id, rating, comment)
}

/// Stores `user`'s rating for their latest resolved ticket in the conversation (409 when there
/// is none); a later rating replaces an earlier one.
pub fn rate(
    pipeline: &Pipeline,
    channel: &str,
    conversation: &str,
    user: &str,
    rating: u8,
    comment: Option<String>,
) -> Result<Ticket, PipelineError> {
    let store = pipeline.store();
    let tickets = store.conversation_tickets(channel, conversation)?;
    let id = rated_ticket(&tickets, &store.hash_user(user)).ok_or_else(|| {
        PipelineError::Refused("there is no resolved ticket to rate in this conversation".into())
    })?;
    store_rating(pipeline, id, rating, comment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ticket(id: u64, user: &str, status: &str, updated_ms: u64) -> Ticket {
        serde_json::from_value(json!({
            "id": id, "team": "sales", "status": status, "created_ms": 1,
            "updated_ms": updated_ms, "channel": "web", "conversation": "c", "user": user,
            "persona": null, "intent": null, "evidence": [], "reason": "", "interaction": 1,
            "transcript": [], "claimed_by": null, "resolved_by": null, "relabels": [],
        }))
        .expect("a ticket")
    }

    #[test]
    fn ratings_are_one_to_five() {
        let table = [
            (1, Some(1)),
            (5, Some(5)),
            (3, Some(3)),
            (0, None),
            (6, None),
        ];
        for (value, want) in table {
            assert_eq!(rating(value).ok(), want, "{value}");
        }
        assert!(rating(-1).is_err() && rating(i64::MAX).is_err() && rating(256).is_err());
    }

    #[test]
    fn comments_are_trimmed_redacted_and_cut() {
        assert_eq!(comment(None), None);
        assert_eq!(comment(Some("   ")), None);
        assert_eq!(
            comment(Some(" quick, thanks ")).as_deref(),
            Some("quick, thanks")
        );
        let redacted = comment(Some("mail me at jane.doe@example.com")).unwrap();
        assert!(!redacted.contains("jane.doe@example.com"), "{redacted}");
        let long = "a".repeat(MAX_COMMENT_CHARS + 50);
        assert_eq!(
            comment(Some(&long)).unwrap().chars().count(),
            MAX_COMMENT_CHARS
        );
    }

    #[test]
    fn the_rated_ticket_is_the_users_latest_resolved_one() {
        let table: [(Vec<Ticket>, Option<u64>); 5] = [
            (vec![], None),
            (vec![ticket(1, "u", "open", 9)], None),
            (vec![ticket(1, "u", "resolved", 5)], Some(1)),
            (
                vec![ticket(1, "u", "resolved", 9), ticket(2, "u", "resolved", 5)],
                Some(1),
            ),
            (
                vec![
                    ticket(1, "u", "resolved", 5),
                    ticket(2, "other", "resolved", 9),
                ],
                Some(1),
            ),
        ];
        for (tickets, want) in table {
            assert_eq!(rated_ticket(&tickets, "u"), want, "{tickets:?}");
        }
    }

    #[test]
    fn only_the_customer_rates_a_resolved_ticket() {
        let table = [
            (ticket(1, "u", "resolved", 5), "u", Ok(())),
            (
                ticket(1, "u", "resolved", 5),
                "other",
                Err(ONLY_THE_CUSTOMER),
            ),
            (ticket(1, "u", "open", 5), "other", Err(ONLY_THE_CUSTOMER)),
            (
                ticket(1, "u", "claimed", 5),
                "u",
                Err("this ticket is not resolved yet"),
            ),
        ];
        for (t, user, want) in table {
            let got = may_rate(&t, user).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{user} {:?}", t.status);
        }
    }

    #[test]
    fn only_a_fresh_resolution_asks_for_a_rating() {
        use crate::engine::pipeline::PipelineEvent;
        use crate::store::Label;
        let resolved = ticket(1, "u", "resolved", 5);
        let mut relabelled = resolved.clone();
        relabelled.relabels.push(Label {
            intent: None,
            persona: None,
            by: "ann".into(),
            at_ms: 5,
        });
        let mut rated = resolved.clone();
        rated.csat = Some(Csat {
            rating: 3,
            comment: None,
            at_ms: 6,
        });
        let table = [
            (PipelineEvent::TicketUpdated(resolved.clone()), true),
            (
                PipelineEvent::TicketUpdated(ticket(1, "u", "claimed", 5)),
                false,
            ),
            (PipelineEvent::TicketUpdated(relabelled), false),
            (PipelineEvent::TicketUpdated(rated), false),
            (PipelineEvent::TicketOpened(resolved), false),
        ];
        for (event, asks) in table {
            assert_eq!(asks_for_rating(&event).is_some(), asks, "{event:?}");
        }
    }
}
