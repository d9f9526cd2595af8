//! The HTTP application, composed: `/healthz`, `/metrics`, every channel's routes, the agent
//! desk and the owners' pages, with one body limit and JSON errors, over one [`AppState`]
//! (axum's `app()` factory: tests call it on a real listener like `serve` does).

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::engine::AppState;
use crate::http::ApiError;
use crate::store::TicketStatus;

/// Always 200 while the process serves: a rejected reload is `"status": "degraded"` with its
/// errors, since the previous catalog keeps answering.
async fn healthz(State(state): State<AppState>) -> Response {
    let catalog = state.pipeline.catalog();
    let reload = state.reload.get();
    Json(json!({
        "status": if reload.ok { "ok" } else { "degraded" },
        "uptime_secs": state.uptime().as_secs(),
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
        .merge(crate::http::agent::routes())
        .merge(crate::http::owner::routes())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(json_payload_too_large))
        .with_state(state)
}
