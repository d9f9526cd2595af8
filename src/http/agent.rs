//! The agent queue: `/agent` (a page, behind a login with the agent token) and the JSON API under
//! `/v1/tickets` (list by team and status, show with transcript, evidence and audit history,
//! claim, reply to the customer on the ticket's channel, resolve, relabel, assign to an agent of
//! the ticket's team, add an internal note the customer never sees; the queue filters
//! `?assigned=mine|unassigned|all`), plus
//! `POST /v1/evidence/forget` (a customer's right to be forgotten).
//!
//! Every action is taken as the signed-in account (a name in the body is ignored) and written to
//! the audit log. An agent with teams sees only those teams' tickets: another team's ticket is
//! "not found" (404) to them, as if it did not exist.
//!
//! In cluster mode the queue lists every node's tickets and another node's ticket is shown and
//! acted on through its node ([`crate::http::desk_cluster`]); [`show_ticket`] and [`act`] are
//! the one code both paths run.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::engine::AppState;
use crate::http::auth::{audit, authorize, Principal};
use crate::http::client::ClientAddr;
use crate::http::{AgentAuth, ApiError, JsonBody, Role, SignIn, SignInForm, AGENT_COOKIE};
use crate::store::{Assigned, Ticket};

use crate::http::brand::render;

const AGENT_PAGE: &str = include_str!("pages/agent.html");
const LOGIN_PAGE: &str = include_str!("pages/login.html");

async fn list(
    AgentAuth(who): AgentAuth,
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let query = crate::http::find::ticket_query(&pairs)?;
    let assigned = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "assigned")
        .map_or("", |(_, v)| v.as_str());
    let assigned = Assigned::parse(assigned)
        .ok_or_else(|| ApiError::bad_request("unknown `assigned`: use mine, unassigned or all"))?;
    let remote_query = query.clone();
    let local = state
        .blocking(move |p| p.store().search_tickets(&query))
        .await??;
    // In cluster mode, with every other node's tickets from the view (each named by its node).
    let tickets = crate::http::desk_cluster::queue(&state, local, &remote_query);
    let catalog = state.pipeline.catalog();
    let now_ms = state.pipeline.clock_ms();
    let list: Vec<_> = tickets
        .iter()
        .filter(|(t, _)| who.sees_team(&t.team) && assigned.keeps(t, &who.name))
        .map(|(t, node)| {
            let mut summary = json!(crate::engine::output::ticket_summary(&catalog, t));
            let due = crate::engine::targets::due(state.settings.teams.get(&t.team), t, now_ms);
            crate::engine::targets::add_due(&mut summary, due);
            if let (Some(node), Some(object)) = (node, summary.as_object_mut()) {
                object.insert("node".into(), json!(node));
            }
            summary
        })
        .collect();
    Ok(Json(json!({ "tickets": list })).into_response())
}

/// Teams (those the account works on, each with `"agents"`: the names of the accounts that work
/// on it, to assign to), intents and personas (ids and names), for the agent page's filters,
/// assign and relabel lists.
async fn catalog(
    AgentAuth(who): AgentAuth,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let accounts = state.blocking(|p| p.store().accounts()).await??;
    let c = state.pipeline.catalog();
    let teams: Vec<_> = c
        .teams
        .keys()
        .filter(|id| who.sees_team(id))
        .map(|id| json!({"id": id, "name": c.team_name(id), "agents": team_agents(&accounts, id)}))
        .collect();
    Ok(Json(json!({
        "teams": teams,
        "intents": c.intents.iter().map(|i| json!({"id": i.id, "name": i.name})).collect::<Vec<_>>(),
        "personas": c.personas.iter().map(|p| json!({"id": p.id, "name": p.name})).collect::<Vec<_>>(),
        "you": {"name": who.name, "role": who.role.as_str(), "teams": who.teams},
    }))
    .into_response())
}

/// The names of the accounts a ticket of `team` can be assigned to, sorted.
fn team_agents(accounts: &[crate::store::Account], team: &str) -> Vec<String> {
    let mut names: Vec<String> = accounts
        .iter()
        .filter(|a| crate::store::works_team(a, team))
        .map(|a| a.name.clone())
        .collect();
    names.sort();
    names
}

fn not_found(id: u64) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("ticket {id} not found"))
}

/// The ticket `id`, if `who` may see it (another team's ticket is not found, as a missing one).
async fn visible_ticket(state: &AppState, who: &Principal, id: u64) -> Result<Ticket, ApiError> {
    state
        .blocking(move |p| p.store().ticket(id))
        .await??
        .filter(|t| who.sees_team(&t.team))
        .ok_or_else(|| not_found(id))
}

