//! The web chat and the HTTP chat API. `POST /v1/messages` runs the full pipeline for web
//! visitors (who get a server-issued conversation and its visitor token) and for declared chat
//! bridges (see [`speaker`] for who may speak for whom); `POST /v1/feedback` records "helped" /
//! "talk to a human"; `POST /v1/classify` classifies without logging; `GET /` serves the
//! customer chat page (branded), `GET /v1/conversations/{id}` gives it back a visitor's
//! conversation (see [`restore`]), `GET /v1/conversations/{id}/updates` lets it pick up agent
//! replies, and `GET /widget.js` embeds it in other sites (see [`widget`]).

pub mod restore;
pub mod speaker;
pub mod widget;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::engine::output::{decision_json, turn_json};
use crate::engine::pipeline::{Inbound, Mode};
use crate::engine::AppState;
use crate::http::client::ClientAddr;
use crate::http::{ApiError, JsonBody};
use crate::store::Actor;
use speaker::{Claim, Credentials, Purpose, Speaker, VisitorKey, VISITOR_HEADER, WEB};

/// The channel name recorded for web chat conversations (the API's default channel).
pub const CHANNEL: &str = WEB;

/// Longest conversation, user or channel id accepted.
const MAX_ID: usize = 200;

const CHAT_PAGE: &str = include_str!("../../http/pages/chat.html");

/// The store secret visitor tokens are signed with.
const VISITOR_KEY: &str = "visitor-token-key";

/// `POST /v1/messages`. Web visitors send only `text` to start, then `conversation` with the
/// `X-Visitor-Token` header; bridges send `channel`, `conversation` and `user`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    #[serde(default)]
    pub conversation: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    pub text: String,
    #[serde(default)]
    pub channel: Option<String>,
}

/// `POST /v1/feedback`: `feedback` is "helped" or "talk to a human" (or `helped: bool`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub conversation: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub feedback: Option<String>,
    #[serde(default)]
    pub helped: Option<bool>,
    #[serde(default)]
    pub channel: Option<String>,
    /// The answer to "How did we do?" once a ticket is resolved: 1 to 5 ...
    #[serde(default)]
    pub rating: Option<i64>,
    /// ... and an optional comment.
    #[serde(default)]
    pub comment: Option<String>,
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

/// The conversation a request may speak for, once its credentials are checked.
struct Speaking {
    channel: String,
    conversation: String,
    user: String,
    /// The visitor token of a conversation this request started.
    issued: Option<String>,
}

/// The visitor-token key, read from the store once.
async fn visitor_key(state: &AppState) -> Result<VisitorKey, ApiError> {
    if let Some(key) = state.visitor_key.get() {
        return Ok(VisitorKey::new(*key));
    }
    let key = state.blocking(|p| p.store().secret(VISITOR_KEY)).await??;
    let _ = state.visitor_key.set(key);
    Ok(VisitorKey::new(key))
}

/// Checks who may read conversation `(channel, id)` (its visitor, or its bridge with
/// `?channel=`), as [`speaking`] does for [`Purpose::Read`].
async fn reading(
    state: &AppState,
    headers: &HeaderMap,
    addr: ClientAddr,
    (channel, conversation): (Option<&str>, &str),
    endpoint: &'static str,
) -> Result<Speaking, ApiError> {
    let claim = Claim {
        channel,
        conversation: Some(conversation),
        user: None,
    };
    speaking(state, headers, addr, claim, Purpose::Read, endpoint).await
}

