//! The pipeline's one injected clock dates everything it stores.

use std::sync::Arc;

use crate::{inbound, pipeline, CHANNEL};

/// Every time the pipeline stores comes from its one clock: turns, tickets, feedback, agent
/// actions and replies, deliveries.
#[test]
fn one_clock_dates_every_record() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicU64::new(1_000));
    let p = {
        let clock = Arc::clone(&clock);
        pipeline(dir.path()).with_clock(move || clock.load(Ordering::SeqCst))
    };
    let store = p.store().clone();
    let at = |ms: u64| clock.store(ms, Ordering::SeqCst);

    at(2_000);
    let answered = p
        .handle(&inbound("clock", "the dashboard is not loading"))
        .unwrap();
    let answer = answered.interaction.unwrap();
    p.record_delivery(answer, &Ok::<(), String>(()), 1);
    let stored = store.interaction(answer).unwrap().unwrap();
    assert_eq!(
        (stored.at_ms, stored.delivery.unwrap().at_ms),
        (2_000, 2_000)
    );
    assert_eq!(
        store.conversation(CHANNEL, "clock").unwrap().updated_ms,
        2_000
    );

    at(3_000);
    let ticket = p
        .feedback(CHANNEL, "clock", "pat", false)
        .unwrap()
        .ticket
        .unwrap();
    assert_eq!((ticket.created_ms, ticket.updated_ms), (3_000, 3_000));
    assert!(ticket.transcript[ticket.transcript.len() - 2..]
        .iter()
        .all(|l| l.at_ms == 3_000));
    let rated = store
        .interaction(answer)
        .unwrap()
        .unwrap()
        .feedback
        .unwrap();
    assert_eq!((rated.helped, rated.at_ms), (false, 3_000));

    at(4_000);
    let joined = p
        .handle(&inbound("clock", "any news?"))
        .unwrap()
        .ticket
        .unwrap();
    assert_eq!(joined.updated_ms, 4_000);

    at(5_000);
    assert_eq!(p.claim(ticket.id, "agent-ann").unwrap().updated_ms, 5_000);
    at(6_000);
    let replied = p.agent_reply(ticket.id, "agent-ann", "On it.").unwrap();
    assert_eq!(
        (replied.updated_ms, replied.transcript.last().unwrap().at_ms),
        (6_000, 6_000)
    );
    at(7_000);
    let relabelled = p
        .relabel(ticket.id, Some("billing"), None, "agent-ann")
        .unwrap();
    assert_eq!(
        (relabelled.updated_ms, relabelled.relabels[0].at_ms),
        (7_000, 7_000)
    );
    at(8_000);
    assert_eq!(p.resolve(ticket.id, "agent-ann").unwrap().updated_ms, 8_000);

    at(9_000);
    // Another question than the first: the technical answer again would be a pointer to it,
    // with nothing to rate.
    p.handle(&inbound("clock", "Do you integrate with Salesforce?"))
        .unwrap();
    at(10_000);
    let helped = p.feedback(CHANNEL, "clock", "pat", true).unwrap();
    let rated = store
        .interaction(helped.interaction.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (rated.at_ms, rated.feedback.unwrap().at_ms),
        (9_000, 10_000)
    );
}
