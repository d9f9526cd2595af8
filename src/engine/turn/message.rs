//! Planning one customer message: the decision, the interaction to store, the conversation's
//! state after it, the ticket it opens or joins, the reply, and what to announce once the write
//! is durable.

use std::sync::Arc;

use super::{
    classification_score, evidence, scored, scored_list, timestamp, truncate_chars, Inbound, Mode,
    Outcome, PipelineEvent, Rules,
};
use crate::catalog::Catalog;
use crate::core::classify::Classification;
use crate::core::conversation::{ConversationState, OpenTicket};
use crate::core::route::{self, Decision, DecisionKind};
use crate::store::redact::redact;
use crate::store::{
    Actor, Interaction, RouteRecord, ScoredId, Ticket, TicketChange, TicketStatus, TranscriptLine,
    TurnWrite,
};

/// Characters past the length limit still redacted, so an email or card number straddling the
/// limit is recognised whole before the text is cut.
const REDACTION_CONTEXT: usize = 256;

/// Everything a turn is decided on, as read under the conversation's lock.
pub(crate) struct TurnInput<'a> {
    pub(crate) rules: &'a Rules,
    /// The message as received (it is trimmed, cut and redacted here).
    pub(crate) inbound: &'a Inbound,
    pub(crate) mode: Mode,
    /// The conversation's state as stored.
    pub(crate) state: ConversationState,
    /// The ticket `state.open_ticket` names is no longer stored (forgotten or purged): the bot
    /// owns the conversation again.
    pub(crate) open_ticket_gone: bool,
    /// The author's id, hashed.
    pub(crate) user: String,
    /// The id the interaction is stored under.
    pub(crate) interaction: u64,
    /// The turn's time (ms since the epoch): the records' times and the business hours the reply
    /// is worded for.
    pub(crate) now_ms: u64,
}

/// A planned turn: the records to write, then what to tell once they are durable.
#[derive(Debug)]
pub(crate) struct TurnPlan {
    /// What the store's turn writer applies, in one transaction.
    pub(crate) write: TurnWrite,
    pub(crate) staged: StagedTurn,
}

/// What a planned turn returns once its write is durable.
#[derive(Debug)]
pub(crate) struct StagedTurn {
    pub(crate) decision: Decision,
    pub(crate) reply: Option<String>,
    pub(crate) interaction: u64,
    pub(crate) truncated: bool,
    pub(crate) classification: Classification,
    /// Whether the turn opens a ticket (else it joins one, or none).
    pub(crate) opens_ticket: bool,
    /// The stored (redacted) customer text.
    pub(crate) text: String,
    pub(crate) catalog: Arc<Catalog>,
}

impl StagedTurn {
    /// The outcome, and the event to announce, given the ticket as the write stored it (none
    /// when the turn has no ticket, or the ticket it joins was deleted meanwhile).
    pub(crate) fn finish(self, stored: Option<Ticket>) -> (Outcome, Option<PipelineEvent>) {
        let event = stored.as_ref().map(|t| {
            if self.opens_ticket {
                PipelineEvent::TicketOpened(t.clone())
            } else {
                PipelineEvent::CustomerMessage {
                    ticket: t.id,
                    text: self.text,
                }
            }
        });
        let outcome = Outcome {
            decision: self.decision,
            reply: self.reply,
            ticket: stored,
            interaction: Some(self.interaction),
            truncated: self.truncated,
            classification: self.classification,
            catalog: self.catalog,
        };
        (outcome, event)
    }
}

/// The first step of a turn: planned outright, or waiting for what opening a ticket needs.
pub(crate) enum TurnStep<'a> {
    Planned(Box<TurnPlan>),
    OpensTicket(PendingTicket<'a>),
}

/// A turn that opens a ticket, waiting for a new ticket id and, for an escalation right after a
/// self-help answer, that answer's stored interaction.
pub(crate) struct PendingTicket<'a> {
    turn: Box<Decided<'a>>,
    /// The answer this escalation is about.
    origin: Option<u64>,
}

