//! The generic HTTP chat channel and the web chat page: `POST /v1/messages` runs the full
//! pipeline for any chat bridge, `POST /v1/feedback` records "helped" / "talk to a human",
//! `POST /v1/classify` classifies without logging, `GET /`
//! serves the customer chat page, and `GET /v1/conversations/{id}/updates` lets it pick up agent
//! replies.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::engine::output::{decision_json, turn_json};
use crate::engine::pipeline::{Inbound, Mode};
use crate::engine::AppState;
use crate::http::{ApiError, JsonBody};
use crate::store::Actor;

/// The channel name recorded for messages without their own `channel`.
pub const CHANNEL: &str = "http";

/// Longest conversation, user or channel id accepted.
const MAX_ID: usize = 200;

const CHAT_PAGE: &str = include_str!("../http/pages/chat.html");

/// `POST /v1/messages`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub conversation: String,
    pub user: String,
    pub text: String,
    #[serde(default)]
    pub channel: Option<String>,
}

/// `POST /v1/feedback`: `feedback` is "helped" or "talk to a human" (or `helped: bool`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub conversation: String,
    pub user: String,
    #[serde(default)]
    pub feedback: Option<String>,
    #[serde(default)]
    pub helped: Option<bool>,
    #[serde(default)]
    pub channel: Option<String>,
}

fn check_id(what: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_request(format!("`{what}` must not be empty")));
    }
    if value.chars().count() > MAX_ID || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "`{what}` must be at most {MAX_ID} characters, without control characters"
        )));
    }
    Ok(())
}

fn channel_of(requested: &Option<String>) -> Result<String, ApiError> {
    let channel = requested.clone().unwrap_or_else(|| CHANNEL.to_string());
    check_id("channel", &channel)?;
    Ok(channel)
}

async fn messages(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<MessageRequest>,
) -> Result<Response, ApiError> {
    check_id("conversation", &req.conversation)?;
    check_id("user", &req.user)?;
    let channel = channel_of(&req.channel)?;
    if !state.allow(&channel, &req.user) {
        state.metrics.refused("/v1/messages", 429);
        let limits = &state.settings.limits;
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, limits.flood_window_secs.to_string())],
            Json(json!({ "error": format!(
                "too many messages: at most {} per {} seconds per user",
                limits.flood_messages, limits.flood_window_secs
            ) })),
        )
            .into_response());
    }
    let inbound = Inbound {
        channel,
        conversation: req.conversation,
        user: req.user,
        text: req.text,
    };
    let outcome = state.handle(inbound, Mode::Route).await?;
    Ok(Json(turn_json(&outcome)).into_response())
}

async fn feedback(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<FeedbackRequest>,
) -> Result<Response, ApiError> {
    check_id("conversation", &req.conversation)?;
    check_id("user", &req.user)?;
    let channel = channel_of(&req.channel)?;
    let helped = match (
        req.feedback
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        req.helped,
    ) {
        (Some("helped" | "that helped"), None) | (None, Some(true)) => true,
        (Some("talk to a human" | "human" | "not helped"), None) | (None, Some(false)) => false,
        _ => {
            return Err(ApiError::bad_request(
                "give `feedback`: \"helped\" or \"talk to a human\" (or `helped`: true/false)",
            ))
        }
    };
    let (conversation, user) = (req.conversation, req.user);
    let outcome = state
        .blocking(move |p| p.feedback(&channel, &conversation, &user, helped))
        .await??;
    Ok(Json(turn_json(&outcome)).into_response())
}

/// `POST /v1/classify`: classify without logging (a fresh conversation, nothing stored).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    pub text: String,
}

async fn classify(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ClassifyRequest>,
) -> Result<Response, ApiError> {
    let p = &state.pipeline;
    let (text, _) = crate::engine::pipeline::truncate_chars(
        req.text.trim(),
        state.settings.limits.max_message_chars,
    );
    let (decision, classification) = p.classify_only(text);
    Ok(Json(decision_json(&p.catalog(), &decision, &classification)).into_response())
}

#[derive(Debug, Deserialize)]
struct UpdatesQuery {
    /// Only lines after this time (ms since the epoch).
    #[serde(default)]
    after: u64,
    #[serde(default)]
    channel: Option<String>,
}

/// Agent replies (and the ticket's state) for a conversation, for the web chat to poll.
async fn updates(
    State(state): State<AppState>,
    Path(conversation): Path<String>,
    Query(q): Query<UpdatesQuery>,
) -> Result<Response, ApiError> {
    check_id("conversation", &conversation)?;
    let channel = channel_of(&q.channel)?;
    let result = state
        .blocking(
            move |p| -> Result<serde_json::Value, crate::store::StoreError> {
                let st = p.store().conversation(&channel, &conversation)?;
                // The open ticket, else the last ticket of this conversation.
                let ticket = match st.open_ticket.as_ref().map(|o| o.id).or(st.last_ticket) {
                    Some(id) => p.store().ticket(id)?,
                    None => None,
                };
                let Some(t) = ticket else {
                    return Ok(json!({ "lines": [], "ticket": null }));
                };
                let lines: Vec<serde_json::Value> = t
                    .transcript
                    .iter()
                    .filter(|l| l.at_ms > q.after)
                    .filter_map(|l| match &l.from {
                        Actor::Agent(name) => {
                            Some(json!({ "at_ms": l.at_ms, "agent": name, "text": l.text }))
                        }
                        _ => None,
                    })
                    .collect();
                Ok(json!({
                    "lines": lines,
                    "ticket": { "id": t.id, "team": t.team, "status": t.status.as_str(),
                                "team_name": p.catalog().team_name(&t.team) },
                }))
            },
        )
        .await??;
    Ok(Json(result).into_response())
}

async fn chat_page() -> Html<&'static str> {
    Html(CHAT_PAGE)
}

/// The web chat page and the generic HTTP chat API (chat bridges post here).
pub(crate) struct WebChannel;

impl super::Channel for WebChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn routes(&self) -> Router<AppState> {
        routes()
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(chat_page))
        .route("/v1/messages", post(messages))
        .route("/v1/feedback", post(feedback))
        .route("/v1/classify", post(classify))
        .route("/v1/conversations/{conversation}/updates", get(updates))
}
