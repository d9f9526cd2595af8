//! The agent desk across nodes, with real `serve` processes and a real nats-server: a web
//! customer on node B asks for a person; an agent signed in on node A sees B's ticket in A's
//! queue (named `"node": "b"`) and live on A's event stream, opens it, claims it and replies
//! through A; the reply reaches the customer on B, and B's own API shows the change. B killed
//! (SIGKILL): A still lists the ticket, and acting on it answers 503 with `Retry-After`; B back:
//! the same action succeeds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::nats::NatsServer;
use super::serve_process::ServeProcess;
use super::{read_stream, REFUND, WAIT};

const AGENT_TOKEN: &str = "cluster-desk-agent-token-0123";

fn desk_node(data: &Path, url: &str, name: &str) -> ServeProcess {
    let serve = ServeProcess::start(
        data,
        &[
            ("PERSONABOT__CLUSTER__NATS_URL", url),
            ("PERSONABOT__CLUSTER__NODE", name),
            ("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN),
        ],
    );
    serve.wait_stderr(&format!("cluster node {name} (index"), WAIT);
    serve
}

/// One HTTP request: status, head (lower case) and body. `headers` are added as given.
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    let body = body.map(Value::to_string);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = &body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.as_deref().unwrap_or_default());
    stream.write_all(head.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, head.to_ascii_lowercase(), body.to_string())
}

const BEARER: (&str, &str) = ("Authorization", "Bearer cluster-desk-agent-token-0123");

