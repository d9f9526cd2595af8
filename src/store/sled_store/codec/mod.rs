//! How the hot records are kept in sled: interactions and conversation states as a version
//! byte then postcard (a compact binary form in which strings stay plain UTF-8, so the privacy
//! checks that search sled's files still see any text stored), read back from that or from the
//! JSON that older stores hold (it starts with `{`, never a version byte).
//!
//! Each binary form is its own struct, field by field, so the JSON shape of a record (with its
//! skipped empty fields, which a positional format cannot skip) can change without changing what
//! is on disk.

mod interaction;
mod state;

pub(super) use interaction::{decode_interaction, encode_interaction};
pub(super) use state::{decode_state, encode_state};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StoreError;

/// `record` (`what`: "an interaction") in the binary form: `version`, then postcard.
fn encode<T: Serialize>(version: u8, record: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    postcard::to_extend(record, vec![version])
        .map_err(|e| StoreError::Corrupt(format!("cannot write {what}: {e}")))
}

/// A record from its stored bytes: the binary form `version` (read as `B`, made whole by
/// `whole`), or the JSON of older stores; anything else is [`StoreError::Corrupt`].
fn decode<B: DeserializeOwned, T: DeserializeOwned>(
    bytes: &[u8],
    version: u8,
    what: &str,
    whole: impl FnOnce(B) -> T,
) -> Result<T, StoreError> {
    match bytes.first() {
        Some(&v) if v == version => postcard::from_bytes(&bytes[1..])
            .map(whole)
            .map_err(|e| StoreError::Corrupt(format!("cannot read {what}: {e}"))),
        Some(b'{') => Ok(serde_json::from_slice(bytes)?),
        Some(other) => Err(StoreError::Corrupt(format!(
            "unknown encoding {other} of {what}"
        ))),
        None => Err(StoreError::Corrupt(format!("{what} is empty"))),
    }
}

/// Test checks shared by the record kinds.
#[cfg(test)]
mod check {
    use super::*;

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
