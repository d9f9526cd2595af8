//! Agent and owner accounts on a real server (127.0.0.1, real sled): actions recorded under the
//! account whatever the body says, team scoping, server-side sessions (revoked at sign-out and
//! with the account), failed sign-ins limited per address, and cross-site requests refused
//! (a `text/plain` form: 415; a foreign `Origin`: 403).

mod support;

use personabot::store::AccountRole;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::served::Served;

const AGENT_TOKEN: &str = "bootstrap-agent-token-long";

/// The served app; this file's helpers are an `impl` of it (one test crate, one type).
type Server = Served;

impl Server {
    async fn up(env: &[(&str, &str)]) -> Server {
        Served::start(env, "accounts-test-key").await
    }

    /// Signs in with the form at `page` (`/agent` or `/review`); returns the cookie pair.
    async fn sign_in(&self, page: &str, token: &str) -> String {
        let cookie = support::served::sign_in(&self.client, &self.base, page, token).await;
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        cookie.split(';').next().unwrap().to_string()
    }

    async fn with_cookie(&self, method: Method, path: &str, cookie: &str) -> StatusCode {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .status()
    }
}

const REFUND: &str = "I want a refund for last month's invoice, please";
const SECURITY: &str = "Our compliance team needs your SIG Lite questionnaire and ISO 27001 certificate for the vendor assessment";

