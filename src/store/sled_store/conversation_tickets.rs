//! A conversation's tickets: every ticket a conversation opened, open or resolved, oldest first
//! (a conversation may hold several at once, one per team).

use super::codec::{decode_ticket, decode_ticket_owner};
use super::{conversations::stored_pair, OpenDb, Store, StoreError};
use crate::store::records::Ticket;

impl OpenDb {
    fn conversation_tickets(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<Vec<Ticket>, StoreError> {
        let (channel, conversation) = stored_pair(&self.hash_key, channel, conversation);
        let mut out = Vec::new();
        for entry in self.tickets.iter() {
            let (_, bytes) = entry?;
            let (owner_channel, owner_conversation) = decode_ticket_owner(&bytes)?;
            if owner_channel == channel && owner_conversation == conversation {
                out.push(decode_ticket(&bytes)?);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Every ticket of a conversation, oldest first. Its ids may be given as received or as
    /// stored.
    pub fn conversation_tickets(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<Vec<Ticket>, StoreError> {
        self.current()?.conversation_tickets(channel, conversation)
    }
}
