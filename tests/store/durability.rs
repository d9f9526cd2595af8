//! Durability: acknowledged messages survive SIGKILL of the real binary, and reopening the
//! store keeps everything.

use std::collections::HashMap;
use std::time::Duration;

use personabot::store::{Interaction, InteractionFilter, Store};

use crate::harness::{acked, open_pipeline, say, Acked, ChatProcess, CHANNEL};
use crate::support::{pipeline_on, shipped};
use personabot::engine::pipeline::reply_as_sent;

/// A small deterministic generator (64-bit LCG), so the crash points are random-looking but
/// reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn between(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.next() % (hi_inclusive - lo + 1)
    }
}

/// Message `n` of crash round `round`: a mix of intents, unique, without personal data (so the
/// stored, redacted text equals the text sent). One refund per round opens a ticket; everything
/// after it joins that ticket.
fn crash_message(round: usize, n: usize) -> String {
    const TEMPLATES: [&str; 4] = [
        "how much is the growth plan, question {tag}",
        "the dashboard is not loading, report {tag}",
        "hello there, greeting {tag}",
        "are you SOC 2 compliant, asks {tag}",
    ];
    let tag = format!("r{round}-m{n}");
    if n == 12 {
        return format!("crash test message {tag} about a refund please");
    }
    TEMPLATES[n % TEMPLATES.len()].replace("{tag}", &tag)
}

#[test]
fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = Lcg(0x5eed_cafe_f00d);
    let mut all_acked: Vec<Acked> = Vec::new();
    let mut figures = Vec::new();
    let mut unacked_total = 0;

    for round in 0..3 {
        let acks_wanted = rng.between(20, 60) as usize;
        let unacked = 3 + rng.between(0, 5) as usize;
        unacked_total += unacked;
        let first = crash_message(round, 0);
        let (mut chat, ack) = ChatProcess::start(&data, "c1", "u1", &first);
        let mut round_acked = vec![acked(&first, &ack)];
        for n in 1..acks_wanted {
            let text = crash_message(round, n);
            let ack = chat.say(&text);
            round_acked.push(acked(&text, &ack));
        }
        // More lines, not waited for, then SIGKILL at once (or after at most 3 ms, so the kill
        // can also land in the middle of one of those turns being written).
        let delay = Duration::from_micros(rng.between(0, 3000));
        for n in acks_wanted..acks_wanted + unacked {
            chat.send(&crash_message(round, n));
        }
        std::thread::sleep(delay);
        chat.kill();

        let store = Store::open(&data, None).unwrap_or_else(|e| {
            panic!("round {round}: the store does not open after SIGKILL: {e}")
        });
        let stored = store.interactions(&InteractionFilter::default()).unwrap();
        assert_eq!(
            stored.len(),
            store.interaction_count(),
            "round {round}: the read and the count of interactions disagree"
        );
        let by_text: HashMap<&str, &Interaction> =
            stored.iter().map(|i| (i.text.as_str(), i)).collect();
        assert_eq!(
            by_text.len(),
            stored.len(),
            "round {round}: a message was stored twice"
        );

        all_acked.extend(round_acked);
        let mut found = 0;
        let mut lost = Vec::new();
        let mut mismatched = Vec::new();
        for a in &all_acked {
            match by_text.get(a.text.as_str()) {
                None => lost.push(a.text.clone()),
                Some(i) => {
                    found += 1;
                    let sent = reply_as_sent(&shipped().catalog, i);
                    if i.route.kind != a.kind || i.ticket != a.ticket || sent != a.reply {
                        mismatched.push(format!(
                            "{:?}: acked {}/{:?}, stored {}/{:?}",
                            a.text, a.kind, a.ticket, i.route.kind, i.ticket
                        ));
                    }
                }
            }
        }
        let extra = stored.len() - found;
        let figure = format!(
            "round {round}: acknowledged {} (this round {acks_wanted}, +{unacked} unacknowledged sent, killed after {delay:?}), found {found}, lost {}, mismatched {}, stored-but-unacknowledged so far {extra}",
            all_acked.len(),
            lost.len(),
            mismatched.len()
        );
        eprintln!("{figure}");
        assert!(
            lost.is_empty() && mismatched.is_empty(),
            "{figure}\nlost: {lost:?}\nmismatched: {mismatched:?}"
        );
        assert!(extra <= unacked_total, "{figure}: more stored than sent");

        // A turn is atomic: every ticket an interaction points at exists, and so does the
        // conversation's open ticket.
        for i in &stored {
            if let Some(t) = i.ticket {
                assert!(
                    store.ticket(t).unwrap().is_some(),
                    "round {round}: interaction {} points at missing ticket #{t}",
                    i.id
                );
            }
        }
        let state = store.conversation(CHANNEL, "c1").unwrap();
        assert_eq!(
            state.turns as usize,
            stored.len(),
            "{figure}: the conversation state and the interactions are written in one transaction"
        );
        if let Some(open) = &state.open_ticket {
            assert!(
                store.ticket(open.id).unwrap().is_some(),
                "round {round}: open ticket #{} missing",
                open.id
            );
            // Hand the conversation back to the bot so the next round mixes routes again.
            store.resolve_ticket(open.id, "crash-test").unwrap();
        }
        assert!(
            stored.iter().any(|i| i.route.kind == "answer")
                && stored.iter().any(|i| i.route.kind == "ticket"),
            "round {round}: the crash messages should mix answers and tickets"
        );
        figures.push(figure);
        drop(store);
    }
    eprintln!("crash test figures:\n{}", figures.join("\n"));
}

