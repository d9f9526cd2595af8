//! The store in cluster mode (real sled in a temporary directory): joining spaces new ticket
//! and interaction ids by the node's index while the earlier ids stay, each turn writes its
//! redacted interaction and ticket event to the outbox in the same commit, and both the
//! registration and the outbox survive reopening. Off, nothing goes to the outbox.

use personabot::engine::pipeline::Inbound;
use personabot::store::{spaced_id, ClusterNode, OutboxStream, Store, TicketEvent};
use serde_json::Value;

use crate::harness::{open_pipeline, refused, say};

fn node_b() -> ClusterNode {
    ClusterNode {
        node: "b".into(),
        index: 3,
    }
}

#[test]
fn joining_spaces_new_ids_keeps_old_ones_and_fills_the_outbox_with_each_turn() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store().clone();

    let before = say(&p, "old", "dana", "I'd like a refund please");
    let old_ticket = before.ticket.expect("a refund opens a ticket").id;
    let old_interaction = before.interaction.expect("stored");
    assert_eq!(old_ticket, 1);
    assert_eq!(store.outbox_pending(), 0, "no outbox outside cluster mode");
    assert_eq!(store.cluster_node().unwrap(), None);

    store.join_cluster(&node_b()).unwrap();
    let after = say(
        &p,
        "new",
        "erin",
        "I'd like a refund please, write to erin@example.com",
    );
    let ticket = after.ticket.expect("a ticket").id;
    let interaction = after.interaction.expect("stored");
    assert_eq!(
        ticket,
        spaced_id(2, Some(3)),
        "the second ticket, on index 3"
    );
    assert_eq!((ticket % 16, interaction % 16), (3, 3));
    assert!(interaction > old_interaction);
    assert_eq!(store.ticket(old_ticket).unwrap().map(|t| t.id), Some(1));

    let entries = store.outbox_batch(100).unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (evidence, event) = (&entries[0].1, &entries[1].1);
    assert_eq!(evidence.stream, OutboxStream::Evidence);
    assert_eq!(evidence.msg_id, format!("b-i-{interaction}"));
    assert!(
        !evidence.payload.contains("erin@example.com"),
        "redacted as stored: {}",
        evidence.payload
    );
    let record: Value = serde_json::from_str(&evidence.payload).unwrap();
    assert_eq!(
        (record["id"].as_u64(), record["conversation"].as_str()),
        (Some(interaction), Some("new"))
    );
    assert_eq!(event.stream, OutboxStream::Tickets);
    assert!(
        !event.payload.contains("erin@example.com"),
        "{}",
        event.payload
    );
    let event: TicketEvent = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(
        (
            event.event.as_str(),
            event.node.as_str(),
            event.ticket.id,
            event.interaction
        ),
        ("opened", "b", ticket, interaction)
    );

    // A follow-up joins the ticket: an "updated" event.
    say(&p, "new", "erin", "any news?");
    let entries = store.outbox_batch(100).unwrap();
    let last: TicketEvent = serde_json::from_str(&entries.last().unwrap().1.payload).unwrap();
    assert_eq!((last.event.as_str(), last.ticket.id), ("updated", ticket));

    // A web customer's contact stays on the node: events say only that there is one.
    let web = |text: &str| Inbound {
        channel: "web".into(),
        conversation: "web-contact".into(),
        user: "visitor".into(),
        text: text.into(),
    };
    p.handle(&web("I'd like a refund please")).unwrap();
    let given = p
        .handle(&web("sure, write to erin.qcluq@hearth.example"))
        .unwrap();
    let with_contact = given.ticket.expect("the ticket").id;
    assert_eq!(
        store
            .ticket(with_contact)
            .unwrap()
            .unwrap()
            .contact
            .as_deref(),
        Some("erin.qcluq@hearth.example")
    );
    let entries = store.outbox_batch(100).unwrap();
    assert!(
        entries.iter().all(|(_, e)| !e.payload.contains("qcluq")),
        "{entries:?}"
    );
    let last: TicketEvent = serde_json::from_str(&entries.last().unwrap().1.payload).unwrap();
    assert_eq!((last.ticket.id, last.has_contact), (with_contact, true));
    assert_eq!(entries.len(), 8, "two entries for each of four turns");

    // Published entries go; what is left survives a reopen, as does the registration.
    let first_key = entries[0].0.clone();
    store.outbox_remove(&[first_key]).unwrap();
    assert_eq!(store.outbox_pending(), 7);
    drop((p, store));
    let reopened = Store::open(dir.path(), None).unwrap();
    assert_eq!(reopened.cluster_node().unwrap(), Some(node_b()));
    assert_eq!(reopened.outbox_pending(), 7);
    // Opened outside cluster mode (e.g. by `personabot chat`), its new ids stay spaced.
    let p = crate::support::pipeline_on(reopened.clone());
    let later = say(&p, "later", "fay", "I'd like a refund please");
    assert_eq!(later.ticket.expect("a ticket").id % 16, 3);
    assert_eq!(later.interaction.expect("stored") % 16, 3);
}

#[test]
fn a_store_serves_one_node() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    store.join_cluster(&node_b()).unwrap();
    store.join_cluster(&node_b()).unwrap();
    let other = ClusterNode {
        node: "c".into(),
        index: 4,
    };
    let msg = refused(store.join_cluster(&other), "a second node on one store");
    assert!(msg.contains("cluster node \"b\""), "{msg}");
    assert_eq!(store.cluster_node().unwrap(), Some(node_b()), "still b");
}

