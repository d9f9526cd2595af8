//! `forget` across the cluster: asked on one node (or by the command line), every node's store
//! and both streams lose the customer, and a node that was down forgets when it returns.

use std::path::Path;

use serde_json::{json, Value};

use crate::nats::NatsServer;
use crate::nodes::{
    command, eventually, found_in_files, node_with_agents, read_stream, say_as, wait_outbox_empty,
    AGENT_TOKEN, REFUND,
};
use crate::serve_process::{request_as, ServeProcess};

const VICTIM: &str = "victim-7";

/// The victim's and another customer's messages on `serve` (node `name`), each with a unique
/// marker; the victim also opens a ticket. Returns (victim markers, other markers).
fn seed(serve: &ServeProcess, name: &str) -> (Vec<String>, Vec<String>) {
    let (v0, v1, o0) = (
        format!("qvictim{name}zero"),
        format!("qvictim{name}one"),
        format!("qother{name}zero"),
    );
    say_as(
        serve,
        VICTIM,
        &format!("v-{name}-0"),
        &format!("{v0} {REFUND}"),
    );
    say_as(
        serve,
        VICTIM,
        &format!("v-{name}-1"),
        &format!("{v1} how do I change my plan?"),
    );
    say_as(
        serve,
        "other-1",
        &format!("o-{name}"),
        &format!("{o0} how do I change my plan?"),
    );
    (vec![v0, v1], vec![o0])
}

/// The markers present in the messages of both streams.
fn in_streams(url: &str, markers: &[String]) -> Vec<String> {
    let mut all = read_stream(url, "PB_EVIDENCE", None);
    all.extend(read_stream(url, "PB_TICKETS", None));
    markers
        .iter()
        .filter(|m| all.iter().any(|payload| payload.contains(m.as_str())))
        .cloned()
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|n| {
                    n.as_str()
                        .or(n["node"].as_str())
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn assert_forgotten_in_files(data: &Path, victim: &[String], others: &[String]) {
    assert_eq!(
        found_in_files(data, victim),
        Vec::<String>::new(),
        "{}",
        data.display()
    );
    assert_eq!(found_in_files(data, others), others.to_vec(), "others stay");
}

#[test]
fn forget_asked_on_one_node_reaches_every_node_and_both_streams() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let a = node_with_agents(&data_a, &url, "a");
    let b = node_with_agents(&data_b, &url, "b");
    let (mut victim, mut others) = seed(&a, "a");
    let (vb, ob) = seed(&b, "b");
    victim.extend(vb);
    others.extend(ob);
    wait_outbox_empty(&a);
    wait_outbox_empty(&b);
    assert_eq!(
        in_streams(&url, &victim),
        victim,
        "published before the forget"
    );

    let b_had = queue_ids(&b, Some("b"));
    eventually("A's queue shows B's tickets", || {
        let on_a = queue_ids(&a, Some("b"));
        (on_a == b_had)
            .then_some(())
            .ok_or(format!("A lists {on_a:?} of B's, B has {b_had:?}"))
    });
    let (status, body) = request_as(
        a.addr(),
        "POST",
        "/v1/evidence/forget",
        Some(&json!({ "user": VICTIM })),
        Some(AGENT_TOKEN),
    )
    .expect("forget");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["interactions"], 2, "A's own: {body}");
    assert_eq!(names(&body["cluster"]["applied"]), ["a", "b"], "{body}");
    assert_eq!(
        names(&body["cluster"]["pending"]),
        Vec::<String>::new(),
        "{body}"
    );
    let b_counts = &body["cluster"]["applied"][1];
    assert_eq!(b_counts["interactions"], 2, "{body}");
    assert!(
        b_counts["messages"].as_u64() >= Some(3),
        "evidence and ticket: {body}"
    );

    assert_eq!(
        in_streams(&url, &victim),
        Vec::<String>::new(),
        "gone from the streams"
    );
    assert_eq!(in_streams(&url, &others), others, "the others stay");
    let export = command(
        &[("PERSONABOT__CLUSTER__NATS_URL", url.as_str())],
        &["evidence", "export"],
    );
    assert!(export.ok, "{export:?}");
    assert!(
        victim.iter().all(|m| !export.stdout.contains(m.as_str())),
        "{}",
        export.stdout
    );
    assert_forgotten_in_files(&data_a, &victim, &others[..1]);
    assert_forgotten_in_files(&data_b, &victim, &others[1..]);
    // A's queue, which lists B's tickets from the stream, lets the forgotten ones go: it ends
    // up listing exactly the tickets B's own store still holds.
    let b_keeps = queue_ids(&b, Some("b"));
    assert!(
        b_keeps.len() < b_had.len(),
        "the victim had a ticket on B: {b_had:?}"
    );
    eventually("A's queue shows B's tickets as B has them", || {
        let on_a = queue_ids(&a, Some("b"));
        (on_a == b_keeps)
            .then_some(())
            .ok_or(format!("A lists {on_a:?} of B's, B keeps {b_keeps:?}"))
    });
    // The request held the customer's id: it is gone once both nodes applied it, and no node
    // logged it.
    eventually("PB_CONTROL is empty", || {
        let left = read_stream(&url, "PB_CONTROL", None);
        left.is_empty()
            .then_some(())
            .ok_or(format!("{} left", left.len()))
    });
    for serve in [&a, &b] {
        assert!(!serve.stderr().contains(VICTIM), "{}", serve.stderr());
    }
}

