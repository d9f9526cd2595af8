//! The HTTP server: one axum [`Router`] built by [`app`] from the shared [`AppState`], holding
//! the generic chat API and web chat, the agent queue, the channel webhooks, `/metrics` and
//! `/healthz`. Request limits (body size, per-user rate), JSON errors and bearer-token auth live
//! here so every route gets the same behaviour.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::flood::{FloodGate, FloodVerdict};
use crate::metrics::Metrics;
use crate::pipeline::{Inbound, Mode, Outcome, Pipeline, PipelineError};
use crate::settings::Settings;
use crate::store::TicketStatus;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pipeline: Arc<Pipeline>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// The outcome of the last catalog reload (`serve` reloads on file changes and SIGHUP).
    pub reload: Arc<crate::reload::ReloadState>,
    /// Channel work running in the background (see [`Handlers`]).
    pub handlers: Arc<Handlers>,
    limiter: Arc<Mutex<FloodGate>>,
    /// Bounds the turns running at once: more threads than cores only contend on the store.
    turns: Arc<tokio::sync::Semaphore>,
    started: Instant,
}

/// Channel work still running after its request was answered (a webhook update handled after
/// its 200, a polled Telegram update, a Discord event): shutdown waits for it before flushing
/// the store, so a stored turn's reply is not cut off.
#[derive(Debug, Default)]
pub struct Handlers {
    running: std::sync::atomic::AtomicUsize,
}

/// One running handler; dropping it (the work finished, or its task was cancelled) counts it out.
#[derive(Debug)]
pub struct HandlerGuard(Arc<Handlers>);

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        self.0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Handlers {
    /// Counts one handler in until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> HandlerGuard {
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        HandlerGuard(self.clone())
    }

    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits until no handler runs, at most `bound`; returns how many still run.
    pub async fn wait_idle(&self, bound: Duration) -> usize {
        let deadline = Instant::now() + bound;
        while self.running() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.running()
    }
}

/// What to do with a customer's message under the flood limit ([`AppState::admit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Allow,
    /// Over the limit for the first time this window: send this notice, do not process.
    Notify(String),
    /// Over the limit again: drop quietly.
    Drop,
}

/// Turns running at once (each holds its conversation's lock while its write is committed).
const CONCURRENT_TURNS: usize = 64;

impl AppState {
    pub fn new(pipeline: Arc<Pipeline>, settings: Arc<Settings>) -> AppState {
        let limiter = FloodGate::new(
            settings.limits.flood_messages,
            Duration::from_secs(u64::from(settings.limits.flood_window_secs)),
        );
        AppState {
            pipeline,
            settings,
            metrics: Arc::new(Metrics::default()),
            reload: Arc::default(),
            handlers: Arc::default(),
            limiter: Arc::new(Mutex::new(limiter)),
            turns: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_TURNS)),
            started: Instant::now(),
        }
    }

    /// Counts a message from `channel`/`user` against the per-user rate limit.
    pub fn allow(&self, channel: &str, user: &str) -> bool {
        matches!(self.admit(channel, user), Admission::Allow)
    }

    /// Counts a message from `channel`/`user` against the per-user flood limit: the first message
    /// over it in a window gets the notice to send, the rest of the window is dropped.
    pub fn admit(&self, channel: &str, user: &str) -> Admission {
        let key = format!("{channel}\u{0}{user}");
        let mut gate = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        match gate.check(&key, Instant::now()) {
            FloodVerdict::Allow => Admission::Allow,
            FloodVerdict::Notify => Admission::Notify(gate.notice()),
            FloodVerdict::Drop => Admission::Drop,
        }
    }

    /// Runs a message through the pipeline, and counts it in the metrics.
    pub async fn handle(&self, inbound: Inbound, mode: Mode) -> Result<Outcome, PipelineError> {
        let started = Instant::now();
        let channel = inbound.channel.clone();
        let _permit = self
            .turns
            .acquire()
            .await
            .map_err(|_| PipelineError::Refused("the server is shutting down".into()))?;
        let outcome = self.pipeline.handle_async(&inbound, mode).await?;
        if outcome.interaction.is_some() {
            let d = &outcome.decision;
            self.metrics.message(
                &channel,
                d.kind.as_str(),
                d.persona.as_ref().map(|p| p.id.as_str()),
                d.intent.as_ref().map(|i| i.id.as_str()),
                started.elapsed(),
            );
        }
        Ok(outcome)
    }

    /// Runs blocking work (sled) off the async threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Pipeline) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let pipeline = self.pipeline.clone();
        tokio::task::spawn_blocking(move || f(&pipeline))
            .await
            .map_err(|e| ApiError::internal(format!("task failed: {e}")))
    }
}

