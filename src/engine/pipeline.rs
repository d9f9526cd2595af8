//! The pipeline: one inbound message in, one decision, reply and (maybe) ticket out, with the
//! interaction recorded as persona evidence. Every channel goes through here.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::catalog::settings::Settings;
use crate::catalog::Catalog;
use crate::core::classify::{Classification, Classifier};
use crate::core::route::{self, Decision};
use crate::engine::turn::{self, FeedbackStep, FeedbackWrite, TurnPlan, TurnStep};
use crate::store::{now_ms, Actor, Store, StoreError, Ticket, TranscriptLine};

pub use crate::engine::turn::{
    reply_as_sent, target_name, truncate_chars, Inbound, Mode, Outcome, PipelineEvent, Rules,
};

/// The pipeline's clock: milliseconds since the Unix epoch.
type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

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

pub use super::error::{ErrorKind, PipelineError};

/// Conversation locks, by hash. A turn holds its stripe until its write is durable (a whole
/// group commit), so two conversations sharing a stripe wait for each other: with as many
/// stripes as turns running at once (64), about a third of them waited (the birthday bound),
/// seen as idle CPU under load. With 4,096, about half a turn of 64 waits on average (64 x 63 / 2
/// pairs over 4,096 stripes).
const LOCK_STRIPES: usize = 4096;

/// Ticket events kept for slow subscribers.
const EVENT_BACKLOG: usize = 512;

/// Classifier, catalog, store and settings, shared by all channels.
pub struct Pipeline {
    rules: std::sync::RwLock<Arc<Rules>>,
    store: Store,
    /// The one clock every record's time comes from.
    clock: Clock,
    /// Serialises turns of the same conversation, for sync callers and async ones alike.
    locks: Vec<tokio::sync::Mutex<()>>,
    events: tokio::sync::broadcast::Sender<PipelineEvent>,
}

/// Lets the store keep the catalog's answers once (bot lines then refer to them). A failure
/// only costs space: the lines keep their text.
fn remember_bot_texts(store: &Store, catalog: &Catalog) {
    let texts = catalog.bot_texts();
    if let Err(e) = store.remember_texts(texts.iter().map(String::as_str)) {
        tracing::warn!(error = %e, "the catalog's answers will be stored in full");
    }
}

impl Pipeline {
    pub fn new(
        catalog: Arc<Catalog>,
        classifier: Arc<Classifier>,
        settings: &Settings,
        store: Store,
    ) -> Self {
        remember_bot_texts(&store, &catalog);
        Pipeline {
            rules: std::sync::RwLock::new(Arc::new(Rules::new(catalog, classifier, settings))),
            store,
            clock: Arc::new(now_ms),
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            events: tokio::sync::broadcast::channel(EVENT_BACKLOG).0,
        }
    }

