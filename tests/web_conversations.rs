//! The web chat's server side, for real on a loopback port over a sled store in a temp dir: a
//! visitor's conversation comes back (`GET /v1/conversations/{id}`: lines, every ticket, agent
//! replies, the buttons still waiting) and only to its visitor; one idle past
//! `http.web_conversation_days` is neither restored nor continued; `GET /widget.js`, the chat
//! page's framing and the `[brand]` settings on every page.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};

use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::engine::AppState;
use personabot::store::Store;

const TOKEN: &str = "web-conversations-agent-token";
const DAY_MS: u64 = 24 * 60 * 60 * 1000;
const QUESTION: &str = "How much does the Growth plan cost for my startup?";

struct Server {
    base: String,
    client: reqwest::Client,
    /// The pipeline's clock (ms since the epoch).
    clock: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(env: &[(&str, &str)]) -> Server {
        let mut env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("PERSONABOT__HTTP__AGENT_TOKEN".into(), TOKEN.into());
        let settings = Settings::load_with_env(None, Some(env)).expect("settings");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Some("web-conversations-key")).expect("store");
        let clock = Arc::new(AtomicU64::new(personabot::store::now_ms()));
        let pipeline = {
            let clock = Arc::clone(&clock);
            // A clock that moves on a little at every reading, as a real one does between turns.
            support::pipeline_on(store).with_clock(move || clock.fetch_add(1, Ordering::SeqCst))
        };
        let http = settings.http.clone();
        let state = AppState::new(Arc::new(pipeline), Arc::new(settings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let router = app::app(state);
        tokio::spawn(
            async move { app::serve(listener, router, &http, std::future::pending()).await },
        );
        Server {
            base,
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            clock,
            _dir: dir,
        }
    }

    fn advance(&self, ms: u64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    /// A message from a web visitor (`None`: a new one), as the chat page sends it.
    async fn say(&self, visitor: Option<(&str, &str)>, text: &str) -> Value {
        let mut req = self.client.post(format!("{}/v1/messages", self.base));
        let body = match visitor {
            Some((conversation, token)) => {
                req = req.header("X-Visitor-Token", token);
                json!({ "conversation": conversation, "text": text })
            }
            None => json!({ "text": text }),
        };
        let r = req.json(&body).send().await.expect("answers");
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("JSON")
    }

    async fn get(&self, path: &str, visitor_token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = visitor_token {
            req = req.header("X-Visitor-Token", token);
        }
        let r = req.send().await.expect("answers");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn agent(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.expect("JSON")
    }

    async fn page(&self, path: &str) -> (String, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("answers");
        let csp = r
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (csp, r.text().await.expect("text"))
    }
}

fn ids(turn: &Value) -> (String, String) {
    (
        turn["conversation"]
            .as_str()
            .expect("a conversation")
            .into(),
        turn["visitor_token"]
            .as_str()
            .expect("a visitor token")
            .into(),
    )
}

/// `(from, text)` of each line.
fn lines(body: &Value) -> Vec<(String, String)> {
    body["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["from"].as_str().unwrap().into(),
                l["text"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_visitor_gets_the_conversation_back_with_every_ticket_and_the_agents_replies() {
    let s = Server::start(&[]).await;
    let first = s.say(None, QUESTION).await;
    let (conversation, token) = ids(&first);
    let answer = first["reply"].as_str().unwrap().to_string();
    let path = format!("/v1/conversations/{conversation}");

    // Only the visitor holding the conversation's token reads it.
    let (status, _) = s.get(&path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = s.say(None, "hi").await;
    let (status, _) = s.get(&path, Some(&ids(&other).1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = s.get(&path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["conversation"], json!(conversation));
    assert_eq!(
        lines(&body),
        [
            ("customer".to_string(), QUESTION.to_string()),
            ("bot".to_string(), answer.clone())
        ]
    );
    assert_eq!(body["actions"], json!(["helped", "human"]), "{body}");
    assert_eq!(body["tickets"], json!([]));

    // A handoff, an agent's reply, resolved; then a second ticket in the same conversation.
    let handoff = s
        .say(Some((&conversation, &token)), "I want to talk to a human")
        .await;
    let first_ticket = handoff["ticket"]["id"].as_u64().expect("a ticket");
    s.agent(&format!("/v1/tickets/{first_ticket}/claim"), json!({}))
        .await;
    s.agent(
        &format!("/v1/tickets/{first_ticket}/reply"),
        json!({ "text": "Hi, Dana here. Write to dana@hearth.example." }),
    )
    .await;
    s.agent(&format!("/v1/tickets/{first_ticket}/resolve"), json!({}))
        .await;
    let again = s
        .say(Some((&conversation, &token)), "I want to talk to a human")
        .await;
    let second_ticket = again["ticket"]["id"].as_u64().expect("a second ticket");
    assert_ne!(first_ticket, second_ticket);

    let (_, body) = s.get(&path, Some(&token)).await;
    let tickets: Vec<(u64, &str)> = body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_u64().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tickets,
        [(first_ticket, "resolved"), (second_ticket, "open")]
    );
    assert!(body["tickets"][0]["team_name"].is_string());
    let got = lines(&body);
    assert_eq!(got[0], ("customer".into(), QUESTION.into()));
    let agent: Vec<&Value> = body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["from"] == "agent")
        .collect();
    assert_eq!(agent.len(), 1, "{body}");
    assert_eq!(agent[0]["agent"], "agent");
    assert_eq!(agent[0]["ticket"], json!(first_ticket));
    // The agent's own words, unredacted; each line once, in time order.
    assert_eq!(
        agent[0]["text"],
        "Hi, Dana here. Write to dana@hearth.example."
    );
    let times: Vec<u64> = body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["at_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let handoffs = got
        .iter()
        .filter(|(from, text)| from == "customer" && text == "I want to talk to a human")
        .count();
    assert_eq!(handoffs, 2, "{got:?}");
    assert_eq!(body["actions"], json!([]), "no buttons under a handoff");

    // The updates endpoint names every ticket the page knows of, and still the open one.
    let (_, updates) = s
        .get(
            &format!("{path}/updates?after=0&tickets={first_ticket}"),
            Some(&token),
        )
        .await;
    assert_eq!(updates["ticket"]["id"], json!(second_ticket));
    assert_eq!(updates["tickets"].as_array().map(Vec::len), Some(2));
    assert_eq!(updates["lines"][0]["ticket"], json!(first_ticket));
    // A ticket of another conversation is not shown through this one.
    let stranger = s.say(None, "I want to talk to a human").await;
    let theirs = stranger["ticket"]["id"].as_u64().unwrap();
    let (_, updates) = s
        .get(
            &format!("{path}/updates?after=0&tickets={theirs}"),
            Some(&token),
        )
        .await;
    assert!(
        !updates["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == json!(theirs)),
        "{updates}"
    );
    let (_, body) = s.get(&path, Some(&token)).await;
    assert_eq!(body["tickets"].as_array().map(Vec::len), Some(2), "{body}");
}

#[tokio::test]
async fn a_conversation_idle_past_the_setting_is_neither_restored_nor_continued() {
    let s = Server::start(&[("PERSONABOT__HTTP__WEB_CONVERSATION_DAYS", "2")]).await;
    let first = s.say(None, QUESTION).await;
    let (conversation, token) = ids(&first);
    let path = format!("/v1/conversations/{conversation}");

    // A day and a half later: kept, and a message continues it.
    s.advance(DAY_MS * 3 / 2);
    let (status, _) = s.get(&path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let later = s.say(Some((&conversation, &token)), "hi").await;
    assert_eq!(later["conversation"], json!(conversation));
    assert!(later.get("visitor_token").is_none(), "{later}");

    // Two days and a moment after the last message: gone.
    s.advance(2 * DAY_MS + 1);
    let (status, body) = s.get(&path, Some(&token)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("start a new one"));
    let fresh = s.say(Some((&conversation, &token)), "hi again").await;
    let (new_conversation, new_token) = ids(&fresh);
    assert_ne!(new_conversation, conversation);
    let (status, body) = s
        .get(
            &format!("/v1/conversations/{new_conversation}"),
            Some(&new_token),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lines(&body)[0], ("customer".into(), "hi again".into()));
    assert_eq!(lines(&body).len(), 2, "{body}");
}

#[tokio::test]
async fn an_agent_reply_keeps_a_conversation_alive() {
    let s = Server::start(&[("PERSONABOT__HTTP__WEB_CONVERSATION_DAYS", "1")]).await;
    let first = s.say(None, "I want to talk to a human").await;
    let (conversation, token) = ids(&first);
    let ticket = first["ticket"]["id"].as_u64().unwrap();
    s.advance(DAY_MS / 2 + DAY_MS / 4);
    s.agent(
        &format!("/v1/tickets/{ticket}/reply"),
        json!({ "text": "On it" }),
    )
    .await;
    // More than a day after the customer's message, less than a day after the agent's.
    s.advance(DAY_MS / 2);
    let (status, body) = s
        .get(&format!("/v1/conversations/{conversation}"), Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(lines(&body).last().unwrap().1, "On it");
}

#[tokio::test]
async fn the_widget_and_the_chat_page_frame_only_for_the_allowed_origins() {
    let s = Server::start(&[(
        "PERSONABOT__HTTP__WIDGET_ORIGINS",
        "https://shop.example.com,https://*.example.org",
    )])
    .await;
    let r = s
        .client
        .get(format!("{}/widget.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(r.headers()["cross-origin-resource-policy"], "cross-origin");
    let js = r.text().await.unwrap();
    assert!(js.contains(r#""origins":["https://shop.example.com","https://*.example.org"]"#));
    assert!(js.contains("/?widget=1"));

    let (csp, _) = s.page("/").await;
    assert!(
        csp.ends_with("frame-ancestors https://shop.example.com https://*.example.org"),
        "{csp}"
    );
    for path in ["/agent", "/review", "/widget.js", "/v1/conversations/x"] {
        let (csp, _) = s.page(path).await;
        assert!(csp.ends_with("frame-ancestors 'none'"), "{path}: {csp}");
    }

    let closed = Server::start(&[]).await;
    let (csp, _) = closed.page("/").await;
    assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
    let (_, js) = closed.page("/widget.js").await;
    assert!(js.contains(r#""origins":[]"#));
}

#[tokio::test]
async fn the_brand_names_every_page() {
    let s = Server::start(&[
        ("PERSONABOT__BRAND__NAME", "Acme & Co"),
        ("PERSONABOT__BRAND__ACCENT", "#0f766e"),
        (
            "PERSONABOT__BRAND__LOGO_URL",
            "https://cdn.example.com/logo.png",
        ),
        ("PERSONABOT__BRAND__WELCOME", "Welcome to Acme <support>!"),
    ])
    .await;
    let (csp, chat) = s.page("/").await;
    assert!(chat.contains("<title>Acme &amp; Co support</title>"));
    assert!(chat.contains("<h1>Acme &amp; Co support</h1>"));
    assert!(chat.contains("content=\"Welcome to Acme &lt;support&gt;!\""));
    assert!(chat.contains("<img src=\"https://cdn.example.com/logo.png\" alt=\"\">"));
    assert!(chat.contains("--accent:#0f766e"));
    assert!(
        csp.contains("img-src 'self' data: https://cdn.example.com;"),
        "{csp}"
    );
    // The agent's and the owner's sign-in pages (no session yet).
    let mut pages = vec![chat];
    for (path, title) in [
        (
            "/agent",
            "<title>Sign in · Acme &amp; Co support agents</title>",
        ),
        (
            "/review",
            "<title>Sign in · Acme &amp; Co support agents</title>",
        ),
    ] {
        let (_, page) = s.page(path).await;
        assert!(page.contains(title), "{path}: {page}");
        pages.push(page);
    }
    let (_, js) = s.page("/widget.js").await;
    assert!(js.contains(r#""name":"Acme & Co""#) && js.contains(r##""accent":"#0f766e""##));
    for page in pages {
        assert!(!page.contains("Hearth"), "a page names Hearth");
        assert!(!page.contains("{{"), "a placeholder is left");
    }
}

#[test]
fn brand_and_web_settings_are_checked() {
    for (key, value, problem) in [
        ("PERSONABOT__BRAND__ACCENT", "red; x: y", "brand.accent"),
        (
            "PERSONABOT__BRAND__LOGO_URL",
            "javascript:alert(1)",
            "brand.logo_url",
        ),
        ("PERSONABOT__BRAND__NAME", "", "brand.name"),
        (
            "PERSONABOT__HTTP__WEB_CONVERSATION_DAYS",
            "0",
            "http.web_conversation_days",
        ),
    ] {
        let env = HashMap::from([(key.to_string(), value.to_string())]);
        let err = Settings::load_with_env(None, Some(env)).expect_err(key);
        assert!(err.to_string().contains(problem), "{key}: {err}");
    }
    let err = Settings::load_with_env(
        None,
        Some(HashMap::from([(
            "PERSONABOT__HTTP__WIDGET_ORIGINS".to_string(),
            "https://a.example; script-src *".to_string(),
        )])),
    )
    .expect_err("a bad origin");
    assert!(err.to_string().contains("not an origin"), "{err}");
    let d = Settings::built_in();
    assert_eq!(d.http.web_conversation_days, 30);
    assert!(d.http.widget_origins.is_empty());
    assert_eq!(d.brand.name, "Hearth");
}

/// `Store::conversation_tickets` finds a conversation's tickets by its ids as received, also
/// when the store keeps them hashed (an id holding an email), and no other conversation's.
#[test]
fn a_conversations_tickets_by_its_ids_as_received() {
    use personabot::engine::pipeline::Inbound;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Some("tickets-key")).expect("store");
    let p = support::pipeline_on(store);
    let say = |conversation: &str, text: &str| {
        p.handle(&Inbound {
            channel: "slack".into(),
            conversation: conversation.into(),
            user: "U1".into(),
            text: text.into(),
        })
        .expect("a turn")
    };
    let hashed = "dana@hearth.example";
    let mine = say(hashed, "I want to talk to a human")
        .ticket
        .expect("a ticket");
    let theirs = say("C-other", "I want to talk to a human")
        .ticket
        .expect("a ticket");
    let found: Vec<u64> = p
        .store()
        .conversation_tickets("slack", hashed)
        .expect("read")
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(found, [mine.id]);
    let (channel, stored) = p.store().stored_ids("slack", hashed);
    assert_ne!(stored, hashed, "the id is kept hashed");
    let again = p
        .store()
        .conversation_tickets(&channel, &stored)
        .expect("read");
    assert_eq!(again.len(), 1);
    let other = p
        .store()
        .conversation_tickets("slack", "C-other")
        .expect("read");
    assert_eq!(other.iter().map(|t| t.id).collect::<Vec<_>>(), [theirs.id]);
    assert!(p
        .store()
        .conversation_tickets("slack", "C-none")
        .expect("read")
        .is_empty());
}