/// Checks who may speak for `claim` (see [`speaker::decide`]); refusals are counted on
/// `endpoint` and nothing is stored.
async fn speaking(
    state: &AppState,
    headers: &HeaderMap,
    addr: ClientAddr,
    claim: Claim<'_>,
    purpose: Purpose,
    endpoint: &'static str,
) -> Result<Speaking, ApiError> {
    for (what, value) in [
        ("channel", claim.channel),
        ("conversation", claim.conversation),
        ("user", claim.user),
    ] {
        if let Some(value) = value {
            check_id(what, value)?;
        }
    }
    let bearer = crate::http::auth::bearer(headers);
    if bearer.is_some() {
        // A bridge's token is a credential: guessing it counts as a failed sign-in.
        crate::http::auth::bearer_gate(state, addr).inspect_err(|_| {
            state.metrics.refused(endpoint, 429);
        })?;
    }
    let visitor = headers.get(VISITOR_HEADER).and_then(|v| v.to_str().ok());
    let key = visitor_key(state).await?;
    let decided = speaker::decide(
        claim,
        Credentials { bearer, visitor },
        purpose,
        &state.settings.bridges,
        |conversation, token| key.verify(conversation, token),
    );
    match decided {
        Ok(Speaker::NewVisitor) => {
            let (conversation, user) = speaker::new_conversation()
                .map_err(|e| ApiError::internal(format!("no random bytes: {e}")))?;
            Ok(Speaking {
                channel: WEB.into(),
                issued: Some(key.token(&conversation)),
                conversation,
                user,
            })
        }
        Ok(Speaker::Visitor { conversation }) => Ok(Speaking {
            channel: WEB.into(),
            user: speaker::visitor_of(&conversation),
            conversation,
            issued: None,
        }),
        Ok(Speaker::Bridge {
            channel,
            conversation,
            user,
        }) => Ok(Speaking {
            channel,
            conversation,
            user,
            issued: None,
        }),
        Err(refusal) => {
            // A wrong token counts; a missing one guesses nothing.
            if let (speaker::Refusal::BridgeToken(bridge), Some(_)) = (&refusal, bearer) {
                crate::http::auth::bearer_failed(state, addr, format!("bridge:{bridge}")).await;
            }
            let status = refusal.status();
            state.metrics.refused(endpoint, status);
            Err(ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
                refusal.to_string(),
            ))
        }
    }
}

/// A turn's JSON; a web conversation's also names the conversation, and the one that started
/// it carries its `visitor_token`.
fn answer(outcome: &crate::engine::pipeline::Outcome, speaking: &Speaking) -> Response {
    let turn = turn_json(outcome);
    if speaking.channel != WEB {
        return Json(turn).into_response();
    }
    let mut value = serde_json::to_value(turn).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("conversation".into(), json!(speaking.conversation));
        if let Some(token) = &speaking.issued {
            map.insert("visitor_token".into(), json!(token));
        }
    }
    Json(value).into_response()
}

async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    addr: ClientAddr,
    JsonBody(req): JsonBody<MessageRequest>,
) -> Result<Response, ApiError> {
    let claim = Claim {
        channel: req.channel.as_deref(),
        conversation: req.conversation.as_deref(),
        user: req.user.as_deref(),
    };
    let speaking = speaking(&state, &headers, addr, claim, Purpose::Send, "/v1/messages").await?;
    let speaking = restore::continued(&state, speaking).await?;
    if !state.allow(&speaking.channel, &speaking.user) {
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
        channel: speaking.channel.clone(),
        conversation: speaking.conversation.clone(),
        user: speaking.user.clone(),
        text: req.text,
    };
    let outcome = state.handle(inbound, Mode::Route).await?;
    Ok(answer(&outcome, &speaking))
}

async fn feedback(
    State(state): State<AppState>,
    headers: HeaderMap,
    addr: ClientAddr,
    JsonBody(req): JsonBody<FeedbackRequest>,
) -> Result<Response, ApiError> {
    let claim = Claim {
        channel: req.channel.as_deref(),
        conversation: Some(&req.conversation),
        user: req.user.as_deref(),
    };
    let speaking = speaking(&state, &headers, addr, claim, Purpose::Act, "/v1/feedback").await?;
    if let Some(rating) = req.rating {
        if req.feedback.is_some() || req.helped.is_some() {
            return Err(ApiError::bad_request(
                "give either `rating` (and `comment`) or `feedback`, not both",
            ));
        }
        let rating = crate::engine::csat::rating(rating)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let comment = crate::engine::csat::comment(req.comment.as_deref());
        let (channel, conversation, user) = (
            speaking.channel.clone(),
            speaking.conversation.clone(),
            speaking.user.clone(),
        );
        let ticket = state
            .blocking(move |p| {
                crate::engine::csat::rate(p, &channel, &conversation, &user, rating, comment)
            })
            .await??;
        return Ok(Json(json!({"ticket": ticket.id, "csat": ticket.csat})).into_response());
    }
    if req.comment.is_some() {
        return Err(ApiError::bad_request("a `comment` goes with a `rating`"));
    }
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
    let (channel, conversation, user) = (
        speaking.channel.clone(),
        speaking.conversation.clone(),
        speaking.user.clone(),
    );
    let outcome = state
        .blocking(move |p| p.feedback(&channel, &conversation, &user, helped))
        .await??;
    Ok(answer(&outcome, &speaking))
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
    /// More ticket ids the page knows of (comma-separated); only this conversation's count.
    #[serde(default)]
    tickets: Option<String>,
}

