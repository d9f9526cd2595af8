//! Finding things, over the real HTTP server: the queue's search (`GET /v1/tickets?q=...`
//! combined with filters), a ticket's customer `"history"`, and the teams' saved replies
//! (`GET /v1/replies`, `POST /v1/tickets/{id}/reply {"saved": ID}`).

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use support::served::{Served, BRIDGE, BRIDGE_TOKEN};

const TOKEN: &str = "find-agent-secret-long-enough";

async fn up() -> Served {
    Served::start(&[("PERSONABOT__HTTP__AGENT_TOKEN", TOKEN)], "find-test-key").await
}

/// A customer's message over the test bridge; returns the answer.
async fn say(s: &Served, conversation: &str, user: &str, text: &str) -> Value {
    let r = s
        .client
        .post(format!("{}/v1/messages", s.base))
        .bearer_auth(BRIDGE_TOKEN)
        .json(&json!({"channel": BRIDGE, "conversation": conversation, "user": user, "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn agent(s: &Served, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = s
        .client
        .request(method, format!("{}{path}", s.base))
        .bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn ticket_of(s: &Served, conversation: &str, user: &str, text: &str) -> u64 {
    let answer = say(s, conversation, user, text).await;
    answer["ticket"]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("a ticket: {answer}"))
}

/// The ids `GET /v1/tickets?QUERY` lists.
async fn search(s: &Served, query: &str) -> Vec<u64> {
    let (status, body) = agent(s, Method::GET, &format!("/v1/tickets?{query}"), None).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let mut ids: Vec<u64> = body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn search_finds_words_in_transcripts_combined_with_filters() {
    let s = up().await;
    let refund = ticket_of(
        &s,
        "c1",
        "u1",
        "I want a refund for my invoice, it was charged twice",
    )
    .await;
    let quote = ticket_of(
        &s,
        "c2",
        "u2",
        "we are 2000 employees and procurement needs an enterprise quote, can I talk to a person?",
    )
    .await;
    // Later lines of the transcript count too, and an agent's reply.
    say(&s, "c1", "u1", "the second charge was on Tuesday").await;
    let (status, _) = agent(
        &s,
        Method::POST,
        &format!("/v1/tickets/{quote}/claim"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = agent(
        &s,
        Method::POST,
        &format!("/v1/tickets/{quote}/reply"),
        Some(json!({"text": "Your Quote is on its way"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(search(&s, "").await, [refund, quote]);
    assert_eq!(search(&s, "q=tuesday").await, [refund]);
    assert_eq!(search(&s, "q=CHARGED+twice").await, [refund]);
    assert_eq!(search(&s, "q=quote").await, [quote]);
    assert_eq!(search(&s, "q=quote+tuesday").await, Vec::<u64>::new());
    assert_eq!(search(&s, "q=quote&team=sales").await, [quote]);
    assert_eq!(search(&s, "q=quote&team=billing").await, Vec::<u64>::new());
    assert_eq!(search(&s, "q=refund&intent=refund").await, [refund]);
    assert_eq!(search(&s, "q=quote&agent=agent").await, [quote]);
    assert_eq!(search(&s, "agent=nobody").await, Vec::<u64>::new());
    assert_eq!(search(&s, "persona=enterprise-it-buyer").await, [quote]);
    assert_eq!(search(&s, "status=open&since=2020-01-01").await, [refund]);
    assert_eq!(search(&s, "status=claimed").await, [quote]);
    assert_eq!(search(&s, "until=2020-01-01").await, Vec::<u64>::new());
    assert_eq!(search(&s, "q=&status=all").await, [refund, quote]);

    for bad in ["since=yesterday", "until=2026-13-40", "status=sleeping"] {
        let (status, body) = agent(&s, Method::GET, &format!("/v1/tickets?{bad}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn a_ticket_shows_the_customers_earlier_tickets_and_conversations_newest_first() {
    let s = up().await;
    // An earlier self-help conversation, then a first ticket, then (elsewhere) a second one.
    say(
        &s,
        "help-1",
        "zoe",
        "I run a Shopify store, how much is it?",
    )
    .await;
    let first = ticket_of(
        &s,
        "c1",
        "zoe",
        "I want a refund for my invoice, it was charged twice",
    )
    .await;
    let other = ticket_of(&s, "c9", "max", "I want a refund for my invoice please").await;
    let second = ticket_of(
        &s,
        "c2",
        "zoe",
        "we are 2000 employees and procurement needs an enterprise quote, can I talk to a person?",
    )
    .await;

    let (status, t) = agent(&s, Method::GET, &format!("/v1/tickets/{second}"), None).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let history = t["history"].as_array().expect("history");
    let seen: Vec<(String, Value)> = history
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["id"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("ticket".to_string(), json!(first)),
            ("conversation".to_string(), json!("help-1")),
        ],
        "max's ticket #{other} is not zoe's: {history:?}"
    );
    assert_eq!(history[0]["intent"], "refund");
    assert_eq!(history[0]["status"], "open");
    assert_eq!(history[0]["channel"], BRIDGE);
    assert!(history[0]["date"].as_str().unwrap().ends_with('Z'));
    assert!(history[1]["status"].is_string());

    // A first ticket has no history.
    let (_, t) = agent(&s, Method::GET, &format!("/v1/tickets/{other}"), None).await;
    assert_eq!(t["history"], json!([]));
}

#[tokio::test]
async fn saved_replies_are_listed_rendered_for_a_ticket_and_sent_to_the_customer() {
    let s = up().await;
    let id = ticket_of(
        &s,
        "c1",
        "u1",
        "I want a refund for my invoice, it was charged twice",
    )
    .await;

    let (status, all) = agent(&s, Method::GET, "/v1/replies", None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let teams: std::collections::BTreeSet<&str> = all["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["team"].as_str().unwrap())
        .collect();
    assert!(
        teams.contains("billing") && teams.contains("support"),
        "{all}"
    );

    let (status, billing) = agent(&s, Method::GET, "/v1/replies?team=billing", None).await;
    assert_eq!(status, StatusCode::OK);
    let first = &billing["replies"][0];
    assert_eq!(first["id"], "refund-sent");
    assert_eq!(first["title"], "Refund sent");
    assert!(first["text"].as_str().unwrap().contains("{ticket}"));
    assert!(billing["replies"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["team"] == "billing" && r.get("rendered").is_none()));

    let (status, for_ticket) =
        agent(&s, Method::GET, &format!("/v1/replies?ticket={id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let rendered = for_ticket["replies"][0]["rendered"].as_str().unwrap();
    assert!(
        rendered.starts_with(&format!(
            "Hi there, the refund for ticket #{id} is on its way"
        )),
        "{rendered}"
    );
    assert!(rendered.ends_with("agent, Billing"), "{rendered}");

    let (status, _) = agent(&s, Method::GET, "/v1/replies?team=nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = agent(&s, Method::GET, "/v1/replies?ticket=999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Sent: the customer's conversation gets the rendered text, not the template.
    let (status, t) = agent(
        &s,
        Method::POST,
        &format!("/v1/tickets/{id}/reply"),
        Some(json!({"saved": "refund-sent"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let r = s
        .client
        .get(format!(
            "{}/v1/conversations/c1/updates?after=0&channel={BRIDGE}",
            s.base
        ))
        .bearer_auth(BRIDGE_TOKEN)
        .send()
        .await
        .unwrap();
    let updates: Value = r.json().await.unwrap();
    assert_eq!(updates["lines"][0]["text"], rendered, "{updates}");

    // Another team's reply, an unknown one, or both `text` and `saved`, are refused.
    for body in [
        json!({"saved": "quote-follow-up"}),
        json!({"saved": "nope"}),
        json!({"saved": "refund-sent", "text": "hi"}),
    ] {
        let (status, e) = agent(
            &s,
            Method::POST,
            &format!("/v1/tickets/{id}/reply"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {e}");
    }
}

#[tokio::test]
async fn an_agent_of_one_team_sees_only_that_teams_replies_and_history() {
    let s = up().await;
    let refund = ticket_of(
        &s,
        "c1",
        "zoe",
        "I want a refund for my invoice, it was charged twice",
    )
    .await;
    let quote = ticket_of(
        &s,
        "c2",
        "zoe",
        "we are 2000 employees and procurement needs an enterprise quote, can I talk to a person?",
    )
    .await;
    let sales = personabot::store::Account {
        name: "sam".into(),
        role: personabot::store::AccountRole::Agent,
        teams: vec!["sales".into()],
        created_ms: 1,
    };
    let token = s.state.pipeline.store().add_account(&sales).unwrap().token;
    let get = |path: String| {
        let req = s
            .client
            .get(format!("{}{path}", s.base))
            .bearer_auth(&token);
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (_, replies) = get("/v1/replies".into()).await;
    assert!(
        replies["replies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["team"] == "sales"),
        "{replies}"
    );
    let (status, _) = get("/v1/replies?team=billing".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, t) = get(format!("/v1/tickets/{quote}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        t["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"] != json!(refund)),
        "billing's ticket stays hidden from sales: {t}"
    );
    let (_, list) = get("/v1/tickets?q=refund".into()).await;
    assert_eq!(list["tickets"], json!([]));
}