impl PendingTicket<'_> {
    /// The interaction to read and pass to [`plan`](Self::plan), if any.
    pub(crate) fn origin(&self) -> Option<u64> {
        self.origin
    }

    /// Plans the turn with the new ticket's id and the [`origin`](Self::origin) interaction as
    /// stored (`None` if there is none, or it was purged).
    pub(crate) fn plan(self, ticket_id: u64, origin: Option<Interaction>) -> TurnPlan {
        let Decided {
            rules,
            inbound,
            state,
            classification,
            decision,
            customer_line,
            user,
            interaction: id,
            now_ms: at,
            ..
        } = &*self.turn;
        let team = decision
            .team
            .clone()
            .unwrap_or_else(|| route::FALLBACK_TEAM.into());
        let mut transcript = state.recent.clone();
        transcript.push(customer_line.clone());
        let subject = match &origin {
            Some(o) => o.intent.clone(),
            None => decision.subject_intent.as_ref().map(|s| {
                classification_score(classification, &rules.catalog, s).unwrap_or_else(|| {
                    ScoredId {
                        id: s.clone(),
                        confidence: 0.0,
                        score: 0.0,
                    }
                })
            }),
        };
        let mut evidence_records = origin
            .as_ref()
            .map(|o| o.evidence.clone())
            .unwrap_or_default();
        evidence_records.extend(evidence(&rules.catalog, classification));
        let ticket = Ticket {
            id: ticket_id,
            team: team.clone(),
            status: TicketStatus::Open,
            created_ms: *at,
            updated_ms: *at,
            channel: inbound.channel.clone(),
            conversation: inbound.conversation.clone(),
            user: user.clone(),
            persona: scored(&decision.persona),
            intent: subject.or_else(|| scored(&decision.intent)),
            evidence: evidence_records,
            reason: decision.reason.clone(),
            interaction: self.origin.unwrap_or(*id),
            transcript,
            claimed_by: None,
            resolved_by: None,
            relabels: Vec::new(),
            contact: None,
            priority: Default::default(),
        };
        let opened = OpenTicket {
            id: ticket_id,
            team,
            claimed_by: None,
        };
        self.turn
            .plan(TicketChange::Open(Box::new(ticket)), Some(opened))
    }
}

/// A turn decided, before its records are built.
struct Decided<'a> {
    rules: &'a Rules,
    inbound: &'a Inbound,
    state: ConversationState,
    classification: Classification,
    decision: Decision,
    truncated: bool,
    /// The customer's text as stored: redacted, then cut.
    redacted: String,
    customer_line: TranscriptLine,
    user: String,
    interaction: u64,
    now_ms: u64,
}

