//! Remembers the most recent ids seen (Discord message ids, Slack event ids, Telegram update
//! ids) so a delivery repeated by a platform (a resume replay, a webhook retry) is handled once.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// The last `capacity` ids, oldest forgotten first.
#[derive(Debug)]
pub(crate) struct RecentIds<T> {
    order: VecDeque<T>,
    set: HashSet<T>,
    capacity: usize,
}

/// How many ids are remembered by default: far more than a platform replays at once.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

impl<T: Hash + Eq + Clone> Default for RecentIds<T> {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl<T: Hash + Eq + Clone> RecentIds<T> {
    pub fn new(capacity: usize) -> Self {
        RecentIds {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// True the first time `id` is offered (while it is remembered).
    pub fn first(&mut self, id: T) -> bool {
        if !self.set.insert(id.clone()) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_dropped_and_old_ids_forgotten() {
        let mut seen = RecentIds::new(3);
        let steps = [
            (1, true),
            (1, false),
            (2, true),
            (3, true),
            (4, true),
            (1, true),
            (4, false),
        ];
        for (n, (id, first)) in steps.iter().enumerate() {
            assert_eq!(seen.first(*id), *first, "step {n}: id {id}");
        }
        let mut keys = RecentIds::new(10);
        assert!(keys.first("ev-1".to_string()));
        assert!(!keys.first("ev-1".to_string()));
    }
}
