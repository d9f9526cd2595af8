//! The HTTP server for real, on an ephemeral loopback port: the generic chat API, feedback, the
//! agent API and its auth, request limits (400, 401, 413, 429), metrics and health, and agent
//! replies reaching the customer's conversation.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "agent-secret-1-long-enough";

use support::served::{Served, BRIDGE, BRIDGE_TOKEN};

/// The served app, as the test bridge `test` (`channel: "test"`, its own ids).
/// The served app; this file's helpers are an `impl` of it (one test crate, one type).
type Server = Served;

impl Server {
    async fn up(env: &[(&str, &str)]) -> Server {
        Served::start(env, "http-test-key").await
    }

    async fn with_agent_token() -> Server {
        Self::up(&[("PERSONABOT__HTTP__AGENT_TOKEN", TOKEN)]).await
    }

    /// A POST as the test bridge.
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(BRIDGE_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn say(&self, conversation: &str, user: &str, text: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/messages",
                json!({"channel": BRIDGE, "conversation": conversation, "user": user, "text": text}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn agent(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn messages_answer_in_the_classify_shape_plus_reply_and_ticket() {
    let s = Server::up(&[]).await;
    let first = s
        .say("c1", "u1", "I'm the founder of a 5-person startup")
        .await;
    assert_eq!(
        keys(&first),
        ["actions", "evidence", "intent", "persona", "reply", "route", "ticket"]
    );
    assert_eq!(
        first["actions"],
        json!([]),
        "a persona-only fallback offers no buttons"
    );
    assert_eq!(keys(&first["route"]), ["answer", "kind", "team"]);
    let second = s.say("c1", "u1", "how much is it?").await;
    assert_eq!(
        second["persona"]["id"], "startup-founder",
        "sticky persona: {second}"
    );
    assert_eq!(second["route"]["answer"], "pricing/startup-founder");
    assert_eq!(
        second["actions"],
        json!(["helped", "human"]),
        "a self-help answer"
    );
    assert!(second["reply"]
        .as_str()
        .unwrap()
        .contains("startup program"));
    assert_eq!(second["ticket"], Value::Null);
    for e in second["evidence"].as_array().unwrap() {
        assert_eq!(keys(e), ["target", "term", "weight"]);
    }

    let refund = s.say("c2", "u2", "I want a refund for last month").await;
    assert_eq!(refund["route"]["kind"], "ticket");
    assert_eq!(
        refund["ticket"],
        json!({"id": 1, "team": "billing", "status": "open", "priority": "normal"})
    );

    // The bridge's channel is recorded as given.
    let stored = s
        .state
        .pipeline
        .store()
        .interactions(&Default::default())
        .unwrap();
    assert_eq!(stored.last().unwrap().channel, BRIDGE);
}

#[tokio::test]
async fn feedback_helped_and_talk_to_a_human() {
    let s = Server::up(&[]).await;
    s.say("f1", "u1", "I forgot my password").await;
    let (status, body) = s
        .post(
            "/v1/feedback",
            json!({"channel": BRIDGE, "conversation": "f1", "user": "u1", "feedback": "helped"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["reply"].as_str().unwrap().contains("glad that helped"));
    s.say("f1", "u1", "my widget does not load on the checkout page")
        .await;
    let (status, body) = s
        .post(
            "/v1/feedback",
            json!({"channel": BRIDGE, "conversation": "f1", "user": "u1", "feedback": "talk to a human"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ticket"]["team"], "support");
    let (status, body) = s
        .post(
            "/v1/feedback",
            json!({"channel": BRIDGE, "conversation": "f1", "user": "u1", "feedback": "meh"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("helped"));
    // Nothing waiting for feedback: a clear refusal.
    let (status, body) = s
        .post(
            "/v1/feedback",
            json!({"channel": BRIDGE, "conversation": "new", "user": "u9", "helped": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn malformed_requests_get_400_naming_the_problem() {
    let s = Server::up(&[]).await;
    let url = format!("{}/v1/messages", s.base);
    let cases: &[(&[u8], &str)] = &[
        (b"{\"conversation\":\"c\"", "EOF while parsing"),
        (
            b"{\"conversation\":\"c\",\"user\":\"u\"}",
            "missing field `text`",
        ),
        (
            b"{\"conversation\":\"c\",\"user\":\"u\",\"text\":5}",
            "invalid type",
        ),
        (
            b"{\"conversation\":\"c\",\"user\":\"u\",\"text\":\"hi\",\"extra\":1}",
            "unknown field `extra`",
        ),
        (
            b"{\"conversation\":\"c\",\"user\":\"u\",\"text\":\"\xff\xfe\"}",
            "invalid",
        ),
        (
            b"{\"conversation\":\"\",\"user\":\"u\",\"text\":\"hi\"}",
            "`conversation` must not be empty",
        ),
        (b"not json", "expected"),
    ];
    for (body, needle) in cases {
        let r = s
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        let v: Value = r.json().await.unwrap();
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    }
    assert_eq!(
        s.state.pipeline.store().interaction_count(),
        0,
        "nothing stored from bad requests"
    );
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let s = Server::up(&[("PERSONABOT__HTTP__MAX_BODY_BYTES", "1024")]).await;
    let big = "x".repeat(4096);
    let (status, body) = s
        .post(
            "/v1/messages",
            json!({"channel": BRIDGE, "conversation": "c", "user": "u", "text": big}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("too large"));
    // Under the limit, fine.
    s.say("c", "u", "hello").await;
}

#[tokio::test]
async fn a_flood_from_one_user_gets_429_others_are_served() {
    let s = Server::up(&[("PERSONABOT__LIMITS__FLOOD_MESSAGES", "5")]).await;
    let mut statuses = Vec::new();
    for n in 0..8 {
        let (status, _) = s
            .post(
                "/v1/messages",
                json!({"channel": BRIDGE, "conversation": "fl", "user": "flooder", "text": format!("hi {n}")}),
            )
            .await;
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    let r = s
        .client
        .post(format!("{}/v1/messages", s.base))
        .bearer_auth(BRIDGE_TOKEN)
        .json(&json!({"channel": BRIDGE, "conversation": "fl", "user": "flooder", "text": "again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    s.say("other", "someone-else", "hi").await;
    assert_eq!(s.state.pipeline.store().interaction_count(), 6);
}

#[tokio::test]
async fn agent_routes_need_the_token_and_are_off_without_one() {
    let off = Server::up(&[]).await;
    let r = off
        .client
        .get(format!("{}/v1/tickets", off.base))
        .bearer_auth("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("PERSONABOT__HTTP__AGENT_TOKEN"));

    let s = Server::with_agent_token().await;
    // Three wrong tokens, one wrong sign-in: under the 5 failures an address may make a minute.
    for (method, path) in [
        (reqwest::Method::GET, "/v1/tickets"),
        (reqwest::Method::POST, "/v1/tickets/1/claim"),
        (reqwest::Method::GET, "/agent"),
    ] {
        let anonymous = s
            .client
            .request(method.clone(), format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        let wrong = s
            .client
            .request(method.clone(), format!("{}{path}", s.base))
            .bearer_auth("wrong-token")
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a wrong token"
        );
    }
    // The login form sets a cookie that works for the page and the API.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/agent/login", s.base))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client
        .post(format!("{}/agent/login", s.base))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = client
        .get(format!("{}/v1/tickets", s.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(format!("{}/agent", s.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn agents_list_claim_reply_relabel_resolve_and_the_customer_sees_the_reply() {
    let s = Server::with_agent_token().await;
    let handoff = s
        .say("web-1", "cust", "we are 2000 employees and procurement needs an enterprise quote, can I talk to a person?")
        .await;
    assert_eq!(handoff["ticket"]["team"], "sales", "{handoff}");
    let id = handoff["ticket"]["id"].as_u64().unwrap();

    let (status, list) = s
        .agent(
            reqwest::Method::GET,
            "/v1/tickets?team=sales&status=open",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let tickets = list["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["id"], id);
    assert_eq!(tickets[0]["persona"]["id"], "enterprise-it-buyer");
    let (_, none) = s
        .agent(reqwest::Method::GET, "/v1/tickets?team=billing", None)
        .await;
    assert_eq!(none["tickets"], json!([]));
    let (status, bad) = s
        .agent(reqwest::Method::GET, "/v1/tickets?status=sleeping", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    let (status, ticket) = s
        .agent(reqwest::Method::GET, &format!("/v1/tickets/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        ticket["transcript"].as_array().unwrap().len() >= 2,
        "transcript: {ticket}"
    );
    assert!(!ticket["evidence"].as_array().unwrap().is_empty());

    let (status, t) = s
        .agent(
            reqwest::Method::POST,
            &format!("/v1/tickets/{id}/claim"),
            Some(json!({"agent": "ann"})),
        )
        .await;
    assert_eq!(
        (status, t["status"].as_str()),
        (StatusCode::OK, Some("claimed"))
    );
    // Another account cannot take it over (the name in the body was never who claims).
    let bob = personabot::store::Account {
        name: "bob".into(),
        role: personabot::store::AccountRole::Agent,
        teams: Vec::new(),
        created_ms: 1,
    };
    let bob = s.state.pipeline.store().add_account(&bob).unwrap().token;
    let r = s
        .client
        .post(format!("{}/v1/tickets/{id}/claim", s.base))
        .bearer_auth(&bob)
        .json(&json!({"agent": "ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "already claimed by agent");

    // Claimed: the bot is silent in the conversation.
    let quiet = s.say("web-1", "cust", "hello? any news").await;
    assert_eq!(quiet["reply"], Value::Null);

    let (status, _) = s
        .agent(
            reqwest::Method::POST,
            &format!("/v1/tickets/{id}/reply"),
            Some(json!({"agent": "ann", "text": "Hi! Your quote is ready."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = s
        .client
        .get(format!(
            "{}/v1/conversations/web-1/updates?after=0&channel={BRIDGE}",
            s.base
        ))
        .bearer_auth(BRIDGE_TOKEN)
        .send()
        .await
        .unwrap();
    let updates: Value = r.json().await.unwrap();
    assert_eq!(updates["lines"][0]["text"], "Hi! Your quote is ready.");
    assert_eq!(
        updates["lines"][0]["agent"], "agent",
        "the bootstrap account's name, not the body's"
    );
    assert_eq!(updates["ticket"]["team_name"], "Sales");

    let (status, t) = s
        .agent(
            reqwest::Method::POST,
            &format!("/v1/tickets/{id}/relabel"),
            Some(json!({"agent": "ann", "intent": "billing"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["relabels"][0]["intent"], "billing");
    let (status, _) = s
        .agent(
            reqwest::Method::POST,
            &format!("/v1/tickets/{id}/relabel"),
            Some(json!({"agent": "ann", "intent": "nonsense"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an unknown intent is invalid"
    );

    let (status, t) = s
        .agent(
            reqwest::Method::POST,
            &format!("/v1/tickets/{id}/resolve"),
            Some(json!({"agent": "ann"})),
        )
        .await;
    assert_eq!(
        (status, t["status"].as_str()),
        (StatusCode::OK, Some("resolved"))
    );
    // After the ticket is resolved, the customer can still pick up the last reply.
    let r = s
        .client
        .get(format!(
            "{}/v1/conversations/web-1/updates?after=0&channel={BRIDGE}",
            s.base
        ))
        .bearer_auth(BRIDGE_TOKEN)
        .send()
        .await
        .unwrap();
    let updates: Value = r.json().await.unwrap();
    assert_eq!(updates["ticket"]["status"], "resolved", "{updates}");
    assert_eq!(updates["lines"][0]["text"], "Hi! Your quote is ready.");
    let back = s.say("web-1", "cust", "I forgot my password").await;
    assert!(back["reply"].as_str().is_some(), "the bot answers again");
    let (status, _) = s.agent(reqwest::Method::GET, "/v1/tickets/999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The catalog list for the agent page.
    let (status, catalog) = s.agent(reqwest::Method::GET, "/v1/catalog", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(catalog["teams"].as_array().unwrap().len(), 7);
    // Each team names the accounts to assign its tickets to: bob, an agent of every team (the
    // bootstrap token is no account).
    assert!(
        catalog["teams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["agents"] == json!(["bob"])),
        "{catalog}"
    );
    assert!(catalog["intents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == "pricing" && i["name"] == "Pricing"));
    assert_eq!(catalog["personas"].as_array().unwrap().len(), 6);
    let anonymous = s
        .client
        .get(format!("{}/v1/catalog", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_and_health() {
    let s = Server::up(&[]).await;
    s.say("m1", "u1", "how much is it?").await;
    s.say("m2", "u2", "I want a refund").await;
    let text = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("personabot_messages_total{channel=\"test\",route=\"answer\",persona=\"none\",intent=\"pricing\"} 1"), "{text}");
    assert!(
        text.contains("personabot_message_seconds_count 2"),
        "{text}"
    );
    assert!(
        text.contains("personabot_tickets_open{team=\"billing\"} 1"),
        "{text}"
    );
    // Two turns, said one after the other: two group commits of one turn each.
    assert!(
        text.contains("personabot_store_turns_committed_total 2"),
        "{text}"
    );
    assert!(text.contains("personabot_store_commits_total 2"), "{text}");
    let health: Value = s
        .client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["catalog"]["intents"], 17);
    let page = s.client.get(&s.base).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<html"));
}
