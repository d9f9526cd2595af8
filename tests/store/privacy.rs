//! Privacy: no personal data in the raw store files, forgetting a user, purging old
//! interactions, and user ids hashed with the key.

use std::time::Duration;

use personabot::store::{now_ms, InteractionFilter, Store};
use serde_json::Value;

use crate::harness::{ids, open_pipeline, say, ChatProcess, CHANNEL};
use crate::support;
use crate::support::pipeline_on;

#[test]
fn raw_store_files_hold_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let user = "alice.personal@example.org";
    let messages = [
        "hello, my email is alice.personal@example.org and my pet is a zebracorn",
        "hello, my phone numbers are +44 20 7946 0958 and (415) 555-2671",
        "hello, my card is 4111 1111 1111 1111",
        "hello, the other card is 4111-1111-1111-1111",
        "hello, iban DE89 3704 0044 0532 0130 00 and GB82WEST12345698765432",
        "refund please, my card 4111-1111-1111-1111 was charged twice, mail me at bob.private@example.net",
        "also my number is 4111111111111111 and my phone 442079460958",
    ];
    let mut chat = ChatProcess::spawn(&data, "privacy-1", user);
    let acks: Vec<Value> = messages.iter().map(|m| chat.say(m)).collect();
    chat.finish();

    // The refund message opened a ticket, so PII went through the ticket transcript as well.
    assert_eq!(
        acks[5]["route"]["kind"], "ticket",
        "refund ack: {}",
        acks[5]
    );
    assert_eq!(
        acks[5]["ticket"]["team"], "billing",
        "refund ack: {}",
        acks[5]
    );
    for (m, a) in messages.iter().zip(&acks).take(5) {
        assert_ne!(
            a["route"]["kind"], "ticket",
            "{m:?} should not open a ticket early: {a}"
        );
    }

    let seeded = [
        user,
        "alice.personal",
        "bob.private@example.net",
        "bob.private",
        "+44 20 7946 0958",
        "20 7946 0958",
        "7946 0958",
        "2079460958",
        "442079460958",
        "(415) 555-2671",
        "555-2671",
        "4155552671",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "1111 1111 1111",
        "1111-1111-1111",
        "DE89 3704 0044 0532 0130 00",
        "3704 0044 0532",
        "DE89370400440532013000",
        "370400440532013000",
        "GB82WEST12345698765432",
        "WEST12345698765432",
        "12345698765432",
    ];
    let marker = "zebracorn";
    let mut needles: Vec<&str> = seeded.to_vec();
    needles.push(marker);
    let hits = support::grep_raw(&data, &needles);
    assert!(
        hits.contains_key(marker),
        "positive control: the marker {marker:?} must be visible in the raw files"
    );
    let leaks: Vec<_> = hits
        .iter()
        .filter(|(needle, _)| needle.as_str() != marker)
        .collect();
    assert!(
        leaks.is_empty(),
        "personal data found in the raw store files: {leaks:?}"
    );

    // The store holds the placeholders, the hashed user, and the ticket transcript.
    let store = Store::open(&data, None).unwrap();
    let stored = store.interactions(&InteractionFilter::default()).unwrap();
    assert_eq!(stored.len(), messages.len());
    let all_text: String = stored
        .iter()
        .map(|i| i.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for mark in ["[email]", "[phone]", "[card]", "[iban]", marker] {
        assert!(
            all_text.contains(mark),
            "{mark} missing from the stored texts:\n{all_text}"
        );
    }
    let hashed = store.hash_user(user);
    assert!(
        stored.iter().all(|i| i.user == hashed),
        "interactions carry the keyed hash of the user"
    );
    assert!(
        !support::grep_raw(&data, &[hashed.as_str()]).is_empty(),
        "positive control: the hashed user id is in the raw files"
    );
    let tickets = store.tickets(None, None).unwrap();
    assert_eq!(tickets.len(), 1);
    let transcript: String = tickets[0]
        .transcript
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        transcript.contains("[card]") && transcript.contains("[email]"),
        "ticket transcript:\n{transcript}"
    );
    assert_eq!(tickets[0].user, hashed);
}

