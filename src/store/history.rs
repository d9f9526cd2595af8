//! A customer's history beside a ticket (`"history"` in a ticket's JSON): their earlier tickets
//! and their earlier conversations with the bot, on any channel, newest first.
//!
//! "The same customer" is the same stored user (the keyed hash of their id) or, across
//! channels, the same contact email given on a ticket. A conversation here is one that never
//! became a ticket (those are listed as tickets). [`customer_history`] decides from records
//! already read; [`Store::customer_history`] reads them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::records::{Interaction, Ticket};
use super::{format_time, Store, StoreError};

/// One earlier ticket or conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// `ticket` or `conversation`.
    pub kind: &'static str,
    /// The ticket number, or the conversation id as stored.
    pub id: serde_json::Value,
    pub channel: String,
    /// A ticket's team (None for a conversation).
    pub team: Option<String>,
    /// The intent (a ticket's, or the last one recognised in a conversation), if any.
    pub intent: Option<String>,
    /// A ticket's status (open, claimed, resolved); for a conversation, how its last message
    /// went: `helped`, `not-helped`, or the route (answer, clarify, fallback).
    pub status: String,
    /// When the ticket opened, or the conversation's last message (ms since the epoch).
    pub at_ms: u64,
    /// `at_ms` as RFC 3339 (UTC).
    pub date: String,
}

/// Entries at most kept, newest first.
pub const HISTORY_LIMIT: usize = 20;

