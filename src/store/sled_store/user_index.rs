//! The `by_user` index: 8 bytes of the user's keyed hash, then the interaction id (16 bytes a
//! key), instead of the whole stored user id (`u_` + 32 hex digits) ++ id.
//!
//! A key placed at random in a sled tree costs disk out of proportion to its size (sled rewrites
//! the leaf it lands in every few changes, and the old copies stay in the log until its segment
//! is cleaned), so the shorter key makes each turn's one randomly placed write smaller. Two users
//! may share the 8 bytes: every reader checks the interaction's own `user`.
//!
//! Stores written with the long keys are rewritten once when opened ([`upgrade`]).

use sha2::{Digest, Sha256};
use sled::Tree;

use super::StoreError;

/// The `meta` key recording that `by_user` holds the short keys.
const SHORT_KEYS: &str = "by_user_keys";
/// Its value.
const SHORT_KEYS_V2: &[u8] = b"2";

/// The 8 bytes `user` (a stored user id) is indexed under: the first 8 bytes of its keyed hash
/// (`u_` then hex), or of the SHA-256 of an id of another form.
pub(super) fn user_prefix(user: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    let hashed = user
        .strip_prefix("u_")
        .and_then(|hex| hex.get(..16))
        .and_then(crate::core::hex::decode);
    match hashed {
        Some(bytes) => out.copy_from_slice(&bytes),
        None => out.copy_from_slice(&Sha256::digest(user.as_bytes())[..8]),
    }
    out
}

/// The `by_user` key of interaction `id` of `user`.
pub(super) fn user_key(user: &str, id: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&user_prefix(user));
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

/// The old key's parts: the stored user id and the interaction id (`None`: not an old key).
fn old_key(key: &[u8]) -> Option<(&str, u64)> {
    let split = key.len().checked_sub(8).filter(|&n| n > 0)?;
    let user = std::str::from_utf8(&key[..split]).ok()?;
    Some((user, super::id_suffix(key)))
}

/// Rewrites the long keys of an older store as short ones, once (then `meta` says so).
pub(super) fn upgrade(meta: &Tree, by_user: &Tree) -> Result<(), StoreError> {
    if meta.get(SHORT_KEYS)?.as_deref() == Some(SHORT_KEYS_V2) {
        return Ok(());
    }
    let mut batch = sled::Batch::default();
    for entry in by_user.iter() {
        let (key, _) = entry?;
        if let Some((user, id)) = old_key(&key) {
            batch.remove(key.clone());
            batch.insert(&user_key(user, id)[..], &[]);
        }
    }
    by_user.apply_batch(batch)?;
    meta.insert(SHORT_KEYS, SHORT_KEYS_V2)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_users_are_keyed_by_their_own_first_bytes_and_others_by_sha256() {
        let cases: [(&str, [u8; 8]); 2] = [
            (
                "u_0123456789abcdef0011223344556677",
                [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            ),
            (
                "u_FFEEDDCCBBAA99887766554433221100",
                [0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88],
            ),
        ];
        for (user, want) in cases {
            assert_eq!(user_prefix(user), want, "{user}");
        }
        // Not hex after `u_`, too short, or another form: SHA-256 of the whole id.
        for user in ["u_zz", "u_0123", "alice", "", "u_é23456789abcdef01"] {
            let want: [u8; 8] = Sha256::digest(user.as_bytes())[..8].try_into().unwrap();
            assert_eq!(user_prefix(user), want, "{user:?}");
        }
    }

    #[test]
    fn a_key_is_the_prefix_then_the_id_big_endian() {
        let key = user_key("u_0123456789abcdef0011223344556677", 0x0102);
        assert_eq!(key[..8], [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        assert_eq!(key[8..], [0, 0, 0, 0, 0, 0, 1, 2]);
    }

    #[test]
    fn old_keys_are_split_into_user_and_id() {
        let mut key = b"u_abc".to_vec();
        key.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(old_key(&key), Some(("u_abc", 7)));
        assert_eq!(old_key(&7u64.to_be_bytes()), None);
        assert_eq!(old_key(b"short"), None);
        let mut bad = vec![0xff];
        bad.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(old_key(&bad), None);
    }

    #[test]
    fn an_older_store_is_upgraded_once() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let (meta, by_user) = (
            db.open_tree("meta").unwrap(),
            db.open_tree("by_user").unwrap(),
        );
        let user = "u_0123456789abcdef0011223344556677";
        for id in [3u64, 9] {
            let mut key = user.as_bytes().to_vec();
            key.extend_from_slice(&id.to_be_bytes());
            by_user.insert(key, &[]).unwrap();
        }
        upgrade(&meta, &by_user).unwrap();
        let keys: Vec<Vec<u8>> = by_user.iter().map(|e| e.unwrap().0.to_vec()).collect();
        assert_eq!(
            keys,
            [user_key(user, 3).to_vec(), user_key(user, 9).to_vec()]
        );
        assert_eq!(
            meta.get(SHORT_KEYS).unwrap().as_deref(),
            Some(SHORT_KEYS_V2)
        );
        // Once marked, nothing is read again: a short key is never taken for an old one.
        upgrade(&meta, &by_user).unwrap();
        assert_eq!(by_user.len(), 2);
    }
}