/// An agent's request; status and JSON body.
fn agent(serve: &ServeProcess, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, _, text) = call(serve.addr(), method, path, body.as_ref(), &[BEARER]);
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Waits until `check` holds for what `poll` returns; panics with the last value after [`WAIT`].
fn eventually<T: std::fmt::Debug>(
    what: &str,
    mut poll: impl FnMut() -> T,
    check: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = poll();
        if check(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {WAIT:?}: {value:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The queue entry of ticket `id` on `serve`, if listed.
fn queued(serve: &ServeProcess, id: u64) -> Option<Value> {
    let (status, body) = agent(serve, "GET", "/v1/tickets?status=all", None);
    assert_eq!(status, 200, "{body}");
    body["tickets"]
        .as_array()?
        .iter()
        .find(|t| t["id"] == id)
        .cloned()
}

/// Reads `GET /v1/events` on `serve` until an event about ticket `id` of kind `kind` arrives;
/// `start` is called once the stream is subscribed.
fn wait_for_event(serve: &ServeProcess, kind: &str, start: impl FnOnce() -> u64) -> Value {
    let mut stream = TcpStream::connect(serve.addr()).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
    let head = format!(
        "GET /v1/events HTTP/1.1\r\nHost: {}\r\n{}: {}\r\nConnection: close\r\n\r\n",
        serve.addr(),
        BEARER.0,
        BEARER.1
    );
    stream.write_all(head.as_bytes()).expect("write");
    let mut lines = BufReader::new(stream).lines();
    for line in lines.by_ref() {
        if line.expect("the event stream").contains(": subscribed") {
            break;
        }
    }
    let id = start();
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(data) = line.strip_prefix("data: ") {
            if let Ok(event) = serde_json::from_str::<Value>(data) {
                if event["event"] == kind && event["ticket"]["id"] == id {
                    return event;
                }
                seen.push(event);
            }
        }
        if Instant::now() > deadline {
            break;
        }
    }
    panic!("no `{kind}` event for ticket {id} within {WAIT:?}; saw {seen:?}");
}

#[test]
fn an_agent_on_node_a_lists_opens_and_answers_node_bs_ticket_and_waits_while_b_is_down() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let a = desk_node(&dir.path().join("a"), &url, "a");
    let mut b = desk_node(&dir.path().join("b"), &url, "b");

    // A web customer on B asks for a refund: a ticket on B, announced live on A's stream.
    let mut visitor = (String::new(), String::new());
    let opened = wait_for_event(&a, "opened", || {
        let (status, _, body) = call(
            b.addr(),
            "POST",
            "/v1/messages",
            Some(&json!({"text": REFUND})),
            &[],
        );
        assert_eq!(status, 200, "{body}");
        let turn: Value = serde_json::from_str(&body).expect("JSON");
        visitor = (
            turn["conversation"]
                .as_str()
                .expect("a conversation")
                .into(),
            turn["visitor_token"]
                .as_str()
                .expect("a visitor token")
                .into(),
        );
        turn["ticket"]["id"].as_u64().expect("a ticket")
    });
    let id = opened["ticket"]["id"].as_u64().expect("the ticket's id");
    assert_eq!(id % 16, 1, "B registered second: index 1");

    // A's queue lists it, named by its node; A's own tickets name A.
    let listed =
        eventually("A lists B's ticket", || queued(&a, id), Option::is_some).expect("listed");
    assert_eq!(listed["node"], "b", "{listed}");
    assert_eq!(listed["status"], "open", "{listed}");

    // Opened through A: B's ticket with its transcript.
    let (status, shown) = agent(&a, "GET", &format!("/v1/tickets/{id}"), None);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        (shown["id"].as_u64(), shown["node"].as_str()),
        (Some(id), Some("b"))
    );
    assert!(
        shown["transcript"].to_string().contains("refund"),
        "{shown}"
    );
    assert!(shown["audit"].is_array(), "{shown}");

    // Claimed and answered through A: B stores both, and B's customer gets the reply.
    let (status, claimed) = agent(
        &a,
        "POST",
        &format!("/v1/tickets/{id}/claim"),
        Some(json!({})),
    );
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["status"], "claimed", "{claimed}");
    let (_, on_b) = agent(&b, "GET", &format!("/v1/tickets/{id}"), None);
    assert_eq!(on_b["status"], "claimed", "{on_b}");
    assert_eq!(on_b["claimed_by"], claimed["claimed_by"], "{on_b}");
    let audit = on_b["audit"].as_array().expect("B's audit of the ticket");
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "claim" && e["via"] == "cluster:a"),
        "audited on B as routed from A: {on_b}"
    );
    let reply = "Hello from node A: your refund is on its way.";
    let (status, replied) = agent(
        &a,
        "POST",
        &format!("/v1/tickets/{id}/reply"),
        Some(json!({"text": reply})),
    );
    assert_eq!(status, 200, "{replied}");
    let (conversation, token) = visitor.clone();
    let path = format!("/v1/conversations/{conversation}");
    eventually(
        "the customer on B receives the reply sent through A",
        || call(b.addr(), "GET", &path, None, &[("X-Visitor-Token", &token)]).2,
        |body| body.contains(reply),
    );
    // A relabel through A: B republishes the labelled interaction to PB_EVIDENCE (readers keep
    // its last version), and every action is a ticket event in PB_TICKETS.
    let (status, relabelled) = agent(
        &a,
        "POST",
        &format!("/v1/tickets/{id}/relabel"),
        Some(json!({"intent": "billing"})),
    );
    assert_eq!(status, 200, "{relabelled}");
    let origin = shown["interaction"].clone();
    eventually(
        "the labelled interaction in PB_EVIDENCE",
        || read_stream(&url, "PB_EVIDENCE", "pb.evidence.b"),
        |all| {
            all.iter()
                .any(|i| i["id"] == origin && i["label"]["intent"] == "billing")
        },
    );
    let events = eventually(
        "B's actions in PB_TICKETS",
        || read_stream(&url, "PB_TICKETS", "pb.tickets.b"),
        |all| {
            all.iter()
                .any(|e| e["event"] == "relabelled" && e["ticket"]["id"] == id)
        },
    );
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["ticket"]["id"] == id)
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(kinds, ["opened", "claimed", "message", "relabelled"]);

    // An unknown action is refused on A, as B would.
    let (status, _) = agent(
        &a,
        "POST",
        &format!("/v1/tickets/{id}/archive"),
        Some(json!({})),
    );
    assert_eq!(status, 404);

    // B dies: A still lists its ticket (from the view); acting on it waits for B.
    b.kill9();
    assert!(queued(&a, id).is_some(), "A still lists B's ticket");
    let (status, head, body) = call(
        a.addr(),
        "POST",
        &format!("/v1/tickets/{id}/resolve"),
        Some(&json!({})),
        &[BEARER],
    );
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after:"), "{head}");
    assert!(body.contains("node b is unreachable"), "{body}");

    // B back: the action goes through, and B's API shows it.
    let b = desk_node(&dir.path().join("b"), &url, "b");
    let (_, resolved) = eventually(
        "resolving through A once B is back",
        || {
            agent(
                &a,
                "POST",
                &format!("/v1/tickets/{id}/resolve"),
                Some(json!({})),
            )
        },
        |(status, _)| *status == 200,
    );
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    let (_, on_b) = agent(&b, "GET", &format!("/v1/tickets/{id}"), None);
    assert_eq!(on_b["status"], "resolved", "{on_b}");
    let listed = eventually(
        "A's queue shows the resolution",
        || queued(&a, id),
        |t| t.as_ref().is_some_and(|t| t["status"] == "resolved"),
    );
    assert_eq!(listed.expect("listed")["node"], "b");
}