#[tokio::test]
async fn a_text_plain_form_with_the_cookie_is_refused_415_and_nothing_is_stored() {
    let s = Server::up(&[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN)]).await;
    let id = s.bridge_says("c1", REFUND).await.expect("a ticket");
    let cookie = s.sign_in("/agent", AGENT_TOKEN).await;
    let before = s.store().ticket(id).unwrap().unwrap();
    // What a cross-site <form enctype="text/plain"> sends: a body that reads as JSON.
    let r = s
        .client
        .post(format!("{}/v1/tickets/{id}/reply", s.base))
        .header("cookie", &cookie)
        .header("content-type", "text/plain")
        .body(r#"{"text":"pwned","x":"="}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("application/json"));
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let r = s
            .client
            .post(format!("{}/v1/tickets/{id}/claim", s.base))
            .header("cookie", &cookie)
            .header("content-type", content_type)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    assert_eq!(
        s.store().ticket(id).unwrap().unwrap(),
        before,
        "nothing stored"
    );
    // The customer-facing API takes only JSON too.
    let r = s
        .client
        .post(format!("{}/v1/messages", s.base))
        .header("content-type", "text/plain")
        .body(r#"{"conversation":"c9","user":"u9","text":"hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The same reply as JSON from the page's own origin works.
    let r = s
        .client
        .post(format!("{}/v1/tickets/{id}/reply", s.base))
        .header("cookie", &cookie)
        .header("origin", &s.base)
        .json(&json!({"text": "On it."}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_cookie_request_from_a_foreign_origin_is_refused_403() {
    let s = Server::up(&[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN)]).await;
    let id = s.bridge_says("c1", REFUND).await.expect("a ticket");
    let cookie = s.sign_in("/agent", AGENT_TOKEN).await;
    let claim = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut req = s
            .client
            .post(format!("{}/v1/tickets/{id}/claim", s.base))
            .header("cookie", &cookie)
            .json(&json!({}));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(v) = site {
            req = req.header("sec-fetch-site", v);
        }
        req.send()
    };
    for (origin, site) in [
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (None, Some("cross-site")),
        (None, Some("same-site")),
    ] {
        let r = claim(origin, site).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
    }
    assert_eq!(
        s.store().ticket(id).unwrap().unwrap().claimed_by,
        None,
        "nothing claimed"
    );
    // The sign-in and sign-out forms refuse a foreign origin too.
    for path in ["/agent/login", "/agent/logout", "/review/login"] {
        let r = s
            .client
            .post(format!("{}{path}", s.base))
            .header("origin", "https://evil.example")
            .header("cookie", &cookie)
            .form(&[("token", AGENT_TOKEN)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.headers().get("set-cookie").is_none(), "{path}");
    }
    // The server's own origin (its Host) is fine.
    let own = format!("http://{}", s.host);
    let r = s
        .client
        .post(format!("{}/v1/tickets/{id}/claim", s.base))
        .header("cookie", &cookie)
        .header("origin", own)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_a_public_url_only_its_origin_counts_and_the_cookie_is_secure() {
    let s = Server::up(&[
        ("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN),
        (
            "PERSONABOT__HTTP__PUBLIC_URL",
            "https://support.example.com",
        ),
    ])
    .await;
    let r = s
        .client
        .post(format!("{}/agent/login", s.base))
        .form(&[("token", AGENT_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    for (origin, want) in [
        ("https://support.example.com", StatusCode::OK),
        (s.base.as_str(), StatusCode::FORBIDDEN),
    ] {
        let r = s
            .client
            .get(format!("{}/v1/tickets", s.base))
            .header("cookie", pair)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{origin}");
    }
}

#[tokio::test]
async fn six_wrong_tokens_from_one_address_and_the_sixth_is_429() {
    let s = Server::up(&[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN)]).await;
    for n in 1..=5 {
        let (status, _) = s
            .bearer(
                Method::GET,
                "/v1/tickets",
                &format!("wrong-token-number-{n}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "try {n}");
    }
    let r = s
        .client
        .get(format!("{}/v1/tickets", s.base))
        .bearer_auth("wrong-token-number-6")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("too many failed sign-ins"));
    // Even the right token waits now, and so does the form.
    let (status, _) = s
        .bearer(Method::GET, "/v1/tickets", AGENT_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let r = s
        .client
        .post(format!("{}/agent/login", s.base))
        .form(&[("token", AGENT_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    // Each failure is in the audit log, without the token tried.
    let log = s.store().audit_log(None).unwrap();
    let failures = log.iter().filter(|e| e.action == "sign_in_failed").count();
    assert_eq!(failures, 5, "{log:?}");
    assert!(!format!("{log:?}").contains("wrong-token"));
}

#[tokio::test]
async fn guessing_a_bridge_token_counts_as_failed_sign_ins() {
    let s = Server::up(&[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN)]).await;
    let message = |token: String| {
        let body = json!({"channel": support::served::BRIDGE, "conversation": "c-guess",
            "user": "u-guess", "text": "hello"});
        let request = s.client.post(format!("{}/v1/messages", s.base));
        async move { request.bearer_auth(token).json(&body).send().await.unwrap() }
    };
    for n in 1..=5 {
        let r = message(format!("wrong-bridge-token-number-{n}")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "try {n}");
    }
    // The sixth try, even with the right token, waits; so does the agent's own token.
    let r = message(support::served::BRIDGE_TOKEN.into()).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    let (status, _) = s
        .bearer(Method::GET, "/v1/tickets", AGENT_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let log = s.store().audit_log(None).unwrap();
    let failures: Vec<_> = log
        .iter()
        .filter(|e| e.action == "sign_in_failed")
        .collect();
    assert_eq!(failures.len(), 5, "{log:?}");
    assert_eq!(failures[0].target.as_deref(), Some("bridge:test"));
    assert_eq!(s.store().interaction_count(), 0, "nothing was stored");
}

#[tokio::test]
async fn sign_out_revokes_the_cookie_and_each_sign_in_gets_a_new_one() {
    let s = Server::up(&[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT_TOKEN)]).await;
    let first = s.sign_in("/agent", AGENT_TOKEN).await;
    let second = s.sign_in("/agent", AGENT_TOKEN).await;
    assert_ne!(first, second, "two sign-ins, two sessions");
    assert!(!first.contains(AGENT_TOKEN));
    assert_eq!(
        s.with_cookie(Method::GET, "/v1/tickets", &first).await,
        StatusCode::OK
    );
    let r = s
        .client
        .post(format!("{}/agent/logout", s.base))
        .header("cookie", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The old cookie value, replayed: refused at once. The other session lives on.
    assert_eq!(
        s.with_cookie(Method::GET, "/v1/tickets", &first).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.with_cookie(Method::GET, "/agent", &first).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.with_cookie(Method::GET, "/v1/tickets", &second).await,
        StatusCode::OK
    );
    let actions: Vec<String> = s
        .store()
        .audit_log(None)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.who, e.action))
        .collect();
    assert_eq!(
        actions,
        ["agent sign_in", "agent sign_in", "agent sign_out"]
    );
}

#[tokio::test]
async fn a_removed_or_rotated_account_is_refused_at_once() {
    let s = Server::up(&[]).await;
    let off = s
        .bearer(Method::GET, "/v1/tickets", "any-token-at-all-here", None)
        .await;
    assert_eq!(off.0, StatusCode::NOT_FOUND, "no token, no account: off");
    assert!(off.1["error"]
        .as_str()
        .unwrap()
        .contains("PERSONABOT__HTTP__AGENT_TOKEN"));

    let ann = s.account("ann", AccountRole::Agent, &[]);
    let (status, _) = s.bearer(Method::GET, "/v1/tickets", &ann, None).await;
    assert_eq!(status, StatusCode::OK, "an account turns the routes on");
    // Another account keeps them on once ann is gone.
    s.account("keeper", AccountRole::Owner, &[]);
    let cookie = s.sign_in("/agent", &ann).await;
    s.store().remove_account("ann").unwrap();
    let (status, _) = s.bearer(Method::GET, "/v1/tickets", &ann, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.with_cookie(Method::GET, "/v1/tickets", &cookie).await,
        StatusCode::UNAUTHORIZED
    );

    let bob = s.account("bob", AccountRole::Agent, &[]);
    let cookie = s.sign_in("/agent", &bob).await;
    let rotated = s.store().rotate_account("bob").unwrap().token;
    assert_eq!(
        s.bearer(Method::GET, "/v1/tickets", &bob, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.with_cookie(Method::GET, "/v1/tickets", &cookie).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.bearer(Method::GET, "/v1/tickets", &rotated, None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn roles_open_their_own_routes() {
    let s = Server::up(&[]).await;
    let agent = s.account("ann", AccountRole::Agent, &[]);
    let owner = s.account("olga", AccountRole::Owner, &[]);
    let admin = s.account("root", AccountRole::Admin, &[]);
    for (token, tickets, review) in [
        (&agent, StatusCode::OK, StatusCode::UNAUTHORIZED),
        (&owner, StatusCode::UNAUTHORIZED, StatusCode::OK),
        (&admin, StatusCode::OK, StatusCode::OK),
    ] {
        assert_eq!(
            s.bearer(Method::GET, "/v1/tickets", token, None).await.0,
            tickets
        );
        assert_eq!(
            s.bearer(Method::GET, "/v1/review", token, None).await.0,
            review
        );
    }
    let cookie = s.sign_in("/review", &owner).await;
    assert_eq!(
        s.with_cookie(Method::GET, "/review", &cookie).await,
        StatusCode::OK
    );
    assert_eq!(
        s.with_cookie(Method::GET, "/agent", &cookie).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_agent_of_billing_neither_sees_nor_works_a_security_ticket() {
    let s = Server::up(&[]).await;
    let billing = s.bridge_says("b1", REFUND).await.expect("a billing ticket");
    let security = s
        .bridge_says("s1", SECURITY)
        .await
        .expect("a security ticket");
    let teams = |id| s.store().ticket(id).unwrap().unwrap().team;
    assert_eq!(
        (teams(billing), teams(security)),
        ("billing".into(), "security".into())
    );
    let bea = s.account("bea", AccountRole::Agent, &["billing"]);
    let root = s.account("root", AccountRole::Admin, &["billing"]);

    let (_, list) = s.bearer(Method::GET, "/v1/tickets", &bea, None).await;
    let ids: Vec<u64> = list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [billing]);
    let (_, list) = s
        .bearer(Method::GET, "/v1/tickets?team=security", &bea, None)
        .await;
    assert_eq!(list["tickets"], json!([]));
    let (_, catalog) = s.bearer(Method::GET, "/v1/catalog", &bea, None).await;
    assert_eq!(catalog["teams"].as_array().unwrap().len(), 1);
    // The team's accounts, to assign its tickets to: bea and the admin (every team).
    assert_eq!(catalog["teams"][0]["agents"], json!(["bea", "root"]));

    let path = format!("/v1/tickets/{security}");
    assert_eq!(
        s.bearer(Method::GET, &path, &bea, None).await.0,
        StatusCode::NOT_FOUND
    );
    for verb in ["claim", "resolve", "reply", "relabel"] {
        let body = json!({"text": "hello", "intent": "billing"});
        let (status, _) = s
            .bearer(Method::POST, &format!("{path}/{verb}"), &bea, Some(body))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{verb}");
    }
    let untouched = s.store().ticket(security).unwrap().unwrap();
    assert_eq!(untouched.claimed_by, None);
    assert!(untouched.relabels.is_empty());
    let (status, _) = s
        .bearer(
            Method::POST,
            "/v1/evidence/forget",
            &bea,
            Some(json!({"user": "u-s1"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "forget spans every team");
    // Their own team's ticket, and an admin on any.
    let (status, _) = s
        .bearer(
            Method::POST,
            &format!("/v1/tickets/{billing}/claim"),
            &bea,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.bearer(Method::GET, &path, &root, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_name_in_the_body_is_ignored_and_the_account_is_recorded() {
    let s = Server::up(&[]).await;
    let id = s.bridge_says("c1", REFUND).await.expect("a ticket");
    let ann = s.account("ann", AccountRole::Agent, &[]);
    let path = format!("/v1/tickets/{id}");
    let claim = json!({"agent": "the-ceo"});
    let (status, t) = s
        .bearer(Method::POST, &format!("{path}/claim"), &ann, Some(claim))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["claimed_by"], "ann");
    let reply = json!({"agent": "the-ceo", "text": "Refund on its way."});
    let (status, t) = s
        .bearer(Method::POST, &format!("{path}/reply"), &ann, Some(reply))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let last = t["transcript"].as_array().unwrap().last().unwrap().clone();
    assert!(last.to_string().contains("\"ann\""), "{last}");
    assert!(!t.to_string().contains("the-ceo"), "{t}");
    let relabel = json!({"agent": "the-ceo", "intent": "billing"});
    let (_, t) = s
        .bearer(
            Method::POST,
            &format!("{path}/relabel"),
            &ann,
            Some(relabel),
        )
        .await;
    assert_eq!(t["relabels"][0]["by"], "ann");
    let (_, t) = s
        .bearer(
            Method::POST,
            &format!("{path}/resolve"),
            &ann,
            Some(json!({})),
        )
        .await;
    assert_eq!(t["resolved_by"], "ann");

    // The ticket's history: every action, by the account.
    let (status, t) = s.bearer(Method::GET, &path, &ann, None).await;
    assert_eq!(status, StatusCode::OK);
    let history: Vec<(String, String)> = t["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["ticket"], id);
            assert!(e["at_ms"].as_u64().unwrap() > 0);
            (
                e["who"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = ["claim", "reply", "relabel", "resolve"].map(|a| ("ann".to_string(), a.to_string()));
    assert_eq!(history, want);
    assert!(
        !t["audit"].to_string().contains("Refund on its way"),
        "no customer text"
    );
}
