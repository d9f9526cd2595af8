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

use super::StoreError;

fn binary_error(what: &str, e: postcard::Error) -> StoreError {
    StoreError::Corrupt(format!("cannot {what}: {e}"))
}
