//! Concurrency: turns of one conversation and separate conversations at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use personabot::store::InteractionFilter;

use crate::{inbound, pipeline, CHANNEL};

#[test]
fn concurrent_turns_of_one_conversation_are_all_stored() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(pipeline(dir.path()));
    let texts = [
        "how much is the growth plan?",
        "the dashboard is not loading",
        "hello",
        "are you SOC 2 compliant?",
    ];
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|n| {
                        let text =
                            format!("{} (thread {t} message {n})", texts[(t + n) % texts.len()]);
                        let o = p
                            .handle(&inbound("busy", &text))
                            .unwrap_or_else(|e| panic!("{text}: {e}"));
                        (o.interaction.expect("stored"), text)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<(u64, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();

    let total = THREADS * PER_THREAD;
    let ids: BTreeSet<u64> = results.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), total, "every turn got its own interaction id");
    let store = p.store();
    assert_eq!(store.interaction_count(), total);
    let stored = store.interactions(&InteractionFilter::default()).unwrap();
    assert_eq!(stored.len(), total);
    let texts: BTreeSet<&str> = stored.iter().map(|i| i.text.as_str()).collect();
    for (id, text) in &results {
        assert!(texts.contains(text.as_str()), "{text} not stored");
        assert_eq!(&store.interaction(*id).unwrap().unwrap().text, text);
    }
    let state = store.conversation(CHANNEL, "busy").unwrap();
    assert_eq!(
        state.turns as usize, total,
        "no turn was lost to a concurrent state update"
    );
    assert_eq!(
        state.recent.len(),
        personabot::core::conversation::RECENT_LINES
    );
}

#[test]
fn concurrent_conversations_each_keep_their_own_state() {
    const CONVERSATIONS: usize = 6;
    const TURNS: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(pipeline(dir.path()));
    let handles: Vec<_> = (0..CONVERSATIONS)
        .map(|c| {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                let conversation = format!("par-{c}");
                // Each conversation opens exactly one ticket (turn 3), the rest join it.
                for n in 0..TURNS {
                    let text = if n == 3 {
                        "I'd like a refund please".to_string()
                    } else {
                        format!("hello number {n}")
                    };
                    p.handle(&inbound(&conversation, &text)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let store = p.store();
    assert_eq!(store.interaction_count(), CONVERSATIONS * TURNS);
    let tickets = store.tickets(None, None).unwrap();
    assert_eq!(tickets.len(), CONVERSATIONS, "one ticket per conversation");
    let ticket_ids: BTreeSet<u64> = tickets.iter().map(|t| t.id).collect();
    assert_eq!(
        ticket_ids,
        (1..=CONVERSATIONS as u64).collect(),
        "ticket ids are unique and dense"
    );
    for c in 0..CONVERSATIONS {
        let conversation = format!("par-{c}");
        let state = store.conversation(CHANNEL, &conversation).unwrap();
        assert_eq!(state.turns as usize, TURNS, "{conversation}");
        let open = state.open_ticket.expect("open ticket");
        let t = store.ticket(open.id).unwrap().unwrap();
        assert_eq!(t.conversation, conversation);
        let customer_lines = t
            .transcript
            .iter()
            .filter(|l| l.from == personabot::store::Actor::Customer)
            .count();
        assert_eq!(
            customer_lines, TURNS,
            "{conversation}: 3 earlier lines, the refund and 6 follow-ups"
        );
    }
}
