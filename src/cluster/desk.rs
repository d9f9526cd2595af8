//! The agent desk across nodes: each node answers requests on `pb.desk.<node>` (core NATS
//! request/reply) about the tickets it owns: show one, or act on it with the same verbs and
//! body as `POST /v1/tickets/{id}/{action}`. The asking node sends the principal it
//! authenticated (name, role, teams): nodes trust each other, and the NATS credentials keep
//! everyone else off these subjects. The owner runs exactly the HTTP handler's code (team check,
//! audit entry, the reply delivered on its own channel) and answers with a status and JSON.
//!
//! [`route`] decides where a ticket's request goes: here, to the node the view says owns it, or
//! to the node registered under `id % 16` ([`super::ids`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ClusterError, Status};
use crate::store::{AccountRole, ClusterNode, MAX_CLUSTER_NODES};

/// How long an asking node waits for the owner's answer.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// The seconds a client is told to wait (`Retry-After`) when the owner is unreachable.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The subject node `node` answers desk requests on.
pub fn subject(node: &str) -> String {
    format!("pb.desk.{node}")
}

/// The account a request acts as, as the asking node authenticated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub name: String,
    pub role: AccountRole,
    /// Empty: every team.
    pub teams: Vec<String>,
}

/// A request to a ticket's owning node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskRequest {
    pub who: Caller,
    pub ticket: u64,
    /// `None`: show the ticket; else the action (`claim`, `reply`, ...).
    #[serde(default)]
    pub action: Option<String>,
    /// The action's body, as posted.
    #[serde(default)]
    pub body: Value,
    /// The agent's client address, for the audit log.
    #[serde(default)]
    pub from: Option<String>,
    /// The asking node, for the audit log (`via` `cluster:<node>`).
    #[serde(default)]
    pub node: Option<String>,
}

/// The owner's answer: the HTTP status and JSON body it would have answered itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskReply {
    pub status: u16,
    pub body: Value,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

/// Where a ticket's request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// This node owns it (or nobody knows it: answered here, i.e. "not found").
    Local,
    /// The node the view says owns it.
    Node(String),
    /// The node registered under this index (`id % 16`), to look up.
    Index(u8),
}

/// Decides where the request about ticket `id` goes: here when this node's store has it;
/// else to the owner the view names; else to the node of the id's index, unless that is this
/// node (then it does not exist).
pub fn route(id: u64, here: bool, me: &ClusterNode, viewed: Option<&str>) -> Route {
    if here {
        return Route::Local;
    }
    if let Some(node) = viewed.filter(|n| *n != me.node) {
        return Route::Node(node.to_string());
    }
    let index = (id % MAX_CLUSTER_NODES) as u8;
    if index == me.index || viewed.is_some() {
        Route::Local
    } else {
        Route::Index(index)
    }
}

/// Why a request could not reach its owner.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    /// No node holds the id's index: the ticket does not exist.
    #[error("no node holds index {0}")]
    NoNode(u8),
    #[error("node {node} is unreachable: {reason}")]
    Down { node: String, reason: String },
}

