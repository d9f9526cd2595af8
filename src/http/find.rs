//! Finding things for agents: the queue's search (`GET /v1/tickets?q=...` with team, status,
//! persona, intent, agent, since and until), a ticket's customer `"history"`, and the teams'
//! saved replies (`GET /v1/replies?team=...&ticket=...`; sent with
//! `POST /v1/tickets/{id}/reply {"saved": ID}`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::core::saved_reply::{render, ReplyValues};
use crate::engine::AppState;
use crate::http::auth::Principal;
use crate::http::{AgentAuth, ApiError};
use crate::store::search::TicketQuery;
use crate::store::Ticket;

/// The search of `GET /v1/tickets` from its query pairs (other keys, such as `assigned`, are
/// left to the queue).
pub(crate) fn ticket_query(pairs: &[(String, String)]) -> Result<TicketQuery, ApiError> {
    TicketQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(ApiError::bad_request)
}

/// Adds `"history"` (the customer's earlier tickets and conversations, newest first) to a
/// ticket's JSON; tickets of teams `who` does not see are left out, as they are everywhere.
pub(crate) async fn add_history(
    state: &AppState,
    who: &Principal,
    ticket: &Ticket,
    value: &mut Value,
) -> Result<(), ApiError> {
    let ticket = ticket.clone();
    let mut history = state
        .blocking(move |p| p.store().customer_history(&ticket))
        .await??;
    history.retain(|e| e.team.as_deref().is_none_or(|t| who.sees_team(t)));
    if let Some(object) = value.as_object_mut() {
        object.insert("history".into(), json!(history));
    }
    Ok(())
}

/// The text of the saved reply `id` of the ticket's team, rendered for it as `agent`.
pub(crate) fn saved_reply_text(
    state: &AppState,
    ticket: &Ticket,
    id: &str,
    agent: &str,
) -> Result<String, ApiError> {
    let catalog = state.pipeline.catalog();
    let reply = catalog
        .replies
        .get(&ticket.team)
        .and_then(|list| list.iter().find(|r| r.id == id))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "no saved reply `{id}` for team `{}`: see GET /v1/replies?team={}",
                ticket.team, ticket.team
            ))
        })?;
    Ok(render(&reply.text, &values(&catalog, ticket, agent)))
}

fn values<'a>(
    catalog: &'a crate::catalog::Catalog,
    ticket: &'a Ticket,
    agent: &'a str,
) -> ReplyValues<'a> {
    ReplyValues {
        customer: None,
        ticket: ticket.id,
        agent,
        team: catalog.team_name(&ticket.team),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepliesQuery {
    #[serde(default)]
    team: Option<String>,
    /// Renders each reply for this ticket (`"rendered"`); its team is the default `team`.
    #[serde(default)]
    ticket: Option<u64>,
}

/// `GET /v1/replies`: the saved replies of the teams the agent works on (or of `team`), each
/// with `id`, `team`, `title` and `text`, plus `rendered` for `ticket`.
async fn replies(
    AgentAuth(who): AgentAuth,
    State(state): State<AppState>,
    Query(q): Query<RepliesQuery>,
) -> Result<Response, ApiError> {
    let not_found = |what: String| ApiError::new(StatusCode::NOT_FOUND, what);
    let ticket = match q.ticket {
        Some(id) => Some(
            state
                .blocking(move |p| p.store().ticket(id))
                .await??
                .filter(|t| who.sees_team(&t.team))
                .ok_or_else(|| not_found(format!("ticket {id} not found")))?,
        ),
        None => None,
    };
    let team = q
        .team
        .filter(|t| !t.is_empty())
        .or_else(|| ticket.as_ref().map(|t| t.team.clone()));
    let catalog = state.pipeline.catalog();
    if let Some(team) = &team {
        if !catalog.teams.contains_key(team) || !who.sees_team(team) {
            return Err(not_found(format!("team `{team}` not found")));
        }
    }
    let mut list = Vec::new();
    for (id, replies) in &catalog.replies {
        if team.as_ref().is_some_and(|t| t != id) || !who.sees_team(id) {
            continue;
        }
        for r in replies {
            let mut entry = json!({"id": r.id, "team": id, "title": r.title, "text": r.text});
            if let Some(t) = ticket.as_ref().filter(|t| &t.team == id) {
                entry["rendered"] = json!(render(&r.text, &values(&catalog, t, &who.name)));
            }
            list.push(entry);
        }
    }
    Ok(Json(json!({ "replies": list })).into_response())
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/replies", get(replies))
}
