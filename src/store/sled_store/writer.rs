//! The turn writer: one thread applies every queued turn (the interaction, its indexes, the
//! rated answer's feedback, the ticket and the conversation state) in one transaction per batch,
//! flushes once per batch (group commit), then acknowledges the batch.

use std::cell::Cell;

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sled::Tree;

use super::codec::{
    decode_interaction, decode_state, decode_ticket, encode_interaction, encode_state,
    encode_ticket, Texts,
};
use super::time_marks::{mark, minute_of};
use super::{abort, conversation_key, OpenDb, Store, StoreError};
use crate::core::conversation::ConversationState;
use crate::store::records::{Feedback, Interaction, Priority, Ticket, TranscriptLine};

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

/// What a turn changes on the ticket it joins ([`TicketChange::Append`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketPatch {
    /// The email the customer gave when the bot asked how to reach them.
    pub contact: Option<String>,
    /// The customer sounded frustrated: the ticket becomes `high` priority.
    pub high_priority: bool,
}

/// The trees a turn writes.
#[derive(Clone)]
pub(super) struct TurnTrees {
    pub(super) interactions: Tree,
    pub(super) time_marks: Tree,
    pub(super) by_user: Tree,
    pub(super) conversations: Tree,
    pub(super) tickets: Tree,
    /// Written only in cluster mode (see [`super::outbox`]).
    pub(super) outbox: Tree,
    pub(super) cluster: super::outbox::ClusterCell,
    /// The bot texts records may quote by reference.
    pub(super) texts: std::sync::Arc<Texts>,
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
    /// Applied to the ticket the turn joins.
    pub patch: TicketPatch,
}

type TurnResult = Result<Option<Ticket>, StoreError>;

/// One turn waiting for the writer.
struct TurnJob {
    write: TurnWrite,
    /// The interaction, the opened ticket (if any) and the state after the turn, encoded by the
    /// submitting thread: the writer's transaction (which holds sled's lock on every read)
    /// only copies them.
    record: Vec<u8>,
    opened: Option<Vec<u8>>,
    state: Vec<u8>,
    done: tokio::sync::oneshot::Sender<TurnResult>,
}

/// A submitted turn: wait on it, from sync or async code, for the ticket as stored once the
/// turn is durable.
pub struct TurnReceipt(Result<tokio::sync::oneshot::Receiver<TurnResult>, StoreError>);

impl TurnReceipt {
    /// Waits in a sync context (not inside an async task).
    pub(crate) fn wait_blocking(self) -> TurnResult {
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
    StoreError::Unavailable("the store writer stopped".into())
}

/// The single writer of turns, with group commit: it takes every turn queued, applies them in
/// one transaction, flushes once, then acknowledges them all. One thread writing avoids sled's
/// contention between writers, and one fsync serves the whole batch.
pub(super) struct TurnWriter {
    queue: std::sync::Mutex<Vec<TurnJob>>,
    wake: std::sync::Condvar,
    commits: std::sync::atomic::AtomicU64,
    turns: std::sync::atomic::AtomicU64,
    /// Set by the last [`Store`] handle being dropped: finish the queue, then stop.
    closing: std::sync::atomic::AtomicBool,
    /// Set while a batch is applied: its transaction holds sled's lock, so every sled read
    /// waits, parking its thread (see [`Store::writer_applied`]).
    applying: std::sync::atomic::AtomicBool,
    /// Wakes the tasks waiting in [`Store::writer_applied`] once a batch is applied.
    applied: tokio::sync::Notify,
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
    /// A writer with an empty queue and no thread yet.
    fn idle() -> TurnWriter {
        TurnWriter {
            queue: std::sync::Mutex::new(Vec::new()),
            wake: std::sync::Condvar::new(),
            commits: Default::default(),
            turns: Default::default(),
            closing: Default::default(),
            applying: Default::default(),
            applied: tokio::sync::Notify::new(),
            thread: Default::default(),
        }
    }

    /// Starts the writer thread. It ends once every [`Store`] handle is gone (then the last tree
    /// handles it holds are dropped and the database closes).
    pub(super) fn start(db: sled::Db, trees: TurnTrees) -> std::sync::Arc<TurnWriter> {
        let writer = std::sync::Arc::new(TurnWriter::idle());
        let handle = writer.clone();
        let thread = std::thread::Builder::new()
            .name("personabot-writer".into())
            .spawn(move || handle.run(db, trees))
            .expect("spawn the store writer thread");
        *writer.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
        writer
    }