impl Status {
    /// The node registered under `index`, from the `personabot-nodes` bucket.
    pub async fn node_of_index(&self, index: u8) -> Result<Option<String>, ClusterError> {
        let bucket = super::ids::bucket(&self.js).await?;
        let value = bucket
            .get(super::ids::index_key(index))
            .await
            .map_err(|e| ClusterError::Nats(e.to_string()))?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The owner of ticket `id` when it is not here: `None` for a local (or unknown) ticket.
    pub async fn owner(&self, id: u64, here: bool) -> Result<Option<String>, Unreachable> {
        let viewed = self.view.get(id).map(|h| h.node);
        match route(id, here, &self.node, viewed.as_deref()) {
            Route::Local => Ok(None),
            Route::Node(node) => Ok(Some(node)),
            Route::Index(index) => match self.node_of_index(index).await {
                Ok(Some(node)) => Ok(Some(node)),
                Ok(None) => Err(Unreachable::NoNode(index)),
                Err(e) => Err(Unreachable::Down {
                    node: format!("#{index}"),
                    reason: e.to_string(),
                }),
            },
        }
    }

    /// Sends `request` to `node` and waits (at most [`ASK_TIMEOUT`]) for its answer.
    pub async fn ask(&self, node: &str, request: &DeskRequest) -> Result<DeskReply, Unreachable> {
        let down = |reason: String| Unreachable::Down {
            node: node.to_string(),
            reason,
        };
        let payload = serde_json::to_vec(request).map_err(|e| down(e.to_string()))?;
        let asked = self.client.request(subject(node), payload.into());
        let message = tokio::time::timeout(ASK_TIMEOUT, asked)
            .await
            .map_err(|_| down("no answer in time".into()))?
            .map_err(|e| down(e.to_string()))?;
        serde_json::from_slice(&message.payload).map_err(|e| down(format!("a bad answer: {e}")))
    }
}

/// Answers desk requests on this node's subject forever: each one is handed to `answer` (the
/// agent API's code) on its own task.
pub async fn serve<F, Fut>(status: Status, answer: F)
where
    F: Fn(DeskRequest) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = DeskReply> + Send + 'static,
{
    use futures_util::StreamExt;
    let mut failed: Option<Duration> = None;
    loop {
        if let Some(wait) = failed {
            tokio::time::sleep(wait).await;
        }
        let mut requests = match status.client.subscribe(subject(&status.node.node)).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cluster: cannot answer desk requests yet");
                failed = Some(super::publisher::backoff(failed));
                continue;
            }
        };
        failed = None;
        while let Some(message) = requests.next().await {
            let Some(reply_to) = message.reply.clone() else {
                continue;
            };
            let (client, answer) = (status.client.clone(), answer.clone());
            tokio::spawn(async move {
                let reply = match serde_json::from_slice::<DeskRequest>(&message.payload) {
                    Ok(request) => answer(request).await,
                    Err(e) => DeskReply {
                        status: 400,
                        body: serde_json::json!({"error": format!("a bad desk request: {e}")}),
                        retry_after_secs: None,
                    },
                };
                match serde_json::to_vec(&reply) {
                    Ok(bytes) => {
                        if let Err(e) = client.publish(reply_to, bytes.into()).await {
                            tracing::warn!(error = %e, "cluster: a desk answer was not sent");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cluster: a desk answer"),
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_go_to_the_tickets_owner() {
        let me = ClusterNode {
            node: "a".into(),
            index: 0,
        };
        let node = |n: &str| Route::Node(n.into());
        for (id, here, viewed, want) in [
            // Here: always answered here.
            (16, true, None, Route::Local),
            (17, true, Some("b"), Route::Local),
            // The view knows the owner.
            (17, false, Some("b"), node("b")),
            (32, false, Some("c"), node("c")),
            // Not in the view yet: the id's index says which node.
            (17, false, None, Route::Index(1)),
            (47, false, None, Route::Index(15)),
            // This node's index, or the view says it is ours, but the store lacks it: not found.
            (32, false, None, Route::Local),
            (33, false, Some("a"), Route::Local),
        ] {
            assert_eq!(route(id, here, &me, viewed), want, "{id} {here} {viewed:?}");
        }
    }

    #[test]
    fn requests_and_answers_keep_their_shape() {
        let request: DeskRequest = serde_json::from_value(serde_json::json!({
            "who": {"name": "ana", "role": "agent", "teams": ["billing"]},
            "ticket": 17, "action": "reply", "body": {"text": "hi"}
        }))
        .unwrap();
        assert_eq!(request.who.role, AccountRole::Agent);
        assert_eq!((&request.from, &request.node), (&None, &None));
        let request = DeskRequest {
            node: Some("a".into()),
            ..request
        };
        let again: DeskRequest =
            serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
        assert_eq!(again, request);
        assert_eq!(subject("eu-2"), "pb.desk.eu-2");
    }
}
