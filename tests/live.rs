//! The agent desk live, on the real HTTP server on loopback: `GET /v1/events` (Server-Sent
//! Events of tickets opened, messages, claims, assignments, notes, raises to high priority,
//! resolves and ratings, only of the caller's teams, ended when the server shuts down).

mod support;

use std::time::Duration;

use personabot::store::AccountRole;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use support::served::{Served, BRIDGE_TOKEN};

const REFUND: &str = "I want a refund for last month's invoice, please";
const SECURITY: &str = "Our compliance team needs your SIG Lite questionnaire and ISO 27001 certificate for the vendor assessment";

/// Generous: the machine may be busy.
const WAIT: Duration = Duration::from_secs(30);

async fn up() -> Served {
    Served::start(&[], "live-test-key").await
}

/// An open `GET /v1/events` stream, read event by event.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// Opens the stream as `token` and waits for its first comment (subscribed from then on).
    async fn open(s: &Served, token: &str) -> Events {
        let response = s
            .client
            .get(format!("{}/v1/events", s.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        let mut events = Events {
            response,
            buffer: String::new(),
        };
        let first = events.block().await.expect("a first block");
        assert_eq!(first, ": subscribed");
        events
    }

    /// The next block (up to a blank line), or None once the stream ended.
    async fn block(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block = self.buffer[..end].to_string();
                self.buffer.drain(..end + 2);
                return Some(block);
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("the stream waited too long")
                .expect("the stream failed")?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event (keep-alive comments skipped): its name and JSON data.
    async fn next(&mut self) -> (String, Value) {
        loop {
            let block = self.block().await.expect("the stream ended");
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim_start().to_string())
            };
            if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                return (event, serde_json::from_str(&data).unwrap());
            }
        }
    }
}