    /// The same pipeline on another clock (milliseconds since the Unix epoch): the times of
    /// what it stores, and the business hours its replies are worded for.
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    /// The pipeline's clock now (ms since the epoch), for the edges that judge the age of what
    /// it stored (a web conversation's idleness).
    pub fn clock_ms(&self) -> u64 {
        self.now()
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
        remember_bot_texts(&self.store, &rules.catalog);
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

    /// Handles one customer message end to end. When it returns `Ok`, the interaction (and any
    /// ticket) is durably stored.
    pub fn handle(&self, inbound: &Inbound) -> Result<Outcome, PipelineError> {
        self.handle_with(inbound, Mode::Route)
    }

    /// [`handle`](Self::handle) in a given [`Mode`]. Blocks: call it from sync code or
    /// `spawn_blocking`; async code calls [`handle_async`](Self::handle_async).
    pub fn handle_with(&self, inbound: &Inbound, mode: Mode) -> Result<Outcome, PipelineError> {
        if let Some(empty) = turn::empty_message(&self.rules(), &inbound.text) {
            return Ok(empty);
        }
        let stored = self.with_stored_ids(inbound);
        let inbound = &*stored;
        let rules = self.rules();
        let text = turn::TextWork::of(&rules, &inbound.text);
        let _guard = self.lock(&inbound.channel, &inbound.conversation);
        let plan = self.stage(&rules, inbound, mode, text)?;
        let ticket = self.store.submit_turn(plan.write).wait_blocking()?;
        Ok(self.finish(plan.staged, ticket))
    }

    /// [`handle_with`](Self::handle_with) for async code: the same turn, but waiting for the
    /// store's group commit yields the task instead of holding a thread. The text is classified
    /// and redacted before the conversation's lock; staging then runs on the async thread
    /// itself (its sled reads are of memory), after waiting as a task while the writer applies a
    /// batch (whose transaction holds sled's lock: a read then would park the whole thread).
    /// Handing each turn to a blocking thread measured slower: under load the thread handoffs
    /// (futex waits and context switches) cost more than the turn's own work.
    /// (`block_in_place` measured faster too, but a burst of 1,000 Discord messages on a busy
    /// machine then stalled: not every message was answered within two minutes.)
    pub async fn handle_async(
        self: &Arc<Self>,
        inbound: &Inbound,
        mode: Mode,
    ) -> Result<Outcome, PipelineError> {
        if let Some(empty) = turn::empty_message(&self.rules(), &inbound.text) {
            return Ok(empty);
        }
        let stored = self.with_stored_ids(inbound);
        let inbound = &*stored;
        let rules = self.rules();
        let text = turn::TextWork::of(&rules, &inbound.text);
        let _guard = self
            .lock_async(&inbound.channel, &inbound.conversation)
            .await;
        self.store.writer_applied().await;
        let plan = self.stage(&rules, inbound, mode, text)?;
        let ticket = self.store.submit_turn(plan.write).wait().await?;
        Ok(self.finish(plan.staged, ticket))
    }

    /// `inbound` with the channel and conversation ids the store keeps: an id holding an email
    /// or phone number is hashed here, before anything about the turn is stored or announced.
    fn with_stored_ids<'a>(&self, inbound: &'a Inbound) -> std::borrow::Cow<'a, Inbound> {
        let (channel, conversation) = self
            .store
            .stored_ids(&inbound.channel, &inbound.conversation);
        if channel == inbound.channel && conversation == inbound.conversation {
            return std::borrow::Cow::Borrowed(inbound);
        }
        std::borrow::Cow::Owned(Inbound {
            channel,
            conversation,
            ..inbound.clone()
        })
    }

    /// Reads what a turn is decided on and plans it. The caller holds the conversation's lock
    /// until the write is durable.
    fn stage(
        &self,
        rules: &Rules,
        inbound: &Inbound,
        mode: Mode,
        text: turn::TextWork,
    ) -> Result<TurnPlan, PipelineError> {
        // `inbound` has the ids as stored (see `with_stored_ids`).
        let state = self
            .store
            .stored_conversation(&inbound.channel, &inbound.conversation)?;
        let mut gone_tickets = Vec::new();
        for open in state.open_tickets() {
            if self.store.ticket(open.id)?.is_none() {
                gone_tickets.push(open.id);
            }
        }
        let input = turn::TurnInput {
            rules,
            inbound,
            mode,
            state,
            gone_tickets,
            user: self.store.hash_user(&inbound.user),
            interaction: self.store.next_interaction_id()?,
            now_ms: self.now(),
            text,
        };
        let mut plan = match turn::plan_turn(input) {
            TurnStep::Planned(plan) => *plan,
            TurnStep::OpensTicket(pending) => {
                let ticket_id = self.store.next_ticket_id()?;
                let origin = match pending.origin() {
                    Some(id) => self.store.interaction(id)?,
                    None => None,
                };
                let contact = self.contact(pending.contact_from())?;
                pending.plan(ticket_id, origin, contact)
            }
        };
        self.mark_raise(&mut plan)?;
        Ok(plan)
    }

    /// The contact stored on ticket `id` (the customer's email, given earlier in the
    /// conversation), if that ticket is still stored.
    fn contact(&self, id: Option<u64>) -> Result<Option<String>, PipelineError> {
        Ok(match id {
            Some(id) => self.store.ticket(id)?.and_then(|t| t.contact),
            None => None,
        })
    }

    /// Announces a durable turn and returns its outcome.
    fn finish(&self, staged: turn::StagedTurn, ticket: Option<Ticket>) -> Outcome {
        let raised = (ticket.as_ref())
            .filter(|t| staged.raises && t.priority == crate::store::Priority::High)
            .cloned();
        let (outcome, event) = staged.finish(ticket);
        if let Some(event) = event {
            self.emit(event);
        }
        if let Some(t) = raised {
            self.emit(PipelineEvent::TicketRaised(t));
        }
        outcome
    }

    /// Marks a staged turn that raises the ticket it joins to high priority, if that ticket is
    /// not high already (read under the conversation's lock, which agent actions take too).
    fn mark_raise(&self, plan: &mut TurnPlan) -> Result<(), PipelineError> {
        let crate::store::TicketChange::Append { id, .. } = &plan.write.ticket else {
            return Ok(());
        };
        if plan.write.patch.high_priority {
            let current = self.store.ticket(*id)?;
            plan.staged.raises =
                current.is_some_and(|t| t.priority != crate::store::Priority::High);
        }
        Ok(())
    }

    /// Records feedback on an answer at `at_ms`; an answer purged meanwhile is skipped, not an
    /// error.
    fn rate(&self, rated: turn::Rated, at_ms: u64) -> Result<(), PipelineError> {
        let interaction = rated.interaction;
        match self.store.set_feedback_at(interaction, rated.helped, at_ms) {
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
        let (channel, conversation) = &self.store.stored_ids(channel, conversation);
        let _guard = self.lock(channel, conversation);
        let rules = self.rules();
        let now_ms = self.now();
        let input = turn::FeedbackInput {
            rules: &rules,
            channel,
            conversation,
            user: self.store.hash_user(user),
            helped,
            state: self.store.conversation(channel, conversation)?,
            now_ms,
        };
        let steps = turn::plan_feedback(input).map_err(PipelineError::Refused)?;
        if let Some(rated) = steps.rate {
            self.rate(rated, now_ms)?;
        }
        let plan = match steps.then {
            FeedbackStep::Planned(plan) => *plan,
            FeedbackStep::ShowsTicket(shows) => {
                let ticket = self.store.ticket(shows.ticket_id())?;
                shows.plan(ticket)
            }
            FeedbackStep::OpensTicket(pending) => {
                let ticket_id = self.store.next_ticket_id()?;
                let origin = match pending.origin() {
                    Some(id) => self.store.interaction(id)?,
                    None => None,
                };
                let contact = self.contact(pending.contact_from())?;
                pending.plan(ticket_id, origin, contact)
            }
        };
        match &plan.write {
            FeedbackWrite::Nothing => {}
            FeedbackWrite::Conversation(next) => {
                self.store.save_conversation(channel, conversation, next)?
            }
            FeedbackWrite::TicketAndConversation(ticket, next) => self
                .store
                .save_ticket_and_conversation(ticket, channel, conversation, next)?,
        }
        if let Some(event) = plan.event {
            self.emit(event);
        }
        Ok(plan.outcome)
    }

    /// Stores whether an interaction's reply reached the customer (`sent`, after `attempts`
    /// tries). A failure to store it is logged, not returned: the turn itself is already stored.
    pub fn record_delivery<T>(&self, interaction: u64, sent: &Result<T, String>, attempts: u32) {
        let delivery = crate::store::Delivery {
            ok: sent.is_ok(),
            attempts,
            error: sent.as_ref().err().cloned(),
            at_ms: self.now(),
        };
        if let Err(e) = self.store.record_delivery(interaction, delivery) {
            tracing::error!(error = %e, interaction, "recording delivery failed");
        }
    }

    /// Locks the conversation a ticket belongs to, then runs `action` on the store at the
    /// clock's time and tells subscribers about the change.
    fn ticket_action(
        &self,
        id: u64,
        action: impl FnOnce(&Store, u64) -> Result<Ticket, StoreError>,
    ) -> Result<Ticket, PipelineError> {
        self.ticket_change(id, action, PipelineEvent::TicketUpdated)
    }

    /// [`ticket_action`](Self::ticket_action), announcing the change as `event` says.
    fn ticket_change(
        &self,
        id: u64,
        action: impl FnOnce(&Store, u64) -> Result<Ticket, StoreError>,
        event: impl FnOnce(Ticket) -> PipelineEvent,
    ) -> Result<Ticket, PipelineError> {
        let current = self
            .store
            .ticket(id)?
            .ok_or(StoreError::NotFound { what: "ticket", id })?;
        let _guard = self.lock(&current.channel, &current.conversation);
        let ticket = action(&self.store, self.now())?;
        self.emit(event(ticket.clone()));
        Ok(ticket)
    }

    /// The customer's rating of ticket `id` (see [`crate::engine::csat`]), announced to agents;
    /// a later rating replaces an earlier one.
    pub fn rate_ticket(&self, id: u64, csat: crate::store::Csat) -> Result<Ticket, PipelineError> {
        self.ticket_change(
            id,
            |s, _| s.rate_ticket(id, csat),
            PipelineEvent::TicketRated,
        )
    }

    /// An agent claims a ticket: the bot goes silent in its conversation.
    pub fn claim(&self, ticket: u64, agent: &str) -> Result<Ticket, PipelineError> {
        self.ticket_action(ticket, |s, at| s.claim_ticket_at(ticket, agent, at))
    }

    /// An agent resolves a ticket: the conversation returns to the bot.
    pub fn resolve(&self, ticket: u64, agent: &str) -> Result<Ticket, PipelineError> {
        self.ticket_action(ticket, |s, at| s.resolve_ticket_at(ticket, agent, at))
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
        self.ticket_action(ticket, |s, at| {
            s.relabel_ticket_at(ticket, intent, persona, agent, at)
        })
    }

    /// A human agent's reply to the customer: stored as written in the ticket transcript (what
    /// agents send is never redacted), and handed to the ticket's channel for delivery.
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
        let at_ms = self.now();
        let line = TranscriptLine {
            at_ms,
            from: Actor::Agent(agent.into()),
            text: text.to_string(),
            user: None,
        };
        let stored = self.store.append_transcript_at(ticket, line, at_ms)?;
        self.emit(PipelineEvent::AgentReply {
            ticket: stored.clone(),
            agent: agent.to_string(),
            text: text.to_string(),
        });
        Ok(stored)
    }

    /// Assigns a ticket to `agent`, an agent or admin account of the ticket's team.
    pub fn assign(&self, ticket: u64, agent: &str) -> Result<Ticket, PipelineError> {
        let team = self
            .store
            .ticket(ticket)?
            .ok_or(StoreError::NotFound {
                what: "ticket",
                id: ticket,
            })?
            .team;
        let accounts = self.store.accounts()?;
        if !accounts
            .iter()
            .any(|a| a.name == agent && crate::store::works_team(a, &team))
        {
            return Err(PipelineError::Invalid(format!(
                "`{agent}` is not an agent account of team `{team}`"
            )));
        }
        self.ticket_change(
            ticket,
            |s, at| s.assign_ticket_at(ticket, agent, at),
            PipelineEvent::TicketAssigned,
        )
    }

    /// An internal note by `agent` on a ticket, written `from` a channel (`discord`, `slack`,
    /// `http`, `cli`): kept for agents, never sent to the customer.
    pub fn note(
        &self,
        ticket: u64,
        agent: &str,
        text: &str,
        from: &'static str,
    ) -> Result<Ticket, PipelineError> {
        let event = |t: Ticket| PipelineEvent::TicketNote {
            text: t.notes.last().map_or_else(String::new, |n| n.text.clone()),
            agent: agent.to_string(),
            ticket: t,
            from,
        };
        self.ticket_change(
            ticket,
            |s, at| s.note_ticket_at(ticket, agent, text, at),
            event,
        )
    }

    /// Gives a new ticket to the next of its team's signed-in agents (round-robin, see
    /// [`crate::engine::assign`]); `None` when the ticket has an agent already or nobody of the
    /// team is signed in.
    pub fn assign_round_robin(&self, ticket: &Ticket) -> Result<Option<Ticket>, PipelineError> {
        if ticket.assignee().is_some() {
            return Ok(None);
        }
        let signed_in = self.store.signed_in(self.now())?;
        let candidates: std::collections::BTreeSet<String> = self
            .store
            .accounts()?
            .into_iter()
            .filter(|a| signed_in.contains(&a.name) && crate::store::works_team(a, &ticket.team))
            .map(|a| a.name)
            .collect();
        let last = self.store.round_robin_cursor(&ticket.team)?;
        let Some(agent) = crate::engine::assign::next_agent(&candidates, last.as_deref()) else {
            return Ok(None);
        };
        let assigned = self.ticket_change(
            ticket.id,
            |s, at| s.assign_ticket_at(ticket.id, agent, at),
            PipelineEvent::TicketAssigned,
        )?;
        self.store.set_round_robin_cursor(&ticket.team, agent)?;
        Ok(Some(assigned))
    }
}
