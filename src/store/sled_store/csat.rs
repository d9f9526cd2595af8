//! Customer ratings: a resolved ticket's `csat` (the rating and the redacted comment).

use super::{Store, StoreError};
use crate::store::records::{Csat, Ticket, TicketStatus};

impl Store {
    /// Stores the customer's rating on a resolved ticket (a later rating replaces it).
    pub fn rate_ticket_at(&self, id: u64, csat: Csat, at_ms: u64) -> Result<Ticket, StoreError> {
        self.current()?.update_ticket(id, at_ms, |t| {
            if t.status != TicketStatus::Resolved {
                return Err(StoreError::Conflict(format!(
                    "ticket #{id} is not resolved yet"
                )));
            }
            t.csat = Some(csat.clone());
            Ok(())
        })
    }
}
