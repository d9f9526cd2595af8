//! A conversation's tickets: every ticket a conversation opened, open or resolved, oldest first
//! (a conversation may hold several at once, one per team).

use serde::Deserialize;

use super::{conversations::stored_pair, OpenDb, Store, StoreError};
use crate::store::records::Ticket;

/// The part of a stored ticket that says whose it is, read before the whole record.
#[derive(Deserialize)]
struct Owner<'a> {
    #[serde(borrow)]
    channel: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    conversation: std::borrow::Cow<'a, str>,
}

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
            let owner: Owner<'_> = serde_json::from_slice(&bytes)?;
            if owner.channel == channel && owner.conversation == conversation {
                out.push(serde_json::from_slice(&bytes)?);
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
