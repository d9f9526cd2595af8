//! The sled implementation of the evidence store.
//!
//! Trees: `interactions` (id -> record), `time_marks` (minute -> the first id written in it, a
//! sparse time index, see [`time_marks`]), `by_user` (a log: per group
//! commit, 8 bytes of each user's hash ++ the interaction id, see [`user_index`]),
//! `texts` (the bot texts records quote by reference, see [`codec`]),
//! `tickets` (id -> record), `conversations` (channel NUL conversation -> state), `meta`;
//! `accounts`, `account_tokens`, `sessions`, `audit` and `audit_by_ticket` (see [`accounts`]
//! and [`audit`]); `outbox` (cluster mode only, see [`outbox`]).
//! Multi-tree writes are sled transactions, and every write is flushed before it returns.
//!
//! By what each part owns: this file opens the database and holds the handles; [`writer`]
//! writes turns; [`interactions`], [`tickets`] and [`conversations`] (with channel links) read
//! and change those records; [`ticket_ids`] numbers tickets; [`forget`] deletes; [`compact`]
//! rewrites the files and recovers an interrupted compaction; [`codec`] encodes interactions
//! and conversation states (binary, and reads the JSON of older stores).

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Tree;

mod accounts;
mod audit;
mod codec;
mod compact;
mod conversation_tickets;
mod conversations;
mod csat;
mod desk;
mod forget;
mod interactions;
mod key;
mod modes;
mod outbox;
mod ticket_ids;
mod tickets;
mod time_marks;
mod user_index;
mod writer;

pub use accounts::{token_hash, valid_account_name, NewToken, Session};
pub use compact::Compacted;
pub use desk::{works_team, Assigned, MAX_NOTE_CHARS};
pub use forget::ForgetReport;
pub use outbox::{
    spaced_id, ClusterNode, OutboxEntry, OutboxStream, TicketEvent, MAX_NODES as MAX_CLUSTER_NODES,
};
pub use writer::{CommitStats, TicketChange, TicketPatch, TurnReceipt, TurnWrite};

use compact::finish_interrupted_compaction;
use writer::{TurnTrees, TurnWriter};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: u64 },
    /// The request conflicts with the record's state (a resolved ticket, another agent's claim).
    #[error("{0}")]
    Conflict(String),
    /// The request is incomplete or invalid (a relabel with nothing to set).
    #[error("{0}")]
    Invalid(String),
    /// The store cannot take requests now (its writer stopped, it is closed or busy compacting).
    #[error("{0}")]
    Unavailable(String),
    /// The store cannot be opened (in use by another process, another schema).
    #[error("{0}")]
    Refused(String),
    #[error("cannot write export: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record that cannot be decoded (see [`codec`]).
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// 2: interactions and conversation states in binary ([`codec`]). 3: the `by_user` index in
/// short keys. 4: the `by_user` index as a log, one entry per group commit ([`user_index`]),
/// and the sparse `time_marks` index instead of `by_time` ([`time_marks`]); tickets in binary
/// and bot texts by reference ([`codec`]) came with it, read in either form. An older
/// personabot refuses such a store instead of failing on its records or missing a user's
/// interactions.
const SCHEMA_VERSION: &[u8] = b"4";

/// Schemas this personabot opens and upgrades: their JSON records are still read, their
/// `by_user` index rewritten, and their time marks built.
const OLDER_SCHEMAS: &[&[u8]] = &[b"1", b"2", b"3"];

/// The `meta` key of [`OpenDb::id_floor`].
const ID_FLOOR: &str = "interaction_id_floor";

/// How long [`Store::open`] waits for sled's file lock: a store closed a moment ago (by this
/// process or one that just exited) releases it from sled's background threads.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens the sled database in `dir`, waiting up to [`LOCK_WAIT`] for its lock.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    modes::create_dir(dir)?;
    let started = std::time::Instant::now();
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .open();
        match opened {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                return Err(StoreError::Refused(format!(
                    "the store in {} is in use by another process (a running `personabot \
                     serve`?): {e}",
                    dir.display()
                )))
            }
            other => return Ok(other?),
        }
    }
}

