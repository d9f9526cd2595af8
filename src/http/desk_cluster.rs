//! The agent API in cluster mode: the queue lists every node's tickets (this node's from its
//! store, the others' from the cluster's view, each named by `"node"`), and a ticket this node
//! does not own is shown and acted on by forwarding the request to its owner over NATS
//! ([`crate::cluster::desk`]); the owner answers with exactly what its own API would. When the
//! owner does not answer, 503 with `Retry-After`: its customers' conversations wait for it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::cluster::desk::{Caller, DeskReply, DeskRequest, Unreachable, RETRY_AFTER_SECS};
use crate::cluster::view::Held;
use crate::engine::AppState;
use crate::http::client::ClientAddr;
use crate::http::{ApiError, Principal};
use crate::store::search::TicketQuery;
use crate::store::Ticket;

/// The queue: `local` (this node's tickets matching the query, newest first) and, in cluster
/// mode, the other nodes' tickets from the view that match `query`, each with its node.
pub(crate) fn queue(
    state: &AppState,
    local: Vec<Ticket>,
    query: &TicketQuery,
) -> Vec<(Ticket, Option<String>)> {
    match state.cluster.get() {
        Some(cluster) => {
            let me = &cluster.node().node;
            merge(local, me, cluster.view().others(me), query)
        }
        None => {
            let mut tickets = local;
            // High-priority tickets (a frustrated customer) come first.
            crate::engine::output::queue_order(&mut tickets);
            tickets.into_iter().map(|t| (t, None)).collect()
        }
    }
}

/// This node's tickets (named `me`) and the other nodes' that match `query` in one queue:
/// newest first (by creation, then id), high priority before normal. A ticket this node has
/// is taken from its store, never from the view.
pub(crate) fn merge(
    local: Vec<Ticket>,
    me: &str,
    remote: Vec<Held>,
    query: &TicketQuery,
) -> Vec<(Ticket, Option<String>)> {
    let mine: std::collections::HashSet<u64> = local.iter().map(|t| t.id).collect();
    let mut all: Vec<(Ticket, Option<String>)> = local
        .into_iter()
        .map(|t| (t, Some(me.to_string())))
        .chain(
            remote
                .into_iter()
                .filter(|h| h.node != me && !mine.contains(&h.ticket.id))
                .filter(|h| query.matches(&h.ticket))
                .map(|h| (h.ticket, Some(h.node))),
        )
        .collect();
    all.sort_by(|(a, _), (b, _)| {
        (b.priority, b.created_ms, b.id).cmp(&(a.priority, a.created_ms, a.id))
    });
    all
}

/// In cluster mode, names this node as the ticket's (`"node"`) unless the JSON names one.
pub(crate) fn name_node(state: &AppState, value: &mut Value) {
    if let (Some(cluster), Some(object)) = (state.cluster.get(), value.as_object_mut()) {
        object
            .entry("node")
            .or_insert_with(|| json!(cluster.node().node));
    }
}

/// The 503 of a ticket whose node does not answer.
fn unreachable(node: &str) -> ApiError {
    ApiError {
        retry_after_secs: Some(RETRY_AFTER_SECS),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "node {node} is unreachable: the ticket is on node {node}, and its customers' \
                 conversations wait for it until it is back; try again shortly"
            ),
        )
    }
}

/// A request about ticket `id` that may belong to another node.
pub(crate) struct Forward<'a> {
    pub who: &'a Principal,
    pub id: u64,
    /// `None`: show the ticket.
    pub action: Option<&'a str>,
    pub body: Value,
    pub addr: ClientAddr,
}

impl Forward<'_> {
    /// The owner's answer when the ticket is another node's; `None` when it is answered here
    /// (not in cluster mode, a local ticket, or one no node has: "not found" here).
    pub(crate) async fn send(self, state: &AppState) -> Result<Option<Response>, ApiError> {
        let Some(cluster) = state.cluster.get() else {
            return Ok(None);
        };
        let id = self.id;
        let here = state
            .blocking(move |p| p.store().ticket(id))
            .await??
            .is_some();
        let node = match cluster.owner(id, here).await {
            Ok(None) | Err(Unreachable::NoNode(_)) => return Ok(None),
            Ok(Some(node)) => node,
            Err(Unreachable::Down { node, .. }) => return Err(unreachable(&node)),
        };
        let request = DeskRequest {
            who: Caller {
                name: self.who.name.clone(),
                role: self.who.role,
                teams: self.who.teams.clone(),
            },
            ticket: id,
            action: self.action.map(str::to_string),
            body: self.body,
            from: Some(self.addr.0.to_string()),
            node: Some(cluster.node().node.clone()),
        };
        match cluster.ask(&node, &request).await {
            Ok(reply) => {
                let missing = reply.status == StatusCode::NOT_FOUND.as_u16();
                if missing && self.action.is_none() && self.who.all_teams() {
                    // The owner no longer has it (e.g. its customer was forgotten): to an
                    // account of every team, "not found" means only that.
                    cluster.view().remove(id);
                }
                Ok(Some(respond(reply)))
            }
            Err(e) => {
                tracing::warn!(error = %e, ticket = id, "cluster: a desk request found no owner");
                Err(unreachable(&node))
            }
        }
    }
}

