//! The agent queue: `/agent` (a page, behind a login with the agent token) and the JSON API under
//! `/v1/tickets` (list by team and status, show with transcript and evidence, claim, reply to the
//! customer on the ticket's channel, resolve, relabel), plus `POST /v1/evidence/forget` (a
//! customer's right to be forgotten).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::engine::AppState;
use crate::http::{
    authorize, AgentAuth, ApiError, JsonBody, Role, SignIn, SignInForm, AGENT_COOKIE,
};
use crate::store::TicketStatus;

const AGENT_PAGE: &str = include_str!("pages/agent.html");
const LOGIN_PAGE: &str = include_str!("pages/login.html");

#[derive(Debug, Deserialize)]
struct ListQuery {
    team: Option<String>,
    status: Option<String>,
}

async fn list(
    _: AgentAuth,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(s) => Some(TicketStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown status `{s}`: use open, claimed, resolved or all"
            ))
        })?),
    };
    let team = q.team.filter(|t| !t.is_empty());
    let tickets = state
        .blocking(move |p| p.store().tickets(team.as_deref(), status))
        .await??;
    let catalog = state.pipeline.catalog();
    let list: Vec<_> = tickets
        .iter()
        .map(|t| crate::engine::output::ticket_summary(&catalog, t))
        .collect();
    Ok(Json(json!({ "tickets": list })).into_response())
}

/// Teams, intents and personas (ids and names), for the agent page's filters and relabel form.
async fn catalog(_: AgentAuth, State(state): State<AppState>) -> Response {
    let c = state.pipeline.catalog();
    Json(json!({
        "teams": c.teams.keys().map(|id| json!({"id": id, "name": c.team_name(id)})).collect::<Vec<_>>(),
        "intents": c.intents.iter().map(|i| json!({"id": i.id, "name": i.name})).collect::<Vec<_>>(),
        "personas": c.personas.iter().map(|p| json!({"id": p.id, "name": p.name})).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn show(
    _: AgentAuth,
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let ticket = state
        .blocking(move |p| p.store().ticket(id))
        .await??
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("ticket {id} not found")))?;
    Ok(Json(ticket).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentBody {
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    persona: Option<String>,
}

fn agent_name(body: &AgentBody) -> Result<String, ApiError> {
    let name = body.agent.clone().unwrap_or_else(|| "agent".into());
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("`agent` must be 1 to 100 characters"));
    }
    Ok(name.trim().to_string())
}

async fn action(
    _: AgentAuth,
    State(state): State<AppState>,
    Path((id, verb)): Path<(u64, String)>,
    JsonBody(body): JsonBody<AgentBody>,
) -> Result<Response, ApiError> {
    let agent = agent_name(&body)?;
    let ticket = match verb.as_str() {
        "claim" => state.blocking(move |p| p.claim(id, &agent)).await??,
        "resolve" => state.blocking(move |p| p.resolve(id, &agent)).await??,
        "relabel" => {
            let (intent, persona) = (body.intent.clone(), body.persona.clone());
            if intent.is_none() && persona.is_none() {
                return Err(ApiError::bad_request("give `intent`, `persona`, or both"));
            }
            state
                .blocking(move |p| p.relabel(id, intent.as_deref(), persona.as_deref(), &agent))
                .await??
        }
        "reply" => {
            let text = body.text.clone().unwrap_or_default();
            if text.trim().is_empty() {
                return Err(ApiError::bad_request("`text` must not be empty"));
            }
            state
                .blocking(move |p| p.agent_reply(id, &agent, &text))
                .await??
        }
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("unknown action `{other}`: use claim, reply, resolve or relabel"),
            ))
        }
    };
    Ok(Json(ticket).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgetBody {
    /// The customer's id on their channel, as the channel reported it.
    user: String,
}

/// Deletes every interaction, ticket and conversation state of a user (as `evidence forget`).
async fn forget(
    _: AgentAuth,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ForgetBody>,
) -> Result<Response, ApiError> {
    let user = body.user.trim().to_string();
    if user.is_empty() || user.chars().count() > 256 {
        return Err(ApiError::bad_request("`user` must be 1 to 256 characters"));
    }
    // Deleted, then compacted: the user's records leave the store's files, not only its
    // queries. Turns wait for the compaction (measured in the README).
    let (forgotten, compacted) = state
        .blocking(move |p| -> Result<_, crate::store::StoreError> {
            let forgotten = p.store().forget_user(&user)?;
            Ok((forgotten, p.store().compact()?))
        })
        .await??;
    tracing::info!(
        interactions = forgotten.interactions,
        tickets = forgotten.tickets,
        conversations = forgotten.conversations,
        records_kept = compacted.records,
        "a user's evidence was forgotten over the agent API"
    );
    Ok(Json(serde_json::json!({
        "interactions": forgotten.interactions,
        "tickets": forgotten.tickets,
        "conversations": forgotten.conversations,
        "compacted": compacted,
    }))
    .into_response())
}

async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match authorize(&state, &headers, Role::Agent) {
        Ok(()) => Html(AGENT_PAGE).into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            (StatusCode::UNAUTHORIZED, Html(LOGIN_PAGE)).into_response()
        }
        Err(e) => (
            e.status,
            Html(format!(
                "<!doctype html><title>personabot</title><p>{}</p>",
                e.message
            )),
        )
            .into_response(),
    }
}

const SIGN_IN: SignIn = SignIn {
    role: Role::Agent,
    cookie: AGENT_COOKIE,
    home: "/agent",
};

async fn login(State(state): State<AppState>, Form(form): Form<SignInForm>) -> Response {
    SIGN_IN
        .sign_in(&state, &form.token, LOGIN_PAGE)
        .unwrap_or_else(IntoResponse::into_response)
}

async fn logout() -> Response {
    SIGN_IN.sign_out()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent", get(page))
        .route("/agent/login", post(login))
        .route("/agent/logout", post(logout))
        .route("/v1/catalog", get(catalog))
        .route("/v1/tickets", get(list))
        .route("/v1/tickets/{id}", get(show))
        .route("/v1/tickets/{id}/{action}", post(action))
        .route("/v1/evidence/forget", post(forget))
}
