//! Cluster mode on a real `nats-server -js` with real `personabot serve` processes: tickets
//! opened on two nodes get distinct ids, and every message a node acknowledged reaches the
//! `PB_EVIDENCE` stream even when the node is killed (SIGKILL) right after answering, and even
//! when NATS was down while it took them (its outbox drains once both are back). [`desk`]: any
//! node's agent API lists and acts on every node's tickets.

#[path = "../support/nats.rs"]
mod nats;
#[path = "../support/serve_process.rs"]
mod serve_process;

mod desk;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use nats::{runtime, NatsServer};
use serve_process::{bridge_post, request, ServeProcess};

/// Bound of every "eventually" wait.
const WAIT: Duration = Duration::from_secs(30);

/// A message that opens a billing ticket.
const REFUND: &str = "I want a refund for last month's invoice, please";

fn node(data: &Path, url: &str, name: &str) -> ServeProcess {
    let serve = ServeProcess::start(
        data,
        &[
            ("PERSONABOT__CLUSTER__NATS_URL", url),
            ("PERSONABOT__CLUSTER__NODE", name),
        ],
    );
    serve.wait_stderr(&format!("cluster node {name} (index"), WAIT);
    serve
}

/// Posts `text` as a new conversation; returns the answer (status 200 asserted).
fn say(serve: &ServeProcess, conversation: &str, text: &str) -> Value {
    let body = json!({"user": conversation, "conversation": conversation, "text": text});
    let (status, answer) = bridge_post(serve.addr(), "/v1/messages", &body).expect("message");
    assert_eq!(status, 200, "{answer}");
    answer
}

fn health(serve: &ServeProcess) -> Value {
    let (status, body) = request(serve.addr(), "GET", "/healthz", None).expect("healthz");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("healthz JSON")
}

/// Every message of `stream` on `subject`, as JSON (empty while the stream does not exist).
fn read_stream(url: &str, stream: &str, subject: &str) -> Vec<Value> {
    nats::read_stream(url, stream, Some(subject))
        .iter()
        .map(|payload| serde_json::from_str(payload).expect("JSON payload"))
        .collect()
}

