//! The pipeline: one inbound message in, one decision, reply and (maybe) ticket out, with the
//! interaction recorded as persona evidence. Every channel goes through here.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::catalog::settings::Settings;
use crate::catalog::Catalog;
use crate::core::classify::{confidence, Classification, Classifier, Score, Target};
use crate::core::conversation::OpenTicket;
use crate::core::route::{self, Decision, DecisionKind, Pick, Thresholds};
use crate::store::redact::redact;
use crate::store::{
    now_ms, Actor, EvidenceRecord, Interaction, RouteRecord, ScoredId, Store, StoreError, Ticket,
    TicketChange, TicketStatus, TranscriptLine, TurnWrite,
};

/// A customer message from any channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// terminal | http | discord | slack | telegram ...
    pub channel: String,
    /// The conversation (thread, DM, chat session) the message belongs to.
    pub conversation: String,
    /// The author's id on that channel (hashed before storage).
    pub user: String,
    pub text: String,
}

/// What the pipeline did with a message.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub decision: Decision,
    /// The text to send back; `None` means stay silent (an agent owns the conversation).
    pub reply: Option<String>,
    /// The ticket opened or joined.
    pub ticket: Option<Ticket>,
    /// The stored interaction, if the message was stored.
    pub interaction: Option<u64>,
    /// The message was cut to the length limit.
    pub truncated: bool,
    /// The message's own scores and evidence (empty for button presses).
    pub classification: Classification,
    /// The catalog the turn was decided on: `decision` and `classification` index into it,
    /// even when the catalog was reloaded meanwhile.
    pub catalog: Arc<Catalog>,
}

/// What happened to tickets, for channels that notify agents or deliver agent replies.
#[derive(Debug, Clone)]
pub enum PipelineEvent {
    /// A ticket was opened (on any channel).
    TicketOpened(Ticket),
    /// A ticket was claimed, resolved or relabelled.
    TicketUpdated(Ticket),
    /// A customer wrote in a conversation a ticket owns (`text` is redacted).
    CustomerMessage { ticket: u64, text: String },
    /// An agent replied; the ticket's channel delivers `text` to the customer.
    AgentReply {
        ticket: Ticket,
        agent: String,
        text: String,
    },
}

/// The next ticket event for a channel's subscriber, skipping over any it fell behind on (they
/// are logged, naming `channel`); `None` once the pipeline is gone.
pub async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<PipelineEvent>,
    channel: &str,
) -> Option<PipelineEvent> {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => return Some(event),
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    channel,
                    missed,
                    "ticket events lagged; the oldest were skipped"
                )
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// How a message is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Route as the catalog says.
    Route,
    /// The customer asked for a person outright (e.g. `/ticket`): always a ticket, for the team of
    /// the message's intent (else `support`).
    Ticket,
}

pub use super::error::{ErrorKind, PipelineError};

const LOCK_STRIPES: usize = 64;

/// Ticket events kept for slow subscribers.
const EVENT_BACKLOG: usize = 512;

/// Characters past the length limit still redacted, so an email or card number straddling the
/// limit is recognised whole before the text is cut.
const REDACTION_CONTEXT: usize = 256;

/// What a staged turn returns once its write is durable.
struct StagedTurn {
    decision: Decision,
    reply: Option<String>,
    id: u64,
    truncated: bool,
    classification: Classification,
    /// Whether the turn opened a ticket (else it joined one, or none).
    is_new: bool,
    /// The stored (redacted) customer text.
    text: String,
    catalog: Arc<Catalog>,
}

/// What a turn decides with: the catalog, its compiled matcher and the settings that shape
/// decisions. Swapped whole by [`Pipeline::reload`]; each turn works on the snapshot it started
/// with, so a reload never mixes two catalogs in one decision.
#[derive(Clone)]
pub struct Rules {
    pub catalog: Arc<Catalog>,
    pub classifier: Arc<Classifier>,
    pub thresholds: Thresholds,
    /// Longer messages are cut to this many characters.
    pub max_chars: usize,
}

impl Rules {
    pub fn new(catalog: Arc<Catalog>, classifier: Arc<Classifier>, settings: &Settings) -> Rules {
        Rules {
            catalog,
            classifier,
            thresholds: settings.classify,
            max_chars: settings.limits.max_message_chars,
        }
    }
}

