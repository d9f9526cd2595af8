//! The store, as far as planning sees it: one conversation, its interactions and tickets, and
//! the id counters, kept in memory; each plan is applied as the sled writer applies it.

use std::collections::BTreeMap;

use super::super::feedback::{FeedbackPlan, FeedbackSteps};
use super::super::*;
use crate::core::conversation::ConversationState;
use crate::store::{Feedback, Interaction, TicketChange, TurnWrite};

/// One customer action, or what an agent or the retention purge does between them.
#[derive(Debug, Clone)]
pub(super) enum Act {
    Say(String),
    /// A message in [`Mode::Ticket`] (`/ticket ...`).
    AskPerson(String),
    /// The "That helped" button.
    Helped,
    /// The "Talk to a human" button.
    Human,
    /// An agent claims the conversation's open ticket.
    Claim,
    /// The open ticket is deleted (forgotten or purged).
    DeleteTicket,
}

pub(super) fn say(text: &str) -> Act {
    Act::Say(text.into())
}

/// What one action planned: the outcome (or the refusal), the records and the announcement.
pub(super) struct Step {
    pub(super) outcome: Result<Outcome, String>,
    pub(super) turn: Option<TurnWrite>,
    pub(super) feedback: Option<FeedbackWrite>,
    pub(super) rated: Option<Rated>,
    pub(super) event: Option<PipelineEvent>,
}

impl Step {
    fn new(outcome: Outcome) -> Step {
        Step {
            outcome: Ok(outcome),
            turn: None,
            feedback: None,
            rated: None,
            event: None,
        }
    }
}

/// The store, as far as planning sees it: one conversation, its interactions and tickets, and
/// the id counters.
pub(super) struct Fake<'r> {
    rules: &'r Rules,
    /// The clock value every action is planned at.
    pub(super) now_ms: u64,
    /// The channel the conversation is on.
    pub(super) channel: &'static str,
    pub(super) state: ConversationState,
    interactions: BTreeMap<u64, Interaction>,
    tickets: BTreeMap<u64, Ticket>,
    last_interaction: u64,
    last_ticket: u64,
}

impl<'r> Fake<'r> {
    pub(super) fn new(rules: &'r Rules) -> Self {
        Fake {
            rules,
            now_ms: super::NOW,
            channel: "test",
            state: ConversationState::default(),
            interactions: BTreeMap::new(),
            tickets: BTreeMap::new(),
            last_interaction: 0,
            last_ticket: 0,
        }
    }

    pub(super) fn act(&mut self, act: &Act) -> Option<Step> {
        match act {
            Act::Say(text) => Some(self.message(text, Mode::Route)),
            Act::AskPerson(text) => Some(self.message(text, Mode::Ticket)),
            Act::Helped => Some(self.press(true)),
            Act::Human => Some(self.press(false)),
            Act::Claim => {
                let open = self.state.open_ticket.as_mut().expect("an open ticket");
                open.claimed_by = Some("agent-ann".into());
                self.tickets.get_mut(&open.id).expect("stored").claimed_by =
                    open.claimed_by.clone();
                None
            }
            Act::DeleteTicket => {
                let open = self.state.open_ticket.as_ref().expect("an open ticket");
                self.tickets.remove(&open.id);
                None
            }
        }
    }

    /// The contact stored on ticket `id`, as the pipeline reads it.
    fn contact(&self, id: Option<u64>) -> Option<String> {
        id.and_then(|id| self.tickets.get(&id)?.contact.clone())
    }

    /// The tickets stored so far.
    pub(super) fn ticket(&self, id: u64) -> Option<&Ticket> {
        self.tickets.get(&id)
    }

    /// The interactions stored so far.
    pub(super) fn interaction(&self, id: u64) -> Option<&Interaction> {
        self.interactions.get(&id)
    }

    fn new_ticket_id(&mut self) -> u64 {
        self.last_ticket += 1;
        self.last_ticket
    }

