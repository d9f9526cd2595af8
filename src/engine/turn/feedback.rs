//! Planning the feedback buttons: "That helped" on the answer the conversation is waiting on,
//! and "Talk to a human", which opens a ticket for the answer's team (or points at the ticket
//! already open).

use std::sync::Arc;

use super::{
    certain, contact, empty_decision, scored_persona, timestamp, Outcome, PipelineEvent, Rules,
};
use crate::catalog::Catalog;
use crate::core::classify::Classification;
use crate::core::conversation::{AwaitingFeedback, ConversationState, OpenTicket};
use crate::core::route::{self, Decision, DecisionKind};
use crate::store::{Actor, Interaction, Priority, ScoredId, Ticket, TicketStatus, TranscriptLine};

/// Everything a button press is decided on, as read under the conversation's lock.
pub(crate) struct FeedbackInput<'a> {
    pub(crate) rules: &'a Rules,
    pub(crate) channel: &'a str,
    pub(crate) conversation: &'a str,
    /// The customer's id, hashed.
    pub(crate) user: String,
    /// "That helped" (`true`) or "Talk to a human".
    pub(crate) helped: bool,
    /// The conversation's state as stored.
    pub(crate) state: ConversationState,
    /// The press's time (ms since the epoch).
    pub(crate) now_ms: u64,
}

/// Feedback on a stored answer, recorded first (an answer purged meanwhile is skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rated {
    pub(crate) interaction: u64,
    pub(crate) helped: bool,
}

/// What a button press does, in order: rate the answer, then the step.
pub(crate) struct FeedbackSteps {
    pub(crate) rate: Option<Rated>,
    pub(crate) then: FeedbackStep,
}

/// After the rating: planned outright, or waiting for a read or a new ticket id.
pub(crate) enum FeedbackStep {
    Planned(Box<FeedbackPlan>),
    /// "Talk to a human" while a ticket is open: nothing is written; the outcome shows the
    /// ticket as stored.
    ShowsTicket(ShowsTicket),
    /// "Talk to a human" opens a ticket.
    OpensTicket(PendingFeedbackTicket),
}

/// A planned button press.
#[derive(Debug)]
pub(crate) struct FeedbackPlan {
    pub(crate) write: FeedbackWrite,
    pub(crate) outcome: Outcome,
    /// Announced once the write is durable.
    pub(crate) event: Option<PipelineEvent>,
}

/// What a button press writes after the rating.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FeedbackWrite {
    Nothing,
    /// The conversation's new state.
    Conversation(ConversationState),
    /// A new ticket and the conversation's state pointing at it, together.
    TicketAndConversation(Box<Ticket>, ConversationState),
}

/// "Talk to a human" while a ticket is open, waiting for that ticket as stored.
pub(crate) struct ShowsTicket {
    id: u64,
    outcome: Outcome,
}

impl ShowsTicket {
    /// The ticket to read.
    pub(crate) fn ticket_id(&self) -> u64 {
        self.id
    }

    /// The plan, given the ticket as stored (`None` if it was deleted).
    pub(crate) fn plan(self, ticket: Option<Ticket>) -> FeedbackPlan {
        FeedbackPlan {
            write: FeedbackWrite::Nothing,
            outcome: Outcome {
                ticket,
                ..self.outcome
            },
            event: None,
        }
    }
}

/// "Talk to a human" opening a ticket, waiting for a new ticket id and the rated answer's
/// stored interaction.
pub(crate) struct PendingFeedbackTicket {
    catalog: Arc<Catalog>,
    channel: String,
    conversation: String,
    user: String,
    state: ConversationState,
    awaiting: Option<AwaitingFeedback>,
    decision: Decision,
    subject: Option<String>,
    team: String,
    now_ms: u64,
}

