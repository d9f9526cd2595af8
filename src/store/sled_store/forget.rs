//! Forgetting and purging: everything about one user, interactions past their retention, and
//! stale tickets and conversation state.

use super::codec::{decode_interaction, decode_state, decode_ticket, encode_state, encode_ticket};
use super::time_marks::{self, purge_step, PurgeStep};
use super::user_index::{ids_of, remove_ids};
use super::{conversation_key, id_suffix, OpenDb, Store, StoreError};
use crate::store::records::{Ticket, TicketStatus, TranscriptLine};

/// What `forget_user` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ForgetReport {
    pub interactions: usize,
    pub tickets: usize,
    pub conversations: usize,
    /// The user's lines removed from the transcripts of other users' tickets (a conversation
    /// several people write in) and from conversations' recent lines.
    pub lines: usize,
}

/// Removes the lines `user` (hashed) wrote; how many, when there were any.
fn without_lines_of(lines: &mut Vec<TranscriptLine>, user: &str) -> Option<usize> {
    let before = lines.len();
    lines.retain(|l| l.user.as_deref() != Some(user));
    let removed = before - lines.len();
    (removed > 0).then_some(removed)
}

impl OpenDb {
    fn forget_user(&self, user: &str) -> Result<ForgetReport, StoreError> {
        let hashed = self.hash_user(user);
        let mut report = ForgetReport::default();
        let mut conversations = std::collections::BTreeSet::new();
        let mut forgotten = std::collections::BTreeSet::new();
        for id in ids_of(&self.by_user, &hashed)? {
            let found = self.interaction(id)?;
            if found.as_ref().is_some_and(|i| i.user != hashed) {
                continue; // another user whose hash starts with the same 8 bytes
            }
            if let Some(i) = found {
                conversations.insert(conversation_key(&i.channel, &i.conversation));
                self.interactions.remove(id.to_be_bytes())?;
                super::outbox::forget_entries(&self.outbox, id)?;
                report.interactions += 1;
            }
            forgotten.insert(id);
        }
        remove_ids(&self.by_user, &forgotten)?;
        for entry in self.tickets.iter() {
            let (key, bytes) = entry?;
            let mut t = decode_ticket(&bytes)?;
            if t.user == hashed {
                self.tickets.remove(key)?;
                report.tickets += 1;
                self.release_conversation(&t)?;
            } else if let Some(removed) = without_lines_of(&mut t.transcript, &hashed) {
                self.tickets.insert(key, encode_ticket(&t, &self.texts)?)?;
                report.lines += removed;
            }
        }
        for key in conversations {
            if self.conversations.remove(key)?.is_some() {
                report.conversations += 1;
            }
        }
        for entry in self.conversations.iter() {
            let (key, bytes) = entry?;
            let mut state = decode_state(&bytes)?;
            if let Some(removed) = without_lines_of(&mut state.recent, &hashed) {
                self.conversations
                    .insert(key, encode_state(&state, &self.texts)?)?;
                report.lines += removed;
            }
        }
        self.db.flush()?;
        Ok(report)
    }

    /// Clears a conversation's ownership by `ticket` (the ticket is gone).
    fn release_conversation(&self, ticket: &Ticket) -> Result<(), StoreError> {
        let key = conversation_key(&ticket.channel, &ticket.conversation);
        if let Some(bytes) = self.conversations.get(&key)? {
            let mut state = decode_state(&bytes)?;
            if state.release(ticket.id) {
                self.conversations
                    .insert(key, encode_state(&state, &self.texts)?)?;
            }
        }
        Ok(())
    }

    /// Deletes the interactions before `cutoff_ms`, scanning them by id from the first and
    /// stopping at the first one an hour or more past the cutoff (see [`purge_step`]), then
    /// their `by_user` entries and the time marks of the minutes before the cutoff's.
    fn purge_before(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        let mut purged = std::collections::BTreeSet::new();
        for entry in self.interactions.iter() {
            let (key, bytes) = entry?;
            let i = decode_interaction(&bytes)?;
            match purge_step(i.at_ms, cutoff_ms) {
                PurgeStep::Stop => break,
                PurgeStep::Keep => {}
                PurgeStep::Delete => {
                    self.interactions.remove(&key)?;
                    purged.insert(id_suffix(&key));
                }
            }
        }
        remove_ids(&self.by_user, &purged)?;
        time_marks::remove_before(&self.time_marks, cutoff_ms)?;
        self.db.flush()?;
        Ok(purged.len())
    }

    fn purge_stale_before(&self, cutoff_ms: u64) -> Result<(usize, usize), StoreError> {
        let mut tickets = 0;
        for entry in self.tickets.iter() {
            let (key, bytes) = entry?;
            let t = decode_ticket(&bytes)?;
            if t.status == TicketStatus::Resolved && t.updated_ms < cutoff_ms {
                self.tickets.remove(key)?;
                tickets += 1;
            }
        }
        let mut conversations = 0;
        for entry in self.conversations.iter() {
            let (key, bytes) = entry?;
            let state = decode_state(&bytes)?;
            if state.open_ticket.is_none() && state.updated_ms < cutoff_ms {
                self.conversations.remove(key)?;
                conversations += 1;
            }
        }
        self.db.flush()?;
        Ok((tickets, conversations))
    }
}

impl Store {
    /// Deletes everything about a user: interactions, tickets, conversation state, and the
    /// lines they wrote in other users' tickets. Refused when the store was written with
    /// another user-hash key (or with one, and opened without it): their hash would match
    /// nothing.
    pub fn forget_user(&self, user: &str) -> Result<ForgetReport, StoreError> {
        self.shared.key_check.require()?;
        self.current()?.forget_user(user)
    }

    /// Deletes interactions older than `cutoff_ms`; returns how many.
    pub fn purge_before(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        self.current()?.purge_before(cutoff_ms)
    }

    /// Deletes resolved tickets last updated before `cutoff_ms`, and the state of conversations
    /// idle since then that no open ticket owns; returns (tickets, conversations) deleted.
    pub(crate) fn purge_stale_before(&self, cutoff_ms: u64) -> Result<(usize, usize), StoreError> {
        self.current()?.purge_stale_before(cutoff_ms)
    }
}