/// Decides a turn: planned outright, unless it opens a ticket (see [`PendingTicket`]).
pub(crate) fn plan_turn(input: TurnInput<'_>) -> TurnStep<'_> {
    let TurnInput {
        rules,
        inbound,
        mode,
        mut state,
        open_ticket_gone,
        user,
        interaction,
        now_ms,
    } = input;
    if open_ticket_gone {
        state.open_ticket = None;
    }
    let trimmed = inbound.text.trim();
    let (text, truncated) = truncate_chars(trimmed, rules.max_chars);
    let classification = rules.classifier.classify(text);
    let mut decision = route::decide(
        &rules.catalog,
        &rules.thresholds,
        text,
        &classification,
        &state,
    );
    if mode == Mode::Ticket {
        route::force_ticket(&rules.catalog, text, &mut decision);
    }
    route::choose_answer(
        &rules.catalog,
        &mut decision,
        text,
        &classification,
        &state,
        &inbound.conversation,
    );
    // Redact before cutting, so personal data straddling the limit is not stored half-cut.
    let (redaction_window, _) = truncate_chars(trimmed, rules.max_chars + REDACTION_CONTEXT);
    let redacted = truncate_chars(&redact(redaction_window), rules.max_chars)
        .0
        .to_string();
    let customer_line = TranscriptLine {
        at_ms: now_ms,
        from: Actor::Customer,
        text: redacted.clone(),
        user: Some(user.clone()),
    };
    let turn = Decided {
        rules,
        inbound,
        state,
        classification,
        decision,
        truncated,
        redacted,
        customer_line,
        user,
        interaction,
        now_ms,
    };
    match (&turn.decision.joins_ticket, turn.decision.kind) {
        (Some(open), _) => {
            let ticket = TicketChange::Append {
                id: open.id,
                lines: vec![turn.customer_line.clone()],
            };
            TurnStep::Planned(Box::new(turn.plan(ticket, None)))
        }
        (None, DecisionKind::Ticket) => {
            // An escalation right after a self-help answer is about that answer's question.
            let origin = turn
                .state
                .awaiting_feedback
                .as_ref()
                .filter(|a| turn.decision.subject_intent.as_ref() == Some(&a.intent))
                .filter(|a| (turn.decision.intent.as_ref()).is_some_and(|i| i.id != a.intent))
                .map(|a| a.interaction);
            TurnStep::OpensTicket(PendingTicket {
                turn: Box::new(turn),
                origin,
            })
        }
        _ => TurnStep::Planned(Box::new(turn.plan(TicketChange::None, None))),
    }
}

impl Decided<'_> {
    /// The turn's records, given the ticket it opens or joins (`opened`: the one it opens).
    fn plan(self, mut ticket: TicketChange, opened: Option<OpenTicket>) -> TurnPlan {
        let Decided {
            rules,
            inbound,
            state,
            classification,
            decision,
            truncated,
            redacted,
            customer_line,
            user,
            interaction: id,
            now_ms: at,
        } = self;
        let ticket_id = match &ticket {
            TicketChange::None => None,
            TicketChange::Open(t) => Some(t.id),
            TicketChange::Append { id, .. } => Some(*id),
        };
        // What the bot sends is never redacted: only what customers write is.
        let reply = route::reply_text(&rules.catalog, &decision, ticket_id, timestamp(at));
        if let Some(r) = &reply {
            let line = TranscriptLine {
                at_ms: at,
                from: Actor::Bot,
                text: r.clone(),
                user: None,
            };
            match &mut ticket {
                TicketChange::None => {}
                TicketChange::Open(t) => t.transcript.push(line),
                TicketChange::Append { lines, .. } => lines.push(line),
            }
        }
        // The answer's own text is stored by reference (`route.answer`): only the sentences
        // around it are kept. A pointer to an answer already shown is the bot's own words.
        let (stored_reply, answer_at) = match (&reply, &decision.answer_text) {
            (Some(full), Some(answer)) if !decision.repeat => route::stored_reply(full, answer),
            _ => (reply.clone(), None),
        };
        let interaction = Interaction {
            id,
            at_ms: at,
            channel: inbound.channel.clone(),
            conversation: inbound.conversation.clone(),
            user,
            text: redacted,
            persona: scored(&decision.persona),
            intent: scored(&decision.intent),
            persona_scores: scored_list(&classification.personas, |i| {
                rules.catalog.personas[i as usize].id.clone()
            }),
            intent_scores: scored_list(&classification.intents, |i| {
                rules.catalog.intents[i as usize].id.clone()
            }),
            evidence: evidence(&rules.catalog, &classification),
            route: RouteRecord {
                kind: decision.kind,
                team: decision.team.clone(),
                answer: decision.answer.clone(),
                reason: decision.reason.clone(),
                actions: decision.actions().iter().map(|a| a.to_string()).collect(),
            },
            reply: stored_reply,
            answer_at,
            ticket: ticket_id,
            feedback: None,
            label: None,
            delivery: None,
        };
        // "That didn't help" in words: the answer's feedback, as if the button was pressed.
        let not_helped = state
            .awaiting_feedback
            .as_ref()
            .filter(|a| opened.is_some() && decision.subject_intent.as_ref() == Some(&a.intent))
            .map(|a| a.interaction);
        let mut next = route::advance(
            &state,
            &rules.catalog,
            &classification,
            &decision,
            id,
            opened,
        );
        next.remember(customer_line);
        if let Some(r) = &reply {
            next.remember(TranscriptLine {
                at_ms: at,
                from: Actor::Bot,
                text: r.clone(),
                user: None,
            });
        }
        next.updated_ms = at;
        let staged = StagedTurn {
            opens_ticket: matches!(ticket, TicketChange::Open(_)),
            text: interaction.text.clone(),
            decision,
            reply,
            interaction: id,
            truncated,
            classification,
            catalog: rules.catalog.clone(),
        };
        let write = TurnWrite {
            interaction,
            state: next,
            ticket,
            not_helped,
        };
        TurnPlan { write, staged }
    }
}

/// The reply an interaction sent, as the customer saw it: its stored sentences with the text of
/// its answer (`route.answer`, stored by reference) resolved from `catalog`; an answer no longer
/// in the catalog is said so in its place.
pub fn reply_as_sent(catalog: &Catalog, interaction: &Interaction) -> Option<String> {
    route::sent_reply(
        catalog,
        interaction.route.answer.as_deref(),
        interaction.reply.as_deref(),
        interaction.answer_at,
    )
}