/// Decides a button press; `Err` is the refusal shown to the customer.
pub(crate) fn plan_feedback(input: FeedbackInput<'_>) -> Result<FeedbackSteps, String> {
    let FeedbackInput {
        rules,
        channel,
        conversation,
        user,
        helped,
        state,
        now_ms,
    } = input;
    let persona = route::choose_persona(
        &rules.catalog,
        &rules.thresholds,
        &Classification::default(),
        &state,
    );
    let outcome = |decision, reply, interaction| Outcome {
        decision,
        reply,
        ticket: None,
        interaction,
        truncated: false,
        classification: Classification::default(),
        catalog: rules.catalog.clone(),
    };
    let awaiting = state.awaiting_feedback.clone();
    if helped {
        let Some(awaiting) = awaiting else {
            return Err(crate::core::wording::NO_ANSWER_WAITING.into());
        };
        let mut next = state;
        next.awaiting_feedback = None;
        let mut decision = empty_decision();
        decision.kind = DecisionKind::Answer;
        decision.persona = persona;
        decision.intent = Some(certain(&awaiting.intent));
        decision.answer = Some(awaiting.variant.clone());
        decision.reason = "customer said the answer helped".into();
        let reply = crate::core::wording::GLAD_IT_HELPED.to_string();
        return Ok(FeedbackSteps {
            rate: Some(Rated {
                interaction: awaiting.interaction,
                helped: true,
            }),
            then: FeedbackStep::Planned(Box::new(FeedbackPlan {
                write: FeedbackWrite::Conversation(next),
                outcome: outcome(decision, Some(reply), Some(awaiting.interaction)),
                event: None,
            })),
        });
    }
    if let Some(open) = &state.open_ticket {
        let mut decision = empty_decision();
        decision.kind = DecisionKind::Ticket;
        decision.team = Some(open.team.clone());
        decision.joins_ticket = Some(open.clone());
        decision.reason = format!("ticket #{} is already open", open.id);
        let reply = route::reply_text(&rules.catalog, &decision, Some(open.id), timestamp(now_ms));
        return Ok(FeedbackSteps {
            rate: None,
            then: FeedbackStep::ShowsTicket(ShowsTicket {
                id: open.id,
                outcome: outcome(decision, reply, None),
            }),
        });
    }
    let subject = awaiting
        .as_ref()
        .map(|a| a.intent.clone())
        .or_else(|| state.last_intent.clone())
        .filter(|id| rules.catalog.intent(id).is_some());
    let persona_id = persona.as_ref().map(|p| p.id.as_str());
    let team = subject
        .as_deref()
        .and_then(|id| rules.catalog.intent(id))
        .map_or_else(
            || route::FALLBACK_TEAM.to_string(),
            |i| i.route_for(persona_id).team,
        );
    let mut decision = empty_decision();
    decision.kind = DecisionKind::Ticket;
    decision.persona = persona;
    decision.team = Some(team.clone());
    decision.subject_intent = subject.clone();
    decision.intent = subject.as_deref().map(certain);
    decision.reason = match &awaiting {
        Some(a) => format!(
            "customer asked for a human after the self-help answer {}",
            a.variant
        ),
        None => "customer asked for a human".into(),
    };
    Ok(FeedbackSteps {
        rate: awaiting.as_ref().map(|a| Rated {
            interaction: a.interaction,
            helped: false,
        }),
        then: FeedbackStep::OpensTicket(PendingFeedbackTicket {
            catalog: rules.catalog.clone(),
            channel: channel.into(),
            conversation: conversation.into(),
            user,
            state,
            awaiting,
            decision,
            subject,
            team,
            now_ms,
        }),
    })
}

impl PendingFeedbackTicket {
    /// The rated answer's interaction to read and pass to [`plan`](Self::plan), if any.
    pub(crate) fn origin(&self) -> Option<u64> {
        self.awaiting
            .as_ref()
            .map(|a| a.interaction)
            .filter(|&id| id > 0)
    }

    /// The ticket whose `contact` to read and pass to [`plan`](Self::plan), if any.
    pub(crate) fn contact_from(&self) -> Option<u64> {
        self.state.contact.ticket
    }

    /// Plans the ticket with its new id, the [`origin`](Self::origin) interaction as stored
    /// (`None` if there is none, or it was purged) and the contact the customer gave earlier.
    pub(crate) fn plan(
        self,
        ticket_id: u64,
        origin: Option<Interaction>,
        contact: Option<String>,
    ) -> FeedbackPlan {
        let PendingFeedbackTicket {
            catalog,
            channel,
            conversation,
            user,
            state,
            awaiting,
            decision,
            subject,
            team,
            now_ms: at,
        } = self;
        let reply = route::reply_text(&catalog, &decision, Some(ticket_id), timestamp(at));
        let opens = Some((ticket_id, contact.is_some()));
        let ask_contact = contact::should_ask(&channel, &state, opens);
        let reply = contact::with_question(reply, ask_contact);
        let mut transcript = state.recent.clone();
        transcript.push(TranscriptLine {
            at_ms: at,
            from: Actor::Customer,
            text: "[pressed \"Talk to a human\"]".into(),
            user: Some(user.clone()),
        });
        if let Some(r) = &reply {
            transcript.push(TranscriptLine {
                at_ms: at,
                from: Actor::Bot,
                text: r.clone(),
                user: None,
            });
        }
        let ticket = Ticket {
            id: ticket_id,
            team: team.clone(),
            status: TicketStatus::Open,
            created_ms: at,
            updated_ms: at,
            channel,
            conversation,
            user,
            persona: scored_persona(&decision.persona, &Classification::default(), &state),
            intent: origin.as_ref().and_then(|i| i.intent.clone()).or_else(|| {
                subject.map(|s| ScoredId {
                    id: s,
                    confidence: 0.0,
                    score: 0.0,
                })
            }),
            evidence: origin.map(|i| i.evidence).unwrap_or_default(),
            reason: decision.reason.clone(),
            interaction: awaiting.as_ref().map(|a| a.interaction).unwrap_or(0),
            transcript,
            claimed_by: None,
            resolved_by: None,
            relabels: Vec::new(),
            contact: contact.clone(),
            priority: if state.frustrated {
                Priority::High
            } else {
                Priority::Normal
            },
            assigned_to: None,
            notes: Vec::new(),
            csat: None,
        };
        let mut next = state;
        next.awaiting_feedback = None;
        next.last_ticket = Some(ticket_id);
        next.open(OpenTicket {
            id: ticket_id,
            team,
            claimed_by: None,
        });
        contact::remember(&mut next, opens, ask_contact);
        if let Some(r) = &reply {
            next.remember(TranscriptLine {
                at_ms: at,
                from: Actor::Bot,
                text: r.clone(),
                user: None,
            });
        }
        FeedbackPlan {
            write: FeedbackWrite::TicketAndConversation(Box::new(ticket.clone()), next),
            event: Some(PipelineEvent::TicketOpened(ticket.clone())),
            outcome: Outcome {
                decision,
                reply,
                ticket: Some(ticket),
                interaction: None,
                truncated: false,
                classification: Classification::default(),
                catalog,
            },
        }
    }
}