/// The ids of `tickets=1,2,3` (at most 20; anything else ignored).
fn ticket_ids(list: Option<&str>) -> Vec<u64> {
    list.unwrap_or_default()
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .take(20)
        .collect()
}

/// Agent replies (and the tickets' states) for a conversation, for the web chat to poll:
/// `ticket` is the open ticket, else the last one (as before several tickets could be open);
/// `tickets` every ticket the conversation's state or `?tickets=` names, `lines` their agent
/// lines after `after`, each with its `ticket`.
async fn updates(
    State(state): State<AppState>,
    headers: HeaderMap,
    addr: ClientAddr,
    Path(conversation): Path<String>,
    Query(q): Query<UpdatesQuery>,
) -> Result<Response, ApiError> {
    let speaking = reading(
        &state,
        &headers,
        addr,
        (q.channel.as_deref(), &conversation),
        "/v1/conversations/updates",
    )
    .await?;
    let (channel, conversation) = (speaking.channel, speaking.conversation);
    let known = ticket_ids(q.tickets.as_deref());
    let result = state
        .blocking(
            move |p| -> Result<serde_json::Value, crate::store::StoreError> {
                let st = p.store().conversation(&channel, &conversation)?;
                let primary = st.open_ticket.as_ref().map(|o| o.id).or(st.last_ticket);
                let (stored_channel, stored_conversation) =
                    p.store().stored_ids(&channel, &conversation);
                // Every open ticket (a conversation may have one per team), the last one, and
                // the ones the page already shows.
                let open = st.open_tickets().map(|o| o.id);
                let mut ids: Vec<u64> = primary.into_iter().chain(open).chain(known).collect();
                ids.sort_unstable();
                ids.dedup();
                let mut tickets = Vec::new();
                for id in ids {
                    if let Some(t) = p.store().ticket(id)? {
                        if t.channel == stored_channel && t.conversation == stored_conversation {
                            tickets.push(t);
                        }
                    }
                }
                let catalog = p.catalog();
                let mut lines: Vec<serde_json::Value> = Vec::new();
                for t in &tickets {
                    for l in t.transcript.iter().filter(|l| l.at_ms > q.after) {
                        if let Actor::Agent(name) = &l.from {
                            lines.push(json!({ "at_ms": l.at_ms, "agent": name, "text": l.text,
                                               "ticket": t.id,
                                               "team_name": catalog.team_name(&t.team) }));
                        }
                    }
                }
                lines.sort_by_key(|l| l["at_ms"].as_u64().unwrap_or(0));
                let ticket = tickets
                    .iter()
                    .find(|t| Some(t.id) == primary)
                    .map(|t| restore::ticket_json(&catalog, t));
                Ok(json!({
                    "lines": lines,
                    "ticket": ticket,
                    "tickets": tickets.iter().map(|t| restore::ticket_json(&catalog, t))
                        .collect::<Vec<_>>(),
                }))
            },
        )
        .await??;
    Ok(Json(result).into_response())
}

async fn chat_page(State(state): State<AppState>) -> Html<String> {
    Html(crate::http::brand::render(CHAT_PAGE, &state.settings.brand))
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
        .route(
            "/v1/conversations/{conversation}",
            get(restore::conversation),
        )
        .route("/widget.js", get(widget::widget))
}