#[tokio::test]
async fn events_need_an_agent() {
    let s = up().await;
    let _ = s.account("ann", AccountRole::Agent, &[]);
    let r = s
        .client
        .get(format!("{}/v1/events", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s
        .client
        .get(format!("{}/v1/events", s.base))
        .bearer_auth(BRIDGE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_ticket_lives_on_the_stream_from_opened_to_resolved() {
    let s = up().await;
    let ann = s.account("ann", AccountRole::Agent, &["billing"]);
    let mut events = Events::open(&s, &ann).await;

    let id = s.bridge_says("b1", REFUND).await.expect("a billing ticket");
    let (kind, data) = events.next().await;
    assert_eq!(
        (kind.as_str(), &data["ticket"]["id"]),
        ("opened", &json!(id))
    );
    assert_eq!(data["event"], "opened");
    assert_eq!(data["ticket"]["team"], "billing");

    let path = format!("/v1/tickets/{id}");
    s.bearer_ok(
        Method::POST,
        &format!("{path}/claim"),
        &ann,
        Some(json!({})),
    )
    .await;
    let (kind, data) = events.next().await;
    assert_eq!(
        (kind.as_str(), &data["ticket"]["claimed_by"]),
        ("claimed", &json!("ann"))
    );

    s.bridge_says("b1", "are you there? it was invoice 42")
        .await;
    let (kind, data) = events.next().await;
    assert_eq!(kind, "message");
    assert_eq!(
        (&data["from"], &data["ticket"]["id"]),
        (&json!("customer"), &json!(id))
    );
    assert!(
        data["text"].as_str().unwrap().contains("are you there"),
        "{data}"
    );

    let reply = json!({"text": "Refunded today."});
    s.bearer_ok(Method::POST, &format!("{path}/reply"), &ann, Some(reply))
        .await;
    let (kind, data) = events.next().await;
    assert_eq!(kind, "message");
    assert_eq!(
        (&data["from"], &data["agent"], &data["text"]),
        (&json!("agent"), &json!("ann"), &json!("Refunded today."))
    );

    let relabel = json!({"intent": "billing"});
    s.bearer_ok(
        Method::POST,
        &format!("{path}/relabel"),
        &ann,
        Some(relabel),
    )
    .await;
    assert_eq!(events.next().await.0, "relabelled");

    s.bearer_ok(
        Method::POST,
        &format!("{path}/resolve"),
        &ann,
        Some(json!({})),
    )
    .await;
    let (kind, data) = events.next().await;
    assert_eq!(
        (kind.as_str(), &data["ticket"]["status"]),
        ("resolved", &json!("resolved"))
    );
}

#[tokio::test]
async fn assignments_notes_raises_and_ratings_are_events_of_their_own() {
    let s = up().await;
    let ann = s.account("ann", AccountRole::Agent, &["billing"]);
    let mut events = Events::open(&s, &ann).await;
    let id = s.bridge_says("b1", REFUND).await.expect("a billing ticket");
    assert_eq!(events.next().await.0, "opened");
    let path = format!("/v1/tickets/{id}");

    s.bearer_ok(
        Method::POST,
        &format!("{path}/assign"),
        &ann,
        Some(json!({"agent": "ann"})),
    )
    .await;
    let (kind, data) = events.next().await;
    assert_eq!((kind.as_str(), &data["agent"]), ("assigned", &json!("ann")));
    assert_eq!(data["event"], "assigned");

    let note = "Internal: check the invoice with finance first";
    s.bearer_ok(
        Method::POST,
        &format!("{path}/note"),
        &ann,
        Some(json!({"text": note})),
    )
    .await;
    let (kind, data) = events.next().await;
    assert_eq!(
        (kind.as_str(), &data["agent"], &data["text"]),
        ("note", &json!("ann"), &json!(note))
    );

    // A frustrated customer raises the ticket to high priority: the message, then the change.
    s.bridge_says("b1", "This is ridiculous, still waiting!!!")
        .await;
    assert_eq!(events.next().await.0, "message");
    let (kind, data) = events.next().await;
    assert_eq!(
        (
            kind.as_str(),
            &data["priority"],
            &data["ticket"]["priority"]
        ),
        ("updated", &json!("high"), &json!("high"))
    );
    // Already high: another angry message is only a message.
    s.bridge_says("b1", "This is ridiculous, still waiting!!!")
        .await;
    assert_eq!(events.next().await.0, "message");

    s.bearer_ok(
        Method::POST,
        &format!("{path}/resolve"),
        &ann,
        Some(json!({})),
    )
    .await;
    assert_eq!(events.next().await.0, "resolved");
    let rating = json!({"channel": "test", "conversation": "b1", "user": "u-b1",
                        "rating": 5, "comment": "Sorted in a day"});
    assert_eq!(feedback(&s, rating).await.0, StatusCode::OK);
    let (kind, data) = events.next().await;
    assert_eq!(
        (kind.as_str(), &data["rating"], &data["comment"]),
        ("rated", &json!(5), &json!("Sorted in a day"))
    );
    assert_eq!(data["ticket"]["id"], id);
}

#[tokio::test]
async fn an_agent_hears_only_their_teams_tickets() {
    let s = up().await;
    let bea = s.account("bea", AccountRole::Agent, &["billing"]);
    let sam = s.account("sam", AccountRole::Agent, &["security"]);
    let all = s.account("root", AccountRole::Agent, &[]);
    let (mut bea_events, mut sam_events, mut all_events) = (
        Events::open(&s, &bea).await,
        Events::open(&s, &sam).await,
        Events::open(&s, &all).await,
    );
    let security = s
        .bridge_says("s1", SECURITY)
        .await
        .expect("a security ticket");
    let billing = s.bridge_says("b1", REFUND).await.expect("a billing ticket");

    // Bea's first event is the billing ticket: the security one was never sent to her.
    let (kind, data) = bea_events.next().await;
    assert_eq!(
        (kind.as_str(), &data["ticket"]["id"]),
        ("opened", &json!(billing))
    );
    let (_, data) = sam_events.next().await;
    assert_eq!(data["ticket"]["id"], security);
    let (_, first) = all_events.next().await;
    let (_, second) = all_events.next().await;
    assert_eq!(
        (&first["ticket"]["id"], &second["ticket"]["id"]),
        (&json!(security), &json!(billing))
    );
}

#[tokio::test]
async fn the_stream_ends_when_the_server_shuts_down() {
    let s = up().await;
    let ann = s.account("ann", AccountRole::Agent, &[]);
    let mut events = Events::open(&s, &ann).await;
    s.state.closing.send_replace(true);
    let ended = loop {
        match events.block().await {
            None => break true,
            Some(block) => assert!(block.starts_with(':'), "only comments: {block}"),
        }
    };
    assert!(ended);
}

/// `POST /v1/feedback` as the test bridge.
async fn feedback(s: &Served, body: Value) -> (StatusCode, Value) {
    let r = s
        .client
        .post(format!("{}/v1/feedback", s.base))
        .bearer_auth(BRIDGE_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_customer_rates_a_resolved_ticket_and_the_team_sees_csat() {
    let s = up().await;
    let ann = s.account("ann", AccountRole::Agent, &["billing"]);
    let id = s.bridge_says("b1", REFUND).await.expect("a billing ticket");
    let rate = |rating: Value, comment: &str| {
        json!({"channel": "test", "conversation": "b1", "user": "u-b1",
               "rating": rating, "comment": comment})
    };
    // Not resolved yet: nothing to rate.
    let (status, body) = feedback(&s, rate(json!(5), "")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let path = format!("/v1/tickets/{id}");
    let resolved = s
        .bearer_ok(
            Method::POST,
            &format!("{path}/resolve"),
            &ann,
            Some(json!({})),
        )
        .await;
    for bad in [json!(0), json!(6), json!(-1)] {
        let (status, body) = feedback(&s, rate(bad.clone(), "")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let mixed = json!({"channel": "test", "conversation": "b1", "user": "u-b1",
                       "rating": 4, "feedback": "helped"});
    assert_eq!(feedback(&s, mixed).await.0, StatusCode::BAD_REQUEST);
    // Another user of the same conversation id has no ticket there to rate.
    let stranger = json!({"channel": "test", "conversation": "b1", "user": "someone-else",
                          "rating": 1});
    assert_eq!(feedback(&s, stranger).await.0, StatusCode::CONFLICT);

    let (status, body) = feedback(
        &s,
        rate(json!(4), "Quick! write me at jane.doe@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["ticket"], &body["csat"]["rating"]),
        (&json!(id), &json!(4))
    );

    let ticket = s.bearer_ok(Method::GET, &path, &ann, None).await;
    assert_eq!(ticket["csat"]["rating"], 4, "{ticket}");
    assert_eq!(
        ticket["updated_ms"], resolved["updated_ms"],
        "still when it was resolved"
    );
    let comment = ticket["csat"]["comment"].as_str().unwrap();
    assert!(comment.starts_with("Quick!"), "{comment}");
    assert!(
        !comment.contains("jane.doe@example.com"),
        "redacted: {comment}"
    );

    // A second rating replaces the first; no comment is none.
    let (status, _) = feedback(&s, rate(json!(2), "  ")).await;
    assert_eq!(status, StatusCode::OK);
    let ticket = s.bearer_ok(Method::GET, &path, &ann, None).await;
    assert_eq!(
        ticket["csat"],
        json!({"rating": 2, "at_ms": ticket["csat"]["at_ms"]})
    );
}

const DAY_365_MS: u64 = 365 * 86_400_000;

async fn metrics(s: &Served) -> String {
    let r = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    r.text().await.unwrap()
}

#[tokio::test]
async fn tickets_show_their_targets_and_overdue_ones_are_counted() {
    let s = Served::start(
        &[
            ("PERSONABOT__TEAMS__SECURITY__FIRST_RESPONSE_TARGET", "365d"),
            // Due a millisecond after opening: overdue by the time anyone looks.
            ("PERSONABOT__TEAMS__BILLING__RESOLVE_TARGET", "1ms"),
        ],
        "live-test-key",
    )
    .await;
    let ann = s.account("ann", AccountRole::Agent, &[]);
    let security = s
        .bridge_says("s1", SECURITY)
        .await
        .expect("a security ticket");
    let billing = s.bridge_says("b1", REFUND).await.expect("a billing ticket");

    let shown = s
        .bearer_ok(Method::GET, &format!("/v1/tickets/{security}"), &ann, None)
        .await;
    let created = shown["created_ms"].as_u64().unwrap();
    assert_eq!(
        shown["first_response_due_ms"],
        created + DAY_365_MS,
        "{shown}"
    );
    assert_eq!(
        (&shown["resolve_due_ms"], &shown["overdue"]),
        (&Value::Null, &json!(false))
    );
    let shown = s
        .bearer_ok(Method::GET, &format!("/v1/tickets/{billing}"), &ann, None)
        .await;
    let created = shown["created_ms"].as_u64().unwrap();
    assert_eq!(shown["resolve_due_ms"], created + 1, "{shown}");
    assert_eq!(shown["overdue"], true);

    let list = s.bearer_ok(Method::GET, "/v1/tickets", &ann, None).await;
    let overdue: Vec<(u64, bool)> = list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_u64().unwrap(), t["overdue"].as_bool().unwrap()))
        .collect();
    assert!(overdue.contains(&(billing, true)), "{list}");
    assert!(overdue.contains(&(security, false)), "{list}");

    let text = metrics(&s).await;
    assert!(
        text.contains("personabot_tickets_overdue{team=\"billing\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("personabot_tickets_overdue{team=\"security\"} 0\n"),
        "{text}"
    );

    let path = format!("/v1/tickets/{billing}/resolve");
    s.bearer_ok(Method::POST, &path, &ann, Some(json!({})))
        .await;
    let shown = s
        .bearer_ok(Method::GET, &format!("/v1/tickets/{billing}"), &ann, None)
        .await;
    assert_eq!(shown["overdue"], false, "resolved: {shown}");
    let text = metrics(&s).await;
    assert!(
        text.contains("personabot_tickets_overdue{team=\"billing\"} 0\n"),
        "{text}"
    );
}

#[test]
fn check_names_a_bad_target_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("personabot.toml");
    std::fs::write(
        &file,
        "[teams.sales]\nname = \"Sales\"\nfirst_response_target = \"soon\"\n",
    )
    .unwrap();
    let run = support::run_in(
        dir.path(),
        &dir.path().join("data"),
        &["check", "--config", file.to_str().unwrap()],
        None,
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("personabot.toml:3:25: `teams.sales.first_response_target`"),
        "{all}"
    );
}
