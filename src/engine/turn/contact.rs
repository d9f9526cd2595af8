//! The contact question on a web handoff: when a web conversation's ticket opens with no way to
//! reach the customer, the reply asks (once, optionally) for an email; the next message, if it
//! holds a valid one, stores it on the ticket and is acknowledged. That message is no evidence
//! of anything (no scores, no evidence), and what is stored of it is redacted as always.

use super::message::{StagedTurn, TurnPlan};
use super::{Inbound, Rules};
use crate::core::classify::Classification;
use crate::core::conversation::ConversationState;
use crate::core::route::DecisionKind;
use crate::core::wording;
use crate::store::redact::redact;
use crate::store::{
    Actor, Interaction, RouteRecord, TicketChange, TicketPatch, TranscriptLine, TurnWrite,
};

/// The channel whose customers are asked for an email: the web chat, where the bot has no other
/// way to reach them once the tab is closed.
pub(crate) const CONTACT_CHANNEL: &str = "web";

/// The ticket a turn opens, as the contact question sees it: its id and whether it already
/// carries a contact.
pub(super) type Opens = Option<(u64, bool)>;

/// What `ticket` opens.
pub(super) fn opens(ticket: &TicketChange) -> Opens {
    match ticket {
        TicketChange::Open(t) => Some((t.id, t.contact.is_some())),
        _ => None,
    }
}

/// Whether a turn on `channel` that `opens` a ticket asks for an email: a web ticket opening
/// with no contact, in a conversation not asked before.
pub(super) fn should_ask(channel: &str, state: &ConversationState, opens: Opens) -> bool {
    channel == CONTACT_CHANNEL
        && !state.contact.asked
        && state.contact.ticket.is_none()
        && opens.is_some_and(|(_, has_contact)| !has_contact)
}

/// The reply, with the contact question after it when `ask`.
pub(super) fn with_question(reply: Option<String>, ask: bool) -> Option<String> {
    match reply {
        Some(r) if ask => Some(format!("{r}\n\n{}", wording::ASK_CONTACT)),
        other => other,
    }
}

/// Records in `next` the question asked for the ticket a turn `opens`, or the contact the new
/// ticket carries (so later tickets copy it from the newest holder).
pub(super) fn remember(next: &mut ConversationState, opens: Opens, asked: bool) {
    match opens {
        Some((id, _)) if asked => {
            next.contact.asked = true;
            next.contact.awaiting = Some(id);
        }
        Some((id, true)) => next.contact.ticket = Some(id),
        _ => {}
    }
}

/// The message answering the contact question, as read.
pub(super) struct Asked<'a> {
    pub(super) rules: &'a Rules,
    pub(super) inbound: &'a Inbound,
    /// The state with the question already taken off it.
    pub(super) state: ConversationState,
    /// The message as stored: redacted, then cut.
    pub(super) stored_text: String,
    pub(super) truncated: bool,
    pub(super) user: String,
    pub(super) interaction: u64,
    pub(super) now_ms: u64,
}

impl Asked<'_> {
    /// The turn storing `email` on `ticket`: the message and the acknowledgement are appended to
    /// the ticket's transcript (both redacted), and the interaction carries no scores.
    pub(super) fn answered(self, ticket: u64, email: String) -> TurnPlan {
        let Asked {
            rules,
            inbound,
            state,
            stored_text,
            truncated,
            user,
            interaction: id,
            now_ms: at,
        } = self;
        let reply = wording::contact_noted(&email, ticket);
        // The acknowledgement quotes the address: what is kept of it is redacted.
        let stored_reply = redact(&reply).into_owned();
        let team = state
            .open_tickets()
            .find(|o| o.id == ticket)
            .map(|o| o.team.clone());
        let mut decision = super::empty_decision();
        decision.kind = DecisionKind::Ticket;
        decision.team = team;
        decision.reason = format!("the customer gave a contact email for ticket #{ticket}");
        let line = |from: Actor, text: &str, user: Option<String>| TranscriptLine {
            at_ms: at,
            from,
            text: text.to_string(),
            user,
        };
        let customer = line(Actor::Customer, &stored_text, Some(user.clone()));
        let bot = line(Actor::Bot, &stored_reply, None);
        let record = Interaction {
            id,
            at_ms: at,
            channel: inbound.channel.clone(),
            conversation: inbound.conversation.clone(),
            user,
            text: stored_text.clone(),
            // No persona or intent: this message is evidence of nothing.
            persona: None,
            intent: None,
            persona_scores: Vec::new(),
            intent_scores: Vec::new(),
            evidence: Vec::new(),
            route: RouteRecord {
                kind: decision.kind,
                team: decision.team.clone(),
                answer: None,
                reason: decision.reason.clone(),
                actions: Vec::new(),
            },
            reply: Some(stored_reply),
            ticket: Some(ticket),
            feedback: None,
            label: None,
            delivery: None,
            answer_at: None,
        };
        let mut next = state;
        next.turns += 1;
        next.misses = 0;
        next.pending_choices.clear();
        next.contact.ticket = Some(ticket);
        next.remember(customer.clone());
        next.remember(bot.clone());
        next.updated_ms = at;
        let staged = StagedTurn {
            decision,
            reply: Some(reply),
            interaction: id,
            truncated,
            classification: Classification::default(),
            opens_ticket: false,
            text: stored_text,
            catalog: rules.catalog.clone(),
            raises: false,
        };
        let write = TurnWrite {
            interaction: record,
            state: next,
            ticket: TicketChange::Append {
                id: ticket,
                lines: vec![customer, bot],
            },
            not_helped: None,
            patch: TicketPatch {
                contact: Some(email),
                high_priority: false,
            },
        };
        TurnPlan { write, staged }
    }
}