/// The ticket with its audit history (`"audit": [...]`, oldest first); in cluster mode another
/// node's ticket is asked of that node.
async fn show(
    AgentAuth(who): AgentAuth,
    State(state): State<AppState>,
    addr: ClientAddr,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let forwarding = crate::http::desk_cluster::Forward {
        who: &who,
        id,
        action: None,
        body: serde_json::Value::Null,
        addr,
    };
    if let Some(answer) = forwarding.send(&state).await? {
        return Ok(answer);
    }
    Ok(Json(show_ticket(&state, &who, id).await?).into_response())
}

/// The ticket `id` as `who` may see it, with its audit history, due times and the customer's
/// history (what `GET /v1/tickets/{id}` answers, here or for another node).
pub(crate) async fn show_ticket(
    state: &AppState,
    who: &Principal,
    id: u64,
) -> Result<serde_json::Value, ApiError> {
    let ticket = visible_ticket(state, who, id).await?;
    let history = state
        .blocking(move |p| p.store().ticket_audit(id))
        .await??;
    let due = crate::engine::targets::due(
        state.settings.teams.get(&ticket.team),
        &ticket,
        state.pipeline.clock_ms(),
    );
    let mut value = serde_json::to_value(&ticket).map_err(|e| ApiError::internal(e.to_string()))?;
    crate::engine::targets::add_due(&mut value, due);
    if let Some(object) = value.as_object_mut() {
        object.insert("audit".into(), json!(history));
    }
    crate::http::find::add_history(state, who, &ticket, &mut value).await?;
    crate::http::desk_cluster::name_node(state, &mut value);
    Ok(value)
}

#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentBody {
    /// The account to assign the ticket to (`assign`). Other actions accept it so that older
    /// clients keep working, and ignore it: actions are taken as the signed-in account.
    #[serde(default)]
    agent: Option<serde_json::Value>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    persona: Option<String>,
    /// `reply` with a saved reply of the ticket's team (by id) instead of `text`.
    #[serde(default)]
    saved: Option<String>,
}

/// Refuses a verb that is not an action (404, as an unknown route).
pub(crate) fn known_action(verb: &str) -> Result<(), ApiError> {
    if matches!(
        verb,
        "claim" | "resolve" | "relabel" | "reply" | "assign" | "note"
    ) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("unknown action `{verb}`: use claim, reply, resolve, relabel, assign or note"),
    ))
}

async fn action(
    AgentAuth(who): AgentAuth,
    State(state): State<AppState>,
    addr: ClientAddr,
    Path((id, verb)): Path<(u64, String)>,
    JsonBody(body): JsonBody<AgentBody>,
) -> Result<Response, ApiError> {
    known_action(&verb)?;
    let forwarding = crate::http::desk_cluster::Forward {
        who: &who,
        id,
        action: Some(&verb),
        body: serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?,
        addr,
    };
    if let Some(answer) = forwarding.send(&state).await? {
        return Ok(answer);
    }
    let mut value = act(&state, who, id, verb, body, Some(addr), "http".into()).await?;
    crate::http::desk_cluster::name_node(&state, &mut value);
    Ok(Json(value).into_response())
}

