//! How the hot records are kept in sled: interactions and conversation states as a version
//! byte then postcard (a compact binary form in which strings stay plain UTF-8, so the privacy
//! checks that search sled's files still see any text stored), read back from that or from the
//! JSON that older stores hold (it starts with `{`, never a version byte).
//!
//! The bot's lines keep the catalog answers and fixed sentences they quote by reference
//! ([`texts`]); what customers and agents write is stored as written.
//!
//! Each binary form is its own struct, field by field, so the JSON shape of a record (with its
//! skipped empty fields, which a positional format cannot skip) can change without changing what
//! is on disk.

mod interaction;
mod line;
mod state;
mod texts;
mod ticket;

pub(super) use interaction::{decode_interaction, encode_interaction};
pub(super) use state::{decode_state, encode_state};
pub(super) use texts::Texts;
pub(super) use ticket::{decode_ticket, decode_ticket_owner, encode_ticket};

use serde::{Deserialize, Serialize};

use super::StoreError;

/// `record` (`what`: "an interaction") in the binary form: `version`, then postcard.
fn encode<T: Serialize>(version: u8, record: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    postcard::to_extend(record, vec![version])
        .map_err(|e| StoreError::Corrupt(format!("cannot write {what}: {e}")))
}

/// The postcard part of a binary record (its bytes after the version byte), read as `B`.
fn read<'a, B: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<B, StoreError> {
    postcard::from_bytes(body).map_err(|e| StoreError::Corrupt(format!("cannot read {what}: {e}")))
}

/// A record from its stored bytes when they are not one of the binary forms: the JSON of older
/// stores (it starts with `{`), else [`StoreError::Corrupt`].
fn json_or_corrupt<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, StoreError> {
    match bytes.first() {
        Some(b'{') => Ok(serde_json::from_slice(bytes)?),
        Some(other) => Err(StoreError::Corrupt(format!(
            "unknown encoding {other} of {what}"
        ))),
        None => Err(StoreError::Corrupt(format!("{what} is empty"))),
    }
}

/// Test checks and samples shared by the record kinds (and the store's other tests).
#[cfg(test)]
pub(super) mod check {
    use super::*;

    /// A store's texts holding `known`, and the folder of the database they are in.
    pub(super) fn texts_with(known: &[&str]) -> (tempfile::TempDir, Texts) {
        let dir = tempfile::tempdir().unwrap();
        let tree = sled::open(dir.path()).unwrap().open_tree("texts").unwrap();
        let texts = Texts::load(&tree).unwrap();
        texts.add(&tree, known.iter().copied()).unwrap();
        (dir, texts)
    }

    /// Each sample goes through the binary form `version` and back whole, in less than half its
    /// JSON; and its JSON (an older store's record) is read back whole too.
    pub(super) fn round_trips<T: Serialize + PartialEq + std::fmt::Debug>(
        samples: Vec<T>,
        version: u8,
        encode: impl Fn(&T) -> Result<Vec<u8>, StoreError>,
        decode: impl Fn(&[u8]) -> Result<T, StoreError>,
    ) {
        for sample in samples {
            let bytes = encode(&sample).unwrap();
            assert_eq!(bytes[0], version);
            assert_eq!(decode(&bytes).unwrap(), sample);
            let json = serde_json::to_vec(&sample).unwrap();
            assert!(
                bytes.len() * 2 < json.len(),
                "{} vs {}",
                bytes.len(),
                json.len()
            );
            assert_eq!(decode(&json).unwrap(), sample);
        }
    }
}
