//! The sled implementation of the evidence store.
//!
//! Trees: `interactions` (id -> JSON), `by_time` (at_ms ++ id), `by_user` (user hash ++ id),
//! `tickets` (id -> JSON), `conversations` (channel NUL conversation -> state JSON), `meta`.
//! Multi-tree writes are sled transactions, and every write is flushed before it returns.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sled::Tree;

use super::now_ms;
use super::records::{
    Delivery, Feedback, Interaction, InteractionFilter, Label, Ticket, TicketStatus, TranscriptLine,
};
use crate::conversation::{ConversationState, OpenTicket};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: u64 },
    #[error("{0}")]
    Refused(String),
    #[error("cannot write export: {0}")]
    Io(#[from] std::io::Error),
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// What a turn does to tickets.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketChange {
    None,
    /// A new ticket.
    Open(Box<Ticket>),
    /// Lines added to an existing ticket's transcript.
    Append {
        id: u64,
        lines: Vec<TranscriptLine>,
    },
}

/// What `forget_user` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ForgetReport {
    pub interactions: usize,
    pub tickets: usize,
    pub conversations: usize,
}

const SCHEMA_VERSION: &[u8] = b"1";

/// The trees a turn writes.
#[derive(Clone)]
struct TurnTrees {
    interactions: Tree,
    by_time: Tree,
    by_user: Tree,
    conversations: Tree,
    tickets: Tree,
}

/// Everything one turn writes.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnWrite {
    pub interaction: Interaction,
    /// The conversation's state after the turn.
    pub state: ConversationState,
    pub ticket: TicketChange,
    /// The earlier answer this turn marks as "did not help".
    pub not_helped: Option<u64>,
}

type TurnResult = Result<Option<Ticket>, StoreError>;

/// One turn waiting for the writer.
struct TurnJob {
    write: TurnWrite,
    record: Vec<u8>,
    done: tokio::sync::oneshot::Sender<TurnResult>,
}

/// A submitted turn: wait on it, from sync or async code, for the ticket as stored once the
/// turn is durable.
pub struct TurnReceipt(Result<tokio::sync::oneshot::Receiver<TurnResult>, StoreError>);

impl TurnReceipt {
    /// Waits in a sync context (not inside an async task).
    pub fn wait_blocking(self) -> TurnResult {
        self.0?
            .blocking_recv()
            .unwrap_or_else(|_| Err(writer_stopped()))
    }

    /// Waits in an async task.
    pub async fn wait(self) -> TurnResult {
        self.0?.await.unwrap_or_else(|_| Err(writer_stopped()))
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Refused("the store writer stopped".into())
}

/// The single writer of turns, with group commit: it takes every turn queued, applies each in
/// its own transaction, flushes once, then acknowledges them all. One thread writing avoids
/// sled's contention between writers, and one fsync serves the whole batch.
struct TurnWriter {
    queue: std::sync::Mutex<Vec<TurnJob>>,
    wake: std::sync::Condvar,
    commits: std::sync::atomic::AtomicU64,
    turns: std::sync::atomic::AtomicU64,
    /// Set by the last [`Store`] handle being dropped: finish the queue, then stop.
    closing: std::sync::atomic::AtomicBool,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The writer's group commits so far: `turns / commits` is the mean batch size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Batches written and flushed.
    pub commits: u64,
    /// Turns in those batches.
    pub turns: u64,
}

/// How long a batch of several turns waits for more before its flush. Measured with
/// `cargo bench --bench load`: at saturation it cut sled's IO work per turn by about a third.
const COMMIT_DELAY: std::time::Duration = std::time::Duration::from_micros(300);

/// Most turns applied before one flush.
const MAX_BATCH: usize = 1024;

/// How long the idle writer sleeps before checking whether the store is still open.
const WRITER_IDLE: std::time::Duration = std::time::Duration::from_millis(20);

impl TurnWriter {
    /// Starts the writer thread. It ends once every [`Store`] handle is gone (then the last tree
    /// handles it holds are dropped and the database closes).
    fn start(db: sled::Db, trees: TurnTrees) -> std::sync::Arc<TurnWriter> {
        let writer = std::sync::Arc::new(TurnWriter {
            queue: std::sync::Mutex::new(Vec::new()),
            wake: std::sync::Condvar::new(),
            commits: Default::default(),
            turns: Default::default(),
            closing: Default::default(),
            thread: Default::default(),
        });
        let handle = writer.clone();
        let thread = std::thread::Builder::new()
            .name("personabot-writer".into())
            .spawn(move || handle.run(db, trees))
            .expect("spawn the store writer thread");
        *writer.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
        writer
    }