/// Runs action `verb` (see [`known_action`]) on ticket `id` as `who`: the team check, the
/// change (a reply goes out on the ticket's channel), the audit entry; returns the ticket as
/// stored. What `POST /v1/tickets/{id}/{action}` does, here (`via` `http`) or for another node
/// (`via` `cluster:<node>`).
pub(crate) async fn act(
    state: &AppState,
    who: Principal,
    id: u64,
    verb: String,
    body: AgentBody,
    addr: Option<ClientAddr>,
    via: String,
) -> Result<serde_json::Value, ApiError> {
    let current = visible_ticket(state, &who, id).await?;
    let agent = who.name.clone();
    // The audit names whom a ticket was assigned to.
    let target = match (verb.as_str(), &body.agent) {
        ("assign", Some(serde_json::Value::String(to))) => Some(to.clone()),
        _ => None,
    };
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
        "assign" => {
            let Some(serde_json::Value::String(to)) = body.agent.clone() else {
                return Err(ApiError::bad_request(
                    "give `agent`: the account to assign to",
                ));
            };
            state.blocking(move |p| p.assign(id, &to)).await??
        }
        "note" => {
            let text = body.text.clone().unwrap_or_default();
            if text.trim().is_empty() {
                return Err(ApiError::bad_request("`text` must not be empty"));
            }
            state
                .blocking(move |p| p.note(id, &agent, &text, "http"))
                .await??
        }
        _ => {
            let text = match (&body.saved, &body.text) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::bad_request("give `text` or `saved`, not both"))
                }
                (Some(saved), None) => {
                    crate::http::find::saved_reply_text(state, &current, saved, &agent)?
                }
                (None, text) => text.clone().unwrap_or_default(),
            };
            if text.trim().is_empty() {
                return Err(ApiError::bad_request("`text` must not be empty"));
            }
            state
                .blocking(move |p| p.agent_reply(id, &agent, &text))
                .await??
        }
    };
    state
        .blocking(move |p| {
            crate::http::auth::audit_via(p.store(), &who.name, &verb, Some(id), target, addr, &via)
        })
        .await?;
    serde_json::to_value(&ticket).map_err(|e| ApiError::internal(e.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgetBody {
    /// The customer's id on their channel, as the channel reported it.
    user: String,
}

/// Deletes every interaction, ticket and conversation state of a user (as `evidence forget`).
/// It touches every team's tickets, so an agent limited to some teams may not (403).
async fn forget(
    AgentAuth(who): AgentAuth,
    State(state): State<AppState>,
    addr: ClientAddr,
    JsonBody(body): JsonBody<ForgetBody>,
) -> Result<Response, ApiError> {
    if !who.all_teams() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forgetting a customer touches every team's tickets: it takes an admin or an agent \
             of every team",
        ));
    }
    let user = body.user.trim().to_string();
    if user.is_empty() || user.chars().count() > 256 {
        return Err(ApiError::bad_request("`user` must be 1 to 256 characters"));
    }
    // Deleted, then compacted: the user's records leave the store's files, not only its
    // queries. Turns wait for the compaction (measured in the README).
    let pipeline = state.pipeline.clone();
    let asked = user.clone();
    let local = move || -> Result<_, crate::store::StoreError> {
        let forgotten = pipeline.store().forget_user(&user)?;
        let compacted = pipeline.store().compact()?;
        // Who was forgotten is not kept, not even as a hash: it would outlive them.
        audit(
            pipeline.store(),
            &who.name,
            "forget",
            None,
            None,
            Some(addr),
        );
        Ok((forgotten, compacted))
    };
    // In a cluster every node forgets too, and the streams (nothing is done when NATS does
    // not take the request: 503, try again).
    let (local, cluster) = match state.cluster.get() {
        Some(cluster) => {
            let (local, others) = cluster
                .forget_everywhere(&asked, local)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "forget: the cluster did not take the request");
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the cluster (NATS) did not take the request, so nothing was forgotten: \
                     try again",
                    )
                })?;
            (local, Some(others))
        }
        None => (tokio::task::spawn_blocking(local).await?, None),
    };
    let (forgotten, compacted) = local?;
    tracing::info!(
        interactions = forgotten.interactions,
        tickets = forgotten.tickets,
        conversations = forgotten.conversations,
        records_kept = compacted.records,
        "a user's evidence was forgotten over the agent API"
    );
    let mut body = json!({
        "interactions": forgotten.interactions,
        "tickets": forgotten.tickets,
        "conversations": forgotten.conversations,
        "compacted": compacted,
    });
    if let Some(mut cluster) = cluster {
        if let Some(here) = cluster.applied.first_mut() {
            here.interactions = forgotten.interactions;
            here.tickets = forgotten.tickets;
            here.conversations = forgotten.conversations;
        }
        body["cluster"] = json!(cluster);
    }
    Ok(Json(body).into_response())
}

async fn page(
    State(state): State<AppState>,
    addr: ClientAddr,
    method: Method,
    headers: HeaderMap,
) -> Response {
    match authorize(&state, &headers, &method, addr, Role::Agent).await {
        Ok(_) => Html(render(AGENT_PAGE, &state.settings.brand)).into_response(),
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => (
            StatusCode::UNAUTHORIZED,
            Html(render(LOGIN_PAGE, &state.settings.brand)),
        )
            .into_response(),
        Err(e) => e.page(),
    }
}

const SIGN_IN: SignIn = SignIn {
    role: Role::Agent,
    cookie: AGENT_COOKIE,
    home: "/agent",
};

async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let page = render(LOGIN_PAGE, &state.settings.brand);
    SIGN_IN
        .sign_in(&state, &headers, addr, &form.token, &page)
        .await
}

async fn logout(State(state): State<AppState>, addr: ClientAddr, headers: HeaderMap) -> Response {
    SIGN_IN.sign_out(&state, &headers, addr).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Account, AccountRole};

    fn account(name: &str, role: AccountRole, teams: &[&str]) -> Account {
        Account {
            name: name.into(),
            role,
            teams: teams.iter().map(|t| t.to_string()).collect(),
            created_ms: 0,
        }
    }

    #[test]
    fn a_teams_agents_are_its_agents_every_team_agents_and_admins() {
        let accounts = [
            account("zoe", AccountRole::Agent, &["sales"]),
            account("bea", AccountRole::Agent, &["billing"]),
            account("ann", AccountRole::Agent, &[]),
            account("root", AccountRole::Admin, &[]),
            account("olga", AccountRole::Owner, &[]),
        ];
        for (team, want) in [
            ("sales", vec!["ann", "root", "zoe"]),
            ("billing", vec!["ann", "bea", "root"]),
            ("security", vec!["ann", "root"]),
        ] {
            assert_eq!(team_agents(&accounts, team), want, "{team}");
        }
        assert!(team_agents(&[], "sales").is_empty());
    }
}
