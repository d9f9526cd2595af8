//! Regression tests: each reproduced a bug found while writing these tests (the doc comment
//! says what used to go wrong); all are fixed.

use std::sync::Arc;

use personabot::store::TicketStatus;

use crate::{inbound, pipeline};

/// `Pipeline::handle` reads the conversation state and the joined ticket, then writes both back
/// wholesale in `record_turn`; `Store::claim_ticket` / `resolve_ticket` change the same records in
/// their own transaction without the pipeline's conversation lock. A claim or resolve that lands
/// between the read and the write is silently undone. Timing-dependent: usually several of the
/// 100 rounds lose their update.
#[test]
fn regression_claim_or_resolve_racing_a_turn_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(pipeline(dir.path()));
    let (mut lost_claims, mut lost_resolves) = (0, 0);
    for i in 0..100u64 {
        let conversation = format!("race-{i}");
        let t = p
            .handle(&inbound(&conversation, "I'd like a refund please"))
            .unwrap()
            .ticket
            .unwrap()
            .id;
        let customer = {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                for n in 0..4 {
                    p.handle(&inbound(&conversation, &format!("follow up {n}")))
                        .unwrap();
                }
            })
        };
        std::thread::sleep(std::time::Duration::from_micros((i % 10) * 300));
        let claim = i % 2 == 0;
        if claim {
            p.store().claim_ticket(t, "agent-ann").unwrap();
        } else {
            p.store().resolve_ticket(t, "agent-ann").unwrap();
        }
        customer.join().unwrap();
        let ticket = p.store().ticket(t).unwrap().unwrap();
        if claim && ticket.claimed_by.is_none() {
            lost_claims += 1;
        }
        if !claim && ticket.status != TicketStatus::Resolved {
            lost_resolves += 1;
        }
    }
    assert_eq!(
        (lost_claims, lost_resolves),
        (0, 0),
        "claims and resolves lost to a concurrent customer turn"
    );
}
