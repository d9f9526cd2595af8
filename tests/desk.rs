//! The agent desk on a real server (127.0.0.1, real sled): assigning a ticket to an agent of
//! its team, the queue's `?assigned=mine|unassigned|all`, and internal notes that agents see in
//! the ticket and the customer never does (the web chat's restored conversation and replies).

mod support;

use personabot::store::AccountRole;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::served::Served;

const AGENT_TOKEN: &str = "desk-bootstrap-agent-token";
const REFUND: &str = "I want a refund for last month's invoice, please";
const SECURITY: &str = "Our compliance team needs your SIG Lite questionnaire and ISO 27001 certificate for the vendor assessment";
const NOTE: &str = "Internal: customer is on the legacy plan, check with finance before refunding";

type Server = Served;

impl Server {
    async fn up() -> Server {
        Served::start(
            &[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN)],
            "desk-test-key",
        )
        .await
    }

    async fn queue(&self, token: &str, query: &str) -> Vec<u64> {
        let (status, list) = self
            .bearer(Method::GET, &format!("/v1/tickets{query}"), token, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        list["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_u64().unwrap())
            .collect()
    }
}

#[tokio::test]
async fn a_ticket_is_assigned_to_an_agent_of_its_team_and_the_queue_filters_by_assignee() {
    let s = Server::up().await;
    let first = s.bridge_says("a1", REFUND).await.expect("a billing ticket");
    let second = s
        .bridge_says("a2", REFUND)
        .await
        .expect("a second billing ticket");
    let security = s
        .bridge_says("a3", SECURITY)
        .await
        .expect("a security ticket");
    let ana = s.account("ana", AccountRole::Agent, &["billing"]);
    let bo = s.account("bo", AccountRole::Agent, &["billing"]);
    s.account("sec", AccountRole::Agent, &["security"]);
    s.account("olga", AccountRole::Owner, &[]);

    // Ana gives the first ticket to Bo.
    let path = format!("/v1/tickets/{first}/assign");
    let (status, t) = s
        .bearer(Method::POST, &path, &ana, Some(json!({"agent": "bo"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["assigned_to"], "bo");
    assert_eq!(t["status"], "open", "assigning does not claim");
    assert_eq!(
        s.store()
            .ticket(first)
            .unwrap()
            .unwrap()
            .assigned_to
            .as_deref(),
        Some("bo")
    );

    // Only an agent account of the ticket's team.
    for nobody in ["sec", "olga", "nobody-at-all"] {
        let (status, body) = s
            .bearer(Method::POST, &path, &ana, Some(json!({"agent": nobody})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{nobody}: {body}");
    }
    let (status, _) = s.bearer(Method::POST, &path, &ana, Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no agent named");
    // Another team's ticket is not found to Ana.
    let (status, _) = s
        .bearer(
            Method::POST,
            &format!("/v1/tickets/{security}/assign"),
            &ana,
            Some(json!({"agent": "ana"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.store()
            .ticket(first)
            .unwrap()
            .unwrap()
            .assigned_to
            .as_deref(),
        Some("bo")
    );

    // Ana claims the second: claiming takes it, so it is hers.
    s.bearer_ok(
        Method::POST,
        &format!("/v1/tickets/{second}/claim"),
        &ana,
        Some(json!({})),
    )
    .await;
    assert_eq!(s.queue(&ana, "?assigned=mine").await, [second]);
    assert_eq!(s.queue(&bo, "?assigned=mine").await, [first]);
    assert_eq!(
        s.queue(&bo, "?assigned=unassigned").await,
        Vec::<u64>::new()
    );
    let mut all = s.queue(&bo, "?assigned=all").await;
    all.sort();
    assert_eq!(all, [first, second]);
    assert_eq!(
        s.queue(AGENT_TOKEN, "?assigned=unassigned").await,
        [security]
    );
    let (status, _) = s
        .bearer(Method::GET, "/v1/tickets?assigned=theirs", &bo, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Reassigning a claimed ticket passes the claim on; a resolved one cannot be assigned.
    let (status, t) = s
        .bearer(
            Method::POST,
            &format!("/v1/tickets/{second}/assign"),
            &ana,
            Some(json!({"agent": "bo"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        (t["assigned_to"].clone(), t["claimed_by"].clone()),
        (json!("bo"), json!("bo"))
    );
    s.bearer_ok(
        Method::POST,
        &format!("/v1/tickets/{second}/resolve"),
        &bo,
        Some(json!({})),
    )
    .await;
    let (status, _) = s
        .bearer(
            Method::POST,
            &format!("/v1/tickets/{second}/assign"),
            &bo,
            Some(json!({"agent": "ana"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The ticket's history says who assigned it to whom.
    let (_, t) = s
        .bearer(Method::GET, &format!("/v1/tickets/{first}"), &ana, None)
        .await;
    let assigned: Vec<_> = t["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "assign")
        .map(|e| (e["who"].clone(), e["target"].clone()))
        .collect();
    assert_eq!(assigned, [(json!("ana"), json!("bo"))]);
}

#[tokio::test]
async fn an_internal_note_is_kept_for_agents_and_never_reaches_the_web_customer() {
    let s = Server::up().await;
    // A web visitor asks for a refund: a ticket.
    let r = s
        .client
        .post(format!("{}/v1/messages", s.base))
        .json(&json!({"text": REFUND}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let turn: Value = r.json().await.unwrap();
    let conversation = turn["conversation"].as_str().unwrap().to_string();
    let visitor = turn["visitor_token"].as_str().unwrap().to_string();
    let id = turn["ticket"]["id"].as_u64().expect("a ticket");
    let ana = s.account("ana", AccountRole::Agent, &[]);

    let path = format!("/v1/tickets/{id}");
    let (status, _) = s
        .bearer(
            Method::POST,
            &format!("{path}/note"),
            &ana,
            Some(json!({"text": "  "})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an empty note");
    let (status, t) = s
        .bearer(
            Method::POST,
            &format!("{path}/note"),
            &ana,
            Some(json!({"text": NOTE, "agent": "the-ceo"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["notes"][0]["text"], NOTE);
    assert_eq!(
        t["notes"][0]["by"], "ana",
        "written as the signed-in account"
    );
    assert!(!t["transcript"].to_string().contains("legacy plan"));
    let (_, t) = s.bearer(Method::GET, &path, &ana, None).await;
    assert_eq!(t["notes"][0]["text"], NOTE);
    assert!(t["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "note" && e["who"] == "ana"));

    // The customer writes on, gets an agent's reply; nowhere does the note appear.
    s.bearer(
        Method::POST,
        &format!("{path}/reply"),
        &ana,
        Some(json!({"text": "Looking into it now."})),
    )
    .await;
    let r = s
        .client
        .post(format!("{}/v1/messages", s.base))
        .header("X-Visitor-Token", &visitor)
        .json(&json!({"conversation": conversation, "text": "any news?"}))
        .send()
        .await
        .unwrap();
    let later = r.text().await.unwrap();
    assert!(!later.contains("legacy plan"), "{later}");
    let restored = s
        .client
        .get(format!("{}/v1/conversations/{conversation}", s.base))
        .header("X-Visitor-Token", &visitor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(restored.contains("Looking into it now."), "{restored}");
    assert!(!restored.contains("legacy plan"), "{restored}");
    // Nor in what the chat polls for agents' replies.
    let updates = s
        .client
        .get(format!(
            "{}/v1/conversations/{conversation}/updates?after=0",
            s.base
        ))
        .header("X-Visitor-Token", &visitor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(updates.contains("Looking into it now."), "{updates}");
    assert!(!updates.contains("legacy plan"), "{updates}");
    assert!(!updates.contains("\"notes\""), "{updates}");
}

#[tokio::test]
async fn an_internal_note_never_reaches_a_bridge() {
    use support::served::{BRIDGE, BRIDGE_TOKEN};
    let s = Server::up().await;
    let id = s.bridge_says("n1", REFUND).await.expect("a ticket");
    let ana = s.account("ana", AccountRole::Agent, &[]);
    let path = format!("/v1/tickets/{id}");
    s.bearer_ok(
        Method::POST,
        &format!("{path}/note"),
        &ana,
        Some(json!({"text": NOTE})),
    )
    .await;
    s.bearer_ok(
        Method::POST,
        &format!("{path}/reply"),
        &ana,
        Some(json!({"text": "Looking into it now."})),
    )
    .await;
    // A bridge delivers agents' replies from the updates it polls, and restores from the
    // conversation: the reply is there, the note in neither.
    for url in [
        format!("/v1/conversations/n1/updates?after=0&channel={BRIDGE}"),
        format!("/v1/conversations/n1?channel={BRIDGE}"),
    ] {
        let (status, body) = s.bearer(Method::GET, &url, BRIDGE_TOKEN, None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let body = body.to_string();
        assert!(body.contains("Looking into it now."), "{url}: {body}");
        assert!(!body.contains("legacy plan"), "{url}: {body}");
        assert!(!body.contains("\"notes\""), "{url}: {body}");
    }
    // A bridge's later turn carries nothing of it either.
    let r = s
        .client
        .post(format!("{}/v1/messages", s.base))
        .bearer_auth(BRIDGE_TOKEN)
        .json(
            &json!({"channel": BRIDGE, "conversation": "n1", "user": "u-n1",
                      "text": "any news?"}),
        )
        .send()
        .await
        .unwrap();
    let later = r.text().await.unwrap();
    assert!(!later.contains("legacy plan"), "{later}");
}

/// Waits up to 30 s for ticket `id` to have an assignee; returns it.
async fn assignee(s: &Server, id: u64) -> Option<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let t = s.store().ticket(id).unwrap().unwrap();
        if t.assigned_to.is_some() || std::time::Instant::now() > deadline {
            return t.assigned_to;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn round_robin_gives_new_tickets_in_turn_to_the_teams_signed_in_agents() {
    let s = Served::start(
        &[
            ("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN),
            ("PERSONABOT__TEAMS__BILLING__ASSIGN", "round-robin"),
        ],
        "desk-test-key",
    )
    .await;
    let ann = s.account("ann", AccountRole::Agent, &["billing"]);
    let bo = s.account("bo", AccountRole::Agent, &[]);
    s.account("cy", AccountRole::Agent, &["billing"]); // never signs in
    let sec = s.account("sec", AccountRole::Agent, &["security"]);
    for token in [&ann, &bo, &sec] {
        support::served::sign_in(&s.client, &s.base, "/agent", token).await;
    }

    // A security ticket first: its team assigns by hand, so it stays unassigned.
    let security = s
        .bridge_says("r0", SECURITY)
        .await
        .expect("a security ticket");
    let mut given = Vec::new();
    for n in 1..=3 {
        let id = s
            .bridge_says(&format!("r{n}"), REFUND)
            .await
            .expect("a billing ticket");
        given.push(assignee(&s, id).await);
    }
    assert_eq!(
        given,
        [
            Some("ann".to_string()),
            Some("bo".to_string()),
            Some("ann".to_string())
        ]
    );
    // Events are handled in order: the security ticket was passed over before these.
    assert_eq!(
        s.store().ticket(security).unwrap().unwrap().assigned_to,
        None
    );
    let given_to_bo = s.queue(&bo, "?assigned=mine").await;
    assert_eq!(given_to_bo.len(), 1, "{given_to_bo:?}");
}

#[test]
fn an_unknown_assign_mode_is_refused() {
    let env = [("PERSONABOT__TEAMS__BILLING__ASSIGN", "sometimes")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let err = personabot::catalog::settings::Settings::load_with_env(None, Some(env))
        .expect_err("refused");
    assert!(err.to_string().contains("teams.billing.assign"), "{err}");
}