#[test]
fn reopening_the_store_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    say(&p, "keep-1", "kim", "I'm the founder of a 5-person startup");
    say(&p, "keep-1", "kim", "how much is it?");
    p.feedback(CHANNEL, "keep-1", "kim", true).unwrap();
    let refund = say(&p, "keep-2", "lee", "I'd like a refund please");
    let t = refund.ticket.unwrap().id;
    p.store().claim_ticket(t, "agent-ann").unwrap();
    p.store()
        .relabel_ticket(t, Some("refund"), Some("ecommerce-seller"), "agent-ann")
        .unwrap();
    say(&p, "keep-2", "lee", "hello?");

    let store = p.store();
    let interactions = store.interactions(&InteractionFilter::default()).unwrap();
    let tickets = store.tickets(None, None).unwrap();
    let states = [
        store.conversation(CHANNEL, "keep-1").unwrap(),
        store.conversation(CHANNEL, "keep-2").unwrap(),
    ];
    let hash = store.hash_user("kim");
    let next_ticket = store.next_ticket_id().unwrap();
    assert_eq!(interactions.len(), 4);
    assert!(states[0].turns == 2 && states[1].open_ticket.is_some());
    drop(p);

    let store = Store::open(dir.path(), Some("store-test-key")).unwrap();
    assert_eq!(
        store.interactions(&InteractionFilter::default()).unwrap(),
        interactions
    );
    assert_eq!(store.tickets(None, None).unwrap(), tickets);
    assert_eq!(store.conversation(CHANNEL, "keep-1").unwrap(), states[0]);
    assert_eq!(store.conversation(CHANNEL, "keep-2").unwrap(), states[1]);
    assert_eq!(store.hash_user("kim"), hash);
    assert_eq!(
        store.next_ticket_id().unwrap(),
        next_ticket + 1,
        "ticket ids keep counting after reopening"
    );
    let max_id = interactions.iter().map(|i| i.id).max().unwrap();
    assert!(
        store.next_interaction_id().unwrap() > max_id,
        "interaction ids never repeat after reopening"
    );

    // And the reopened store keeps working through the pipeline: the claimed ticket still
    // silences the bot.
    let p = pipeline_on(store);
    assert_eq!(say(&p, "keep-2", "lee", "still there?").reply, None);
}