    fn run(self: std::sync::Arc<Self>, db: sled::Db, trees: TurnTrees) {
        loop {
            let jobs = {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                while queue.is_empty() {
                    if std::sync::Arc::strong_count(&self) == 1
                        || self.closing.load(std::sync::atomic::Ordering::Acquire)
                    {
                        return; // the store is closed
                    }
                    queue = self
                        .wake
                        .wait_timeout(queue, WRITER_IDLE)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                std::mem::take(&mut *queue)
            };
            let mut jobs = jobs;
            let mut results = apply_turns(&trees, &jobs);
            // Turns queued while these were applied join the same flush: under load the
            // batches grow, and the flushes (the fsync and sled's IO threads) do not.
            if jobs.len() > 1 {
                // Others are writing too: wait a moment for more turns to share the flush
                // (as PostgreSQL's commit_delay does). A lone turn is flushed at once.
                std::thread::sleep(COMMIT_DELAY);
            }
            while jobs.len() < MAX_BATCH {
                let more =
                    std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
                if more.is_empty() {
                    break;
                }
                results.extend(apply_turns(&trees, &more));
                jobs.extend(more);
            }
            let flushed = db.flush();
            self.commits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.turns
                .fetch_add(jobs.len() as u64, std::sync::atomic::Ordering::Relaxed);
            for (job, result) in jobs.into_iter().zip(results) {
                let answer = match (&flushed, result) {
                    (Err(e), _) => Err(StoreError::Sled(e.clone())),
                    (Ok(_), result) => result,
                };
                let _ = job.done.send(answer);
            }
        }
    }
}

type TxTrees<'a> = (
    &'a sled::transaction::TransactionalTree,
    &'a sled::transaction::TransactionalTree,
    &'a sled::transaction::TransactionalTree,
    &'a sled::transaction::TransactionalTree,
    &'a sled::transaction::TransactionalTree,
);

/// Writes one turn inside a transaction: the interaction and its indexes, the rated answer's
/// feedback, the ticket opened or joined, and the conversation's state.
fn write_turn(
    (interactions, by_time, by_user, conversations, tickets): TxTrees<'_>,
    job: &TurnJob,
) -> Result<Option<Ticket>, ConflictableTransactionError<StoreError>> {
    let turn = &job.write;
    let interaction = &turn.interaction;
    let id = interaction.id;
    let conv_key = conversation_key(&interaction.channel, &interaction.conversation);
    interactions.insert(&id.to_be_bytes(), job.record.as_slice())?;
    by_time.insert(pair_key(&interaction.at_ms.to_be_bytes(), id), &[])?;
    by_user.insert(pair_key(interaction.user.as_bytes(), id), &[])?;
    if let Some(rated) = turn.not_helped {
        // The rated answer may have been purged meanwhile: then there is nothing to mark.
        if let Some(bytes) = interactions.get(rated.to_be_bytes())? {
            let mut i: Interaction = serde_json::from_slice(&bytes).map_err(abort)?;
            i.feedback = Some(Feedback {
                helped: false,
                at_ms: interaction.at_ms,
            });
            interactions.insert(&rated.to_be_bytes(), serde_json::to_vec(&i).map_err(abort)?)?;
        }
    }
    let mut next = turn.state.clone();
    let stored_ticket = match &turn.ticket {
        TicketChange::None => None,
        TicketChange::Open(t) => {
            tickets.insert(&t.id.to_be_bytes(), serde_json::to_vec(t).map_err(abort)?)?;
            Some(Ticket::clone(t))
        }
        TicketChange::Append {
            id: ticket_id,
            lines,
        } => match tickets.get(ticket_id.to_be_bytes())? {
            Some(bytes) => {
                let mut t: Ticket = serde_json::from_slice(&bytes).map_err(abort)?;
                t.transcript.extend(lines.iter().cloned());
                t.updated_ms = interaction.at_ms;
                tickets.insert(&t.id.to_be_bytes(), serde_json::to_vec(&t).map_err(abort)?)?;
                Some(t)
            }
            None => None,
        },
    };
    if !matches!(turn.ticket, TicketChange::Open(_)) {
        // Agent actions may have changed the conversation's ticket: keep what is stored.
        next.open_ticket = match conversations.get(conv_key.as_slice())? {
            Some(bytes) => {
                let current: ConversationState = serde_json::from_slice(&bytes).map_err(abort)?;
                current.open_ticket
            }
            None => None,
        };
    }
    conversations.insert(
        conv_key.as_slice(),
        serde_json::to_vec(&next).map_err(abort)?,
    )?;
    Ok(stored_ticket)
}

/// Writes a batch of turns in one transaction, in queue order (a transaction reads its own
/// writes, so two turns of one conversation or one ticket in a batch apply one after the
/// other). If the batch fails as a whole, each turn is written on its own so one bad turn
/// cannot fail the others.
fn apply_turns(trees: &TurnTrees, jobs: &[TurnJob]) -> Vec<Result<Option<Ticket>, StoreError>> {
    let all = (
        &trees.interactions,
        &trees.by_time,
        &trees.by_user,
        &trees.conversations,
        &trees.tickets,
    );
    let batch = all.transaction(|(a, b, c, d, e)| {
        jobs.iter()
            .map(|job| write_turn((a, b, c, d, e), job))
            .collect::<Result<Vec<_>, _>>()
    });
    match batch {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(_) if jobs.len() > 1 => jobs
            .iter()
            .map(|job| {
                all.transaction(|(a, b, c, d, e)| write_turn((a, b, c, d, e), job))
                    .map_err(StoreError::from)
            })
            .collect(),
        Err(e) => vec![Err(StoreError::from(e))],
    }
}

/// How long [`Store::open`] waits for sled's file lock: a store closed a moment ago (by this
/// process or one that just exited) releases it from sled's background threads.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens the sled database in `dir`, waiting up to [`LOCK_WAIT`] for its lock.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
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
    by_time: Tree,
    by_user: Tree,
    tickets: Tree,
    conversations: Tree,
    meta: Tree,
    /// Channel bookkeeping: e.g. which Discord message and thread show a ticket.
    links: Tree,
    hash_key: Vec<u8>,
    writer: std::sync::Arc<TurnWriter>,
    /// Added to sled's id generator, so interaction ids stay above those of the database this
    /// one was compacted from.
    id_floor: u64,
}