#[test]
fn forget_while_a_node_is_down_is_applied_when_it_returns() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let a = node_with_agents(&data_a, &url, "a");
    let mut b = node_with_agents(&data_b, &url, "b");
    let (va, oa) = seed(&a, "a");
    let (vb, ob) = seed(&b, "b");
    wait_outbox_empty(&a);
    wait_outbox_empty(&b);
    b.kill9();

    // The owner's command alone (no store), while B is down.
    let run = command(
        &[("PERSONABOT__CLUSTER__NATS_URL", url.as_str())],
        &["evidence", "forget", "--user", VICTIM],
    );
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout.contains("node a: 2 interaction(s)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("not answered yet"), "{}", run.stdout);
    assert!(run.stdout.trim_end().ends_with(": b"), "{}", run.stdout);
    assert_eq!(in_streams(&url, &va), Vec::<String>::new(), "A applied it");
    assert_eq!(in_streams(&url, &vb), vb, "B has not yet");
    assert_forgotten_in_files(&data_a, &va, &oa);
    assert_eq!(read_stream(&url, "PB_CONTROL", None).len(), 1, "kept for B");

    let b = node_with_agents(&data_b, &url, "b");
    eventually("B forgets when it returns", || {
        let left = in_streams(&url, &vb);
        left.is_empty()
            .then_some(())
            .ok_or(format!("{left:?} still in the streams"))
    });
    eventually("PB_CONTROL is empty", || {
        let left = read_stream(&url, "PB_CONTROL", None);
        left.is_empty()
            .then_some(())
            .ok_or(format!("{} left", left.len()))
    });
    assert_forgotten_in_files(&data_b, &vb, &ob);
    assert_eq!(in_streams(&url, &ob), ob);
    assert!(!b.stderr().contains(VICTIM), "{}", b.stderr());
    drop(a);
}

/// The ids of the tickets `serve`'s queue lists, of node `node` only (in cluster mode each
/// ticket names its node; a node's own tickets are those it lists from its store).
fn queue_ids(serve: &ServeProcess, node: Option<&str>) -> Vec<u64> {
    let (status, body) =
        request_as(serve.addr(), "GET", "/v1/tickets", None, Some(AGENT_TOKEN)).expect("queue");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    let mut ids: Vec<u64> = body["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter(|t| node.is_none_or(|n| t["node"] == n))
        .filter_map(|t| t["id"].as_u64())
        .collect();
    ids.sort_unstable();
    ids
}
