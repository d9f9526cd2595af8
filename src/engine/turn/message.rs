//! Planning one customer message: the decision, the interaction to store, the conversation's
//! state after it, the ticket it opens or joins, the reply, and what to announce once the write
//! is durable.

use std::sync::Arc;

use super::{
    classification_score, contact, evidence, scored_intent, scored_list, scored_persona, timestamp,
    truncate_chars, Inbound, Mode, Outcome, PipelineEvent, Rules,
};
use crate::catalog::Catalog;
use crate::core::classify::Classification;
use crate::core::conversation::{ConversationState, OpenTicket};
use crate::core::route::{self, Decision, DecisionKind};
use crate::store::redact::redact;
use crate::store::{
    Actor, Interaction, Priority, RouteRecord, ScoredId, Ticket, TicketChange, TicketPatch,
    TicketStatus, TranscriptLine, TurnWrite,
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
    /// Open tickets of the state that are no longer stored (forgotten or purged): they no
    /// longer own the conversation.
    pub(crate) gone_tickets: Vec<u64>,
    /// The author's id, hashed.
    pub(crate) user: String,
    /// The id the interaction is stored under.
    pub(crate) interaction: u64,
    /// The turn's time (ms since the epoch): the records' times and the business hours the reply
    /// is worded for.
    pub(crate) now_ms: u64,
    /// What the message's text alone gives ([`TextWork::of`] the same `rules` and `inbound`).
    pub(crate) text: TextWork,
}

/// What a turn takes from its text alone, with no state and no store: the classification and
/// the text as stored. Done before the conversation's lock is taken, this (most of a turn's
/// work) runs while the store's writer holds sled's lock, instead of waiting for it.
#[derive(Debug, Clone)]
pub(crate) struct TextWork {
    classification: Classification,
    stored_text: String,
}

impl TextWork {
    /// `text` (a message as received) classified, and as stored: redacted, then cut.
    pub(crate) fn of(rules: &Rules, text: &str) -> TextWork {
        let trimmed = text.trim();
        let (cut, _) = truncate_chars(trimmed, rules.max_chars);
        TextWork {
            classification: rules.classifier.classify(cut),
            stored_text: stored_text(trimmed, rules.max_chars),
        }
    }
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
    /// The turn raises its ticket to high priority (set once the ticket is known to be normal).
    pub(crate) raises: bool,
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

/// A turn that opens a ticket, waiting for a new ticket id, for an escalation right after a
/// self-help answer that answer's stored interaction, and the ticket holding the customer's
/// contact, if they gave one.
pub(crate) struct PendingTicket<'a> {
    turn: Box<Decided<'a>>,
    /// The answer this escalation is about.
    origin: Option<u64>,
    /// The self-help answer the ticket comes right after (on its intent): the ticket points at
    /// it, an escalation after an answer.
    after_answer: Option<u64>,
}

impl PendingTicket<'_> {
    /// The interaction to read and pass to [`plan`](Self::plan), if any.
    pub(crate) fn origin(&self) -> Option<u64> {
        self.origin
    }

    /// The ticket whose `contact` to read and pass to [`plan`](Self::plan), if any.
    pub(crate) fn contact_from(&self) -> Option<u64> {
        self.turn.state.contact.ticket
    }

    /// Plans the turn with the new ticket's id, the [`origin`](Self::origin) interaction as
    /// stored (`None` if there is none, or it was purged) and the contact the customer gave
    /// earlier in the conversation.
    pub(crate) fn plan(
        self,
        ticket_id: u64,
        origin: Option<Interaction>,
        contact: Option<String>,
    ) -> TurnPlan {
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
            persona: scored_persona(&decision.persona, classification, state),
            intent: subject.or_else(|| scored_intent(&decision.intent, classification)),
            evidence: evidence_records,
            reason: decision.reason.clone(),
            interaction: self.after_answer.unwrap_or(*id),
            transcript,
            claimed_by: None,
            resolved_by: None,
            relabels: Vec::new(),
            contact,
            priority: if decision.frustrated || state.frustrated {
                Priority::High
            } else {
                Priority::Normal
            },
            assigned_to: None,
            notes: Vec::new(),
            csat: None,
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

/// The customer's text as stored: redacted, then cut to `max_chars`. Redacted before cutting,
/// so personal data straddling the limit is not stored half-cut.
pub(super) fn stored_text(trimmed: &str, max_chars: usize) -> String {
    let (redaction_window, _) = truncate_chars(trimmed, max_chars + REDACTION_CONTEXT);
    truncate_chars(&redact(redaction_window), max_chars)
        .0
        .to_string()
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
        gone_tickets,
        user,
        interaction,
        now_ms,
        text: work,
    } = input;
    for id in gone_tickets {
        state.release(id);
    }
    let trimmed = inbound.text.trim();
    let (text, truncated) = truncate_chars(trimmed, rules.max_chars);
    // The message right after the contact question: an email in it is the contact, and the
    // message is no evidence of anything. The question is never asked twice.
    if let Some(ticket) = state.contact.awaiting.take() {
        if let Some(email) = crate::core::contact::email_in(trimmed) {
            let asked = contact::Asked {
                rules,
                inbound,
                state,
                stored_text: work.stored_text,
                truncated,
                user,
                interaction,
                now_ms,
            };
            return TurnStep::Planned(Box::new(asked.answered(ticket, email)));
        }
    }
    let TextWork {
        classification,
        stored_text: redacted,
    } = work;
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
            // A ticket right after a self-help answer on its intent is an escalation after that
            // answer; an escalation by another intent ("a person please") is about its question.
            let after = turn
                .state
                .awaiting_feedback
                .as_ref()
                .filter(|a| turn.decision.subject_intent.as_ref() == Some(&a.intent));
            let origin = after
                .filter(|a| (turn.decision.intent.as_ref()).is_some_and(|i| i.id != a.intent))
                .map(|a| a.interaction);
            TurnStep::OpensTicket(PendingTicket {
                after_answer: after.map(|a| a.interaction),
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
        let opens = contact::opens(&ticket);
        let ask_contact = contact::should_ask(&inbound.channel, &state, opens);
        let reply = contact::with_question(reply, ask_contact);
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
            persona: scored_persona(&decision.persona, &classification, &state),
            intent: scored_intent(&decision.intent, &classification),
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
        // "That didn't help" in words (an intent marked `not_helped`): the answer's feedback, as
        // if the button was pressed. A ticket on the answer's intent does not rate it.
        let says_not_helped = (decision.intent.as_ref())
            .and_then(|i| rules.catalog.intent(&i.id))
            .is_some_and(|i| i.not_helped);
        let not_helped = (state.awaiting_feedback.as_ref())
            .filter(|_| says_not_helped)
            .map(|a| a.interaction);
        let patch = TicketPatch {
            contact: None,
            high_priority: decision.frustrated && matches!(ticket, TicketChange::Append { .. }),
        };
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
        contact::remember(&mut next, opens, ask_contact);
        let staged = StagedTurn {
            opens_ticket: matches!(ticket, TicketChange::Open(_)),
            text: interaction.text.clone(),
            decision,
            reply,
            interaction: id,
            truncated,
            classification,
            catalog: rules.catalog.clone(),
            raises: false,
        };
        let write = TurnWrite {
            interaction,
            state: next,
            ticket,
            not_helped,
            patch,
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
