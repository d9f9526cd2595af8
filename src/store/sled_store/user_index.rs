//! The `by_user` index, as a log: one entry per group commit (its key the batch's highest
//! interaction id, 8 bytes big-endian), holding for each turn of the batch 8 bytes of the
//! user's keyed hash then the interaction id (16 bytes a turn).
//!
//! Every sled entry costs disk out of proportion to its size (sled rewrites the leaf it lands in
//! every few changes, and the old copies stay in the log until its segment is cleaned): one
//! entry per turn, placed at random by the user's hash, cost about 360 bytes of store per turn.
//! A batch's one entry is appended at the end of the tree instead. Finding a user's
//! interactions reads the whole log (16 bytes per interaction), as `forget` and the customer
//! history already read every ticket. Two users may share the 8 bytes: every reader checks the
//! interaction's own `user`.
//!
//! Stores written with one key per interaction (16 bytes, or the whole user id ++ the id before
//! that) are rewritten once when opened ([`upgrade`]).

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use sled::Tree;

use super::StoreError;

/// The `meta` key recording the form `by_user` is in.
const FORM: &str = "by_user_keys";
/// Its value for the log.
const LOG_FORM: &[u8] = b"3";

/// Bytes per indexed interaction in a log entry.
const PAIR: usize = 16;

/// Interactions per log entry written by [`upgrade`].
const UPGRADE_CHUNK: usize = 512;

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

/// The log entry of a batch of `(stored user id, interaction id)`: its key and value. None for
/// an empty batch.
pub(super) fn log_entry<'a>(
    turns: impl IntoIterator<Item = (&'a str, u64)>,
) -> Option<([u8; 8], Vec<u8>)> {
    entry_of(turns.into_iter().map(|(user, id)| (user_prefix(user), id)))
}

/// The log entry holding `(user prefix, interaction id)` pairs: keyed by the highest id, the
/// pairs one after the other. None without pairs.
fn entry_of(pairs: impl IntoIterator<Item = ([u8; 8], u64)>) -> Option<([u8; 8], Vec<u8>)> {
    let mut value = Vec::new();
    let mut last = None;
    for (prefix, id) in pairs {
        value.extend_from_slice(&prefix);
        value.extend_from_slice(&id.to_be_bytes());
        last = last.max(Some(id));
    }
    last.map(|id| (id.to_be_bytes(), value))
}

/// The `(user prefix, interaction id)` pairs of a log entry's value (a torn tail is ignored).
fn pairs(value: &[u8]) -> impl Iterator<Item = ([u8; 8], u64)> + '_ {
    value.chunks_exact(PAIR).map(|pair| {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&pair[..8]);
        (prefix, super::id_suffix(pair))
    })
}

/// The ids of the interactions indexed under `user`'s prefix (maybe another user's too).
pub(super) fn ids_of(by_user: &Tree, user: &str) -> Result<Vec<u64>, StoreError> {
    let prefix = user_prefix(user);
    let mut out = Vec::new();
    for entry in by_user.iter() {
        let (_, value) = entry?;
        out.extend(
            pairs(&value)
                .filter(|(p, _)| *p == prefix)
                .map(|(_, id)| id),
        );
    }
    Ok(out)
}

/// Drops `ids` from the log: each entry holding one is rewritten without it, or removed once
/// empty. Entries keyed above `ids`' highest are not read.
pub(super) fn remove_ids(by_user: &Tree, ids: &BTreeSet<u64>) -> Result<(), StoreError> {
    let (Some(&low), Some(_)) = (ids.first(), ids.last()) else {
        return Ok(());
    };
    for entry in by_user.range(low.to_be_bytes()..) {
        let (key, value) = entry?;
        if !pairs(&value).any(|(_, id)| ids.contains(&id)) {
            continue;
        }
        // The entry keeps its key: still at least every id it holds.
        match entry_of(pairs(&value).filter(|(_, id)| !ids.contains(id))) {
            Some((_, kept)) => by_user.insert(key, kept)?,
            None => by_user.remove(key)?,
        };
    }
    Ok(())
}

/// The interaction ids of an entry of an older form: one key per interaction, 8 bytes of the
/// user's hash ++ the id (16 bytes), or the whole stored user id ++ the id before that.
fn old_key(key: &[u8]) -> Option<([u8; 8], u64)> {
    if key.len() == PAIR {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&key[..8]);
        return Some((prefix, super::id_suffix(key)));
    }
    let split = key.len().checked_sub(8).filter(|&n| n > 8)?;
    let user = std::str::from_utf8(&key[..split]).ok()?;
    Some((user_prefix(user), super::id_suffix(key)))
}