#[test]
fn forget_user_removes_only_that_users_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store();
    for (conversation, user) in [("f-alice", "alice"), ("f-bob", "bob")] {
        say(&p, conversation, user, "how much is the growth plan?");
        say(&p, conversation, user, "I'd like a refund please");
        say(&p, conversation, user, "thanks, any update?");
    }
    let alice = store.hash_user("alice");
    let bob = store.hash_user("bob");
    let by = |u: &str| {
        store
            .interactions(&InteractionFilter::default())
            .unwrap()
            .into_iter()
            .filter(|i| i.user == u)
            .count()
    };
    assert_eq!((by(&alice), by(&bob)), (3, 3));
    let bob_before = store
        .interactions(&InteractionFilter::default())
        .unwrap()
        .into_iter()
        .filter(|i| i.user == bob)
        .collect::<Vec<_>>();
    let bob_ticket = store
        .tickets(None, None)
        .unwrap()
        .into_iter()
        .find(|t| t.user == bob)
        .unwrap();
    let bob_state = store.conversation(CHANNEL, "f-bob").unwrap();

    let report = store.forget_user("alice").unwrap();
    assert_eq!(
        (report.interactions, report.tickets, report.conversations),
        (3, 1, 1)
    );
    assert_eq!(by(&alice), 0);
    assert_eq!(store.interaction_count(), 3);
    assert!(store
        .tickets(None, None)
        .unwrap()
        .iter()
        .all(|t| t.user != alice));
    assert_eq!(
        store.conversation(CHANNEL, "f-alice").unwrap().turns,
        0,
        "alice's conversation state is gone"
    );

    let bob_after = store.interactions(&InteractionFilter::default()).unwrap();
    assert_eq!(bob_after, bob_before, "bob's interactions are untouched");
    assert_eq!(store.ticket(bob_ticket.id).unwrap().unwrap(), bob_ticket);
    assert_eq!(store.conversation(CHANNEL, "f-bob").unwrap(), bob_state);

    let again = store.forget_user("alice").unwrap();
    assert_eq!(
        (again.interactions, again.tickets, again.conversations),
        (0, 0, 0),
        "forgetting twice finds nothing"
    );
    // Alice can start over; her new turns are stored normally.
    say(&p, "f-alice", "alice", "hello");
    assert_eq!(by(&alice), 1);
    assert_eq!(store.conversation(CHANNEL, "f-alice").unwrap().turns, 1);
}

#[test]
fn purge_before_removes_only_older_interactions() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store();
    let old: Vec<u64> = [
        "hello",
        "how much is the growth plan?",
        "the dashboard is not loading",
    ]
    .iter()
    .map(|t| say(&p, "purge", "jo", t).interaction.unwrap())
    .collect();
    std::thread::sleep(Duration::from_millis(5));
    let cutoff = now_ms();
    let new: Vec<u64> = ["are you SOC 2 compliant?", "hello again"]
        .iter()
        .map(|t| say(&p, "purge", "jo", t).interaction.unwrap())
        .collect();

    assert_eq!(
        store.purge_before(0).unwrap(),
        0,
        "nothing is older than the epoch"
    );
    assert_eq!(store.purge_before(cutoff).unwrap(), old.len());
    assert_eq!(
        ids(&store.interactions(&InteractionFilter::default()).unwrap()),
        new
    );
    assert_eq!(store.interaction_count(), new.len());
    for id in &old {
        assert!(
            store.interaction(*id).unwrap().is_none(),
            "interaction {id} should be purged"
        );
    }
    assert_eq!(
        store.purge_before(cutoff).unwrap(),
        0,
        "purging twice removes nothing more"
    );
    // The by_user index was cleaned too: forgetting the user counts only what is left.
    assert_eq!(store.forget_user("jo").unwrap().interactions, new.len());
}

#[test]
fn user_ids_are_hashed_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2, d3) = (
        dir.path().join("k1"),
        dir.path().join("k2"),
        dir.path().join("random"),
    );
    let raw = "carol-raw-identity";

    let s1 = Store::open(&d1, Some("key-one")).unwrap();
    let h1 = s1.hash_user(raw);
    assert!(h1.starts_with("u_") && h1.len() == 34, "{h1}");
    assert!(!h1.contains(raw));
    assert_ne!(
        h1,
        s1.hash_user("carol-raw-identitY"),
        "different users hash differently"
    );
    let s2 = Store::open(&d2, Some("key-two")).unwrap();
    assert_ne!(
        h1,
        s2.hash_user(raw),
        "a different key gives a different hash"
    );
    drop(s2);

    // Stable for the same key, across reopening.
    let p = pipeline_on(s1);
    let o = say(&p, "hash", raw, "how much is the growth plan?");
    let stored = p
        .store()
        .interaction(o.interaction.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(stored.user, h1);
    drop(p);
    let s1 = Store::open(&d1, Some("key-one")).unwrap();
    assert_eq!(s1.hash_user(raw), h1);
    drop(s1);
    assert!(
        support::grep_raw(&d1, &[raw]).is_empty(),
        "the raw user id is never written"
    );
    assert!(
        !support::grep_raw(&d1, &[h1.as_str()]).is_empty(),
        "positive control: the hash is written"
    );

    // Without a key, a random one is generated once and kept.
    let r = Store::open(&d3, None).unwrap();
    let hr = r.hash_user(raw);
    assert_ne!(hr, h1);
    drop(r);
    let r = Store::open(&d3, None).unwrap();
    assert_eq!(r.hash_user(raw), hr, "the generated key persists");
    drop(r);
    let r = Store::open(&d3, Some("")).unwrap();
    assert_eq!(r.hash_user(raw), hr, "an empty key means the stored one");
}
