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

    /// A value stored with [`set_link`](Self::set_link).
    pub fn link(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.current()?.link(key)
    }
}