/// Rewrites an older store's index (one key per interaction) as the log, once (then `meta`
/// says so).
pub(super) fn upgrade(meta: &Tree, by_user: &Tree) -> Result<(), StoreError> {
    if meta.get(FORM)?.as_deref() == Some(LOG_FORM) {
        return Ok(());
    }
    let mut old = Vec::new();
    for entry in by_user.iter() {
        let (key, _) = entry?;
        if let Some(pair) = old_key(&key) {
            old.push((key, pair));
        }
    }
    old.sort_by_key(|(_, (_, id))| *id);
    let mut batch = sled::Batch::default();
    for (key, _) in &old {
        batch.remove(key.clone());
    }
    for chunk in old.chunks(UPGRADE_CHUNK) {
        if let Some((key, value)) = entry_of(chunk.iter().map(|(_, pair)| *pair)) {
            batch.insert(&key[..], value);
        }
    }
    by_user.apply_batch(batch)?;
    meta.insert(FORM, LOG_FORM)?;
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

    const ZOE: &str = "u_0123456789abcdef0011223344556677";
    const MAX: &str = "u_ffeeddccbbaa99887766554433221100";

    fn temporary() -> (sled::Db, Tree, Tree) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let (meta, by_user) = (
            db.open_tree("meta").unwrap(),
            db.open_tree("by_user").unwrap(),
        );
        (db, meta, by_user)
    }

    #[test]
    fn a_batch_is_one_entry_under_its_highest_id_and_each_user_finds_their_own() {
        let (_db, _, by_user) = temporary();
        for batch in [vec![(ZOE, 4), (MAX, 9), (ZOE, 7)], vec![(MAX, 12)], vec![]] {
            if let Some((key, value)) = log_entry(batch) {
                by_user.insert(key, value).unwrap();
            }
        }
        let keys: Vec<u64> = (by_user.iter())
            .map(|e| super::super::id_suffix(&e.unwrap().0))
            .collect();
        assert_eq!(keys, [9, 12]);
        assert_eq!(ids_of(&by_user, ZOE).unwrap(), [4, 7]);
        assert_eq!(ids_of(&by_user, MAX).unwrap(), [9, 12]);
        assert!(ids_of(&by_user, "u_00").unwrap().is_empty());

        // Removing rewrites the entries that held the ids, and drops those left empty.
        remove_ids(&by_user, &BTreeSet::from([4, 7, 12])).unwrap();
        assert!(ids_of(&by_user, ZOE).unwrap().is_empty());
        assert_eq!(ids_of(&by_user, MAX).unwrap(), [9]);
        assert_eq!(by_user.len(), 1);
        let (_, value) = by_user.iter().next().unwrap().unwrap();
        assert_eq!(value.len(), PAIR, "no trace of the removed pairs");
        remove_ids(&by_user, &BTreeSet::new()).unwrap();
        assert_eq!(by_user.len(), 1);
    }

    #[test]
    fn old_keys_are_split_into_user_prefix_and_id() {
        let mut long = ZOE.as_bytes().to_vec();
        long.extend_from_slice(&7u64.to_be_bytes());
        let mut short = user_prefix(ZOE).to_vec();
        short.extend_from_slice(&8u64.to_be_bytes());
        let mut bad = vec![0xff; 9];
        bad.extend_from_slice(&7u64.to_be_bytes());
        type Pair = Option<([u8; 8], u64)>;
        let cases: [(&[u8], Pair); 5] = [
            (&long, Some((user_prefix(ZOE), 7))),
            (&short, Some((user_prefix(ZOE), 8))),
            (&7u64.to_be_bytes(), None),
            (b"short", None),
            (&bad, None),
        ];
        for (key, want) in cases {
            assert_eq!(old_key(key), want, "{key:?}");
        }
    }

    #[test]
    fn an_older_store_is_upgraded_once() {
        let (_db, meta, by_user) = temporary();
        // Schema 2's long keys and schema 3's short ones.
        let mut long = ZOE.as_bytes().to_vec();
        long.extend_from_slice(&3u64.to_be_bytes());
        by_user.insert(long, &[]).unwrap();
        let mut short = user_prefix(MAX).to_vec();
        short.extend_from_slice(&9u64.to_be_bytes());
        by_user.insert(short, &[]).unwrap();
        upgrade(&meta, &by_user).unwrap();
        assert_eq!(by_user.len(), 1, "one log entry");
        assert_eq!(ids_of(&by_user, ZOE).unwrap(), [3]);
        assert_eq!(ids_of(&by_user, MAX).unwrap(), [9]);
        assert_eq!(meta.get(FORM).unwrap().as_deref(), Some(LOG_FORM));
        // Once marked, nothing is read again: a log entry is never taken for an old key.
        upgrade(&meta, &by_user).unwrap();
        assert_eq!(ids_of(&by_user, ZOE).unwrap(), [3]);
    }
}
