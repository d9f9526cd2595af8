//! Conversation state and channel links: reading and saving a conversation's state, and the
//! channels' bookkeeping values (`links`).

use super::{conversation_key, OpenDb, Store, StoreError};
use crate::core::conversation::ConversationState;

impl OpenDb {
    fn conversation(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<ConversationState, StoreError> {
        match self
            .conversations
            .get(conversation_key(channel, conversation))?
        {
            Some(bytes) => Ok(serde_json::from_slice(&bytes)?),
            None => Ok(ConversationState::default()),
        }
    }

    fn save_conversation(
        &self,
        channel: &str,
        conversation: &str,
        state: &ConversationState,
    ) -> Result<(), StoreError> {
        self.conversations.insert(
            conversation_key(channel, conversation),
            serde_json::to_vec(state)?,
        )?;
        self.db.flush()?;
        Ok(())
    }

    fn set_link(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.links.insert(key, value.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// The 32-byte secret `name`, made from fresh random bytes the first time it is asked for
    /// (compare-and-swap, so concurrent first calls agree).
    fn secret(&self, name: &str) -> Result<[u8; 32], StoreError> {
        let key = format!("secret/{name}");
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|e| StoreError::Unavailable(format!("no random bytes for a secret: {e}")))?;
        let stored = match self
            .links
            .compare_and_swap(&key, None::<&[u8]>, Some(&fresh[..]))?
        {
            Ok(()) => {
                self.db.flush()?;
                return Ok(fresh);
            }
            Err(e) => e.current,
        };
        stored
            .as_deref()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| StoreError::Invalid(format!("the stored secret `{name}` is damaged")))
    }

    fn link(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .links
            .get(key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}

impl Store {
    /// The state of a conversation (empty when new).
    pub fn conversation(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<ConversationState, StoreError> {
        self.current()?.conversation(channel, conversation)
    }

    /// Saves a conversation's state alone.
    pub(crate) fn save_conversation(
        &self,
        channel: &str,
        conversation: &str,
        state: &ConversationState,
    ) -> Result<(), StoreError> {
        self.current()?
            .save_conversation(channel, conversation, state)
    }

    /// Stores a channel's bookkeeping value under `key` (durable when it returns).
    pub(crate) fn set_link(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.current()?.set_link(key, value)
    }

    /// The store's 32-byte secret `name` (e.g. the key visitor tokens are signed with), created
    /// at first use and kept for the life of the store.
    pub fn secret(&self, name: &str) -> Result<[u8; 32], StoreError> {
        self.current()?.secret(name)
    }

    /// A value stored with [`set_link`](Self::set_link).
    pub fn link(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.current()?.link(key)
    }
}