impl Drop for OpenDb {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

impl OpenDb {
    /// Stops the writer once its queue is written, and waits for it, so the database is closed
    /// (and its lock released) when the last handle is gone. Idempotent.
    fn stop_writer(&self) {
        self.writer
            .closing
            .store(true, std::sync::atomic::Ordering::Release);
        self.writer.wake.notify_all();
        let thread = self
            .writer
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(thread) = thread.filter(|t| t.thread().id() != std::thread::current().id()) {
            let _ = thread.join();
        }
    }
}

/// How long a compaction waits for running operations to finish.
const COMPACT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The `meta` key of [`OpenDb::id_floor`].
const ID_FLOOR: &str = "interaction_id_floor";

/// The file that marks a compacted copy as complete.
const COMPACT_DONE: &str = "COMPACTED";

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Compacted {
    /// Records copied (every live key of every tree).
    pub records: usize,
    /// Size of the store's files before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// `dir` with `suffix` added to its name (a sibling folder).
fn sibling(dir: &Path, suffix: &str) -> Result<PathBuf, StoreError> {
    let name = dir.file_name().ok_or_else(|| {
        StoreError::Refused(format!(
            "cannot compact the store at {}: it needs a folder name",
            dir.display()
        ))
    })?;
    let mut name = name.to_os_string();
    name.push(suffix);
    Ok(dir.with_file_name(name))
}

fn compacting_dir(dir: &Path) -> Result<PathBuf, StoreError> {
    sibling(dir, ".compacting")
}

fn retired_dir(dir: &Path) -> Result<PathBuf, StoreError> {
    sibling(dir, ".retired")
}

/// Copies every live record of `from` into a fresh database in `to`, then marks it complete.
fn copy_live_records(from: &OpenDb, to: &Path) -> Result<usize, StoreError> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    from.db.flush()?;
    let fresh = sled::Config::new().path(to).open()?;
    let mut records = 0;
    for name in from.db.tree_names() {
        let source = from.db.open_tree(&name)?;
        let target = fresh.open_tree(&name)?;
        let mut batch = sled::Batch::default();
        for (n, entry) in source.iter().enumerate() {
            let (key, value) = entry?;
            batch.insert(key, value);
            if n % 10_000 == 9_999 {
                target.apply_batch(std::mem::take(&mut batch))?;
            }
            records += 1;
        }
        target.apply_batch(batch)?;
    }
    // The fresh database's id generator starts again at 0: later ids start above these.
    let floor = from.id_floor + from.db.generate_id()? + 1;
    fresh
        .open_tree("meta")?
        .insert(ID_FLOOR, &floor.to_be_bytes())?;
    fresh.flush()?;
    drop(fresh);
    std::fs::File::create(to.join(COMPACT_DONE))?.sync_all()?;
    Ok(records)
}

/// Puts the complete copy in place of `dir` (the old folder is removed).
fn swap_in_compacted(dir: &Path) -> Result<(), StoreError> {
    let (copy, retired) = (compacting_dir(dir)?, retired_dir(dir)?);
    if retired.exists() {
        std::fs::remove_dir_all(&retired)?;
    }
    std::fs::rename(dir, &retired)?;
    std::fs::rename(&copy, dir)?;
    std::fs::remove_file(dir.join(COMPACT_DONE))?;
    std::fs::remove_dir_all(&retired)?;
    Ok(())
}

/// After a crash during [`Store::compact`]: a complete copy whose swap did not finish is put in
/// place; an incomplete one is discarded (the old folder is still whole).
fn finish_interrupted_compaction(dir: &Path) -> Result<(), StoreError> {
    let (Ok(copy), Ok(retired)) = (compacting_dir(dir), retired_dir(dir)) else {
        return Ok(());
    };
    match (dir.exists(), copy.join(COMPACT_DONE).exists()) {
        (false, true) => {
            std::fs::rename(&copy, dir)?;
            std::fs::remove_file(dir.join(COMPACT_DONE))?;
        }
        (true, _) if copy.exists() => std::fs::remove_dir_all(&copy)?,
        (false, false) if retired.exists() => std::fs::rename(&retired, dir)?,
        _ => {}
    }
    if dir.exists() && retired.exists() {
        std::fs::remove_dir_all(&retired)?;
    }
    Ok(())
}

/// Total size of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_size(&entry.path()),
            _ => entry.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// The error of an operation on a store a failed compaction could not reopen.
fn store_closed() -> StoreError {
    StoreError::Refused(
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
    /// `None` only while a compaction swaps databases (every reader waits on the lock then),
    /// or after a compaction failed to reopen the store.
    open: std::sync::RwLock<Option<std::sync::Arc<OpenDb>>>,
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

fn pair_key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
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
    fn open(dir: &Path, hash_key: Option<&[u8]>) -> Result<OpenDb, StoreError> {
        let db = open_db(dir)?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema")? {
            None => {
                meta.insert("schema", SCHEMA_VERSION)?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(StoreError::Refused(format!(
                    "the store at {} has schema {}, this personabot reads {}",
                    dir.display(),
                    String::from_utf8_lossy(&v),
                    String::from_utf8_lossy(SCHEMA_VERSION)
                )))
            }
        }
        let hash_key = match hash_key {
            Some(k) if !k.is_empty() => k.to_vec(),
            _ => match meta.get("user_hash_key")? {
                Some(k) => k.to_vec(),
                None => {
                    let mut key = [0u8; 32];
                    getrandom::fill(&mut key).map_err(|e| {
                        StoreError::Refused(format!("no randomness for the user-hash key: {e}"))
                    })?;
                    meta.insert("user_hash_key", &key)?;
                    key.to_vec()
                }
            },
        };
        let trees = TurnTrees {
            interactions: db.open_tree("interactions")?,
            by_time: db.open_tree("by_time")?,
            by_user: db.open_tree("by_user")?,
            conversations: db.open_tree("conversations")?,
            tickets: db.open_tree("tickets")?,
        };
        let id_floor = meta.get(ID_FLOOR)?.map_or(0, |b| id_suffix(&b));
        let open = OpenDb {
            interactions: trees.interactions.clone(),
            by_time: trees.by_time.clone(),
            by_user: trees.by_user.clone(),
            tickets: trees.tickets.clone(),
            conversations: trees.conversations.clone(),
            links: db.open_tree("links")?,
            writer: TurnWriter::start(db.clone(), trees),
            meta,
            db,
            hash_key,
            id_floor,
        };
        open.db.flush()?;
        Ok(open)
    }

    fn commit_stats(&self) -> CommitStats {
        use std::sync::atomic::Ordering::Relaxed;
        CommitStats {
            commits: self.writer.commits.load(Relaxed),
            turns: self.writer.turns.load(Relaxed),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn hash_user(&self, user: &str) -> String {
        hash_user(&self.hash_key, user)
    }

    fn next_interaction_id(&self) -> Result<u64, StoreError> {
        Ok(self.id_floor + self.db.generate_id()? + 1)
    }
}

/// Keyed hash of a user id (HMAC-SHA256, 128 bits, hex, `u_` first).
fn hash_user(key: &[u8], user: &str) -> String {
    {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(user.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(34);
        out.push_str("u_");
        for b in &digest[..16] {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

impl OpenDb {
    fn next_ticket_id(&self) -> Result<u64, StoreError> {
        let next = self.meta.update_and_fetch("next_ticket", |old| {
            let n = old.map_or(0, |b| {
                let mut buf = [0u8; 8];
                buf.copy_from_slice(&b[..8]);
                u64::from_be_bytes(buf)
            });
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        let bytes = next.expect("update_and_fetch always stores a value");
        Ok(id_suffix(&bytes))
    }

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

    fn record_turn(
        &self,
        interaction: &Interaction,
        state: &ConversationState,
        ticket: &TicketChange,
        not_helped: Option<u64>,
    ) -> Result<Option<Ticket>, StoreError> {
        let write = TurnWrite {
            interaction: interaction.clone(),
            state: state.clone(),
            ticket: ticket.clone(),
            not_helped,
        };
        self.submit_turn(write).wait_blocking()
    }

    fn submit_turn(&self, write: TurnWrite) -> TurnReceipt {
        let record = match serde_json::to_vec(&write.interaction) {
            Ok(record) => record,
            Err(e) => return TurnReceipt(Err(e.into())),
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        let job = TurnJob {
            write,
            record,
            done,
        };
        self.writer
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job);
        self.writer.wake.notify_one();
        TurnReceipt(Ok(answer))
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

    fn save_ticket_and_conversation(
        &self,
        ticket: &Ticket,
        channel: &str,
        conversation: &str,
        state: &ConversationState,
    ) -> Result<(), StoreError> {
        let ticket_bytes = serde_json::to_vec(ticket)?;
        let state_bytes = serde_json::to_vec(state)?;
        let key = conversation_key(channel, conversation);
        (&self.tickets, &self.conversations).transaction(|(tickets, conversations)| {
            tickets.insert(&ticket.id.to_be_bytes(), ticket_bytes.as_slice())?;
            conversations.insert(key.as_slice(), state_bytes.as_slice())?;
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })?;
        self.db.flush()?;
        Ok(())
    }

    fn interaction(&self, id: u64) -> Result<Option<Interaction>, StoreError> {
        match self.interactions.get(id.to_be_bytes())? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>, StoreError> {
        let start = filter.since_ms.unwrap_or(0).to_be_bytes();
        let end = filter.until_ms.unwrap_or(u64::MAX).to_be_bytes();
        let mut out = Vec::new();
        for entry in self.by_time.range(start.as_slice()..end.as_slice()) {
            let (key, _) = entry?;
            if let Some(i) = self.interaction(id_suffix(&key))? {
                if filter.matches(&i) {
                    out.push(i);
                }
            }
        }
        Ok(out)
    }

    fn interaction_count(&self) -> usize {
        self.interactions.len()
    }

    fn record_delivery(&self, id: u64, delivery: Delivery) -> Result<(), StoreError> {
        self.update_interaction(id, |i| i.delivery = Some(delivery.clone()))?;
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

    fn set_feedback(&self, id: u64, helped: bool) -> Result<Interaction, StoreError> {
        let updated = self.update_interaction(id, |i| {
            i.feedback = Some(Feedback {
                helped,
                at_ms: now_ms(),
            });
        })?;
        Ok(updated)
    }

    fn update_interaction(
        &self,
        id: u64,
        change: impl Fn(&mut Interaction),
    ) -> Result<Interaction, StoreError> {
        let result = self.interactions.transaction(|tree| {
            let bytes = tree.get(id.to_be_bytes())?.ok_or_else(|| {
                abort(StoreError::NotFound {
                    what: "interaction",
                    id,
                })
            })?;
            let mut i: Interaction = serde_json::from_slice(&bytes).map_err(abort)?;
            change(&mut i);
            tree.insert(&id.to_be_bytes(), serde_json::to_vec(&i).map_err(abort)?)?;
            Ok(i)
        })?;
        self.db.flush()?;
        Ok(result)
    }

    fn ticket(&self, id: u64) -> Result<Option<Ticket>, StoreError> {
        match self.tickets.get(id.to_be_bytes())? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn tickets(
        &self,
        team: Option<&str>,
        status: Option<TicketStatus>,
    ) -> Result<Vec<Ticket>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tickets.iter().rev() {
            let (_, bytes) = entry?;
            let t: Ticket = serde_json::from_slice(&bytes)?;
            if team.is_none_or(|want| t.team == want) && status.is_none_or(|s| t.status == s) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Changes a ticket and its conversation's ownership atomically.
    fn update_ticket(
        &self,
        id: u64,
        change: impl Fn(&mut Ticket) -> Result<(), StoreError>,
    ) -> Result<Ticket, StoreError> {
        let ticket =
            (&self.tickets, &self.conversations).transaction(|(tickets, conversations)| {
                let bytes = tickets
                    .get(id.to_be_bytes())?
                    .ok_or_else(|| abort(StoreError::NotFound { what: "ticket", id }))?;
                let mut t: Ticket = serde_json::from_slice(&bytes).map_err(abort)?;
                change(&mut t).map_err(abort)?;
                t.updated_ms = now_ms();
                tickets.insert(&id.to_be_bytes(), serde_json::to_vec(&t).map_err(abort)?)?;
                let key = conversation_key(&t.channel, &t.conversation);
                if let Some(bytes) = conversations.get(&key)? {
                    let mut state: ConversationState =
                        serde_json::from_slice(&bytes).map_err(abort)?;
                    if state.open_ticket.as_ref().is_some_and(|o| o.id == t.id) {
                        state.open_ticket = match t.status {
                            TicketStatus::Resolved => None,
                            _ => Some(OpenTicket {
                                id: t.id,
                                team: t.team.clone(),
                                claimed_by: t.claimed_by.clone(),
                            }),
                        };
                        conversations.insert(key, serde_json::to_vec(&state).map_err(abort)?)?;
                    }
                }
                Ok(t)
            })?;
        self.db.flush()?;
        Ok(ticket)
    }

    fn claim_ticket(&self, id: u64, agent: &str) -> Result<Ticket, StoreError> {
        self.update_ticket(id, |t| match (&t.status, &t.claimed_by) {
            (TicketStatus::Resolved, _) => {
                Err(StoreError::Refused(format!("ticket #{id} is resolved")))
            }
            (TicketStatus::Claimed, Some(by)) if by != agent => Err(StoreError::Refused(format!(
                "ticket #{id} is already claimed by {by}"
            ))),
            _ => {
                t.status = TicketStatus::Claimed;
                t.claimed_by = Some(agent.to_string());
                Ok(())
            }
        })
    }

    fn resolve_ticket(&self, id: u64, agent: &str) -> Result<Ticket, StoreError> {
        self.update_ticket(id, |t| {
            if t.status == TicketStatus::Resolved {
                return Err(StoreError::Refused(format!(
                    "ticket #{id} is already resolved"
                )));
            }
            t.status = TicketStatus::Resolved;
            t.resolved_by = Some(agent.to_string());
            Ok(())
        })
    }

    fn append_transcript(&self, id: u64, line: TranscriptLine) -> Result<Ticket, StoreError> {
        self.update_ticket(id, |t| {
            t.transcript.push(line.clone());
            Ok(())
        })
    }

    fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket, StoreError> {
        if intent.is_none() && persona.is_none() {
            return Err(StoreError::Refused(
                "a relabel needs an intent, a persona, or both".into(),
            ));
        }
        let label = Label {
            intent: intent.map(str::to_string),
            persona: persona.map(str::to_string),
            by: agent.to_string(),
            at_ms: now_ms(),
        };
        let ticket =
            (&self.tickets, &self.interactions).transaction(|(tickets, interactions)| {
                let bytes = tickets
                    .get(id.to_be_bytes())?
                    .ok_or_else(|| abort(StoreError::NotFound { what: "ticket", id }))?;
                let mut t: Ticket = serde_json::from_slice(&bytes).map_err(abort)?;
                t.relabels.push(label.clone());
                t.updated_ms = label.at_ms;
                tickets.insert(&id.to_be_bytes(), serde_json::to_vec(&t).map_err(abort)?)?;
                if let Some(bytes) = interactions.get(t.interaction.to_be_bytes())? {
                    let mut i: Interaction = serde_json::from_slice(&bytes).map_err(abort)?;
                    let previous = i.label.take();
                    i.label = Some(Label {
                        intent: label
                            .intent
                            .clone()
                            .or_else(|| previous.as_ref().and_then(|p| p.intent.clone())),
                        persona: label
                            .persona
                            .clone()
                            .or_else(|| previous.as_ref().and_then(|p| p.persona.clone())),
                        by: label.by.clone(),
                        at_ms: label.at_ms,
                    });
                    interactions.insert(
                        &t.interaction.to_be_bytes(),
                        serde_json::to_vec(&i).map_err(abort)?,
                    )?;
                }
                Ok(t)
            })?;
        self.db.flush()?;
        Ok(ticket)
    }

    fn export(&self, filter: &InteractionFilter, out: &mut dyn Write) -> Result<usize, StoreError> {
        let mut n = 0;
        for i in self.interactions(filter)? {
            serde_json::to_writer(&mut *out, &i)?;
            out.write_all(b"\n")?;
            n += 1;
        }
        Ok(n)
    }

    fn forget_user(&self, user: &str) -> Result<ForgetReport, StoreError> {
        let hashed = self.hash_user(user);
        let mut report = ForgetReport::default();
        let mut conversations = std::collections::BTreeSet::new();
        for entry in self.by_user.scan_prefix(hashed.as_bytes()) {
            let (key, _) = entry?;
            let id = id_suffix(&key);
            if let Some(i) = self.interaction(id)? {
                conversations.insert(conversation_key(&i.channel, &i.conversation));
                self.by_time.remove(pair_key(&i.at_ms.to_be_bytes(), id))?;
                self.interactions.remove(id.to_be_bytes())?;
                report.interactions += 1;
            }
            self.by_user.remove(key)?;
        }
        for entry in self.tickets.iter() {
            let (key, bytes) = entry?;
            let t: Ticket = serde_json::from_slice(&bytes)?;
            if t.user == hashed {
                self.tickets.remove(key)?;
                report.tickets += 1;
                self.release_conversation(&t)?;
            }
        }
        for key in conversations {
            if self.conversations.remove(key)?.is_some() {
                report.conversations += 1;
            }
        }
        self.db.flush()?;
        Ok(report)
    }

    /// Clears a conversation's ownership by `ticket` (the ticket is gone).
    fn release_conversation(&self, ticket: &Ticket) -> Result<(), StoreError> {
        let key = conversation_key(&ticket.channel, &ticket.conversation);
        if let Some(bytes) = self.conversations.get(&key)? {
            let mut state: ConversationState = serde_json::from_slice(&bytes)?;
            if state
                .open_ticket
                .as_ref()
                .is_some_and(|o| o.id == ticket.id)
            {
                state.open_ticket = None;
                self.conversations
                    .insert(key, serde_json::to_vec(&state)?)?;
            }
        }
        Ok(())
    }

    fn purge_before(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        let mut n = 0;
        for entry in self.by_time.range(..cutoff_ms.to_be_bytes().as_slice()) {
            let (key, _) = entry?;
            let id = id_suffix(&key);
            if let Some(i) = self.interaction(id)? {
                self.by_user.remove(pair_key(i.user.as_bytes(), id))?;
                self.interactions.remove(id.to_be_bytes())?;
                n += 1;
            }
            self.by_time.remove(key)?;
        }
        self.db.flush()?;
        Ok(n)
    }

    fn purge_stale_before(&self, cutoff_ms: u64) -> Result<(usize, usize), StoreError> {
        let mut tickets = 0;
        for entry in self.tickets.iter() {
            let (key, bytes) = entry?;
            let t: Ticket = serde_json::from_slice(&bytes)?;
            if t.status == TicketStatus::Resolved && t.updated_ms < cutoff_ms {
                self.tickets.remove(key)?;
                tickets += 1;
            }
        }
        let mut conversations = 0;
        for entry in self.conversations.iter() {
            let (key, bytes) = entry?;
            let state: ConversationState = serde_json::from_slice(&bytes)?;
            if state.open_ticket.is_none() && state.updated_ms < cutoff_ms {
                self.conversations.remove(key)?;
                conversations += 1;
            }
        }
        self.db.flush()?;
        Ok((tickets, conversations))
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`. `user_hash_key` keys the user-id hash; without one,
    /// a random key is generated once and kept in the store. Finishes a compaction that a crash
    /// interrupted.
    pub fn open(dir: &Path, user_hash_key: Option<&str>) -> Result<Store, StoreError> {
        finish_interrupted_compaction(dir)?;
        let open = OpenDb::open(dir, user_hash_key.map(str::as_bytes))?;
        Ok(Store {
            shared: std::sync::Arc::new(Shared {
                dir: dir.to_path_buf(),
                hash_key: open.hash_key.clone(),
                open: std::sync::RwLock::new(Some(std::sync::Arc::new(open))),
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

    /// Rewrites the store into a fresh database holding only live records, then swaps it in:
    /// deleted records (a forgotten user, purged evidence) are then gone from the files, not
    /// only from every query. Operations wait meanwhile; those already running finish first.
    /// Crash-safe: an interrupted compaction is finished or discarded by the next
    /// [`open`](Self::open).
    pub fn compact(&self) -> Result<Compacted, StoreError> {
        let mut slot = self.shared.open.write().unwrap_or_else(|p| p.into_inner());
        // Not `self.current()`: this thread holds the write lock.
        let Some(current) = slot.take() else {
            return Err(store_closed());
        };
        // Operations that took a handle before the lock finish on the old database.
        let deadline = std::time::Instant::now() + COMPACT_WAIT;
        while std::sync::Arc::strong_count(&current) > 1 {
            if std::time::Instant::now() > deadline {
                *slot = Some(current);
                return Err(StoreError::Refused(
                    "the store stayed busy; compaction skipped, try again".into(),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let dir = self.shared.dir.clone();
        // Every queued turn is written before the copy: none may land in the old files after.
        current.stop_writer();
        let copied = match compacting_dir(&dir).and_then(|tmp| copy_live_records(&current, &tmp)) {
            Ok(copied) => copied,
            Err(e) => {
                // The old database is whole: reopen it (with a new writer) and keep serving.
                drop(current);
                *slot = Some(std::sync::Arc::new(OpenDb::open(
                    &dir,
                    Some(&self.shared.hash_key),
                )?));
                return Err(e);
            }
        };
        let bytes_before = dir_size(&dir);
        // Closes the old database: its writer drains its queue and stops.
        drop(current);
        swap_in_compacted(&dir)?;
        let reopened = OpenDb::open(&dir, Some(&self.shared.hash_key))
            .inspect_err(|e| tracing::error!(error = %e, "the compacted store did not open"))?;
        *slot = Some(std::sync::Arc::new(reopened));
        Ok(Compacted {
            records: copied,
            bytes_before,
            bytes_after: dir_size(&dir),
        })
    }

    /// The turn writer's group commits so far.
    pub fn commit_stats(&self) -> CommitStats {
        self.current()
            .map(|open| open.commit_stats())
            .unwrap_or_default()
    }

    /// Writes everything buffered to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.current()?.flush()
    }

    /// A new interaction id (monotonic; gaps after a crash are possible).
    pub fn next_interaction_id(&self) -> Result<u64, StoreError> {
        self.current()?.next_interaction_id()
    }

    /// A new ticket id: 1, 2, 3...
    pub fn next_ticket_id(&self) -> Result<u64, StoreError> {
        self.current()?.next_ticket_id()
    }

    /// The state of a conversation (empty when new).
    pub fn conversation(
        &self,
        channel: &str,
        conversation: &str,
    ) -> Result<ConversationState, StoreError> {
        self.current()?.conversation(channel, conversation)
    }

    /// Records one turn atomically: the interaction, the conversation's new state, and the
    /// ticket it opened or joined. Durable when it returns; returns the ticket as stored.
    ///
    /// Agent actions (claim, resolve) may have changed the conversation's ticket since the
    /// pipeline read it: unless this turn opens a ticket, the stored ownership is kept, and a
    /// joined ticket only gets the new transcript lines appended.
    pub fn record_turn(
        &self,
        interaction: &Interaction,
        state: &ConversationState,
        ticket: &TicketChange,
        not_helped: Option<u64>,
    ) -> Result<Option<Ticket>, StoreError> {
        self.current()?
            .record_turn(interaction, state, ticket, not_helped)
    }

    /// Queues one turn for the writer (see [`record_turn`](Self::record_turn)); the receipt
    /// resolves once it is durable.
    pub fn submit_turn(&self, write: TurnWrite) -> TurnReceipt {
        match self.current() {
            Ok(open) => open.submit_turn(write),
            Err(e) => TurnReceipt(Err(e)),
        }
    }

    /// Saves a conversation's state alone.
    pub fn save_conversation(
        &self,
        channel: &str,
        conversation: &str,
        state: &ConversationState,
    ) -> Result<(), StoreError> {
        self.current()?
            .save_conversation(channel, conversation, state)
    }

    /// Saves a new ticket and the conversation state that points at it, atomically.
    pub fn save_ticket_and_conversation(
        &self,
        ticket: &Ticket,
        channel: &str,
        conversation: &str,
        state: &ConversationState,
    ) -> Result<(), StoreError> {
        self.current()?
            .save_ticket_and_conversation(ticket, channel, conversation, state)
    }

    pub fn interaction(&self, id: u64) -> Result<Option<Interaction>, StoreError> {
        self.current()?.interaction(id)
    }

    /// Interactions matching `filter`, oldest first.
    pub fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>, StoreError> {
        self.current()?.interactions(filter)
    }

    /// Number of interactions stored.
    pub fn interaction_count(&self) -> usize {
        self.current().map_or(0, |open| open.interaction_count())
    }

    /// Records whether an interaction's reply was delivered.
    pub fn record_delivery(&self, id: u64, delivery: Delivery) -> Result<(), StoreError> {
        self.current()?.record_delivery(id, delivery)
    }

    /// Stores a channel's bookkeeping value under `key` (durable when it returns).
    pub fn set_link(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.current()?.set_link(key, value)
    }

    /// A value stored with [`set_link`](Self::set_link).
    pub fn link(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.current()?.link(key)
    }

    /// Records "That helped" (true) or "did not help" (false) on an interaction.
    pub fn set_feedback(&self, id: u64, helped: bool) -> Result<Interaction, StoreError> {
        self.current()?.set_feedback(id, helped)
    }

    pub fn ticket(&self, id: u64) -> Result<Option<Ticket>, StoreError> {
        self.current()?.ticket(id)
    }

    /// Tickets, newest first, optionally by team and status.
    pub fn tickets(
        &self,
        team: Option<&str>,
        status: Option<TicketStatus>,
    ) -> Result<Vec<Ticket>, StoreError> {
        self.current()?.tickets(team, status)
    }

    /// An agent takes the ticket; the bot stays silent in the conversation until it is resolved.
    pub fn claim_ticket(&self, id: u64, agent: &str) -> Result<Ticket, StoreError> {
        self.current()?.claim_ticket(id, agent)
    }

    /// Closes the ticket; the conversation goes back to the bot.
    pub fn resolve_ticket(&self, id: u64, agent: &str) -> Result<Ticket, StoreError> {
        self.current()?.resolve_ticket(id, agent)
    }

    /// Adds a transcript line (already redacted) to a ticket.
    pub fn append_transcript(&self, id: u64, line: TranscriptLine) -> Result<Ticket, StoreError> {
        self.current()?.append_transcript(id, line)
    }

    /// An agent corrects the intent and/or persona. Stored on the ticket and, as ground truth
    /// for learning, on the interaction that opened it (when there is one), atomically.
    pub fn relabel_ticket(
        &self,
        id: u64,
        intent: Option<&str>,
        persona: Option<&str>,
        agent: &str,
    ) -> Result<Ticket, StoreError> {
        self.current()?.relabel_ticket(id, intent, persona, agent)
    }

    /// Writes every interaction as JSON Lines, oldest first; returns how many.
    pub fn export(
        &self,
        filter: &InteractionFilter,
        out: &mut dyn Write,
    ) -> Result<usize, StoreError> {
        self.current()?.export(filter, out)
    }

    /// Deletes everything about a user: interactions, tickets, conversation state.
    pub fn forget_user(&self, user: &str) -> Result<ForgetReport, StoreError> {
        self.current()?.forget_user(user)
    }

    /// Deletes interactions older than `cutoff_ms`; returns how many.
    pub fn purge_before(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        self.current()?.purge_before(cutoff_ms)
    }

    /// Deletes resolved tickets last updated before `cutoff_ms`, and the state of conversations
    /// idle since then that no open ticket owns; returns (tickets, conversations) deleted.
    pub fn purge_stale_before(&self, cutoff_ms: u64) -> Result<(usize, usize), StoreError> {
        self.current()?.purge_stale_before(cutoff_ms)
    }
}