/// Whether `other` was opened by the customer of `ticket`.
fn same_customer(ticket: &Ticket, other: &Ticket) -> bool {
    other.user == ticket.user
        || matches!((&ticket.contact, &other.contact), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// The stored user ids of `ticket`'s customer: its own, and those of same-contact tickets on
/// other channels (sorted, without repeats).
pub fn customer_users<'a>(ticket: &'a Ticket, tickets: &'a [Ticket]) -> Vec<&'a str> {
    let mut users: Vec<&str> = std::iter::once(ticket.user.as_str())
        .chain(
            tickets
                .iter()
                .filter(|t| same_customer(ticket, t))
                .map(|t| t.user.as_str()),
        )
        .collect();
    users.sort_unstable();
    users.dedup();
    users
}

/// The history of `ticket`'s customer from `tickets` and `interactions` (any order): tickets
/// opened before it, and conversations without a ticket with messages before it, newest first,
/// at most [`HISTORY_LIMIT`].
pub fn customer_history(
    ticket: &Ticket,
    tickets: &[Ticket],
    interactions: &[Interaction],
) -> Vec<HistoryEntry> {
    let mut out: Vec<HistoryEntry> = tickets
        .iter()
        .filter(|t| t.id != ticket.id && t.created_ms <= ticket.created_ms)
        .filter(|t| same_customer(ticket, t))
        .map(|t| HistoryEntry {
            kind: "ticket",
            id: t.id.into(),
            channel: t.channel.clone(),
            team: Some(t.team.clone()),
            intent: t.intent.as_ref().map(|i| i.id.clone()),
            status: t.status.as_str().into(),
            at_ms: t.created_ms,
            date: format_time(t.created_ms),
        })
        .collect();
    let users = customer_users(ticket, tickets);
    let mut conversations: BTreeMap<(&str, &str), Vec<&Interaction>> = BTreeMap::new();
    for i in interactions {
        let own = i.channel == ticket.channel && i.conversation == ticket.conversation;
        if i.ticket.is_none() && !own && i.at_ms < ticket.created_ms && users.contains(&&*i.user) {
            conversations
                .entry((&i.channel, &i.conversation))
                .or_default()
                .push(i);
        }
    }
    for ((channel, conversation), mut messages) in conversations {
        messages.sort_by_key(|i| (i.at_ms, i.id));
        let Some(last) = messages.last() else {
            continue;
        };
        let status = match &last.feedback {
            Some(f) if f.helped => "helped".to_string(),
            Some(_) => "not-helped".to_string(),
            None => last.route.kind.as_str().to_string(),
        };
        out.push(HistoryEntry {
            kind: "conversation",
            id: conversation.into(),
            channel: channel.into(),
            team: None,
            intent: messages
                .iter()
                .rev()
                .find_map(|i| i.intent.as_ref().map(|s| s.id.clone())),
            status,
            at_ms: last.at_ms,
            date: format_time(last.at_ms),
        });
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
    out.truncate(HISTORY_LIMIT);
    out
}

impl Store {
    /// [`customer_history`] of `ticket`, read from the store.
    pub fn customer_history(&self, ticket: &Ticket) -> Result<Vec<HistoryEntry>, StoreError> {
        let tickets = self.tickets(None, None)?;
        // Only the customer's own interactions are read (through the by-user index).
        let mut interactions = Vec::new();
        for user in customer_users(ticket, &tickets) {
            interactions.extend(self.interactions_of(user, ticket.created_ms)?);
        }
        Ok(customer_history(ticket, &tickets, &interactions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Feedback;
    use serde_json::json;

    // Records are built from JSON, so that fields added to them later (with serde defaults)
    // need no change here.
    fn ticket(id: u64, user: &str, channel: &str, at: u64, contact: Option<&str>) -> Ticket {
        serde_json::from_value(json!({
            "id": id, "team": "support", "status": "resolved", "created_ms": at, "updated_ms": at,
            "channel": channel, "conversation": format!("conv-{id}"), "user": user,
            "persona": null, "intent": {"id": "refund", "confidence": 1.0, "score": 1.0},
            "evidence": [], "reason": "", "interaction": 0, "transcript": [],
            "claimed_by": null, "resolved_by": null, "relabels": [], "contact": contact,
        }))
        .unwrap()
    }

    fn message(user: &str, conversation: &str, at: u64, intent: Option<&str>) -> Interaction {
        let intent = intent.map(|id| json!({"id": id, "confidence": 1.0, "score": 1.0}));
        serde_json::from_value(json!({
            "id": at, "at_ms": at, "channel": "slack", "conversation": conversation, "user": user,
            "text": "", "persona": null, "intent": intent, "persona_scores": [],
            "intent_scores": [], "evidence": [],
            "route": {"kind": "answer", "team": null, "answer": null, "reason": ""},
            "reply": null, "ticket": null, "feedback": null, "label": null,
        }))
        .unwrap()
    }

    fn ids(history: &[HistoryEntry]) -> Vec<String> {
        history
            .iter()
            .map(|e| format!("{}:{}", e.kind, e.id.to_string().trim_matches('"')))
            .collect()
    }

    #[test]
    fn earlier_tickets_and_conversations_of_the_same_customer_newest_first() {
        let now = ticket(9, "u_a", "web", 1000, None);
        let tickets = vec![
            now.clone(),
            ticket(1, "u_a", "web", 100, None),
            ticket(2, "u_b", "web", 200, None),     // someone else
            ticket(3, "u_a", "discord", 300, None), // same user, other channel
            ticket(4, "u_a", "web", 2000, None),    // later: not history
        ];
        let mut helped = message("u_a", "s-1", 500, None);
        helped.feedback = Some(Feedback {
            helped: true,
            at_ms: 501,
        });
        let mut in_ticket = message("u_a", "s-3", 450, Some("refund"));
        in_ticket.ticket = Some(3);
        let interactions = vec![
            message("u_a", "s-1", 400, Some("billing")),
            helped,
            message("u_b", "s-2", 600, Some("billing")), // someone else
            in_ticket,                                   // listed as its ticket
            message("u_a", "s-4", 1500, None),           // after the ticket
        ];
        let history = customer_history(&now, &tickets, &interactions);
        assert_eq!(ids(&history), ["conversation:s-1", "ticket:3", "ticket:1"]);
        assert_eq!(history[0].intent.as_deref(), Some("billing"));
        assert_eq!(history[0].status, "helped");
        assert_eq!(history[0].channel, "slack");
        assert_eq!(history[0].date, "1970-01-01T00:00:00Z");
        assert_eq!(history[1].status, "resolved");
        assert_eq!(history[1].intent.as_deref(), Some("refund"));
    }

    #[test]
    fn the_same_contact_email_is_the_same_customer_on_another_channel() {
        let now = ticket(9, "u_web", "web", 1000, Some("Zoe@example.com"));
        let tickets = vec![
            ticket(1, "u_tg", "telegram", 100, Some("zoe@example.com")),
            ticket(2, "u_other", "telegram", 200, Some("max@example.com")),
            ticket(3, "u_none", "telegram", 300, None),
        ];
        let interactions = vec![message("u_tg", "t-1", 50, Some("billing"))];
        let history = customer_history(&now, &tickets, &interactions);
        assert_eq!(ids(&history), ["ticket:1", "conversation:t-1"]);
    }

    #[test]
    fn a_first_ticket_has_an_empty_history() {
        let now = ticket(1, "u_a", "web", 1000, None);
        assert!(customer_history(&now, std::slice::from_ref(&now), &[]).is_empty());
    }
}
