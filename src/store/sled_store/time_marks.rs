//! The sparse time index: the `time_marks` tree maps a minute (`at_ms / 60_000`, 8 bytes big
//! endian) to the first interaction id written in that minute (8 bytes big endian). It replaces
//! the `by_time` index (one 16-byte key per turn, ~360 B of disk and ~9 us of writer time each):
//! the writer adds at most one mark a minute.
//!
//! Interaction ids are allocated increasing, so they grow with time within one store, though not
//! strictly with `at_ms` (turns are decided concurrently, and clocks can step back). A windowed
//! read therefore starts at the mark of [`SCAN_LEAD_MINUTES`] minutes before its window, scans
//! the `interactions` tree by id and stops past the window's end plus [`WINDOW_SLACK_MS`];
//! retention scans from the first id and stops [`PURGE_SLACK_MS`] past its cutoff. An
//! interaction whose `at_ms` is further out of id order than that (a clock stepped back by more
//! than the slack) can be missed by a windowed read or a purge; a read without a window sees
//! every interaction, and a later purge reaches it.
//!
//! Stores written before the marks (schema 3 and older) get them built once, in one pass over
//! their interactions, and their `by_time` tree dropped ([`upgrade`]).

use std::cell::Cell;

use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use sled::Tree;

use super::codec::decode_interaction;
use super::StoreError;

/// The length of a bucket of the index.
pub(super) const MINUTE_MS: u64 = 60_000;

/// How many minutes before its window a windowed read starts (at that minute's mark).
pub(super) const SCAN_LEAD_MINUTES: u64 = 5;

/// How far past its window's end a windowed read scans (by id) before it stops.
pub(super) const WINDOW_SLACK_MS: u64 = 5 * MINUTE_MS;

/// How far past its cutoff a purge scans (by id) before it stops.
pub(super) const PURGE_SLACK_MS: u64 = 60 * MINUTE_MS;

/// The name of the index this one replaces (dropped by [`upgrade`]).
const OLD_INDEX: &str = "by_time";

/// The `meta` key recording that the marks were built and `by_time` dropped.
const BUILT: &str = "time_marks";
/// Its value.
const BUILT_V1: &[u8] = b"1";

/// The minute `at_ms` falls in.
pub(super) fn minute_of(at_ms: u64) -> u64 {
    at_ms / MINUTE_MS
}

/// The minute whose mark a read of the interactions since `since_ms` starts at.
pub(super) fn scan_minute(since_ms: u64) -> u64 {
    minute_of(since_ms).saturating_sub(SCAN_LEAD_MINUTES)
}

/// Whether a windowed read that ends at `until_ms` (exclusive; `None`: no end) stops at an
/// interaction of `at_ms`: it is past the end by more than [`WINDOW_SLACK_MS`].
pub(super) fn past_window(at_ms: u64, until_ms: Option<u64>) -> bool {
    until_ms.is_some_and(|until| at_ms > until.saturating_add(WINDOW_SLACK_MS))
}

/// What a purge of the interactions before a cutoff does with one, in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PurgeStep {
    Delete,
    Keep,
    /// It is [`PURGE_SLACK_MS`] or more past the cutoff: the later ids are not read.
    Stop,
}

/// The purge of the interactions before `cutoff_ms`, at one of `at_ms`.
pub(super) fn purge_step(at_ms: u64, cutoff_ms: u64) -> PurgeStep {
    if at_ms < cutoff_ms {
        PurgeStep::Delete
    } else if at_ms >= cutoff_ms.saturating_add(PURGE_SLACK_MS) {
        PurgeStep::Stop
    } else {
        PurgeStep::Keep
    }
}