/// One open sled database: its trees and its turn writer. [`Store::compact`] replaces it whole.
struct OpenDb {
    db: sled::Db,
    interactions: Tree,
    /// The sparse time index (see [`time_marks`]).
    time_marks: Tree,
    by_user: Tree,
    tickets: Tree,
    conversations: Tree,
    meta: Tree,
    /// Channel bookkeeping: e.g. which Discord message and thread show a ticket.
    links: Tree,
    hash_key: Vec<u8>,
    /// Whether `hash_key` is the key the store was written with.
    key_check: key::KeyCheck,
    writer: std::sync::Arc<TurnWriter>,
    /// Added to sled's id generator, so interaction ids stay above those of the database this
    /// one was compacted from.
    id_floor: u64,
    /// Records waiting to be published to the cluster (see [`outbox`]).
    outbox: Tree,
    /// Cluster mode, once turned on (shared with [`Shared::cluster`]).
    cluster: outbox::ClusterCell,
    /// The node index this store registered under, if it ever joined a cluster: its ids stay
    /// spaced by it even when opened outside cluster mode (e.g. by `personabot chat`).
    node_index: Option<u8>,
    /// The bot texts records may quote by reference (see [`codec`]), and their tree.
    texts: std::sync::Arc<codec::Texts>,
    texts_tree: Tree,
    /// The ticket counter (see [`ticket_ids`]).
    ticket_ids: ticket_ids::TicketIds,
}

impl Drop for OpenDb {
    fn drop(&mut self) {
        self.stop_writer();
        // The exact ticket count, so the next open goes on from it (nothing is lost without).
        if self.ticket_ids.store_exact(&self.meta).is_ok() {
            let _ = self.db.flush();
        }
    }
}

/// The error of an operation on a store a failed compaction could not reopen.
fn store_closed() -> StoreError {
    StoreError::Unavailable(
        "the evidence store is closed: a compaction could not reopen it; restart personabot".into(),
    )
}

/// The evidence store: a cheap handle on one open database, shared by all clones.
#[derive(Clone)]
pub struct Store {
    shared: std::sync::Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    hash_key: Vec<u8>,
    /// Whether `hash_key` is the key the store was written with (as opened).
    key_check: key::KeyCheck,
    /// `None` only while a compaction swaps databases (every reader waits on the lock then),
    /// or after a compaction failed to reopen the store.
    open: std::sync::RwLock<Option<std::sync::Arc<OpenDb>>>,
    /// Cluster mode, once turned on: kept across compactions.
    cluster: outbox::ClusterCell,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn conversation_key(channel: &str, conversation: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(channel.len() + conversation.len() + 1);
    key.extend_from_slice(channel.as_bytes());
    key.push(0);
    key.extend_from_slice(conversation.as_bytes());
    key
}

fn id_suffix(key: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&key[key.len() - 8..]);
    u64::from_be_bytes(buf)
}

fn abort(e: impl Into<StoreError>) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e.into())
}

impl OpenDb {
    /// Opens (or creates) the database in `dir` and starts its writer. `hash_key` keys the
    /// user-id hash; `None`: the key kept in the store (generated once).
    fn open(
        dir: &Path,
        hash_key: Option<&[u8]>,
        cluster: outbox::ClusterCell,
    ) -> Result<OpenDb, StoreError> {
        Self::open_as(dir, hash_key, key::Opening::Fresh, cluster)
    }

    /// [`open`](Self::open) again after a compaction, with the key the store was opened with.
    fn reopen(
        dir: &Path,
        hash_key: &[u8],
        cluster: outbox::ClusterCell,
    ) -> Result<OpenDb, StoreError> {
        Self::open_as(dir, Some(hash_key), key::Opening::Again, cluster)
    }

