//! The HTTP application on a loopback port over a fresh store in a temp dir, served the way
//! `personabot serve` serves it (`app::serve`: timeouts, connection cap, client addresses).
//! Every served test declares the chat bridge `test`, which posts customers' messages with its
//! own conversation and user ids.

use std::collections::HashMap;
use std::sync::Arc;

use personabot::app;
use personabot::catalog::settings::Settings;
use personabot::engine::AppState;
use personabot::store::{now_ms, Account, AccountRole, Store};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The chat bridge every served test declares.
pub const BRIDGE: &str = "test";
pub const BRIDGE_TOKEN: &str = "served-test-bridge-token-0123";

/// Signs in with the form at `page` (`/agent` or `/review`) of the server at `base`, with a
/// client that does not follow redirects: asserts the redirect home and returns the session
/// cookie's `Set-Cookie` header.
pub async fn sign_in(client: &reqwest::Client, base: &str, page: &str, token: &str) -> String {
    let r = client
        .post(format!("{base}{page}/login"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("sign-in answers");
    assert_eq!(
        r.status(),
        reqwest::StatusCode::SEE_OTHER,
        "sign-in at {page}"
    );
    r.headers()["set-cookie"]
        .to_str()
        .expect("a text header")
        .to_string()
}

/// A running server; it stops when the test's runtime ends.
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// A client that ignores proxies and does not follow redirects.
    pub client: reqwest::Client,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Serves the shipped catalog with the built-in settings plus `env`, on a store whose user
    /// ids are hashed with `hash_key`.
    pub async fn start(env: &[(&str, &str)], hash_key: &str) -> Served {
        let mut env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.entry("PERSONABOT__BRIDGES__TEST__TOKEN".into())
            .or_insert_with(|| BRIDGE_TOKEN.into());
        let settings = Settings::load_with_env(None, Some(env)).expect("settings");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Some(hash_key)).expect("store");
        let pipeline = Arc::new(super::pipeline_on(store));
        let http = settings.http.clone();
        let state = AppState::new(pipeline, Arc::new(settings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let host = listener.local_addr().expect("address").to_string();
        let router = app::app(state.clone());
        tokio::spawn(
            async move { app::serve(listener, router, &http, std::future::pending()).await },
        );
        Served {
            base: format!("http://{host}"),
            host,
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            state,
            _dir: dir,
        }
    }
}

/// What several served tests do: accounts, customer messages through the test bridge, and
/// calls with a bearer token.
impl Served {
    pub fn store(&self) -> &Store {
        self.state.pipeline.store()
    }

    /// Creates an account straight in the store; returns its token.
    pub fn account(&self, name: &str, role: AccountRole, teams: &[&str]) -> String {
        let account = Account {
            name: name.into(),
            role,
            teams: teams.iter().map(|t| t.to_string()).collect(),
            created_ms: now_ms(),
        };
        self.store().add_account(&account).unwrap().token
    }

    /// A customer message through the test chat bridge (user `u-<conversation>`); returns the
    /// ticket it opened or shows, if any.
    pub async fn bridge_says(&self, conversation: &str, text: &str) -> Option<u64> {
        let r = self
            .client
            .post(format!("{}/v1/messages", self.base))
            .bearer_auth(BRIDGE_TOKEN)
            .json(&json!({"channel": BRIDGE, "conversation": conversation,
                          "user": format!("u-{conversation}"), "text": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["ticket"]["id"].as_u64()
    }

    /// `method path` with `Authorization: Bearer token` and an optional JSON body; the status
    /// and the JSON answer (`null` when it is not JSON).
    pub async fn bearer(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// [`Served::bearer`] that must answer 200; its JSON answer.
    pub async fn bearer_ok(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, answer) = self.bearer(method, path, token, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    }
}