/// An 8-byte big-endian number (`None`: not 8 bytes).
fn number(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

/// The id a read of the interactions since `since_ms` starts at: the mark of
/// [`scan_minute`], or the latest one before it; 0 (the first id) when there is none.
pub(super) fn scan_start(marks: &Tree, since_ms: u64) -> Result<u64, StoreError> {
    let last = marks
        .range(..=scan_minute(since_ms).to_be_bytes())
        .next_back()
        .transpose()?;
    Ok(last.and_then(|(_, id)| number(&id)).unwrap_or(0))
}

/// Marks the minute of a turn (`at_ms`, interaction `id`) in the writer's transaction, unless
/// it is `known` to be marked (the writer's last marked minute) or already is: at most one
/// insert a minute. `known` becomes the turn's minute.
pub(super) fn mark(
    marks: &TransactionalTree,
    known: &Cell<Option<u64>>,
    at_ms: u64,
    id: u64,
) -> Result<(), UnabortableTransactionError> {
    let minute = minute_of(at_ms);
    if known.get() == Some(minute) {
        return Ok(());
    }
    let key = minute.to_be_bytes();
    if marks.get(key)?.is_none() {
        marks.insert(&key, &id.to_be_bytes())?;
    }
    known.set(Some(minute));
    Ok(())
}

/// Removes the marks of the minutes before the one `cutoff_ms` falls in (their interactions
/// were purged); returns how many.
pub(super) fn remove_before(marks: &Tree, cutoff_ms: u64) -> Result<usize, StoreError> {
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for entry in marks.range(..minute_of(cutoff_ms).to_be_bytes()) {
        let (key, _) = entry?;
        batch.remove(key);
        n += 1;
    }
    marks.apply_batch(batch)?;
    Ok(n)
}

/// Builds the marks of a store written before them (one pass over its interactions: each
/// minute's mark is its smallest id) and drops its `by_time` tree, once (then `meta` says so).
/// A record that cannot be decoded gets no mark (a read of it fails as before).
pub(super) fn upgrade(
    db: &sled::Db,
    meta: &Tree,
    interactions: &Tree,
    marks: &Tree,
) -> Result<(), StoreError> {
    if meta.get(BUILT)?.as_deref() == Some(BUILT_V1) {
        return Ok(());
    }
    let mut first = std::collections::BTreeMap::new();
    for entry in interactions.iter() {
        let (key, bytes) = entry?;
        let (Some(id), Ok(i)) = (number(&key), decode_interaction(&bytes)) else {
            continue;
        };
        // Keys come in id order: the first one seen in a minute is its smallest.
        first.entry(minute_of(i.at_ms)).or_insert(id);
    }
    let mut batch = sled::Batch::default();
    for (minute, id) in first {
        if marks.get(minute.to_be_bytes())?.is_none() {
            batch.insert(&minute.to_be_bytes(), &id.to_be_bytes());
        }
    }
    marks.apply_batch(batch)?;
    db.drop_tree(OLD_INDEX)?;
    meta.insert(BUILT, BUILT_V1)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sled::transaction::Transactional;

    const M: u64 = MINUTE_MS;

    #[test]
    fn a_read_starts_five_minutes_before_its_window() {
        let cases = [
            (0, 0),
            (M - 1, 0),
            (5 * M, 0),
            (6 * M - 1, 0),
            (6 * M, 1),
            (100 * M + M - 1, 95),
            (u64::MAX, u64::MAX / M - 5),
        ];
        for (since, minute) in cases {
            assert_eq!(scan_minute(since), minute, "since {since}");
        }
    }

    #[test]
    fn a_windowed_read_stops_five_minutes_past_its_end() {
        let cases = [
            (0, None, false),
            (u64::MAX, None, false),
            (10 * M, Some(10 * M), false),
            (15 * M, Some(10 * M), false),
            (15 * M + 1, Some(10 * M), true),
            (u64::MAX, Some(u64::MAX - 1), false),
            (u64::MAX, Some(0), true),
        ];
        for (at, until, stop) in cases {
            assert_eq!(past_window(at, until), stop, "at {at}, until {until:?}");
        }
    }

    #[test]
    fn a_purge_deletes_before_its_cutoff_and_stops_an_hour_past_it() {
        let cutoff = 1_000 * M;
        let cases = [
            (0, PurgeStep::Delete),
            (cutoff - 1, PurgeStep::Delete),
            (cutoff, PurgeStep::Keep),
            (cutoff + 60 * M - 1, PurgeStep::Keep),
            (cutoff + 60 * M, PurgeStep::Stop),
            (u64::MAX, PurgeStep::Stop),
        ];
        for (at, step) in cases {
            assert_eq!(purge_step(at, cutoff), step, "at {at}");
        }
        // No overflow near the end of time: kept, and the scan stops.
        assert_eq!(purge_step(u64::MAX, u64::MAX - 1), PurgeStep::Stop);
    }

    fn tree(db: &sled::Db, name: &str) -> Tree {
        db.open_tree(name).unwrap()
    }

    fn marks_of(marks: &Tree) -> Vec<(u64, u64)> {
        marks
            .iter()
            .map(|e| {
                let (k, v) = e.unwrap();
                (number(&k).unwrap(), number(&v).unwrap())
            })
            .collect()
    }

    #[test]
    fn a_read_starts_at_the_latest_mark_at_or_before_its_minute() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let marks = tree(&db, "time_marks");
        assert_eq!(
            scan_start(&marks, 50 * M).unwrap(),
            0,
            "no marks: the first id"
        );
        for (minute, id) in [(10u64, 100u64), (20, 200), (30, 300)] {
            marks
                .insert(minute.to_be_bytes(), &id.to_be_bytes())
                .unwrap();
        }
        let cases = [
            (0, 0),
            (14 * M, 0),
            (15 * M - 1, 0),
            (15 * M, 100),
            (25 * M - 1, 100),
            (25 * M, 200),
            (35 * M, 300),
            (10_000 * M, 300),
        ];
        for (since, id) in cases {
            assert_eq!(scan_start(&marks, since).unwrap(), id, "since {since}");
        }
        // A mangled mark is no place to start: from the first id.
        marks.insert(40u64.to_be_bytes(), &[1, 2, 3]).unwrap();
        assert_eq!(scan_start(&marks, 45 * M).unwrap(), 0);
    }

    #[test]
    fn the_first_turn_of_a_minute_marks_it_once() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let marks = tree(&db, "time_marks");
        marks
            .insert(3u64.to_be_bytes(), &30u64.to_be_bytes())
            .unwrap();
        // (known minute before the turn, at_ms, id): one transaction for the whole table.
        let turns = [
            (None, M + 5, 1),
            (Some(1), M + 59_999, 2),
            (Some(1), 2 * M, 3),
            (Some(2), M + 7, 4),
            (Some(1), 2 * M + 1, 5),
            (Some(2), 3 * M, 6),
        ];
        (&marks,)
            .transaction(|(t,)| {
                let known = Cell::new(None);
                for (before, at, id) in turns {
                    assert_eq!(known.get(), before, "turn {id}");
                    mark(t, &known, at, id)?;
                    assert_eq!(known.get(), Some(minute_of(at)));
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .unwrap();
        assert_eq!(marks_of(&marks), [(1, 1), (2, 3), (3, 30)]);
    }

    #[test]
    fn purged_minutes_lose_their_marks() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let marks = tree(&db, "time_marks");
        for minute in [1u64, 2, 5, 9] {
            marks
                .insert(minute.to_be_bytes(), &(minute * 10).to_be_bytes())
                .unwrap();
        }
        assert_eq!(remove_before(&marks, 5 * M + 30_000).unwrap(), 2);
        assert_eq!(marks_of(&marks), [(5, 50), (9, 90)]);
        assert_eq!(remove_before(&marks, 0).unwrap(), 0);
        assert_eq!(marks_of(&marks).len(), 2);
    }

    /// An interaction as older stores kept them (JSON), or in the binary form.
    fn record(id: u64, at_ms: u64, json: bool) -> Vec<u8> {
        let i = crate::store::bare_interaction(id, at_ms);
        if json {
            serde_json::to_vec(&i).unwrap()
        } else {
            super::super::codec::encode_interaction(&i, &Default::default()).unwrap()
        }
    }

    #[test]
    fn an_older_store_gets_its_marks_and_loses_by_time_once() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let (meta, interactions, marks, by_time) = (
            tree(&db, "meta"),
            tree(&db, "interactions"),
            tree(&db, "time_marks"),
            tree(&db, OLD_INDEX),
        );
        // (id, at_ms): minute 2's turns out of id order, as concurrent turns are written.
        let stored = [(4u64, 2 * M + 10), (5, M + 59_000), (7, 2 * M), (9, 7 * M)];
        for (id, at_ms) in stored {
            let json = id % 2 == 1;
            interactions
                .insert(id.to_be_bytes(), record(id, at_ms, json))
                .unwrap();
            let mut key = at_ms.to_be_bytes().to_vec();
            key.extend_from_slice(&id.to_be_bytes());
            by_time.insert(key, &[]).unwrap();
        }
        // A record that cannot be read gets no mark, and stops nothing.
        interactions
            .insert(11u64.to_be_bytes(), &[0xee, 1, 2])
            .unwrap();
        drop(by_time);
        upgrade(&db, &meta, &interactions, &marks).unwrap();
        assert_eq!(marks_of(&marks), [(1, 5), (2, 4), (7, 9)]);
        assert!(!db.tree_names().iter().any(|n| n == OLD_INDEX.as_bytes()));
        assert_eq!(meta.get(BUILT).unwrap().as_deref(), Some(BUILT_V1));
        // Once marked, nothing is read again.
        marks.clear().unwrap();
        upgrade(&db, &meta, &interactions, &marks).unwrap();
        assert!(marks.is_empty());
    }
}