/// The HTTP response of an owner's answer.
fn respond(reply: DeskReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, Json(reply.body)).into_response();
    crate::http::auth::add_retry_after(&mut response, reply.retry_after_secs);
    response
}

/// Answers another node's request about a ticket of this node, with the agent API's own code.
pub(crate) async fn answer(state: AppState, request: DeskRequest) -> DeskReply {
    let who = Principal::remote(request.who.name, request.who.role, request.who.teams);
    let from = request
        .from
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .map(ClientAddr);
    let id = request.ticket;
    let result = match request.action {
        None => crate::http::agent::show_ticket(&state, &who, id).await,
        Some(verb) => {
            async {
                crate::http::agent::known_action(&verb)?;
                let body = serde_json::from_value(request.body)
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
                let via = format!("cluster:{}", request.node.as_deref().unwrap_or("?"));
                let mut value =
                    crate::http::agent::act(&state, who, id, verb, body, from, via).await?;
                name_node(&state, &mut value);
                Ok(value)
            }
            .await
        }
    };
    match result {
        Ok(body) => DeskReply {
            status: 200,
            body,
            retry_after_secs: None,
        },
        Err(e) => DeskReply {
            status: e.status.as_u16(),
            body: json!({ "error": e.message }),
            retry_after_secs: e.retry_after_secs,
        },
    }
}

/// In cluster mode, starts answering other nodes' desk requests (call once, from `serve`).
pub fn serve_desk(state: &AppState) {
    if let Some(cluster) = state.cluster.get() {
        let state = state.clone();
        tokio::spawn(crate::cluster::desk::serve(
            cluster.clone(),
            move |request| answer(state.clone(), request),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Priority;

    fn ticket(id: u64, created_ms: u64, high: bool, team: &str) -> Ticket {
        let mut t: Ticket = serde_json::from_value(json!({
            "id": id, "team": team, "status": "open", "created_ms": created_ms,
            "updated_ms": created_ms, "channel": "web", "conversation": "c", "user": "u",
            "persona": null, "intent": null, "evidence": [], "reason": "", "interaction": 1,
            "transcript": [], "claimed_by": null, "resolved_by": null, "relabels": []
        }))
        .expect("a ticket");
        if high {
            t.priority = Priority::High;
        }
        t
    }

    fn held(node: &str, t: Ticket) -> Held {
        Held {
            node: node.into(),
            ticket: t,
            event: "opened".into(),
            sequence: 1,
        }
    }

    fn ids(list: &[(Ticket, Option<String>)]) -> Vec<(u64, &str)> {
        list.iter()
            .map(|(t, n)| (t.id, n.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn the_queue_merges_every_nodes_tickets_newest_and_urgent_first() {
        let all = TicketQuery::default();
        let billing = TicketQuery::parse([("team", "billing")]).unwrap();
        let local = || {
            vec![
                ticket(32, 300, false, "billing"),
                ticket(16, 100, false, "sales"),
            ]
        };
        let remote = || {
            vec![
                held("b", ticket(17, 200, false, "billing")),
                held("b", ticket(33, 400, true, "sales")),
                held("c", ticket(18, 50, false, "billing")),
                // Our own ticket, as the view saw it: the store's copy wins.
                held("a", ticket(32, 300, false, "billing")),
                // Another node's copy of a ticket we hold (never expected): ours wins.
                held("b", ticket(16, 100, false, "sales")),
            ]
        };
        let cases: [(&TicketQuery, Vec<(u64, &str)>); 2] = [
            (
                &all,
                vec![(33, "b"), (32, "a"), (17, "b"), (16, "a"), (18, "c")],
            ),
            (&billing, vec![(32, "a"), (17, "b"), (18, "c")]),
        ];
        for (query, want) in cases {
            let local: Vec<Ticket> = local().into_iter().filter(|t| query.matches(t)).collect();
            let merged = merge(local, "a", remote(), query);
            assert_eq!(ids(&merged), want, "{query:?}");
        }
        assert!(merge(vec![], "a", vec![], &all).is_empty());
    }
}
