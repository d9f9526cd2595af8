//! Customer ratings: a resolved ticket's `csat` (the rating and the redacted comment).

use super::{Store, StoreError};
use crate::store::records::{Csat, Ticket, TicketStatus};

impl Store {
    /// Stores the customer's rating on a resolved ticket (a later rating replaces it). The
    /// ticket's `updated_ms` stays its resolution time (the rating has its own `at_ms`).
    pub fn rate_ticket(&self, id: u64, csat: Csat) -> Result<Ticket, StoreError> {
        let resolved_ms = self
            .ticket(id)?
            .ok_or(StoreError::NotFound { what: "ticket", id })?
            .updated_ms;
        self.current()?
            .update_ticket(id, resolved_ms, "rated", |t| {
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
