//! The user-hash key a store was written with, remembered as a fingerprint (an HMAC of a fixed
//! label under the key), so that forgetting a user with no key or another key is refused
//! instead of deleting nothing and reporting success.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sled::Tree;

use super::StoreError;

/// The `meta` key of the fingerprint.
const FINGERPRINT: &str = "user_hash_key_fingerprint";

/// The `meta` key of the key generated for a store opened without one.
const GENERATED_KEY: &str = "user_hash_key";

/// What the fingerprint is an HMAC of.
const LABEL: &[u8] = b"personabot user-hash key fingerprint v1";

/// Whether the key a store is opened with is the one it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyCheck {
    Matches,
    /// Written with a key, opened without one.
    Missing,
    /// Written with another key.
    Wrong,
}

impl KeyCheck {
    /// The refusal of an operation that needs the store's own key (forgetting a user): the
    /// store cannot do it as opened (503 over HTTP, with this reason).
    pub(super) fn require(self) -> Result<(), StoreError> {
        let env = crate::catalog::settings::USER_HASH_KEY_ENV;
        match self {
            KeyCheck::Matches => Ok(()),
            KeyCheck::Missing => Err(StoreError::Unavailable(format!(
                "the store was written with a user-hash key and none is set: set {env} to that \
                 key (nothing was deleted)"
            ))),
            KeyCheck::Wrong => Err(StoreError::Unavailable(format!(
                "{env} is not the user-hash key the store was written with (nothing was deleted)"
            ))),
        }
    }
}

fn fingerprint(key: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(LABEL);
    mac.finalize().into_bytes().to_vec()
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opening {
    /// By a caller: a key it chose, or none.
    Fresh,
    /// Again after a compaction, with the key the store was opened with: nothing is recorded.
    Again,
}

/// The key to hash user ids with and whether it is the store's own. `given`: the key the caller
/// set; `has_records`: whether the store holds anything yet. A new store remembers the key's
/// fingerprint (and a generated key, when none is given).
pub(super) fn resolve(
    meta: &Tree,
    given: Option<&[u8]>,
    has_records: bool,
    opening: Opening,
) -> Result<(Vec<u8>, KeyCheck), StoreError> {
    let given = given.filter(|k| !k.is_empty());
    let recorded = meta.get(FINGERPRINT)?;
    let generated = meta.get(GENERATED_KEY)?;
    let key = match (given, &generated) {
        (Some(k), _) => k.to_vec(),
        (None, Some(k)) => k.to_vec(),
        (None, None) => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| {
                StoreError::Refused(format!("no randomness for the user-hash key: {e}"))
            })?;
            key.to_vec()
        }
    };
    let print = fingerprint(&key);
    let wrong = if given.is_some() {
        KeyCheck::Wrong
    } else {
        KeyCheck::Missing
    };
    let check = match (&recorded, &generated) {
        (Some(r), _) if r.as_ref() == print.as_slice() => KeyCheck::Matches,
        (Some(_), _) => wrong,
        // Written before fingerprints, without a key: the generated key is the store's.
        (None, Some(g)) if g.as_ref() == key.as_slice() => KeyCheck::Matches,
        (None, Some(_)) => wrong,
        // Written before fingerprints with a key that was not given now.
        (None, None) if has_records && given.is_none() => KeyCheck::Missing,
        (None, None) => KeyCheck::Matches,
    };
    if opening == Opening::Fresh && check == KeyCheck::Matches && recorded.is_none() {
        if given.is_none() && generated.is_none() {
            meta.insert(GENERATED_KEY, key.as_slice())?;
        }
        meta.insert(FINGERPRINT, print)?;
    }
    Ok((key, check))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_a_store_was_written_with_is_recognised() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        let open = |given: Option<&[u8]>, has_records| {
            resolve(&meta, given, has_records, Opening::Fresh)
                .unwrap()
                .1
        };
        // A new store with a key remembers it; another key, or none, is told apart.
        assert_eq!(open(Some(b"k1"), false), KeyCheck::Matches);
        assert_eq!(open(Some(b"k1"), true), KeyCheck::Matches);
        assert_eq!(open(None, true), KeyCheck::Missing);
        assert_eq!(open(Some(b""), true), KeyCheck::Missing);
        assert_eq!(open(Some(b"k2"), true), KeyCheck::Wrong);
        assert_eq!(open(Some(b"k1"), true), KeyCheck::Matches);

        // A new store without a key generates one and keeps using it.
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        let (first, check) = resolve(&meta, None, false, Opening::Fresh).unwrap();
        assert_eq!(check, KeyCheck::Matches);
        let (again, check) = resolve(&meta, None, true, Opening::Fresh).unwrap();
        assert_eq!((again, check), (first, KeyCheck::Matches));
        assert_eq!(
            resolve(&meta, Some(b"k1"), true, Opening::Fresh).unwrap().1,
            KeyCheck::Wrong
        );

        // A store written before fingerprints: with records and no generated key, it was
        // written with a key; opened again after a compaction, nothing is recorded.
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(
            resolve(&meta, None, true, Opening::Fresh).unwrap().1,
            KeyCheck::Missing
        );
        assert_eq!(
            resolve(&meta, Some(b"other"), true, Opening::Again)
                .unwrap()
                .1,
            KeyCheck::Matches
        );
        assert!(meta.get(FINGERPRINT).unwrap().is_none());
        assert!(meta.get(GENERATED_KEY).unwrap().is_none());
        assert_eq!(
            resolve(&meta, Some(b"k1"), true, Opening::Fresh).unwrap().1,
            KeyCheck::Matches
        );
        assert_eq!(
            resolve(&meta, Some(b"k2"), true, Opening::Fresh).unwrap().1,
            KeyCheck::Wrong
        );
    }
}