/// Classifier, catalog, store and settings, shared by all channels.
pub struct Pipeline {
    rules: std::sync::RwLock<Arc<Rules>>,
    store: Store,
    /// Serialises turns of the same conversation, for sync callers and async ones alike.
    locks: Vec<tokio::sync::Mutex<()>>,
    events: tokio::sync::broadcast::Sender<PipelineEvent>,
}

/// The id form used in evidence targets.
pub fn target_name(catalog: &Catalog, target: Target) -> String {
    match target {
        Target::Persona(i) => format!("persona:{}", catalog.personas[i as usize].id),
        Target::Intent(i) => format!("intent:{}", catalog.intents[i as usize].id),
        Target::Veto(i) => format!("exclude:{}", catalog.intents[i as usize].id),
    }
}

fn scored(pick: &Option<Pick>) -> Option<ScoredId> {
    pick.as_ref().map(|p| ScoredId {
        id: p.id.clone(),
        confidence: p.confidence,
        score: 0.0,
    })
}

fn scored_list(scores: &[Score], id: impl Fn(u32) -> String) -> Vec<ScoredId> {
    scores
        .iter()
        .map(|s| ScoredId {
            id: id(s.index),
            confidence: confidence(s.score),
            score: s.score,
        })
        .collect()
}

/// Cuts `text` to at most `max` characters, on a character boundary.
pub fn truncate_chars(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    }
}

impl Pipeline {
    pub fn new(
        catalog: Arc<Catalog>,
        classifier: Arc<Classifier>,
        settings: &Settings,
        store: Store,
    ) -> Self {
        Pipeline {
            rules: std::sync::RwLock::new(Arc::new(Rules::new(catalog, classifier, settings))),
            store,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            events: tokio::sync::broadcast::channel(EVENT_BACKLOG).0,
        }
    }

