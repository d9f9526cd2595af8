//! Tickets: ids, reading and listing them, and the agent actions (claim, resolve, transcript,
//! relabel), each changing the ticket and what it owns atomically (and, in cluster mode, writing
//! its ticket event to the outbox in the same transaction).

use sled::transaction::{ConflictableTransactionError, Transactional};

use super::codec::{
    decode_interaction, decode_state, decode_ticket, encode_interaction, encode_state,
    encode_ticket,
};
use super::outbox::{write_change, write_relabelled};
use super::{abort, conversation_key, OpenDb, Store, StoreError};
use crate::core::conversation::ConversationState;
use crate::store::now_ms;
use crate::store::records::{Label, Ticket, TicketStatus, TranscriptLine};

impl OpenDb {
    fn next_ticket_id(&self) -> Result<u64, StoreError> {
        let local = self.ticket_ids.next(&self.meta)?;
        Ok(super::spaced_id(local, self.id_index()))
    }

    fn save_ticket_and_conversation(
        &self,
        ticket: &Ticket,
        channel: &str,
        conversation: &str,
        state: &ConversationState,
    ) -> Result<(), StoreError> {
        let ticket_bytes = encode_ticket(ticket, &self.texts)?;
        let state_bytes = encode_state(state, &self.texts)?;
        let key = conversation_key(channel, conversation);
        let slot = self.change_slot()?;
        (&self.tickets, &self.conversations, &self.outbox).transaction(
            |(tickets, conversations, outbox)| {
                tickets.insert(&ticket.id.to_be_bytes(), ticket_bytes.as_slice())?;
                conversations.insert(key.as_slice(), state_bytes.as_slice())?;
                if let Some((node, sequence)) = slot {
                    write_change(outbox, node, sequence, "opened", ticket)?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            },
        )?;
        self.db.flush()?;
        self.wake_publisher();
        Ok(())
    }

    fn ticket(&self, id: u64) -> Result<Option<Ticket>, StoreError> {
        match self.tickets.get(id.to_be_bytes())? {
            Some(bytes) => Ok(Some(decode_ticket(&bytes)?)),
            None => Ok(None),
        }
    }

    fn tickets(
        &self,
        team: Option<&str>,
        status: Option<TicketStatus>,
    ) -> Result<Vec<Ticket>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tickets.iter().rev() {
            let (_, bytes) = entry?;
            let t = decode_ticket(&bytes)?;
            if team.is_none_or(|want| t.team == want) && status.is_none_or(|s| t.status == s) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Changes a ticket and its conversation's ownership atomically; in cluster mode the same
    /// transaction writes the ticket event `event` (e.g. `claimed`) to the outbox.
    pub(super) fn update_ticket(
        &self,
        id: u64,
        at_ms: u64,
        event: &str,
        change: impl Fn(&mut Ticket) -> Result<(), StoreError>,
    ) -> Result<Ticket, StoreError> {
        let slot = self.change_slot()?;
        let texts = &*self.texts;
        let ticket = (&self.tickets, &self.conversations, &self.outbox).transaction(
            |(tickets, conversations, outbox)| {
                let bytes = tickets
                    .get(id.to_be_bytes())?
                    .ok_or_else(|| abort(StoreError::NotFound { what: "ticket", id }))?;
                let mut t = decode_ticket(&bytes).map_err(abort)?;
                change(&mut t).map_err(abort)?;
                t.updated_ms = at_ms;
                tickets.insert(&id.to_be_bytes(), encode_ticket(&t, texts).map_err(abort)?)?;
                let key = conversation_key(&t.channel, &t.conversation);
                if let Some(bytes) = conversations.get(&key)? {
                    let mut state = decode_state(&bytes).map_err(abort)?;
                    let changed = match t.status {
                        TicketStatus::Resolved => state.release(t.id),
                        _ => state.set_claimed(t.id, t.claimed_by.clone()),
                    };
                    if changed {
                        conversations.insert(key, encode_state(&state, texts).map_err(abort)?)?;
                    }
                }
                if let Some((node, sequence)) = slot {
                    write_change(outbox, node, sequence, event, &t)?;
                }
                Ok(t)
            },
        )?;
        self.db.flush()?;
        self.wake_publisher();
        Ok(ticket)
    }

    fn claim_ticket(&self, id: u64, agent: &str, at_ms: u64) -> Result<Ticket, StoreError> {
        self.update_ticket(id, at_ms, "claimed", |t| match (&t.status, &t.claimed_by) {
            (TicketStatus::Resolved, _) => {
                Err(StoreError::Conflict(format!("ticket #{id} is resolved")))
            }
            (TicketStatus::Claimed, Some(by)) if by != agent => Err(StoreError::Conflict(format!(
                "ticket #{id} is already claimed by {by}"
            ))),
            _ => {
                t.status = TicketStatus::Claimed;
                t.claimed_by = Some(agent.to_string());
                t.assigned_to = Some(agent.to_string());
                Ok(())
            }
        })
    }

    fn resolve_ticket(&self, id: u64, agent: &str, at_ms: u64) -> Result<Ticket, StoreError> {
        self.update_ticket(id, at_ms, "resolved", |t| {
            if t.status == TicketStatus::Resolved {
                return Err(StoreError::Conflict(format!(
                    "ticket #{id} is already resolved"
                )));
            }
            t.status = TicketStatus::Resolved;
            t.resolved_by = Some(agent.to_string());
            Ok(())
        })
    }

    fn append_transcript(
        &self,
        id: u64,
        line: TranscriptLine,
        at_ms: u64,
    ) -> Result<Ticket, StoreError> {
        self.update_ticket(id, at_ms, "message", |t| {
            t.transcript.push(line.clone());
            Ok(())
        })
    }

    fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
        at_ms: u64,
    ) -> Result<Ticket, StoreError> {
        if intent.is_none() && persona.is_none() {
            return Err(StoreError::Invalid(
                "a relabel needs an intent, a persona, or both".into(),
            ));
        }
        let label = Label {
            intent: intent.map(str::to_string),
            persona: persona.map(str::to_string),
            by: agent.to_string(),
            at_ms,
        };
        let slot = self.change_slot()?;
        let texts = &*self.texts;
        let ticket = (&self.tickets, &self.interactions, &self.outbox).transaction(
            |(tickets, interactions, outbox)| {
                let bytes = tickets
                    .get(id.to_be_bytes())?
                    .ok_or_else(|| abort(StoreError::NotFound { what: "ticket", id }))?;
                let mut t = decode_ticket(&bytes).map_err(abort)?;
                t.relabels.push(label.clone());
                t.updated_ms = label.at_ms;
                tickets.insert(&id.to_be_bytes(), encode_ticket(&t, texts).map_err(abort)?)?;
                if let Some(bytes) = interactions.get(t.interaction.to_be_bytes())? {
                    let mut i = decode_interaction(&bytes).map_err(abort)?;
                    let previous = i.label.take();
                    i.label = Some(Label {
                        intent: label
                            .intent
                            .clone()
                            .or_else(|| previous.as_ref().and_then(|p| p.intent.clone())),
                        persona: label
                            .persona
                            .clone()
                            .or_else(|| previous.as_ref().and_then(|p| p.persona.clone())),
                        by: label.by.clone(),
                        at_ms: label.at_ms,
                    });
                    interactions.insert(
                        &t.interaction.to_be_bytes(),
                        encode_interaction(&i, texts).map_err(abort)?,
                    )?;
                    if let Some((node, sequence)) = slot {
                        write_relabelled(outbox, node, sequence, &i, label.at_ms)?;
                    }
                }
                if let Some((node, sequence)) = slot {
                    write_change(outbox, node, sequence, "relabelled", &t)?;
                }
                Ok(t)
            },
        )?;
        self.db.flush()?;
        self.wake_publisher();
        Ok(ticket)
    }
}

impl Store {
    /// A new ticket id: 1, 2, 3... (in cluster mode spaced by the node's index, see
    /// [`spaced_id`](super::spaced_id)).
    pub fn next_ticket_id(&self) -> Result<u64, StoreError> {
        self.current()?.next_ticket_id()
    }

