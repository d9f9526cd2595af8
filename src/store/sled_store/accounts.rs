//! Agent and owner accounts and their sign-in sessions.
//!
//! Trees: `accounts` (name -> account JSON with its token's hash), `account_tokens` (token hash
//! -> name), `sessions` (session hash -> [`Session`] JSON). Tokens and session ids are random
//! 32-byte values shown once; only their SHA-256 is stored.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::{abort, OpenDb, Store, StoreError};
use crate::store::records::Account;

/// Names the bootstrap accounts (the environment's agent and owner tokens) go by.
const RESERVED: [&str; 2] = ["agent", "owner"];

/// Whether `name` may name an account: 1 to 64 of `a-z 0-9 _ . -`, not `agent` or `owner`
/// (the bootstrap accounts of `PERSONABOT__HTTP__AGENT_TOKEN` / `OWNER_TOKEN`).
pub fn valid_account_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        return Err(format!(
            "invalid account name `{name}`: use 1 to 64 of a-z, 0-9, `_`, `.` and `-`"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "`{name}` is reserved for the bootstrap account of PERSONABOT__HTTP__{}_TOKEN",
            name.to_ascii_uppercase()
        ));
    }
    Ok(())
}

/// SHA-256 of a token or session id, hex: what the store keeps instead of the secret.
pub fn token_hash(token: &str) -> String {
    crate::core::hex::encode(&Sha256::digest(token.as_bytes()))
}

/// A fresh random secret (32 bytes, hex, `pb_` first so it is recognisable) and its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    pub token: String,
    pub hash: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").finish_non_exhaustive()
    }
}

impl NewToken {
    pub fn generate() -> Result<NewToken, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::Unavailable(format!("no randomness for a token: {e}")))?;
        let token = format!("pb_{}", crate::core::hex::encode(&bytes));
        let hash = token_hash(&token);
        Ok(NewToken { token, hash })
    }
}

/// A signed-in browser: whose, until when. `token_hash` is the hash of the account's token at
/// sign-in, so a rotated token (or a changed bootstrap token) ends the session too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub account: String,
    pub token_hash: String,
    pub created_ms: u64,
    pub expires_ms: u64,
}

/// An account as stored: the record and its token's hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredAccount {
    #[serde(flatten)]
    account: Account,
    token_hash: String,
}

fn no_account(name: &str) -> StoreError {
    StoreError::Invalid(format!("no account named `{name}`"))
}

impl OpenDb {
    fn accounts_tree(&self) -> Result<(sled::Tree, sled::Tree), StoreError> {
        Ok((
            self.db.open_tree("accounts")?,
            self.db.open_tree("account_tokens")?,
        ))
    }

