//! Interactions: reading them (one, by time, all as JSON Lines), counting them, and recording a
//! delivery or the customer's feedback on one.

use std::io::Write;

use super::codec::{decode_interaction, encode_interaction};
use super::{abort, time_marks, OpenDb, Store, StoreError};
use crate::store::now_ms;
use crate::store::records::{Delivery, Feedback, Interaction, InteractionFilter};

impl OpenDb {
    pub(super) fn interaction(&self, id: u64) -> Result<Option<Interaction>, StoreError> {
        match self.interactions.get(id.to_be_bytes())? {
            Some(bytes) => Ok(Some(decode_interaction(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The interactions matching `filter`, sorted by (`at_ms`, id). With `since_ms`, the scan
    /// of the `interactions` tree (by id) starts at the time mark of five minutes before it (see
    /// [`super::time_marks`]); with `until_ms`, it stops at the first interaction more than five
    /// minutes past it. That slack covers turns decided concurrently; an interaction whose
    /// clock stepped back by more than that (an `at_ms` further out of id order) can be missed
    /// by a windowed read. A read without `since_ms` and `until_ms` sees every interaction.
    fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>, StoreError> {
        let start = match filter.since_ms {
            Some(since) => time_marks::scan_start(&self.time_marks, since)?,
            None => 0,
        };
        let mut out = Vec::new();
        for entry in self.interactions.range(start.to_be_bytes()..) {
            let (_, bytes) = entry?;
            let i = decode_interaction(&bytes)?;
            if time_marks::past_window(i.at_ms, filter.until_ms) {
                break;
            }
            if filter.matches(&i) {
                out.push(i);
            }
        }
        out.sort_by_key(|i| (i.at_ms, i.id));
        Ok(out)
    }

    /// The interactions of the stored user id `user` before `until_ms`, through the by-user
    /// index (see [`super::user_index`]).
    fn interactions_of(&self, user: &str, until_ms: u64) -> Result<Vec<Interaction>, StoreError> {
        let mut out = Vec::new();
        for id in super::user_index::ids_of(&self.by_user, user)? {
            // Another user whose hash starts with the same 8 bytes is told apart below.
            if let Some(i) = self.interaction(id)? {
                if i.user == user && i.at_ms < until_ms {
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

    fn set_feedback(&self, id: u64, helped: bool, at_ms: u64) -> Result<Interaction, StoreError> {
        let updated = self.update_interaction(id, |i| {
            i.feedback = Some(Feedback { helped, at_ms });
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
            let mut i = decode_interaction(&bytes).map_err(abort)?;
            change(&mut i);
            tree.insert(
                &id.to_be_bytes(),
                encode_interaction(&i, &self.texts).map_err(abort)?,
            )?;
            Ok(i)
        })?;
        self.db.flush()?;
        Ok(result)
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
}

impl Store {
    pub fn interaction(&self, id: u64) -> Result<Option<Interaction>, StoreError> {
        self.current()?.interaction(id)
    }

    /// Interactions matching `filter`, oldest first (by `at_ms`, then id). A window
    /// (`since_ms`, `until_ms`) is read through the sparse time index, with five minutes of
    /// slack: an interaction stored with a clock stepped back by more than that can be missed
    /// by a windowed read, never by a read without a window.
    pub fn interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>, StoreError> {
        self.current()?.interactions(filter)
    }

    /// The interactions of the stored (hashed) user id `user` before `until_ms`, by id.
    pub fn interactions_of(
        &self,
        user: &str,
        until_ms: u64,
    ) -> Result<Vec<Interaction>, StoreError> {
        self.current()?.interactions_of(user, until_ms)
    }

    /// Number of interactions stored.
    pub fn interaction_count(&self) -> usize {
        self.current().map_or(0, |open| open.interaction_count())
    }

    /// Records whether an interaction's reply was delivered.
    pub(crate) fn record_delivery(&self, id: u64, delivery: Delivery) -> Result<(), StoreError> {
        self.current()?.record_delivery(id, delivery)
    }

    /// Records "That helped" (true) or "did not help" (false) on an interaction.
    pub fn set_feedback(&self, id: u64, helped: bool) -> Result<Interaction, StoreError> {
        self.set_feedback_at(id, helped, now_ms())
    }

    /// [`set_feedback`](Self::set_feedback) at a given time (ms since the epoch).
    pub(crate) fn set_feedback_at(
        &self,
        id: u64,
        helped: bool,
        at_ms: u64,
    ) -> Result<Interaction, StoreError> {
        self.current()?.set_feedback(id, helped, at_ms)
    }

    /// Writes every interaction as JSON Lines, oldest first; returns how many.
    pub fn export(
        &self,
        filter: &InteractionFilter,
        out: &mut dyn Write,
    ) -> Result<usize, StoreError> {
        self.current()?.export(filter, out)
    }
}
