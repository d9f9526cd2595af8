//! The per-client-address rate limit, as a route layer: the endpoints anyone can call (chat
//! messages, feedback, conversation updates, classify, the sign-in forms) count each request
//! against its [`ClientAddr`]'s budget, whatever ids the body names; over it, 429 with
//! `Retry-After`.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::engine::address_limit::AddressVerdict;
use crate::engine::AppState;
use crate::http::client::ClientAddr;
use crate::http::ApiError;

/// The limited endpoints, by method and route template.
const LIMITED: &[(Method, &str)] = &[
    (Method::POST, "/v1/messages"),
    (Method::POST, "/v1/feedback"),
    (Method::GET, "/v1/conversations/{conversation}/updates"),
    (Method::POST, "/v1/classify"),
    (Method::POST, "/agent/login"),
    (Method::POST, "/review/login"),
];

/// The limited endpoint a request is for (its template, for the metrics), if any.
fn limited(method: &Method, template: &str) -> Option<&'static str> {
    LIMITED
        .iter()
        .find(|(m, t)| m == method && *t == template)
        .map(|(_, t)| *t)
}

/// The middleware: add with `Router::route_layer`, where the matched route is known.
pub(crate) async fn per_address(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = matched.and_then(|m| limited(request.method(), m.as_str()));
    let Some(endpoint) = endpoint else {
        return next.run(request).await;
    };
    // A declared chat bridge speaks for many customers from one address: it is trusted to its
    // role and not held to one visitor's budget (the per-user flood limit still applies).
    let bridge = crate::http::auth::bearer(request.headers())
        .is_some_and(|t| state.settings.bridge_with_token(t).is_some());
    if bridge {
        return next.run(request).await;
    }
    match state.admit_address(ip) {
        AddressVerdict::Allow => next.run(request).await,
        AddressVerdict::Refuse { retry_after_secs } => {
            state.metrics.refused(endpoint, 429);
            let limits = &state.settings.limits;
            let message = format!(
                "too many requests from your address: at most {} per {} seconds; \
                 try again in {retry_after_secs} s",
                limits.address_requests, limits.address_window_secs
            );
            ApiError {
                retry_after_secs: Some(retry_after_secs),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, message)
            }
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_endpoints_are_limited() {
        let table = [
            (Method::POST, "/v1/messages", true),
            (Method::POST, "/v1/feedback", true),
            (
                Method::GET,
                "/v1/conversations/{conversation}/updates",
                true,
            ),
            (Method::POST, "/v1/classify", true),
            (Method::POST, "/agent/login", true),
            (Method::POST, "/review/login", true),
            (Method::GET, "/agent/login", false),
            (Method::GET, "/", false),
            (Method::GET, "/healthz", false),
            (Method::GET, "/metrics", false),
            (Method::POST, "/slack/events", false),
            (Method::GET, "/v1/tickets", false),
        ];
        for (method, template, want) in table {
            assert_eq!(
                limited(&method, template).is_some(),
                want,
                "{method} {template}"
            );
        }
    }
}
