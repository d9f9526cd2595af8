//! Conversation state and channel links: reading and saving a conversation's state, the
//! channels' bookkeeping values (`links`), and the ids a conversation is stored under (hashed
//! when they hold personal data, see [`ids`](crate::store::ids)).

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::codec::{decode_state, encode_state};
use super::{conversation_key, OpenDb, Store, StoreError};
use crate::core::conversation::ConversationState;
use crate::core::hex;
use crate::store::ids::{needs_hashing, HASHED_PREFIX};

/// `id` as stored: itself, or `id-` and its keyed hash (HMAC-SHA256 under the user-hash key,
/// 128 bits, hex) when it holds personal data. `channel` is the conversation's channel, or
/// empty for a channel name.
fn stored_id<'a>(key: &[u8], channel: &str, id: &'a str) -> Cow<'a, str> {
    if !needs_hashing(channel, id) {
        return Cow::Borrowed(id);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(b"id\0");
    mac.update(id.as_bytes());
    let digest = mac.finalize().into_bytes();
    Cow::Owned(format!("{HASHED_PREFIX}{}", hex::encode(&digest[..16])))
}

/// A channel name and conversation id as stored.
fn stored_ids<'a>(
    key: &[u8],
    channel: &'a str,
    conversation: &'a str,
) -> (Cow<'a, str>, Cow<'a, str>) {
    (
        stored_id(key, "", channel),
        stored_id(key, channel, conversation),
    )
}

/// A channel name and conversation id as stored (owned), for the other store modules.
pub(super) fn stored_pair(key: &[u8], channel: &str, conversation: &str) -> (String, String) {
    let (channel, conversation) = stored_ids(key, channel, conversation);
    (channel.into_owned(), conversation.into_owned())
}

impl OpenDb {
    fn conversation(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<ConversationState, StoreError> {
        let (channel, conversation) = stored_ids(&self.hash_key, channel, conversation);
        self.stored_conversation(&channel, &conversation)
    }

    fn stored_conversation(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<ConversationState, StoreError> {
        match self
            .conversations
            .get(conversation_key(channel, conversation))?
        {
            Some(bytes) => Ok(decode_state(&bytes)?),
            None => Ok(ConversationState::default()),
        }
    }

    fn save_conversation(
        &self,
        channel: &str,
        conversation: &str,
        state: &ConversationState,
    ) -> Result<(), StoreError> {
        let (channel, conversation) = stored_ids(&self.hash_key, channel, conversation);
        self.conversations.insert(
            conversation_key(&channel, &conversation),
            encode_state(state, &self.texts)?,
        )?;
        self.db.flush()?;
        Ok(())
    }

    fn set_links(&self, pairs: &[(&str, &str)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in pairs {
            batch.insert(key.as_bytes(), value.as_bytes());
        }
        self.links.apply_batch(batch)?;
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
    /// The channel name and conversation id as the store keeps them: each kept, or replaced by
    /// `id-<keyed hash>` when it holds an email, a phone number or other personal data (the ids
    /// Discord, Slack and Telegram issue are kept). Every id a turn stores goes through here
    /// first; the same id always gives the same result, and a result gives itself.
    pub fn stored_ids(&self, channel: &str, conversation: &str) -> (String, String) {
        let (channel, conversation) = stored_ids(&self.shared.hash_key, channel, conversation);
        (channel.into_owned(), conversation.into_owned())
    }

    /// The state of a conversation (empty when new). Its ids may be given as received or as
    /// stored.
    pub fn conversation(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<ConversationState, StoreError> {
        self.current()?.conversation(channel, conversation)
    }

    /// The state of a conversation (empty when new) whose ids are given as stored (by
    /// [`stored_ids`](Self::stored_ids)): they are not checked for personal data again.
    pub(crate) fn stored_conversation(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<ConversationState, StoreError> {
        self.current()?.stored_conversation(channel, conversation)
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

    /// Stores a channel's bookkeeping values, each `(key, value)`, all at once: a reader sees
    /// every one or none (durable when it returns).
    pub(crate) fn set_links(&self, pairs: &[(&str, &str)]) -> Result<(), StoreError> {
        self.current()?.set_links(pairs)
    }

    /// The store's 32-byte secret `name` (e.g. the key visitor tokens are signed with), created
    /// at first use and kept for the life of the store.
    pub fn secret(&self, name: &str) -> Result<[u8; 32], StoreError> {
        self.current()?.secret(name)
    }

    /// A value stored with [`set_links`](Self::set_links).
    pub fn link(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.current()?.link(key)
    }
}
