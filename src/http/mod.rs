//! What every HTTP route shares: JSON errors (one mapping from the library's errors to a
//! status), JSON bodies (only as `application/json`), and accounts, sessions and sign-in by
//! role (`auth`, `origin`); the agent desk (`agent`) and the persona owners' pages (`owner`);
//! the server under them (`server`: timeouts, connection cap), the client address (`client`),
//! the per-address limit (`limits`), security headers (`headers`) and the pages' scripts
//! (`assets`). The application itself is composed in [`crate::app`].

pub mod agent;
pub(crate) mod assets;
pub mod auth;
pub(crate) mod brand;
pub mod client;
pub mod desk_cluster;
pub mod events;
pub mod find;
pub(crate) mod headers;
pub(crate) mod limits;
pub mod origin;
pub mod owner;
pub mod server;

/// Header maps from name-value pairs, for the HTTP modules' table tests.
#[cfg(test)]
pub(crate) mod test_headers {
    use axum::http::{HeaderMap, HeaderName};

    /// Header names and values.
    pub type Pairs<'a> = &'a [(&'a str, &'a str)];

    pub fn headers(pairs: Pairs<'_>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("a header name"),
                v.parse().expect("a header value"),
            );
        }
        h
    }
}

pub use auth::{cookie, Principal, Role};
pub(crate) use auth::{AgentAuth, SignIn, SignInForm, AGENT_COOKIE, OWNER_COOKIE};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::engine::error::{ErrorKind, PipelineError};

/// An error answered as `{"error": "..."}` with a status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Sent as `Retry-After` (seconds) with a 429.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after_secs: None,
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
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        auth::add_retry_after(&mut response, self.retry_after_secs);
        response
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

/// A JSON body: 415 unless sent as `Content-Type: application/json` (so a cross-site form
/// cannot pass for one), 413 over the size limit, 400 naming the problem for anything malformed
/// (invalid UTF-8, syntax errors, missing or mistyped fields).
pub(crate) struct JsonBody<T>(pub T);

/// Whether a `Content-Type` value is `application/json` (parameters such as a charset allowed).
fn is_json(content_type: Option<&axum::http::HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON sent with Content-Type: application/json",
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_content_types_pass_for_json() {
        let table = [
            (Some("application/json"), true),
            (Some("application/json; charset=utf-8"), true),
            (Some("Application/JSON"), true),
            (Some("text/plain"), false),
            (Some("text/plain; application/json"), false),
            (Some("application/x-www-form-urlencoded"), false),
            (Some("multipart/form-data; boundary=x"), false),
            (Some("application/jsonp"), false),
            (None, false),
        ];
        for (value, want) in table {
            let header = value.map(|v| axum::http::HeaderValue::from_str(v).unwrap());
            assert_eq!(is_json(header.as_ref()), want, "{value:?}");
        }
    }
}