    /// Ticket events from now on. A receiver that falls more than a few hundred events behind
    /// loses the oldest (and is told so by `recv`).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<PipelineEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: PipelineEvent) {
        // No subscriber (e.g. the terminal channel alone) is fine.
        let _ = self.events.send(event);
    }

    /// The rules turns start with now.
    pub fn rules(&self) -> Arc<Rules> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Swaps in new rules: turns already running finish on the old ones.
    pub fn reload(&self, rules: Rules) {
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.rules().catalog.clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Classifies and routes `text` as the first message of a new conversation, storing
    /// nothing (what `personabot classify` and `POST /v1/classify` show).
    pub fn classify_only(&self, text: &str) -> (Decision, Classification) {
        let rules = self.rules();
        route::run_single(&rules.catalog, &rules.thresholds, &rules.classifier, text)
    }

    fn stripe(&self, channel: &str, conversation: &str) -> &tokio::sync::Mutex<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (channel, conversation).hash(&mut h);
        &self.locks[(h.finish() as usize) % LOCK_STRIPES]
    }

    /// Locks a conversation from sync code (not from an async task: use [`Self::lock_async`]).
    fn lock(&self, channel: &str, conversation: &str) -> tokio::sync::MutexGuard<'_, ()> {
        self.stripe(channel, conversation).blocking_lock()
    }

    async fn lock_async(
        &self,
        channel: &str,
        conversation: &str,
    ) -> tokio::sync::MutexGuard<'_, ()> {
        self.stripe(channel, conversation).lock().await
    }

    fn evidence(catalog: &Catalog, classification: &Classification) -> Vec<EvidenceRecord> {
        classification
            .evidence
            .iter()
            .map(|e| EvidenceRecord {
                term: e.term.clone(),
                target: target_name(catalog, e.target),
                weight: e.weight,
            })
            .collect()
    }

    /// Handles one customer message end to end. When it returns `Ok`, the interaction (and any
    /// ticket) is durably stored.
    pub fn handle(&self, inbound: &Inbound) -> Result<Outcome, PipelineError> {
        self.handle_with(inbound, Mode::Route)
    }

    /// [`handle`](Self::handle) in a given [`Mode`]. Blocks: call it from sync code or
    /// `spawn_blocking`; async code calls [`handle_async`](Self::handle_async).
    pub fn handle_with(&self, inbound: &Inbound, mode: Mode) -> Result<Outcome, PipelineError> {
        if let Some(empty) = self.empty_message(inbound) {
            return Ok(empty);
        }
        let _guard = self.lock(&inbound.channel, &inbound.conversation);
        let (write, staged) = self.stage(inbound, mode)?;
        let ticket = self.store.submit_turn(write).wait_blocking()?;
        Ok(self.finish(staged, ticket))
    }

    /// [`handle_with`](Self::handle_with) for async code: the same turn, but waiting for the
    /// store's group commit yields the task instead of holding a thread. Staging still runs on
    /// a blocking thread: its sled reads can wait behind a commit, and must not stall the
    /// async threads. (`block_in_place` measured faster under load, but a burst of 1,000
    /// Discord messages on a busy machine then stalled: not every message was answered within
    /// two minutes.)
    pub async fn handle_async(
        self: &Arc<Self>,
        inbound: &Inbound,
        mode: Mode,
    ) -> Result<Outcome, PipelineError> {
        if let Some(empty) = self.empty_message(inbound) {
            return Ok(empty);
        }
        let _guard = self
            .lock_async(&inbound.channel, &inbound.conversation)
            .await;
        let pipeline = Arc::clone(self);
        let owned = inbound.clone();
        let (write, staged) = tokio::task::spawn_blocking(move || pipeline.stage(&owned, mode))
            .await
            .map_err(|e| {
                PipelineError::Internal(format!("the message could not be handled: {e}"))
            })??;
        let ticket = self.store.submit_turn(write).wait().await?;
        Ok(self.finish(staged, ticket))
    }

    /// The polite answer to an empty message, which is not a turn (nothing is stored).
    fn empty_message(&self, inbound: &Inbound) -> Option<Outcome> {
        let rules = self.rules();
        let (text, truncated) = truncate_chars(inbound.text.trim(), rules.max_chars);
        if !text.chars().all(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        Some(Outcome {
            reply: Some("Your message looks empty. What can I help you with?".into()),
            decision: empty_decision(),
            ticket: None,
            interaction: None,
            truncated,
            classification: Classification::default(),
            catalog: rules.catalog.clone(),
        })
    }

    /// Decides a turn and builds what it writes. The caller holds the conversation's lock
    /// until the write is durable.
    fn stage(
        &self,
        inbound: &Inbound,
        mode: Mode,
    ) -> Result<(TurnWrite, StagedTurn), PipelineError> {
        let rules = self.rules();
        let trimmed = inbound.text.trim();
        let (text, truncated) = truncate_chars(trimmed, rules.max_chars);
        let mut state = self
            .store
            .conversation(&inbound.channel, &inbound.conversation)?;
        if let Some(open) = &state.open_ticket {
            if self.store.ticket(open.id)?.is_none() {
                // The ticket was deleted (forgotten or purged): the bot owns the conversation.
                state.open_ticket = None;
            }
        }
        let classification = rules.classifier.classify(text);
        let mut decision = route::decide(
            &rules.catalog,
            &rules.thresholds,
            text,
            &classification,
            &state,
        );
        if mode == Mode::Ticket {
            route::force_ticket(&rules.catalog, &mut decision);
        }
        let id = self.store.next_interaction_id()?;
        let at = now_ms();
        let user = self.store.hash_user(&inbound.user);
        // Redact before cutting, so personal data straddling the limit is not stored half-cut.
        let (redaction_window, _) = truncate_chars(trimmed, rules.max_chars + REDACTION_CONTEXT);
        let redacted = truncate_chars(&redact(redaction_window), rules.max_chars)
            .0
            .to_string();
        let customer_line = TranscriptLine {
            at_ms: at,
            from: Actor::Customer,
            text: redacted.clone(),
        };

        // A ticket opened now, or the open ticket this message joins.
        let (ticket, opened) = match (&decision.joins_ticket, decision.kind) {
            (Some(open), _) => (
                TicketChange::Append {
                    id: open.id,
                    lines: vec![customer_line.clone()],
                },
                None,
            ),
            (None, DecisionKind::Ticket) => {
                let ticket_id = self.store.next_ticket_id()?;
                let team = decision
                    .team
                    .clone()
                    .unwrap_or_else(|| route::FALLBACK_TEAM.into());
                let mut transcript = state.recent.clone();
                transcript.push(customer_line.clone());
                // An escalation right after a self-help answer is about that answer's question.
                let escalated_from = state
                    .awaiting_feedback
                    .as_ref()
                    .filter(|a| decision.subject_intent.as_ref() == Some(&a.intent))
                    .filter(|a| decision.intent.as_ref().is_some_and(|i| i.id != a.intent))
                    .map(|a| a.interaction);
                let origin = match escalated_from {
                    Some(earlier) => self.store.interaction(earlier)?,
                    None => None,
                };
                let subject = match &origin {
                    Some(o) => o.intent.clone(),
                    None => decision.subject_intent.as_ref().map(|s| {
                        classification_score(&classification, &rules.catalog, s).unwrap_or_else(
                            || ScoredId {
                                id: s.clone(),
                                confidence: 0.0,
                                score: 0.0,
                            },
                        )
                    }),
                };
                let mut evidence = origin
                    .as_ref()
                    .map(|o| o.evidence.clone())
                    .unwrap_or_default();
                evidence.extend(Self::evidence(&rules.catalog, &classification));
                let t = Ticket {
                    id: ticket_id,
                    team: team.clone(),
                    status: TicketStatus::Open,
                    created_ms: at,
                    updated_ms: at,
                    channel: inbound.channel.clone(),
                    conversation: inbound.conversation.clone(),
                    user: user.clone(),
                    persona: scored(&decision.persona),
                    intent: subject.or_else(|| scored(&decision.intent)),
                    evidence,
                    reason: decision.reason.clone(),
                    interaction: escalated_from.unwrap_or(id),
                    transcript,
                    claimed_by: None,
                    resolved_by: None,
                    relabels: Vec::new(),
                };
                (
                    TicketChange::Open(Box::new(t)),
                    Some(OpenTicket {
                        id: ticket_id,
                        team,
                        claimed_by: None,
                    }),
                )
            }
            _ => (TicketChange::None, None),
        };

        let ticket_id = match &ticket {
            TicketChange::None => None,
            TicketChange::Open(t) => Some(t.id),
            TicketChange::Append { id, .. } => Some(*id),
        };
        let reply = route::reply_text(&rules.catalog, &decision, ticket_id, jiff::Timestamp::now())
            .map(|r| redact(&r).into_owned());
        let mut ticket = ticket;
        if let Some(r) = &reply {
            let line = TranscriptLine {
                at_ms: at,
                from: Actor::Bot,
                text: r.clone(),
            };
            match &mut ticket {
                TicketChange::None => {}
                TicketChange::Open(t) => t.transcript.push(line),
                TicketChange::Append { lines, .. } => lines.push(line),
            }
        }
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
            evidence: Self::evidence(&rules.catalog, &classification),
            route: RouteRecord {
                kind: decision.kind.as_str().into(),
                team: decision.team.clone(),
                answer: decision.answer.clone(),
                reason: decision.reason.clone(),
            },
            reply: reply.clone(),
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
            });
        }
        next.updated_ms = at;
        let staged = StagedTurn {
            is_new: matches!(ticket, TicketChange::Open(_)),
            text: interaction.text.clone(),
            decision,
            reply,
            id,
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
        Ok((write, staged))
    }

    /// Announces a durable turn and builds its outcome.
    fn finish(&self, staged: StagedTurn, ticket: Option<Ticket>) -> Outcome {
        if let Some(t) = &ticket {
            if staged.is_new {
                self.emit(PipelineEvent::TicketOpened(t.clone()));
            } else {
                self.emit(PipelineEvent::CustomerMessage {
                    ticket: t.id,
                    text: staged.text,
                });
            }
        }
        Outcome {
            decision: staged.decision,
            reply: staged.reply,
            ticket,
            interaction: Some(staged.id),
            truncated: staged.truncated,
            classification: staged.classification,
            catalog: staged.catalog,
        }
    }

    /// Records feedback on an answer; an answer purged meanwhile is skipped, not an error.
    fn rate(&self, interaction: u64, helped: bool) -> Result<(), PipelineError> {
        match self.store.set_feedback(interaction, helped) {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound { .. }) => {
                tracing::warn!(
                    interaction,
                    "feedback for an interaction that no longer exists"
                );
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// "That helped" (`helped = true`) or "Talk to a human" on the answer the conversation is
    /// waiting on. "Talk to a human" opens a ticket for the answer's team.
    pub fn feedback(
        &self,
        channel: &str,
        conversation: &str,
        user: &str,
        helped: bool,
    ) -> Result<Outcome, PipelineError> {
        let _guard = self.lock(channel, conversation);
        let rules = self.rules();
        let state = self.store.conversation(channel, conversation)?;
        let persona = route::choose_persona(
            &rules.catalog,
            &rules.thresholds,
            &Classification::default(),
            &state,
        );
        let awaiting = state.awaiting_feedback.clone();
        if helped {
            let Some(awaiting) = awaiting else {
                return Err(PipelineError::Refused(
                    "There is no answer waiting for feedback in this conversation.".into(),
                ));
            };
            self.rate(awaiting.interaction, true)?;
            let mut next = state.clone();
            next.awaiting_feedback = None;
            let mut decision = empty_decision();
            decision.kind = DecisionKind::Answer;
            decision.persona = persona;
            decision.intent = Some(Pick {
                index: 0,
                id: awaiting.intent.clone(),
                confidence: 1.0,
                margin: 1.0,
            });
            decision.answer = Some(awaiting.variant.clone());
            decision.reason = "customer said the answer helped".into();
            self.store.save_conversation(channel, conversation, &next)?;
            return Ok(Outcome {
                decision,
                reply: Some("Great, glad that helped! Ask me anything else any time.".into()),
                ticket: None,
                interaction: Some(awaiting.interaction),
                truncated: false,
                classification: Classification::default(),
                catalog: rules.catalog.clone(),
            });
        }
        if let Some(open) = &state.open_ticket {
            let ticket = self.store.ticket(open.id)?;
            let mut decision = empty_decision();
            decision.kind = DecisionKind::Ticket;
            decision.team = Some(open.team.clone());
            decision.joins_ticket = Some(open.clone());
            decision.reason = format!("ticket #{} is already open", open.id);
            return Ok(Outcome {
                reply: route::reply_text(
                    &rules.catalog,
                    &decision,
                    Some(open.id),
                    jiff::Timestamp::now(),
                ),
                decision,
                ticket,
                interaction: None,
                truncated: false,
                classification: Classification::default(),
                catalog: rules.catalog.clone(),
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
        if let Some(a) = &awaiting {
            self.rate(a.interaction, false)?;
        }
        let at = now_ms();
        let mut decision = empty_decision();
        decision.kind = DecisionKind::Ticket;
        decision.persona = persona.clone();
        decision.team = Some(team.clone());
        decision.subject_intent = subject.clone();
        decision.intent = subject.as_ref().map(|s| Pick {
            index: 0,
            id: s.clone(),
            confidence: 1.0,
            margin: 1.0,
        });
        decision.reason = match &awaiting {
            Some(a) => format!(
                "customer asked for a human after the self-help answer {}",
                a.variant
            ),
            None => "customer asked for a human".into(),
        };
        let ticket_id = self.store.next_ticket_id()?;
        let reply = route::reply_text(
            &rules.catalog,
            &decision,
            Some(ticket_id),
            jiff::Timestamp::now(),
        );
        let origin = awaiting.as_ref().map(|a| a.interaction).unwrap_or(0);
        let origin_record = if origin > 0 {
            self.store.interaction(origin)?
        } else {
            None
        };
        let mut transcript = state.recent.clone();
        transcript.push(TranscriptLine {
            at_ms: at,
            from: Actor::Customer,
            text: "[pressed \"Talk to a human\"]".into(),
        });
        if let Some(r) = &reply {
            transcript.push(TranscriptLine {
                at_ms: at,
                from: Actor::Bot,
                text: r.clone(),
            });
        }
        let ticket = Ticket {
            id: ticket_id,
            team: team.clone(),
            status: TicketStatus::Open,
            created_ms: at,
            updated_ms: at,
            channel: channel.into(),
            conversation: conversation.into(),
            user: self.store.hash_user(user),
            persona: scored(&persona),
            intent: origin_record
                .as_ref()
                .and_then(|i| i.intent.clone())
                .or_else(|| {
                    subject.map(|s| ScoredId {
                        id: s,
                        confidence: 0.0,
                        score: 0.0,
                    })
                }),
            evidence: origin_record.map(|i| i.evidence).unwrap_or_default(),
            reason: decision.reason.clone(),
            interaction: origin,
            transcript,
            claimed_by: None,
            resolved_by: None,
            relabels: Vec::new(),
        };
        let mut next = state.clone();
        next.awaiting_feedback = None;
        next.last_ticket = Some(ticket_id);
        next.open_ticket = Some(OpenTicket {
            id: ticket_id,
            team,
            claimed_by: None,
        });
        if let Some(r) = &reply {
            next.remember(TranscriptLine {
                at_ms: at,
                from: Actor::Bot,
                text: r.clone(),
            });
        }
        self.store
            .save_ticket_and_conversation(&ticket, channel, conversation, &next)?;
        self.emit(PipelineEvent::TicketOpened(ticket.clone()));
        Ok(Outcome {
            decision,
            reply,
            ticket: Some(ticket),
            interaction: None,
            truncated: false,
            classification: Classification::default(),
            catalog: rules.catalog.clone(),
        })
    }

    /// Stores whether an interaction's reply reached the customer (`sent`, after `attempts`
    /// tries). A failure to store it is logged, not returned: the turn itself is already stored.
    pub fn record_delivery<T>(&self, interaction: u64, sent: &Result<T, String>, attempts: u32) {
        let delivery = crate::store::Delivery {
            ok: sent.is_ok(),
            attempts,
            error: sent.as_ref().err().cloned(),
            at_ms: now_ms(),
        };
        if let Err(e) = self.store.record_delivery(interaction, delivery) {
            tracing::error!(error = %e, interaction, "recording delivery failed");
        }
    }

    /// Locks the conversation a ticket belongs to, then runs `action` on the store and tells
    /// subscribers about the change.
    fn ticket_action(
        &self,
        id: u64,
        action: impl FnOnce(&Store) -> Result<Ticket, StoreError>,
    ) -> Result<Ticket, PipelineError> {
        let current = self
            .store
            .ticket(id)?
            .ok_or(StoreError::NotFound { what: "ticket", id })?;
        let _guard = self.lock(&current.channel, &current.conversation);
        let ticket = action(&self.store)?;
        self.emit(PipelineEvent::TicketUpdated(ticket.clone()));
        Ok(ticket)
    }

    /// An agent claims a ticket: the bot goes silent in its conversation.
    pub fn claim(&self, ticket: u64, agent: &str) -> Result<Ticket, PipelineError> {
        self.ticket_action(ticket, |s| s.claim_ticket(ticket, agent))
    }

    /// An agent resolves a ticket: the conversation returns to the bot.
    pub fn resolve(&self, ticket: u64, agent: &str) -> Result<Ticket, PipelineError> {
        self.ticket_action(ticket, |s| s.resolve_ticket(ticket, agent))
    }

    /// An agent corrects a ticket's intent and/or persona (ground truth for learning).
    pub fn relabel(
        &self,
        ticket: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket, PipelineError> {
        let catalog = self.catalog();
        if let Some(i) = intent.filter(|i| catalog.intent(i).is_none()) {
            return Err(PipelineError::Invalid(format!("unknown intent `{i}`")));
        }
        if let Some(p) = persona.filter(|p| catalog.persona(p).is_none()) {
            return Err(PipelineError::Invalid(format!("unknown persona `{p}`")));
        }
        self.ticket_action(ticket, |s| s.relabel_ticket(ticket, intent, persona, agent))
    }

    /// A human agent's reply to the customer: stored (redacted) in the ticket transcript, and
    /// handed to the ticket's channel for delivery.
    pub fn agent_reply(
        &self,
        ticket: u64,
        agent: &str,
        text: &str,
    ) -> Result<Ticket, PipelineError> {
        let (text, _) = truncate_chars(text.trim(), self.rules().max_chars);
        if text.is_empty() {
            return Err(PipelineError::Invalid("the reply is empty".into()));
        }
        let stored = self.store.append_transcript(
            ticket,
            TranscriptLine {
                at_ms: now_ms(),
                from: Actor::Agent(agent.into()),
                text: redact(text).into_owned(),
            },
        )?;
        self.emit(PipelineEvent::AgentReply {
            ticket: stored.clone(),
            agent: agent.to_string(),
            text: text.to_string(),
        });
        Ok(stored)
    }
}

fn classification_score(c: &Classification, catalog: &Catalog, intent: &str) -> Option<ScoredId> {
    c.intents
        .iter()
        .find(|s| catalog.intents[s.index as usize].id == intent)
        .map(|s| ScoredId {
            id: intent.to_string(),
            confidence: confidence(s.score),
            score: s.score,
        })
}

fn empty_decision() -> Decision {
    Decision {
        persona: None,
        intent: None,
        kind: DecisionKind::Fallback,
        team: None,
        answer: None,
        answer_text: None,
        choices: Vec::new(),
        reason: "empty message".into(),
        subject_intent: None,
        joins_ticket: None,
        persona_only: false,
    }
}