/// Waits until the `PB_EVIDENCE` messages of `node` cover `conversations`; returns how many
/// times each conversation appears.
fn wait_for_evidence(
    url: &str,
    node: &str,
    conversations: &BTreeSet<String>,
) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut seen = BTreeMap::new();
        for message in read_stream(url, "PB_EVIDENCE", &format!("pb.evidence.{node}")) {
            let conversation = message["conversation"].as_str().unwrap_or_default();
            *seen.entry(conversation.to_string()).or_insert(0) += 1;
        }
        if conversations.iter().all(|c| seen.contains_key(c)) {
            return seen;
        }
        let missing: Vec<_> = conversations
            .iter()
            .filter(|c| !seen.contains_key(*c))
            .collect();
        assert!(
            Instant::now() < deadline,
            "PB_EVIDENCE lacks {} acknowledged messages of node {node} after {WAIT:?}: {missing:?}",
            missing.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_outbox_empty(serve: &ServeProcess) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let health = health(serve);
        if health["cluster"]["outbox"] == 0 && health["cluster"]["connected"] == true {
            return health;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not drain within {WAIT:?}: {health}; stderr:\n{}",
            serve.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_nodes_open_distinct_tickets_and_a_killed_node_loses_no_acknowledged_message() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let a = node(&dir.path().join("a"), &url, "a");
    let mut b = node(&dir.path().join("b"), &url, "b");

    let mut ids = BTreeSet::new();
    for k in 0..3 {
        for (name, serve) in [("a", &a), ("b", &b)] {
            let answer = say(serve, &format!("{name}-open-{k}"), REFUND);
            let id = answer["ticket"]["id"].as_u64().expect("a ticket");
            assert!(ids.insert(id), "ticket id {id} handed out twice: {ids:?}");
        }
    }
    let (health_a, health_b) = (health(&a), health(&b));
    assert_eq!(health_a["cluster"]["node"], "a", "{health_a}");
    assert_eq!(health_b["cluster"]["node"], "b", "{health_b}");

    // B answers, then dies at once: what it acknowledged is in its outbox, if not yet sent.
    let acknowledged: BTreeSet<String> = (0..20)
        .map(|k| {
            let conversation = format!("b-kill-{k}");
            say(&b, &conversation, "how do I change my plan?");
            conversation
        })
        .collect();
    b.kill9();
    let b = node(&dir.path().join("b"), &url, "b");
    let seen = wait_for_evidence(&url, "b", &acknowledged);
    for conversation in &acknowledged {
        assert_eq!(
            seen[conversation], 1,
            "{conversation} published once: {seen:?}"
        );
    }
    let health_b = wait_outbox_empty(&b);
    assert_eq!(health_b["cluster"]["node"], "b");
    // The restarted node kept its index: its new tickets do not collide with A's either.
    let answer = say(&b, "b-open-after", REFUND);
    let id = answer["ticket"]["id"].as_u64().expect("a ticket");
    assert!(ids.insert(id), "ticket id {id} handed out twice: {ids:?}");
    // Ticket events went to PB_TICKETS too.
    let deadline = Instant::now() + WAIT;
    loop {
        let events = read_stream(&url, "PB_TICKETS", "pb.tickets.b");
        if events
            .iter()
            .any(|e| e["event"] == "opened" && e["ticket"]["id"] == id && e["node"] == "b")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no ticket event for #{id}: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = request(b.addr(), "GET", "/metrics", None)
        .expect("metrics")
        .1;
    assert!(
        metrics.contains("personabot_cluster_outbox_pending 0"),
        "{metrics}"
    );
}

#[test]
fn messages_taken_while_nats_was_down_reach_the_stream_after_a_kill_and_restart() {
    let mut nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("b");
    let mut b = node(&data, &url, "b");
    say(&b, "b-before", "how do I change my plan?");
    wait_outbox_empty(&b);

    nats.stop();
    let acknowledged: BTreeSet<String> = (0..10)
        .map(|k| {
            let conversation = format!("b-offline-{k}");
            say(&b, &conversation, "how do I change my plan?");
            conversation
        })
        .collect();
    let pending = health(&b)["cluster"]["outbox"]
        .as_u64()
        .expect("outbox count");
    assert!(
        pending >= 10,
        "the outbox holds the messages taken offline: {pending}"
    );
    b.kill9();
    // B starts again while NATS is still down (its store remembers its index) ...
    let b = node(&data, &url, "b");
    let health_b = health(&b);
    assert_eq!(health_b["cluster"]["connected"], false, "{health_b}");
    assert!(
        health_b["cluster"]["outbox"].as_u64() >= Some(10),
        "{health_b}"
    );
    // ... and once NATS is back, its outbox drains into the stream.
    nats.restart();
    let mut expected = acknowledged.clone();
    expected.insert("b-before".into());
    let seen = wait_for_evidence(&url, "b", &expected);
    for conversation in &expected {
        assert_eq!(
            seen[conversation], 1,
            "{conversation} published once: {seen:?}"
        );
    }
    wait_outbox_empty(&b);
}

#[test]
fn nodes_registering_at_once_get_distinct_indexes_and_keep_them() {
    use personabot::cluster::{ids, ClusterError};
    let nats = NatsServer::start();
    let url = nats.url();
    runtime().block_on(async {
        let client = async_nats::connect(&url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let racing: Vec<_> = (0..6)
            .map(|n| {
                let js = js.clone();
                tokio::spawn(async move {
                    let bucket = ids::bucket(&js).await.expect("the bucket");
                    ids::register(&bucket, &format!("n{n}"), None).await
                })
            })
            .collect();
        let mut indexes = BTreeMap::new();
        for (n, task) in racing.into_iter().enumerate() {
            let index = task.await.expect("joined").expect("registered");
            indexes.insert(format!("n{n}"), index);
        }
        let distinct: BTreeSet<u8> = indexes.values().copied().collect();
        assert_eq!(distinct.len(), 6, "{indexes:?}");
        assert_eq!(
            distinct,
            (0..6).collect(),
            "the lowest free ones: {indexes:?}"
        );
        let bucket = ids::bucket(&js).await.expect("the bucket");
        for (node, index) in &indexes {
            // A restart finds its own index, whether its store remembers it or not.
            assert_eq!(ids::register(&bucket, node, None).await.unwrap(), *index);
            assert_eq!(
                ids::register(&bucket, node, Some(*index)).await.unwrap(),
                *index
            );
        }
        let wrong = (indexes["n0"] + 1) % 16;
        let refused = ids::register(&bucket, "n0", Some(wrong)).await;
        assert!(
            matches!(refused, Err(ClusterError::Conflict(_))),
            "{refused:?}"
        );
        // A store remembering an index another node holds is refused too.
        let taken = indexes["n1"];
        let refused = ids::register(&bucket, "fresh", Some(taken)).await;
        assert!(
            matches!(refused, Err(ClusterError::Conflict(_))),
            "{refused:?}"
        );
    });
}

#[test]
fn credentials_in_the_url_from_the_environment_reach_nats() {
    let nats = NatsServer::start_with(&["--user", "pb", "--pass", "cluster-secret-0123"]);
    let url = format!("nats://pb:cluster-secret-0123@127.0.0.1:{}", nats.port());
    let dir = tempfile::tempdir().expect("temp dir");
    let a = node(&dir.path().join("a"), &url, "a");
    say(&a, "a-auth", "how do I change my plan?");
    let health = wait_outbox_empty(&a);
    assert_eq!(health["cluster"]["connected"], true, "{health}");
    assert!(
        !a.stderr().contains("cluster-secret-0123"),
        "{}",
        a.stderr()
    );
}
