//! Ticket numbers, counted in memory and reserved in the store a block ahead: opening a ticket
//! writes nothing to sled of its own. (A sled write per ticket, made on the async thread, put
//! one more IO buffer into every group commit and could park that thread on sled's lock.)
//! A clean close stores the exact count, so the next open goes on from it; after a crash the
//! numbers may skip up to one block, never repeat.

use sled::Tree;

use super::{id_suffix, StoreError};

/// The `meta` key: the highest local ticket number that may have been given out.
pub(super) const KEY: &str = "next_ticket";

/// Ticket numbers reserved at a time.
const BLOCK: u64 = 64;

#[derive(Debug)]
struct Counter {
    /// The last local number given out.
    last: u64,
    /// The highest number stored as reserved: numbers up to it may be given out.
    reserved: u64,
}

/// The store's ticket counter (local numbers, before [`super::spaced_id`]).
#[derive(Debug)]
pub(super) struct TicketIds(std::sync::Mutex<Counter>);

impl TicketIds {
    /// The counter as `meta` left it.
    pub(super) fn load(meta: &Tree) -> Result<TicketIds, StoreError> {
        let last = meta.get(KEY)?.map_or(0, |b| id_suffix(&b));
        Ok(TicketIds(std::sync::Mutex::new(Counter {
            last,
            reserved: last,
        })))
    }

    /// The next local ticket number. When the reserved block is used up, the next block is
    /// stored first; it is durable with the first group commit after it (sled's log is written
    /// in order), so before any ticket numbered in it is acknowledged.
    pub(super) fn next(&self, meta: &Tree) -> Result<u64, StoreError> {
        let mut counter = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if counter.last >= counter.reserved {
            let reserved = counter.last + BLOCK;
            meta.insert(KEY, &reserved.to_be_bytes())?;
            counter.reserved = reserved;
        }
        counter.last += 1;
        Ok(counter.last)
    }

    /// Stores the exact count (on a clean close, before a compaction's copy): the next open
    /// goes on from it. Numbers given out later reserve a new block first.
    pub(super) fn store_exact(&self, meta: &Tree) -> Result<(), StoreError> {
        let mut counter = self.0.lock().unwrap_or_else(|p| p.into_inner());
        meta.insert(KEY, &counter.last.to_be_bytes())?;
        counter.reserved = counter.last;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_value(meta: &Tree) -> u64 {
        meta.get(KEY).unwrap().map_or(0, |b| id_suffix(&b))
    }

    #[test]
    fn numbers_count_on_across_clean_closes_and_skip_at_most_a_block_after_a_crash() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        let ids = TicketIds::load(&meta).unwrap();
        let first: Vec<u64> = (0..3).map(|_| ids.next(&meta).unwrap()).collect();
        assert_eq!(first, [1, 2, 3]);
        assert_eq!(meta_value(&meta), BLOCK, "one block reserved, one write");

        // A clean close: the next open goes on at 4.
        ids.store_exact(&meta).unwrap();
        assert_eq!(meta_value(&meta), 3);
        let reopened = TicketIds::load(&meta).unwrap();
        assert_eq!(reopened.next(&meta).unwrap(), 4);

        // A crash (no exact count stored): the next open starts after the reserved block.
        let crashed = TicketIds::load(&meta).unwrap();
        assert_eq!(crashed.next(&meta).unwrap(), 3 + BLOCK + 1);

        // A store written by the old counter (the exact last number) goes on from it.
        meta.insert(KEY, &41u64.to_be_bytes()).unwrap();
        assert_eq!(TicketIds::load(&meta).unwrap().next(&meta).unwrap(), 42);
    }

    #[test]
    fn numbers_given_out_after_an_exact_count_reserve_again() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        let ids = TicketIds::load(&meta).unwrap();
        ids.next(&meta).unwrap();
        ids.store_exact(&meta).unwrap();
        assert_eq!(ids.next(&meta).unwrap(), 2);
        assert_eq!(
            meta_value(&meta),
            1 + BLOCK,
            "reserved before it was given out"
        );
    }

    #[test]
    fn numbers_are_unique_across_threads() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta = db.open_tree("meta").unwrap();
        let ids = std::sync::Arc::new(TicketIds::load(&meta).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (ids, meta) = (ids.clone(), meta.clone());
                std::thread::spawn(move || {
                    (0..500)
                        .map(|_| ids.next(&meta).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (1..=2000).collect::<Vec<_>>());
        assert!(meta_value(&meta) >= 2000);
    }
}