/// An error answered as `{"error": "..."}` with a status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        tracing::error!(error = %message.into(), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Refused(m) => ApiError::new(StatusCode::CONFLICT, m),
            PipelineError::Store(crate::store::StoreError::NotFound { what, id }) => {
                ApiError::new(StatusCode::NOT_FOUND, format!("{what} {id} not found"))
            }
            PipelineError::Store(crate::store::StoreError::Refused(m)) => {
                ApiError::new(StatusCode::CONFLICT, m)
            }
            PipelineError::Store(inner) => ApiError::internal(inner.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        PipelineError::Store(e).into()
    }
}

/// A JSON body: 413 over the size limit, 400 naming the problem for anything malformed
/// (invalid UTF-8, syntax errors, missing or mistyped fields).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is too large".to_string()
            } else {
                rejection.body_text()
            };
            ApiError::new(status, message)
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
    }
}

/// Constant-time comparison, so a token cannot be guessed byte by byte from timings.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The name of the cookie the agent login sets.
pub const AGENT_COOKIE: &str = "pb_agent";

/// The name of the cookie the persona owners' login (`/review`) sets.
pub const OWNER_COOKIE: &str = "pb_owner";

/// The login cookie's value for a token: a hash of it, so the cookie never holds the token.
pub fn session_value(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("personabot-agent-session\0{token}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a request presents: a bearer token, or the login cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    Bearer(String),
    Cookie(String),
}

/// The credential a request presents: `Authorization: Bearer ...`, else the login cookie.
pub fn presented(headers: &HeaderMap) -> Option<Presented> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return value
            .strip_prefix("Bearer ")
            .map(|t| Presented::Bearer(t.trim().to_string()));
    }
    cookie(headers, AGENT_COOKIE).map(Presented::Cookie)
}

/// The value of the cookie `name`, if the request has it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
}

/// Which token guards a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    /// Persona owners; falls back to the agent token when no owner token is set.
    Owner,
}

/// Checks a request's token: `Ok(())`, 401 without a valid one, or 404 when the routes are off
/// because no token is configured.
pub fn authorize(state: &AppState, headers: &HeaderMap, role: Role) -> Result<(), ApiError> {
    let http = &state.settings.http;
    let expected = match role {
        Role::Agent => http.agent_token.as_deref(),
        Role::Owner => http.owner_token.as_deref().or(http.agent_token.as_deref()),
    }
    .filter(|t| !t.is_empty());
    let Some(expected) = expected else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            match role {
                Role::Agent => {
                    "the agent routes are off: set PERSONABOT__HTTP__AGENT_TOKEN to turn them on"
                }
                Role::Owner => {
                    "the review is off: set PERSONABOT__HTTP__OWNER_TOKEN (or the agent token) \
                     to turn it on"
                }
            },
        ));
    };
    let valid = match presented(headers) {
        Some(Presented::Bearer(token)) => same(&token, expected),
        // An owner may hold either login cookie: each is a hash of the token it was made from.
        _ => match role {
            Role::Agent => &[AGENT_COOKIE][..],
            Role::Owner => &[OWNER_COOKIE, AGENT_COOKIE][..],
        }
        .iter()
        .filter_map(|name| cookie(headers, name))
        .any(|value| same(&value, &session_value(expected))),
    };
    match valid {
        true => Ok(()),
        _ => {
            state.metrics.refused("auth", 401);
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                match role {
                    Role::Agent => {
                        "a valid agent token is required (Authorization: Bearer <token>)"
                    }
                    Role::Owner => {
                        "a valid owner token is required (Authorization: Bearer <token>); \
                         without an owner token set, the agent token"
                    }
                },
            ))
        }
    }
}

/// A token sign-in: the role it admits, the cookie it sets and the page it leads to.
#[derive(Debug, Clone, Copy)]
pub struct SignIn {
    pub role: Role,
    pub cookie: &'static str,
    pub home: &'static str,
}

/// The sign-in form's body.
#[derive(Debug, serde::Deserialize)]
pub struct SignInForm {
    pub token: String,
}

