//! What every HTTP route shares: JSON errors (one mapping from the library's errors to a
//! status), JSON bodies, bearer-token and cookie auth by role, and token sign-in; plus the
//! agent desk (`agent`) and the persona owners' pages (`owner`); the server under them
//! (`server`: timeouts, connection cap), the client address (`client`), the per-address limit
//! (`limits`), security headers (`headers`) and the pages' scripts (`assets`). The application
//! itself is composed in [`crate::app`].

pub mod agent;
pub(crate) mod assets;
pub mod client;
pub(crate) mod headers;
pub(crate) mod limits;
pub mod owner;
pub mod server;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::engine::error::{ErrorKind, PipelineError};
use crate::engine::AppState;

/// An error answered as `{"error": "..."}` with a status.
#[derive(Debug)]
pub(crate) struct ApiError {
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
    /// The one mapping of the engine's errors to HTTP: the caller's mistakes and conflicts
    /// with their reason, busy as 503, ours as 500 (logged, details never shown).
    fn from(e: PipelineError) -> Self {
        let status =
            StatusCode::from_u16(e.kind().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match e.kind() {
            ErrorKind::Internal => ApiError::internal(e.to_string()),
            _ => ApiError::new(status, e.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("task failed: {e}"))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        PipelineError::Store(e).into()
    }
}

/// A JSON body: 413 over the size limit, 400 naming the problem for anything malformed
/// (invalid UTF-8, syntax errors, missing or mistyped fields).
pub(crate) struct JsonBody<T>(pub T);

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
pub(crate) const AGENT_COOKIE: &str = "pb_agent";

/// The name of the cookie the persona owners' login (`/review`) sets.
pub(crate) const OWNER_COOKIE: &str = "pb_owner";

/// The login cookie's value for a token: a hash of it, so the cookie never holds the token.
pub fn session_value(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("personabot-agent-session\0{token}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a request presents: a bearer token, or the login cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Presented {
    Bearer(String),
    Cookie(String),
}

/// The credential a request presents: `Authorization: Bearer ...`, else the login cookie.
pub(crate) fn presented(headers: &HeaderMap) -> Option<Presented> {
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
pub(crate) fn authorize(state: &AppState, headers: &HeaderMap, role: Role) -> Result<(), ApiError> {
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
pub(crate) struct SignIn {
    pub role: Role,
    pub cookie: &'static str,
    pub home: &'static str,
}

/// The sign-in form's body.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct SignInForm {
    pub token: String,
}

impl SignIn {
    /// `POST` of the sign-in form: a valid token sets the session cookie (a hash of the token,
    /// HttpOnly, SameSite=Strict) and goes home; any other gets the form `page` again with 401.
    /// `Err` when the routes are off.
    pub(crate) fn sign_in(
        &self,
        state: &AppState,
        token: &str,
        page: &str,
    ) -> Result<Response, ApiError> {
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
    pub(crate) fn sign_out(&self) -> Response {
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
pub(crate) struct AgentAuth;

impl axum::extract::FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authorize(state, &parts.headers, Role::Agent).map(|()| AgentAuth)
    }
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

    #[test]
    fn constant_time_compare() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(same("", ""));
    }
}
