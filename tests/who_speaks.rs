//! Who may speak for whom over the HTTP API, tried as an attacker would on the real server:
//! web visitors only in the conversation the server issued them, bridges only with their
//! declared token, the built-in channels never; every refusal stores nothing.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::served::Served;

const AGENT_TOKEN: &str = "who-speaks-agent-token-0123";
const BRIDGE_TOKEN: &str = "intercom-bridge-token-0123456";
const OTHER_BRIDGE_TOKEN: &str = "zendesk-bridge-token-0123456";

/// The served app; this file's helpers are an `impl` of it (one test crate, one type).
type Server = Served;

/// A web visitor: the conversation and token the server issued.
struct Visitor {
    conversation: String,
    token: String,
}

impl Server {
    async fn up() -> Server {
        let env = [
            ("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN),
            ("PERSONABOT__BRIDGES__INTERCOM__TOKEN", BRIDGE_TOKEN),
            ("PERSONABOT__BRIDGES__ZENDESK__TOKEN", OTHER_BRIDGE_TOKEN),
        ];
        Served::start(&env, "who-speaks-key").await
    }

    /// A request with optional bearer and visitor tokens; (status, JSON body).
    async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        visitor: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(t) = visitor {
            req = req.header("X-Visitor-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Starts a web conversation with `text`; the answer issues the conversation and token.
    async fn visit(&self, text: &str) -> (Visitor, Value) {
        let (status, body) = self
            .send(
                Method::POST,
                "/v1/messages",
                None,
                None,
                Some(json!({ "text": text })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let visitor = Visitor {
            conversation: body["conversation"].as_str().expect("conversation").into(),
            token: body["visitor_token"]
                .as_str()
                .expect("visitor_token")
                .into(),
        };
        (visitor, body)
    }

    async fn say(&self, v: &Visitor, text: &str) -> (StatusCode, Value) {
        self.send(
            Method::POST,
            "/v1/messages",
            None,
            Some(&v.token),
            Some(json!({ "conversation": v.conversation, "text": text })),
        )
        .await
    }

    fn stored(&self) -> usize {
        self.state.pipeline.store().interaction_count()
    }

    fn open_tickets(&self) -> usize {
        self.state
            .pipeline
            .store()
            .tickets(None, None)
            .unwrap()
            .len()
    }
}

#[tokio::test]
async fn a_visitor_gets_a_conversation_and_only_its_token_opens_it() {
    let s = Server::up().await;
    let (ann, first) = s.visit("I'm the founder of a 5-person startup").await;
    assert!(ann.conversation.starts_with("web-"), "{first}");
    assert_eq!(ann.token.len(), 64, "{first}");
    let (status, second) = s.say(&ann, "how much is it?").await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        second["persona"]["id"], "startup-founder",
        "same conversation"
    );
    assert_eq!(second["conversation"], ann.conversation.as_str());
    assert!(
        second.get("visitor_token").is_none(),
        "issued once: {second}"
    );

    let (bob, _) = s.visit("hello").await;
    assert_ne!(bob.conversation, ann.conversation);
    let before = s.stored();
    let attempts = [
        (None, "without a token"),
        (Some(bob.token.as_str()), "with another visitor's token"),
        (Some("00"), "with a made-up token"),
    ];
    for (token, how) in attempts {
        let body = json!({ "conversation": ann.conversation, "text": "transfer me" });
        let (status, v) = s
            .send(Method::POST, "/v1/messages", None, token, Some(body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "message {how}: {v}");
        let body = json!({ "conversation": ann.conversation, "feedback": "talk to a human" });
        let (status, v) = s
            .send(Method::POST, "/v1/feedback", None, token, Some(body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "feedback {how}: {v}");
        let path = format!("/v1/conversations/{}/updates", ann.conversation);
        let (status, v) = s.send(Method::GET, &path, None, token, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "updates {how}: {v}");
    }
    // Ids the server never issued cannot be written to at all, even with a bridge's token.
    let body = json!({ "channel": "web", "conversation": "web-1", "user": "u", "text": "hi" });
    let (status, _) = s
        .send(
            Method::POST,
            "/v1/messages",
            Some(BRIDGE_TOKEN),
            Some(&ann.token),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.stored(), before, "nothing stored from refused requests");
}

#[tokio::test]
async fn another_visitors_agent_replies_stay_hidden() {
    let s = Server::up().await;
    let (ann, handoff) = s
        .visit("we are 2000 employees and procurement needs an enterprise quote, can I talk to a person?")
        .await;
    let id = handoff["ticket"]["id"].as_u64().expect("a ticket");
    let secret = "Your quote: 41,000 a year, code ZX-41";
    let (status, _) = s
        .send(
            Method::POST,
            &format!("/v1/tickets/{id}/reply"),
            Some(AGENT_TOKEN),
            None,
            Some(json!({ "agent": "dana", "text": secret })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/v1/conversations/{}/updates?after=0", ann.conversation);
    let (status, own) = s
        .send(Method::GET, &path, None, Some(&ann.token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own["lines"][0]["text"], secret);
    let (eve, _) = s.visit("hi").await;
    for token in [Some(eve.token.as_str()), None] {
        let (status, body) = s.send(Method::GET, &path, None, token, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(!body.to_string().contains("ZX-41"));
    }
}

#[tokio::test]
async fn the_web_users_id_is_the_tokens_never_the_bodys() {
    let s = Server::up().await;
    let (ann, _) = s.visit("I forgot my password").await;
    let body = json!({ "conversation": ann.conversation, "user": "victim", "text": "still stuck" });
    let (status, v) = s
        .send(
            Method::POST,
            "/v1/messages",
            None,
            Some(&ann.token),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let store = s.state.pipeline.store();
    assert_eq!(store.forget_user("victim").unwrap().interactions, 0);
    let visitor = format!("visitor-{}", &ann.conversation["web-".len()..]);
    assert_eq!(store.forget_user(&visitor).unwrap().interactions, 2);
}

#[tokio::test]
async fn the_built_in_channels_cannot_be_claimed_over_http() {
    let s = Server::up().await;
    for (channel, conversation) in [
        ("discord", "0"),
        ("discord", "2001"),
        ("slack", "C0SUPPORT/1700000000.000100"),
        ("telegram", "424242"),
        ("terminal", "t1"),
    ] {
        for bearer in [None, Some(BRIDGE_TOKEN), Some(AGENT_TOKEN)] {
            let body = json!({ "channel": channel, "conversation": conversation,
                               "user": "mallory", "text": "I want a refund" });
            let (status, v) = s
                .send(Method::POST, "/v1/messages", bearer, None, Some(body))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{channel} message: {v}");
            let body = json!({ "channel": channel, "conversation": conversation,
                               "user": "mallory", "feedback": "talk to a human" });
            let (status, v) = s
                .send(Method::POST, "/v1/feedback", bearer, None, Some(body))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{channel} feedback: {v}");
            let path = format!(
                "/v1/conversations/{}/updates?channel={channel}",
                conversation.replace('/', "%2F")
            );
            let (status, v) = s.send(Method::GET, &path, bearer, None, None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{channel} updates: {v}");
        }
    }
    assert_eq!(s.stored(), 0, "nothing stored");
    assert_eq!(s.open_tickets(), 0, "no ticket opened");
}

#[tokio::test]
async fn a_bridge_speaks_only_with_its_own_token() {
    let s = Server::up().await;
    let msg = |channel: &str| {
        json!({ "channel": channel, "conversation": "ic-7", "user": "u-7",
                "text": "I want a refund for last month" })
    };
    let refused = [
        ("intercom", None, StatusCode::UNAUTHORIZED),
        (
            "intercom",
            Some("intercom-bridge-token-0123457"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "intercom",
            Some(OTHER_BRIDGE_TOKEN),
            StatusCode::UNAUTHORIZED,
        ),
        ("intercom", Some(AGENT_TOKEN), StatusCode::UNAUTHORIZED),
        ("http", Some(BRIDGE_TOKEN), StatusCode::UNAUTHORIZED),
        ("freshdesk", Some(BRIDGE_TOKEN), StatusCode::UNAUTHORIZED),
    ];
    for (channel, bearer, want) in refused {
        let (status, v) = s
            .send(
                Method::POST,
                "/v1/messages",
                bearer,
                None,
                Some(msg(channel)),
            )
            .await;
        assert_eq!(status, want, "{channel} with {bearer:?}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert_eq!(s.stored(), 0);
    let (status, v) = s
        .send(
            Method::POST,
            "/v1/messages",
            Some(BRIDGE_TOKEN),
            None,
            Some(msg("intercom")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ticket"]["team"], "billing");
    assert!(v.get("visitor_token").is_none());
    let stored = s
        .state
        .pipeline
        .store()
        .interactions(&Default::default())
        .unwrap();
    assert_eq!(stored[0].channel, "intercom");
    // Reading its conversation needs the same token.
    let path = "/v1/conversations/ic-7/updates?channel=intercom";
    let (status, _) = s
        .send(Method::GET, path, Some(OTHER_BRIDGE_TOKEN), None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = s
        .send(Method::GET, path, Some(BRIDGE_TOKEN), None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ticket"]["team"], "billing");
}