impl SignIn {
    /// `POST` of the sign-in form: a valid token sets the session cookie (a hash of the token,
    /// HttpOnly, SameSite=Strict) and goes home; any other gets the form `page` again with 401.
    /// `Err` when the routes are off.
    pub fn sign_in(&self, state: &AppState, token: &str, page: &str) -> Result<Response, ApiError> {
        let token = token.trim();
        let form_again = || {
            (
                StatusCode::UNAUTHORIZED,
                axum::response::Html(page.to_string()),
            )
        };
        let mut headers = HeaderMap::new();
        let Ok(bearer) = format!("Bearer {token}").parse() else {
            return Ok(form_again().into_response());
        };
        headers.insert(header::AUTHORIZATION, bearer);
        match authorize(state, &headers, self.role) {
            Ok(()) => {
                let cookie = format!(
                    "{}={}; HttpOnly; SameSite=Strict; Path=/",
                    self.cookie,
                    session_value(token)
                );
                Ok((
                    [(header::SET_COOKIE, cookie)],
                    axum::response::Redirect::to(self.home),
                )
                    .into_response())
            }
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(form_again().into_response()),
            Err(e) => Err(e),
        }
    }

    /// Clears the session cookie and goes home.
    pub fn sign_out(&self) -> Response {
        let cookie = format!(
            "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
            self.cookie
        );
        (
            [(header::SET_COOKIE, cookie)],
            axum::response::Redirect::to(self.home),
        )
            .into_response()
    }
}

/// An extractor that admits only requests with the agent token (or the login cookie). As a
/// request-parts extractor it runs before any body is read, so anonymous requests get 401 even
/// when their body is malformed.
pub struct AgentAuth;

impl axum::extract::FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authorize(state, &parts.headers, Role::Agent).map(|()| AgentAuth)
    }
}

/// Always 200 while the process serves: a rejected reload is `"status": "degraded"` with its
/// errors, since the previous catalog keeps answering.
async fn healthz(State(state): State<AppState>) -> Response {
    let catalog = state.pipeline.catalog();
    let reload = state.reload.get();
    Json(json!({
        "status": if reload.ok { "ok" } else { "degraded" },
        "uptime_secs": state.started.elapsed().as_secs(),
        "catalog": {
            "personas": catalog.personas.len(),
            "intents": catalog.intents.len(),
            "generation": reload.generation,
            "loaded_ms": reload.loaded_ms,
        },
        "reload": reload,
    }))
    .into_response()
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let open = state
        .blocking(
            |p| -> Result<BTreeMap<String, u64>, crate::store::StoreError> {
                let mut by_team = BTreeMap::new();
                for t in p.store().tickets(None, None)? {
                    if t.status != TicketStatus::Resolved {
                        *by_team.entry(t.team).or_insert(0) += 1;
                    }
                }
                Ok(by_team)
            },
        )
        .await??;
    let commits = state.pipeline.store().commit_stats();
    let body = state.metrics.render(&open, commits, &state.reload.get());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

/// Routes that read the raw body (the Slack and Telegram webhooks, which must check a signature
/// or secret over the exact bytes) get axum's plain-text 413 over the body limit; every error of
/// this server is `{"error": ...}`, so that one is rewritten here for all routes.
async fn json_payload_too_large(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        )
        .into_response();
    }
    response
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let max_body = state.settings.http.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::channels::routes())
        .merge(crate::agent::routes())
        .merge(crate::owner::routes())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(json_payload_too_large))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_bearer_or_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert(header::COOKIE, "a=1; pb_agent=abc123; b=2".parse().unwrap());
        assert_eq!(presented(&h), Some(Presented::Cookie("abc123".into())));
        h.insert(header::AUTHORIZATION, "Bearer tok".parse().unwrap());
        assert_eq!(presented(&h), Some(Presented::Bearer("tok".into())));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(presented(&h), None);
    }

    #[test]
    fn the_session_cookie_is_not_the_token() {
        let v = session_value("s3cret");
        assert_eq!(v.len(), 64);
        assert!(!v.contains("s3cret"));
        assert_eq!(v, session_value("s3cret"));
        assert_ne!(v, session_value("s3cret2"));
    }

    #[tokio::test]
    async fn handlers_are_counted_until_their_guards_drop() {
        let handlers = Arc::new(Handlers::default());
        let (a, b) = (handlers.enter(), handlers.enter());
        assert_eq!(handlers.running(), 2);
        drop(a);
        assert_eq!(handlers.wait_idle(Duration::from_millis(20)).await, 1);
        let waiter = tokio::spawn({
            let handlers = handlers.clone();
            async move { handlers.wait_idle(Duration::from_secs(10)).await }
        });
        drop(b);
        assert_eq!(waiter.await.unwrap(), 0);
    }

    #[test]
    fn constant_time_compare() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(same("", ""));
    }
}