    fn message(&mut self, text: &str, mode: Mode) -> Step {
        if let Some(empty) = empty_message(self.rules, text) {
            return Step::new(empty);
        }
        let inbound = Inbound {
            channel: self.channel.into(),
            conversation: "c1".into(),
            user: "pat".into(),
            text: text.into(),
        };
        self.last_interaction += 1;
        let input = TurnInput {
            rules: self.rules,
            inbound: &inbound,
            mode,
            state: self.state.clone(),
            gone_tickets: (self.state.open_tickets())
                .filter(|o| !self.tickets.contains_key(&o.id))
                .map(|o| o.id)
                .collect(),
            user: "u_pat".into(),
            interaction: self.last_interaction,
            now_ms: self.now_ms,
            text: TextWork::of(self.rules, text),
        };
        let plan = match plan_turn(input) {
            TurnStep::Planned(plan) => *plan,
            TurnStep::OpensTicket(pending) => {
                let origin = pending.origin().map(|id| self.interactions[&id].clone());
                let contact = self.contact(pending.contact_from());
                pending.plan(self.new_ticket_id(), origin, contact)
            }
        };
        let stored = self.write_turn(&plan.write);
        let (outcome, event) = plan.staged.finish(stored);
        Step {
            turn: Some(plan.write),
            event,
            ..Step::new(outcome)
        }
    }

    /// What the sled writer does with a turn (src/store/sled_store/writer.rs).
    fn write_turn(&mut self, write: &TurnWrite) -> Option<Ticket> {
        let at_ms = write.interaction.at_ms;
        self.interactions
            .insert(write.interaction.id, write.interaction.clone());
        if let Some(rated) = write
            .not_helped
            .and_then(|id| self.interactions.get_mut(&id))
        {
            rated.feedback = Some(Feedback {
                helped: false,
                at_ms,
            });
        }
        let mut next = write.state.clone();
        let stored = match &write.ticket {
            TicketChange::None => None,
            TicketChange::Open(t) => {
                self.tickets.insert(t.id, Ticket::clone(t));
                Some(Ticket::clone(t))
            }
            TicketChange::Append { id, lines } => self.tickets.get_mut(id).map(|t| {
                t.transcript.extend(lines.iter().cloned());
                t.updated_ms = at_ms;
                if let Some(contact) = &write.patch.contact {
                    t.contact = Some(contact.clone());
                }
                if write.patch.high_priority {
                    t.priority = crate::store::Priority::High;
                }
                t.clone()
            }),
        };
        if !matches!(write.ticket, TicketChange::Open(_)) {
            next.open_ticket = self.state.open_ticket.clone();
            next.other_tickets = self.state.other_tickets.clone();
        }
        self.state = next;
        stored
    }

    fn press(&mut self, helped: bool) -> Step {
        let input = FeedbackInput {
            rules: self.rules,
            channel: self.channel,
            conversation: "c1",
            user: "u_pat".into(),
            helped,
            state: self.state.clone(),
            now_ms: self.now_ms,
        };
        let FeedbackSteps { rate, then } = match plan_feedback(input) {
            Ok(steps) => steps,
            Err(refusal) => {
                return Step {
                    outcome: Err(refusal),
                    ..Step::new(empty_message(self.rules, "").expect("empty"))
                }
            }
        };
        if let Some(i) = rate.and_then(|r| self.interactions.get_mut(&r.interaction)) {
            i.feedback = Some(Feedback {
                helped,
                at_ms: self.now_ms,
            });
        }
        let FeedbackPlan {
            write,
            outcome,
            event,
        } = match then {
            FeedbackStep::Planned(plan) => *plan,
            FeedbackStep::ShowsTicket(shows) => {
                let ticket = self.tickets.get(&shows.ticket_id()).cloned();
                shows.plan(ticket)
            }
            FeedbackStep::OpensTicket(pending) => {
                let origin = pending.origin().map(|id| self.interactions[&id].clone());
                let contact = self.contact(pending.contact_from());
                pending.plan(self.new_ticket_id(), origin, contact)
            }
        };
        match &write {
            FeedbackWrite::Nothing => {}
            FeedbackWrite::Conversation(next) => self.state = next.clone(),
            FeedbackWrite::TicketAndConversation(ticket, next) => {
                self.tickets.insert(ticket.id, Ticket::clone(ticket));
                self.state = next.clone();
            }
        }
        Step {
            feedback: Some(write),
            rated: rate,
            event,
            ..Step::new(outcome)
        }
    }
}