    fn run(self: std::sync::Arc<Self>, db: sled::Db, trees: TurnTrees) {
        // The last minute known to have a time mark: its later turns add none.
        let mut marked = None;
        // Applying and flushing in turn, not overlapped: while one batch is flushed the next
        // one grows, and fewer, larger flushes cost sled's IO threads less per turn (measured:
        // a flush thread beside the writer made batches of 3 turns instead of 15 and turns
        // 20% slower).
        while let Some(jobs) = self.next_batch() {
            let results = {
                let _applying = Applying::start(&self);
                apply_turns(&trees, &jobs, marked)
            };
            marked = last_marked(&jobs, &results).or(marked);
            let flushed = db.flush();
            if let Some(state) = trees.cluster.get() {
                // The batch's outbox entries are durable: the publisher may send them.
                state.wake.notify_one();
            }
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

    /// The next batch of queued turns: waits for one, then for a moment more when others are
    /// writing too. None once the store is closed and the queue is empty.
    fn next_batch(self: &std::sync::Arc<Self>) -> Option<Vec<TurnJob>> {
        let mut jobs = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            while queue.is_empty() {
                if std::sync::Arc::strong_count(self) == 1
                    || self.closing.load(std::sync::atomic::Ordering::Acquire)
                {
                    return None; // the store is closed
                }
                queue = self
                    .wake
                    .wait_timeout(queue, WRITER_IDLE)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            std::mem::take(&mut *queue)
        };
        if jobs.len() > 1 {
            // Others are writing too: wait a moment for more turns to share the flush
            // (as PostgreSQL's commit_delay does). A lone turn is flushed at once.
            std::thread::sleep(COMMIT_DELAY);
        }
        // Turns queued meanwhile join the batch, so that it is one transaction: each
        // transaction makes sled seal and write its IO buffer (a fresh buffer and a write
        // on sled's IO threads), so one per flush is the least IO work per turn.
        while jobs.len() < MAX_BATCH {
            let more = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
            if more.is_empty() {
                break;
            }
            jobs.extend(more);
        }
        Some(jobs)
    }
}

type TxTrees<'a> = (
    &'a sled::transaction::TransactionalTree,
    &'a sled::transaction::TransactionalTree,
    &'a sled::transaction::TransactionalTree,
    &'a sled::transaction::TransactionalTree,
    &'a sled::transaction::TransactionalTree,
);

/// The minute of the last turn written (its transaction committed): it has a time mark.
fn last_marked(jobs: &[TurnJob], results: &[TurnResult]) -> Option<u64> {
    jobs.iter()
        .zip(results)
        .filter(|(_, result)| result.is_ok())
        .map(|(job, _)| minute_of(job.write.interaction.at_ms))
        .next_back()
}

/// Writes one turn inside a transaction: the interaction (its user is indexed per batch, see
/// [`index_users`]) and its minute's time mark unless `marked` says it has one, the rated
/// answer's feedback, the ticket opened or joined, and the conversation's state.
fn write_turn(
    (interactions, time_marks, _by_user, conversations, tickets): TxTrees<'_>,
    texts: &Texts,
    marked: &Cell<Option<u64>>,
    job: &TurnJob,
) -> Result<Option<Ticket>, ConflictableTransactionError<StoreError>> {
    let turn = &job.write;
    let interaction = &turn.interaction;
    let id = interaction.id;
    let conv_key = conversation_key(&interaction.channel, &interaction.conversation);
    interactions.insert(&id.to_be_bytes(), job.record.as_slice())?;
    mark(time_marks, marked, interaction.at_ms, id)?;
    if let Some(rated) = turn.not_helped {
        // The rated answer may have been purged meanwhile: then there is nothing to mark.
        if let Some(bytes) = interactions.get(rated.to_be_bytes())? {
            let mut i = decode_interaction(&bytes).map_err(abort)?;
            i.feedback = Some(Feedback {
                helped: false,
                at_ms: interaction.at_ms,
            });
            interactions.insert(
                &rated.to_be_bytes(),
                encode_interaction(&i, texts).map_err(abort)?,
            )?;
        }
    }
    let stored_ticket = match &turn.ticket {
        TicketChange::None => None,
        TicketChange::Open(t) => {
            let bytes = match &job.opened {
                Some(bytes) => bytes.clone(),
                None => encode_ticket(t, texts).map_err(abort)?,
            };
            tickets.insert(&t.id.to_be_bytes(), bytes)?;
            Some(Ticket::clone(t))
        }
        TicketChange::Append {
            id: ticket_id,
            lines,
        } => match tickets.get(ticket_id.to_be_bytes())? {
            Some(bytes) => {
                let mut t = decode_ticket(&bytes).map_err(abort)?;
                t.transcript.extend(lines.iter().cloned());
                t.updated_ms = interaction.at_ms;
                if let Some(contact) = &turn.patch.contact {
                    t.contact = Some(contact.clone());
                }
                if turn.patch.high_priority {
                    t.priority = Priority::High;
                }
                tickets.insert(
                    &t.id.to_be_bytes(),
                    encode_ticket(&t, texts).map_err(abort)?,
                )?;
                Some(t)
            }
            None => None,
        },
    };
    let mut state = job.state.clone();
    if !matches!(turn.ticket, TicketChange::Open(_)) {
        // Agent actions may have changed the conversation's tickets: keep what is stored.
        let current: ConversationState = match conversations.get(conv_key.as_slice())? {
            Some(bytes) => decode_state(&bytes).map_err(abort)?,
            None => ConversationState::default(),
        };
        let next = &turn.state;
        if current.open_ticket != next.open_ticket || current.other_tickets != next.other_tickets {
            let mut next = next.clone();
            next.open_ticket = current.open_ticket;
            next.other_tickets = current.other_tickets;
            state = encode_state(&next, texts).map_err(abort)?;
        }
    }
    conversations.insert(conv_key.as_slice(), state)?;
    Ok(stored_ticket)
}

/// [`write_turn`], then, in cluster mode (`node`), the turn's outbox entries, in the same
/// transaction.
fn write_turn_and_outbox(
    trees: TxTrees<'_>,
    outbox: &sled::transaction::TransactionalTree,
    node: Option<&super::outbox::ClusterNode>,
    texts: &Texts,
    marked: &Cell<Option<u64>>,
    job: &TurnJob,
) -> Result<Option<Ticket>, ConflictableTransactionError<StoreError>> {
    let stored = write_turn(trees, texts, marked, job)?;
    if let Some(node) = node {
        let event = match &job.write.ticket {
            TicketChange::Open(_) => "opened",
            _ => "updated",
        };
        let ticket = stored.as_ref().map(|t| (event, t));
        super::outbox::write_entries(outbox, node, &job.write.interaction, ticket)?;
    }
    Ok(stored)
}

/// Writes a batch of turns in one transaction, in queue order (a transaction reads its own
/// writes, so two turns of one conversation or one ticket in a batch apply one after the
/// other), then the batch's `by_user` entry. In cluster mode each turn also writes its outbox
/// entries (outside cluster mode the outbox tree is in the transaction, untouched). `marked`: the
/// last minute known to have a time mark.
fn apply_turns(
    trees: &TurnTrees,
    jobs: &[TurnJob],
    marked: Option<u64>,
) -> Vec<Result<Option<Ticket>, StoreError>> {
    let texts = &*trees.texts;
    let node = trees.cluster.get().map(|state| &state.node);
    let all = (
        &trees.interactions,
        &trees.time_marks,
        &trees.by_user,
        &trees.conversations,
        &trees.tickets,
        &trees.outbox,
    );
    batch_or_each(jobs, |jobs| {
        all.transaction(|(a, b, c, d, e, o)| {
            // Anew on each try: a retried transaction starts from what is committed.
            let known = Cell::new(marked);
            let stored = jobs
                .iter()
                .map(|job| write_turn_and_outbox((a, b, c, d, e), o, node, texts, &known, job))
                .collect::<Result<Vec<_>, _>>()?;
            index_users(c, jobs)?;
            Ok(stored)
        })
    })
}

/// The batch's one entry in the `by_user` log (see [`super::user_index`]).
fn index_users(
    by_user: &sled::transaction::TransactionalTree,
    jobs: &[TurnJob],
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let turns = jobs.iter().map(|job| {
        (
            job.write.interaction.user.as_str(),
            job.write.interaction.id,
        )
    });
    if let Some((key, value)) = super::user_index::log_entry(turns) {
        by_user.insert(&key, value)?;
    }
    Ok(())
}

/// Runs `write` on the whole batch; if the batch fails as a whole, on each turn on its own, so
/// one bad turn cannot fail the others. One result per turn, in order.
fn batch_or_each<T>(
    jobs: &[TurnJob],
    write: impl Fn(&[TurnJob]) -> Result<Vec<T>, TransactionError<StoreError>>,
) -> Vec<Result<T, StoreError>> {
    match write(jobs) {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(_) if jobs.len() > 1 => jobs
            .iter()
            .map(|job| {
                let mut one = write(std::slice::from_ref(job))?;
                one.pop()
                    .ok_or_else(|| StoreError::Invalid("a turn's write returned nothing".into()))
            })
            .collect(),
        Err(e) => vec![Err(StoreError::from(e))],
    }
}

/// A batch being applied (see [`TurnWriter::applying`]): over when dropped, even by a panic, so
/// no task waits for it forever.
struct Applying<'a>(&'a TurnWriter);

impl<'a> Applying<'a> {
    fn start(writer: &'a TurnWriter) -> Applying<'a> {
        writer
            .applying
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Applying(writer)
    }
}

impl Drop for Applying<'_> {
    fn drop(&mut self) {
        self.0
            .applying
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.0.applied.notify_waiters();
    }
}

impl TurnWriter {
    /// Returns once no batch is being applied (at once when none is).
    async fn applied(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        loop {
            let notified = self.applied.notified();
            tokio::pin!(notified);
            // Registered before the check, so the end of the batch cannot slip between them.
            notified.as_mut().enable();
            if !self.applying.load(SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

impl OpenDb {
    /// Stops the writer once its queue is written, and waits for it, so the database is closed
    /// (and its lock released) when the last handle is gone. Idempotent.
    pub(super) fn stop_writer(&self) {
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

    fn commit_stats(&self) -> CommitStats {
        use std::sync::atomic::Ordering::Relaxed;
        CommitStats {
            commits: self.writer.commits.load(Relaxed),
            turns: self.writer.turns.load(Relaxed),
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
            patch: TicketPatch::default(),
        };
        self.submit_turn(write).wait_blocking()
    }

    fn submit_turn(&self, write: TurnWrite) -> TurnReceipt {
        let encoded = (|| -> Result<_, StoreError> {
            let opened = match &write.ticket {
                TicketChange::Open(t) => Some(encode_ticket(t, &self.texts)?),
                _ => None,
            };
            let state = encode_state(&write.state, &self.texts)?;
            Ok((
                encode_interaction(&write.interaction, &self.texts)?,
                opened,
                state,
            ))
        })();
        let (record, opened, state) = match encoded {
            Ok(encoded) => encoded,
            Err(e) => return TurnReceipt(Err(e)),
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        let job = TurnJob {
            write,
            record,
            opened,
            state,
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
}

impl Store {
    /// The turn writer's group commits so far.
    pub fn commit_stats(&self) -> CommitStats {
        self.current()
            .map(|open| open.commit_stats())
            .unwrap_or_default()
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

    /// Returns once the writer is not applying a batch. While it is, its transaction holds
    /// sled's lock and a sled read would park the calling thread (and, on an async thread,
    /// every task queued on it) until the batch is applied: an async task about to read the
    /// store waits here instead, leaving its thread to other tasks. A batch may still begin
    /// right after: this makes a read's wait rare, not impossible.
    pub async fn writer_applied(&self) {
        if let Ok(open) = self.current() {
            open.writer.applied().await;
        }
    }

    /// Queues one turn for the writer (see [`record_turn`](Self::record_turn)); the receipt
    /// resolves once it is durable.
    pub(crate) fn submit_turn(&self, write: TurnWrite) -> TurnReceipt {
        match self.current() {
            Ok(open) => open.submit_turn(write),
            Err(e) => TurnReceipt(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_wait_for_a_batch_being_applied_and_only_for_it() {
        let writer = std::sync::Arc::new(TurnWriter::idle());
        let quick = std::time::Duration::from_secs(10);
        tokio::time::timeout(quick, writer.applied())
            .await
            .expect("no batch: at once");

        let applying = Applying::start(&writer);
        let waiter = tokio::spawn({
            let writer = writer.clone();
            async move { writer.applied().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "waits while the batch is applied");
        drop(applying);
        tokio::time::timeout(quick, waiter)
            .await
            .expect("woken when the batch is applied")
            .unwrap();

        // A panic while applying ends the batch too: nobody waits forever.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _applying = Applying::start(&writer);
            panic!("a bug while applying");
        }));
        assert!(panicked.is_err());
        tokio::time::timeout(quick, writer.applied())
            .await
            .expect("no batch after the panic");
    }
}
