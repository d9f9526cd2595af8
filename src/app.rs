//! The HTTP application, composed: `/healthz`, `/metrics`, every channel's routes, the agent
//! desk and the owners' pages, with one body limit, a request timeout, the per-address limit,
//! security headers and JSON errors, over one [`AppState`] (axum's `app()` factory), and the
//! server that runs it ([`serve`]: tests call both on a real listener like `serve` does).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::engine::AppState;
use crate::http::ApiError;

pub use crate::http::server::serve;
use crate::store::TicketStatus;

/// Always 200 while the process serves: a rejected reload is `"status": "degraded"` with its
/// errors, since the previous catalog keeps answering.
async fn healthz(State(state): State<AppState>) -> Response {
    let catalog = state.pipeline.catalog();
    let reload = state.reload.get();
    let mut body = json!({
        "status": if reload.ok { "ok" } else { "degraded" },
        "uptime_secs": state.uptime().as_secs(),
        "catalog": {
            "personas": catalog.personas.len(),
            "intents": catalog.intents.len(),
            "generation": reload.generation,
            "loaded_ms": reload.loaded_ms,
        },
        "reload": reload,
    });
    if let Some(cluster) = state.cluster.get() {
        body["cluster"] = cluster.health();
    }
    Json(body).into_response()
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
    let settings = state.settings.clone();
    let overdue = state
        .blocking(move |p| -> Result<_, crate::store::StoreError> {
            let tickets = p.store().tickets(None, None)?;
            let (teams, now_ms) = (&settings.teams, p.clock_ms());
            Ok(crate::engine::targets::overdue_by_team(
                teams, &tickets, now_ms,
            ))
        })
        .await??;
    let commits = state.pipeline.store().commit_stats();
    let mut body = state.metrics.render(&open, commits, &state.reload.get());
    body.push_str(&crate::engine::targets::render_overdue(&overdue));
    if let Some(cluster) = state.cluster.get() {
        body.push_str(&cluster.metrics());
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

/// Routes that read the raw body (the Slack and Telegram webhooks, which must check a signature
/// or secret over the exact bytes) get axum's plain-text 413 over the body limit, and the
/// request timeout answers 408 with no body; every error of this server is `{"error": ...}`, so
/// those are rewritten here for all routes.
async fn json_errors(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let message = match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        StatusCode::REQUEST_TIMEOUT => "the request took too long",
        _ => return response,
    };
    match is_json {
        true => response,
        false => ApiError::new(response.status(), message).into_response(),
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    // Round-robin assignment follows the tickets the app's channels open.
    crate::engine::assign::spawn_round_robin(state.pipeline.clone(), &state.settings.teams);
    let http = &state.settings.http;
    let max_body = http.max_body_bytes;
    let timeout = Duration::from_secs(http.request_timeout_secs);
    // The chat page may be framed by the listed sites and by the widget's sites.
    let framers: Vec<String> = http
        .frame_ancestors
        .iter()
        .chain(&http.widget_origins)
        .cloned()
        .collect();
    let logo = crate::catalog::settings::brand_image_origin(&state.settings.brand.logo_url);
    let headers = Arc::new(crate::http::headers::SecurityHeaders::new(
        &framers,
        logo.as_slice(),
    ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::channels::routes())
        .merge(crate::http::agent::routes())
        .merge(crate::http::find::routes())
        .merge(crate::http::owner::routes())
        .merge(crate::http::events::routes())
        .merge(crate::http::assets::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::limits::per_address,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn_with_state(
            headers,
            crate::http::headers::security_headers,
        ))
        .with_state(state)
}