    /// Saves a new ticket and the conversation state that points at it, atomically.
    pub(crate) fn save_ticket_and_conversation(
        &self,
        ticket: &Ticket,
        channel: &str,
        conversation: &str,
        state: &ConversationState,
    ) -> Result<(), StoreError> {
        self.current()?
            .save_ticket_and_conversation(ticket, channel, conversation, state)
    }

    pub fn ticket(&self, id: u64) -> Result<Option<Ticket>, StoreError> {
        self.current()?.ticket(id)
    }

    /// Tickets, newest first, optionally by team and status.
    pub fn tickets(
        &self,
        team: Option<&str>,
        status: Option<TicketStatus>,
    ) -> Result<Vec<Ticket>, StoreError> {
        self.current()?.tickets(team, status)
    }

    /// An agent takes the ticket; the bot stays silent in the conversation until it is resolved.
    pub fn claim_ticket(&self, id: u64, agent: &str) -> Result<Ticket, StoreError> {
        self.claim_ticket_at(id, agent, now_ms())
    }

    /// [`claim_ticket`](Self::claim_ticket) at a given time (ms since the epoch).
    pub(crate) fn claim_ticket_at(
        &self,
        id: u64,
        agent: &str,
        at_ms: u64,
    ) -> Result<Ticket, StoreError> {
        self.current()?.claim_ticket(id, agent, at_ms)
    }

    /// Closes the ticket; the conversation goes back to the bot.
    pub fn resolve_ticket(&self, id: u64, agent: &str) -> Result<Ticket, StoreError> {
        self.resolve_ticket_at(id, agent, now_ms())
    }

    /// [`resolve_ticket`](Self::resolve_ticket) at a given time (ms since the epoch).
    pub(crate) fn resolve_ticket_at(
        &self,
        id: u64,
        agent: &str,
        at_ms: u64,
    ) -> Result<Ticket, StoreError> {
        self.current()?.resolve_ticket(id, agent, at_ms)
    }

    /// Adds a transcript line (already redacted) to a ticket.
    pub fn append_transcript(&self, id: u64, line: TranscriptLine) -> Result<Ticket, StoreError> {
        self.append_transcript_at(id, line, now_ms())
    }

    /// [`append_transcript`](Self::append_transcript), the ticket updated at a given time (ms
    /// since the epoch).
    pub(crate) fn append_transcript_at(
        &self,
        id: u64,
        line: TranscriptLine,
        at_ms: u64,
    ) -> Result<Ticket, StoreError> {
        self.current()?.append_transcript(id, line, at_ms)
    }

    /// An agent corrects the intent and/or persona. Stored on the ticket and, as ground truth
    /// for learning, on the interaction that opened it (when there is one), atomically.
    pub fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket, StoreError> {
        self.relabel_ticket_at(id, intent, persona, agent, now_ms())
    }

    /// [`relabel_ticket`](Self::relabel_ticket) at a given time (ms since the epoch).
    pub(crate) fn relabel_ticket_at(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
        at_ms: u64,
    ) -> Result<Ticket, StoreError> {
        self.current()?
            .relabel_ticket(id, intent, persona, agent, at_ms)
    }
}