    pub(super) fn sessions_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree("sessions")?)
    }

    fn add_account(&self, account: &Account) -> Result<NewToken, StoreError> {
        valid_account_name(&account.name).map_err(StoreError::Invalid)?;
        let token = NewToken::generate()?;
        let stored = serde_json::to_vec(&StoredAccount {
            account: account.clone(),
            token_hash: token.hash.clone(),
        })?;
        let (accounts, tokens) = self.accounts_tree()?;
        let name = account.name.as_str();
        (&accounts, &tokens).transaction(|(accounts, tokens)| {
            if accounts.get(name)?.is_some() {
                return Err(abort(StoreError::Conflict(format!(
                    "an account named `{name}` exists already"
                ))));
            }
            accounts.insert(name, stored.as_slice())?;
            tokens.insert(token.hash.as_bytes(), name)?;
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })?;
        self.db.flush()?;
        Ok(token)
    }

    fn stored_account(&self, name: &str) -> Result<Option<StoredAccount>, StoreError> {
        let (accounts, _) = self.accounts_tree()?;
        match accounts.get(name)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let (accounts, _) = self.accounts_tree()?;
        accounts
            .iter()
            .map(|entry| {
                let (_, bytes) = entry?;
                Ok(serde_json::from_slice::<StoredAccount>(&bytes)?.account)
            })
            .collect()
    }

    fn account_by_token_hash(&self, hash: &str) -> Result<Option<Account>, StoreError> {
        let (_, tokens) = self.accounts_tree()?;
        let Some(name) = tokens.get(hash.as_bytes())? else {
            return Ok(None);
        };
        let stored = self.stored_account(&String::from_utf8_lossy(&name))?;
        Ok(stored.filter(|s| s.token_hash == hash).map(|s| s.account))
    }

    /// Replaces the account's token hash (`Some`) or removes the account (`None`), then ends
    /// its sessions.
    fn change_account(&self, name: &str, new: Option<&NewToken>) -> Result<(), StoreError> {
        let (accounts, tokens) = self.accounts_tree()?;
        (&accounts, &tokens).transaction(|(accounts, tokens)| {
            let bytes = accounts.get(name)?.ok_or_else(|| abort(no_account(name)))?;
            let mut stored: StoredAccount = serde_json::from_slice(&bytes).map_err(abort)?;
            tokens.remove(stored.token_hash.as_bytes())?;
            match new {
                Some(token) => {
                    stored.token_hash = token.hash.clone();
                    let bytes = serde_json::to_vec(&stored).map_err(abort)?;
                    accounts.insert(name, bytes)?;
                    tokens.insert(token.hash.as_bytes(), name)?;
                }
                None => {
                    accounts.remove(name)?;
                }
            }
            Ok(())
        })?;
        self.end_sessions_of(name)?;
        self.db.flush()?;
        Ok(())
    }

    fn end_sessions_of(&self, name: &str) -> Result<usize, StoreError> {
        let sessions = self.sessions_tree()?;
        let mut ended = 0;
        for entry in sessions.iter() {
            let (key, bytes) = entry?;
            let session: Session = serde_json::from_slice(&bytes)?;
            if session.account == name {
                sessions.remove(key)?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    fn create_session(
        &self,
        account: &str,
        account_token_hash: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<String, StoreError> {
        let sessions = self.sessions_tree()?;
        // Expired sessions are swept here, so they do not pile up.
        for entry in sessions.iter() {
            let (key, bytes) = entry?;
            let expired =
                serde_json::from_slice::<Session>(&bytes).map_or(true, |s| s.expires_ms <= now_ms);
            if expired {
                sessions.remove(key)?;
            }
        }
        let id = NewToken::generate()?;
        let session = Session {
            account: account.to_string(),
            token_hash: account_token_hash.to_string(),
            created_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl_ms),
        };
        sessions.insert(id.hash.as_bytes(), serde_json::to_vec(&session)?)?;
        self.db.flush()?;
        Ok(id.token)
    }

    fn session(&self, id: &str, now_ms: u64) -> Result<Option<Session>, StoreError> {
        let sessions = self.sessions_tree()?;
        let key = token_hash(id);
        let Some(bytes) = sessions.get(key.as_bytes())? else {
            return Ok(None);
        };
        let session: Session = serde_json::from_slice(&bytes)?;
        if session.expires_ms <= now_ms {
            sessions.remove(key.as_bytes())?;
            return Ok(None);
        }
        Ok(Some(session))
    }

    fn end_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let sessions = self.sessions_tree()?;
        let ended = sessions.remove(token_hash(id).as_bytes())?;
        self.db.flush()?;
        Ok(match ended {
            Some(bytes) => Some(serde_json::from_slice(&bytes)?),
            None => None,
        })
    }
}

impl Store {
    /// Creates an account with a new random token, returned once (only its hash is stored).
    /// The name must be valid ([`valid_account_name`]) and free.
    pub fn add_account(&self, account: &Account) -> Result<NewToken, StoreError> {
        self.current()?.add_account(account)
    }

    /// Every account, by name (never with tokens or hashes).
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.current()?.accounts()
    }

    /// Whether any account exists (the agent and owner routes are on when one does).
    pub fn has_accounts(&self) -> Result<bool, StoreError> {
        let (accounts, _) = self.current()?.accounts_tree()?;
        Ok(!accounts.is_empty())
    }

    /// The account whose token hashes to `hash`.
    pub fn account_by_token_hash(&self, hash: &str) -> Result<Option<Account>, StoreError> {
        self.current()?.account_by_token_hash(hash)
    }

    /// Removes an account; its token and sessions stop working at once.
    pub fn remove_account(&self, name: &str) -> Result<(), StoreError> {
        self.current()?.change_account(name, None)
    }

    /// Gives an account a new token (returned once); the old one and its sessions stop working.
    pub fn rotate_account(&self, name: &str) -> Result<NewToken, StoreError> {
        let token = NewToken::generate()?;
        self.current()?.change_account(name, Some(&token))?;
        Ok(token)
    }

    /// Starts a session for `account` (signed in with the token hashing to
    /// `account_token_hash`) lasting `ttl_ms`; returns its id, for the cookie.
    pub fn create_session(
        &self,
        account: &str,
        account_token_hash: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<String, StoreError> {
        self.current()?
            .create_session(account, account_token_hash, now_ms, ttl_ms)
    }

    /// The live session with id `id` at `now_ms` (an expired one is deleted).
    pub fn session(&self, id: &str, now_ms: u64) -> Result<Option<Session>, StoreError> {
        self.current()?.session(id, now_ms)
    }

    /// Ends a session at once; returns it if it existed.
    pub fn end_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.current()?.end_session(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() {
        for ok in ["ann", "a", "bob.smith", "x_1-2", &"a".repeat(64)] {
            assert_eq!(valid_account_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Ann",
            "ann smith",
            "ann/x",
            "é",
            "agent",
            "owner",
            &"a".repeat(65),
        ] {
            assert!(valid_account_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (NewToken::generate().unwrap(), NewToken::generate().unwrap());
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with("pb_") && a.token.len() == 67);
        assert_eq!(a.hash, token_hash(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(!format!("{a:?}").contains(&a.token));
    }

    #[test]
    fn accounts_sessions_rotation_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Some("k")).unwrap();
        assert!(!store.has_accounts().unwrap());
        let ann = Account {
            name: "ann".into(),
            role: crate::store::AccountRole::Agent,
            teams: vec!["billing".into()],
            created_ms: 1,
        };
        let token = store.add_account(&ann).unwrap();
        assert!(store.has_accounts().unwrap());
        assert!(matches!(
            store.add_account(&ann),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.account_by_token_hash(&token.hash).unwrap(),
            Some(ann.clone())
        );
        assert_eq!(store.accounts().unwrap(), std::slice::from_ref(&ann));

        let s1 = store.create_session("ann", &token.hash, 100, 50).unwrap();
        let s2 = store.create_session("ann", &token.hash, 100, 50).unwrap();
        assert_ne!(s1, s2);
        assert_eq!(store.session(&s1, 149).unwrap().unwrap().account, "ann");
        assert_eq!(store.session(&s1, 150).unwrap(), None, "expired");
        assert!(store.end_session(&s2).unwrap().is_some());
        assert_eq!(store.session(&s2, 120).unwrap(), None, "signed out");

        let s3 = store.create_session("ann", &token.hash, 200, 50).unwrap();
        let rotated = store.rotate_account("ann").unwrap();
        assert_eq!(store.account_by_token_hash(&token.hash).unwrap(), None);
        assert!(store
            .account_by_token_hash(&rotated.hash)
            .unwrap()
            .is_some());
        assert_eq!(
            store.session(&s3, 210).unwrap(),
            None,
            "rotation ends sessions"
        );

        let s4 = store.create_session("ann", &rotated.hash, 300, 50).unwrap();
        store.remove_account("ann").unwrap();
        assert_eq!(store.account_by_token_hash(&rotated.hash).unwrap(), None);
        assert_eq!(store.session(&s4, 310).unwrap(), None);
        assert!(matches!(
            store.remove_account("ann"),
            Err(StoreError::Invalid(_))
        ));
        assert!(!store.has_accounts().unwrap());
    }
}