    fn open_as(
        dir: &Path,
        hash_key: Option<&[u8]>,
        opening: key::Opening,
        cluster: outbox::ClusterCell,
    ) -> Result<OpenDb, StoreError> {
        let db = open_db(dir)?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema")? {
            None => {
                meta.insert("schema", SCHEMA_VERSION)?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION => {}
            Some(v) if OLDER_SCHEMAS.contains(&v.as_ref()) => {
                meta.insert("schema", SCHEMA_VERSION)?;
            }
            Some(v) => {
                return Err(StoreError::Refused(format!(
                    "the store at {} has schema {}, this personabot reads {}",
                    dir.display(),
                    String::from_utf8_lossy(&v),
                    String::from_utf8_lossy(SCHEMA_VERSION)
                )))
            }
        }
        let texts_tree = db.open_tree("texts")?;
        let texts = std::sync::Arc::new(codec::Texts::load(&texts_tree)?);
        texts.add(
            &texts_tree,
            crate::core::wording::STORED_BY_REFERENCE.iter().copied(),
        )?;
        let trees = TurnTrees {
            texts: texts.clone(),
            interactions: db.open_tree("interactions")?,
            time_marks: db.open_tree("time_marks")?,
            by_user: db.open_tree("by_user")?,
            conversations: db.open_tree("conversations")?,
            tickets: db.open_tree("tickets")?,
            outbox: db.open_tree("outbox")?,
            cluster: cluster.clone(),
        };
        user_index::upgrade(&meta, &trees.by_user)?;
        time_marks::upgrade(&db, &meta, &trees.interactions, &trees.time_marks)?;
        let id_floor = meta.get(ID_FLOOR)?.map_or(0, |b| id_suffix(&b));
        let ticket_ids = ticket_ids::TicketIds::load(&meta)?;
        let has_records = !trees.interactions.is_empty() || !trees.tickets.is_empty();
        let (hash_key, key_check) = key::resolve(&meta, hash_key, has_records, opening)?;
        let open = OpenDb {
            interactions: trees.interactions.clone(),
            time_marks: trees.time_marks.clone(),
            by_user: trees.by_user.clone(),
            tickets: trees.tickets.clone(),
            conversations: trees.conversations.clone(),
            links: db.open_tree("links")?,
            outbox: trees.outbox.clone(),
            node_index: outbox::remembered_index(&meta)?,
            cluster,
            texts,
            texts_tree,
            writer: TurnWriter::start(db.clone(), trees),
            meta,
            db,
            hash_key,
            key_check,
            id_floor,
            ticket_ids,
        };
        open.db.flush()?;
        modes::restrict(dir)?;
        Ok(open)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn hash_user(&self, user: &str) -> String {
        hash_user(&self.hash_key, user)
    }

    /// The index new ids are spaced by: the cluster's, or the one the store remembers.
    fn id_index(&self) -> Option<u8> {
        self.cluster.get().map(|c| c.node.index).or(self.node_index)
    }

    fn next_interaction_id(&self) -> Result<u64, StoreError> {
        let local = self.id_floor + self.db.generate_id()? + 1;
        Ok(spaced_id(local, self.id_index()))
    }
}

/// Keyed hash of a user id (HMAC-SHA256, 128 bits, hex, `u_` first).
fn hash_user(key: &[u8], user: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(user.as_bytes());
    format!(
        "u_{}",
        crate::core::hex::encode(&mac.finalize().into_bytes()[..16])
    )
}

impl Store {
    /// Lets the bot's lines quote `texts` (e.g. the catalog's answers, on every load) by
    /// reference instead of a copy each: they are written to the store once, now.
    pub fn remember_texts<'a>(
        &self,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        let open = self.current()?;
        open.texts.add(&open.texts_tree, texts)
    }

    /// Opens (or creates) the store in `dir`. `user_hash_key` keys the user-id hash; without one,
    /// a random key is generated once and kept in the store. Finishes a compaction that a crash
    /// interrupted.
    pub fn open(dir: &Path, user_hash_key: Option<&str>) -> Result<Store, StoreError> {
        finish_interrupted_compaction(dir)?;
        let cluster = outbox::ClusterCell::default();
        let open = OpenDb::open(dir, user_hash_key.map(str::as_bytes), cluster.clone())?;
        Ok(Store {
            shared: std::sync::Arc::new(Shared {
                dir: dir.to_path_buf(),
                hash_key: open.hash_key.clone(),
                key_check: open.key_check,
                open: std::sync::RwLock::new(Some(std::sync::Arc::new(open))),
                cluster,
            }),
        })
    }

    /// The open database (a handle kept for one operation).
    fn current(&self) -> Result<std::sync::Arc<OpenDb>, StoreError> {
        self.shared
            .open
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(store_closed)
    }

    /// Keyed hash of a user id (HMAC-SHA256, 128 bits, hex): stable, not reversible without
    /// the key.
    pub fn hash_user(&self, user: &str) -> String {
        hash_user(&self.shared.hash_key, user)
    }

    /// Writes everything buffered to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.current()?.flush()
    }

    /// A new interaction id (monotonic; gaps after a crash are possible).
    pub fn next_interaction_id(&self) -> Result<u64, StoreError> {
        self.current()?.next_interaction_id()
    }
}