#[test]
fn forgetting_a_user_drops_their_unpublished_outbox_entries() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store().clone();
    store.join_cluster(&node_b()).unwrap();
    say(&p, "stay", "kept", "how do I change my plan?");
    say(&p, "gone", "zed", "I'd like a refund please");
    let of = |entries: &[(Vec<u8>, personabot::store::OutboxEntry)], conversation: &str| {
        let needle = format!("\"conversation\":\"{conversation}\"");
        entries
            .iter()
            .filter(|(_, e)| e.payload.contains(&needle))
            .count()
    };
    let before = store.outbox_batch(100).unwrap();
    assert!(
        of(&before, "gone") >= 2,
        "its message and its ticket: {before:?}"
    );
    store.forget_user("zed").unwrap();
    let after = store.outbox_batch(100).unwrap();
    assert_eq!(of(&after, "gone"), 0, "{after:?}");
    assert_eq!(
        of(&after, "stay"),
        of(&before, "stay"),
        "others' entries stay"
    );
    assert!(of(&after, "stay") >= 1);
}

/// The ticket events and republished interactions written since `skip` entries.
fn entries_after(store: &Store, skip: usize) -> Vec<personabot::store::OutboxEntry> {
    let all = store.outbox_batch(1000).unwrap();
    all.into_iter().skip(skip).map(|(_, e)| e).collect()
}

#[test]
fn every_ticket_change_writes_its_event_and_a_relabel_republishes_the_interaction() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store().clone();
    // Outside cluster mode, actions write nothing.
    let off = say(&p, "off", "gil", "I'd like a refund please")
        .ticket
        .unwrap()
        .id;
    p.claim(off, "ana").unwrap();
    assert_eq!(store.outbox_pending(), 0);

    store.join_cluster(&node_b()).unwrap();
    let opened = say(
        &p,
        "desk",
        "hal",
        "I'd like a refund please, I'm at hal@example.com",
    );
    let ticket = opened.ticket.unwrap().id;
    let origin = opened.interaction.unwrap();
    let turn_entries = store.outbox_pending();
    assert_eq!(turn_entries, 2);

    p.claim(ticket, "ana").unwrap();
    p.note(ticket, "ana", "called them back", "http").unwrap();
    p.agent_reply(ticket, "ana", "Your refund is on its way")
        .unwrap();
    p.relabel(ticket, Some("billing"), None, "ana").unwrap();
    p.resolve(ticket, "ana").unwrap();
    p.rate_ticket(
        ticket,
        personabot::store::Csat {
            rating: 5,
            comment: None,
            at_ms: 1,
        },
    )
    .unwrap();

    let written = entries_after(&store, turn_entries);
    let events: Vec<TicketEvent> = written
        .iter()
        .filter(|e| e.stream == OutboxStream::Tickets)
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "claimed",
            "note",
            "message",
            "relabelled",
            "resolved",
            "rated"
        ]
    );
    for e in &events {
        assert_eq!(
            (e.node.as_str(), e.ticket.id, e.interaction),
            ("b", ticket, origin)
        );
        assert_eq!(e.at_ms, e.ticket.updated_ms);
    }
    assert_eq!(events[0].ticket.claimed_by.as_deref(), Some("ana"));
    assert_eq!(events[1].ticket.notes.len(), 1);
    assert_eq!(
        events[2].ticket.transcript.last().map(|l| l.text.as_str()),
        Some("Your refund is on its way")
    );
    assert_eq!(events[5].ticket.csat.as_ref().map(|c| c.rating), Some(5));
    assert!(written
        .iter()
        .all(|e| !e.payload.contains("hal@example.com")));

    // Each entry has its own message id: JetStream must not drop any as a duplicate.
    let mut ids: Vec<&str> = written.iter().map(|e| e.msg_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), written.len(), "{written:?}");
    for e in written.iter().filter(|e| e.stream == OutboxStream::Tickets) {
        assert!(
            e.msg_id.starts_with(&format!("b-t-{ticket}-a")),
            "{}",
            e.msg_id
        );
    }

    // The relabel republished the opening interaction with its label.
    let republished: Vec<_> = written
        .iter()
        .filter(|e| e.stream == OutboxStream::Evidence)
        .collect();
    assert_eq!(republished.len(), 1, "{written:?}");
    let record: Value = serde_json::from_str(&republished[0].payload).unwrap();
    assert_eq!(record["id"].as_u64(), Some(origin));
    assert_eq!(record["label"]["intent"].as_str(), Some("billing"));
    let label_at = events[3].ticket.relabels[0].at_ms;
    assert_eq!(republished[0].msg_id, format!("b-i-{origin}-l{label_at}"));

    // Forgetting the customer drops them all before they are published.
    store.forget_user("hal").unwrap();
    assert_eq!(store.outbox_pending(), 0, "{:?}", store.outbox_batch(100));
}

#[test]
fn talk_to_a_human_opens_a_ticket_with_its_event() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_pipeline(dir.path());
    let store = p.store().clone();
    store.join_cluster(&node_b()).unwrap();
    // The button on a conversation with no answer to rate: the ticket opens outside a turn.
    let before = store.outbox_pending();
    let outcome = p
        .feedback(crate::harness::CHANNEL, "human", "ivy", false)
        .unwrap();
    let ticket = outcome.ticket.expect("talk to a human opens a ticket").id;
    let written = entries_after(&store, before);
    let opened: Vec<TicketEvent> = written
        .iter()
        .filter(|e| e.stream == OutboxStream::Tickets)
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    assert_eq!(opened.len(), 1, "{written:?}");
    assert_eq!(
        (opened[0].event.as_str(), opened[0].ticket.id),
        ("opened", ticket)
    );
}
