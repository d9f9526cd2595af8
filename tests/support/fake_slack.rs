//! A fake Slack Web API on 127.0.0.1 for the Slack channel's tests: it records every call
//! (`chat.postMessage`, `chat.update`, `chat.postEphemeral`, and posts to `response_url`s) and
//! answers like Slack: `{"ok":true,...}`, `{"ok":false,"error":"invalid_auth"}` without the
//! bot token, and, when told to, a 5xx, a 429 with `Retry-After`, or an `ok:false` error.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The bot token the fake accepts.
pub const TOKEN: &str = "xoxb-fake-slack-token";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `chat.postMessage`, ..., or `response/<id>` for a response_url.
    pub method: String,
    pub authorization: Option<String>,
    /// The raw body, as text (to search for anything that must not be sent).
    pub raw: String,
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
    pub at: Instant,
}

impl Call {
    /// The message text, also for a response_url update.
    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }

    /// The labels of the buttons in the message's actions blocks.
    pub fn button_labels(&self) -> Vec<String> {
        self.buttons()
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn buttons(&self) -> Vec<Value> {
        self.body["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

/// A failure the fake answers the next `chat.postMessage` with.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// This HTTP status, no JSON.
    Status(u16),
    /// 429 with `Retry-After: <secs>`.
    RateLimited(u64),
    /// 200 with `{"ok":false,"error":...}`.
    NotOk(&'static str),
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    failures: Mutex<VecDeque<Failure>>,
    delay: Mutex<Duration>,
    next_ts: AtomicU64,
}

pub struct FakeSlack {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/api/{method}", post(api))
            .route("/response/{id}", post(response_url))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Slack");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Slack serves");
        });
        FakeSlack { addr, inner, task }
    }

    /// What `slack.api_base` is set to.
    pub fn api_base(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// A response_url for an interaction payload.
    pub fn response_url(&self, id: &str) -> String {
        format!("http://{}/response/{id}", self.addr)
    }

    /// The next `chat.postMessage` calls fail as given, in order.
    pub fn fail_next(&self, failure: Failure) {
        self.inner.failures.lock().unwrap().push_back(failure);
    }

    /// `chat.postMessage` answers after this long.
    pub fn set_delay(&self, delay: Duration) {
        *self.inner.delay.lock().unwrap() = delay;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn mark(&self) -> usize {
        self.inner.calls.lock().unwrap().len()
    }

    /// Calls since `since` that match.
    pub fn matching(&self, since: usize, pred: impl Fn(&Call) -> bool) -> Vec<Call> {
        self.calls()[since..]
            .iter()
            .filter(|c| pred(c))
            .cloned()
            .collect()
    }

    /// The first call since `since` that matches, waiting up to `timeout`.
    pub async fn wait_call(
        &self,
        since: usize,
        timeout: Duration,
        pred: impl Fn(&Call) -> bool,
    ) -> Call {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.matching(since, &pred).into_iter().next() {
                return c;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self.calls()[since..]
                    .iter()
                    .map(|c| format!("{} {} {}", c.status, c.method, c.raw))
                    .collect();
                panic!("no matching call to the fake Slack within {timeout:?}; saw {seen:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn record(inner: &Inner, method: String, headers: &HeaderMap, raw: &Bytes, status: u16) {
    let raw = String::from_utf8_lossy(raw).into_owned();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    inner.calls.lock().unwrap().push(Call {
        method,
        authorization,
        raw,
        body,
        status,
        at: Instant::now(),
    });
}

async fn api(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    if !authorized {
        record(&inner, method, &headers, &raw, 200);
        return Json(json!({ "ok": false, "error": "invalid_auth" })).into_response();
    }
    if method == "chat.postMessage" {
        let delay = *inner.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let failure = inner.failures.lock().unwrap().pop_front();
        match failure {
            Some(Failure::Status(status)) => {
                record(&inner, method, &headers, &raw, status);
                return (StatusCode::from_u16(status).unwrap(), "upstream went away")
                    .into_response();
            }
            Some(Failure::RateLimited(secs)) => {
                record(&inner, method, &headers, &raw, 429);
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, secs.to_string())],
                    Json(json!({ "ok": false, "error": "ratelimited" })),
                )
                    .into_response();
            }
            Some(Failure::NotOk(error)) => {
                record(&inner, method, &headers, &raw, 200);
                return Json(json!({ "ok": false, "error": error })).into_response();
            }
            None => {}
        }
        let n = inner.next_ts.fetch_add(1, Ordering::SeqCst) + 1;
        let ts = format!("1800000000.{n:06}");
        record(&inner, method, &headers, &raw, 200);
        return Json(json!({
            "ok": true,
            "channel": body["channel"],
            "ts": ts,
            "message": { "type": "message", "text": body["text"], "ts": ts,
                         "thread_ts": body["thread_ts"], "bot_id": "BFAKE", "blocks": body["blocks"] },
        }))
        .into_response();
    }
    record(&inner, method.clone(), &headers, &raw, 200);
    match method.as_str() {
        "chat.update" => Json(json!({ "ok": true, "channel": body["channel"], "ts": body["ts"] }))
            .into_response(),
        "chat.postEphemeral" => {
            Json(json!({ "ok": true, "message_ts": "1800000000.999999" })).into_response()
        }
        "views.open" => {
            let mut view = body["view"].clone();
            view["id"] = json!("V0FAKE");
            Json(json!({ "ok": true, "view": view })).into_response()
        }
        _ => Json(json!({ "ok": false, "error": "unknown_method" })).into_response(),
    }
}

async fn response_url(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    record(&inner, format!("response/{id}"), &headers, &raw, 200);
    Json(json!({ "ok": true })).into_response()
}

/// `v0=` + hex HMAC-SHA256 of `v0:{ts}:{body}` with `secret`: a request signed as Slack signs
/// its webhooks (written here from Slack's documentation, not with the code under test).
pub fn sign(secret: &str, ts: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v0={hex}")
}
