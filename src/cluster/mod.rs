//! Cluster mode on NATS JetStream (off unless `cluster.nats_url` is set): the glue `serve`
//! calls. [`start`] connects to NATS, registers this node's index ([`ids`]), turns the store's
//! cluster mode on (spaced ids, the outbox written with every turn) and starts the
//! [`publisher`], which sends the outbox to the streams of [`outbox`].
//!
//! Each node keeps its own sled store and owns the conversations it receives; the streams
//! `PB_EVIDENCE` and `PB_TICKETS` hold every node's redacted interactions and ticket events.

pub mod audit;
pub mod desk;
pub mod forget;
pub mod ids;
pub mod outbox;
pub mod publisher;
pub mod read;
pub mod retention;
pub mod view;

use std::time::{Duration, Instant};

use serde_json::json;

use crate::catalog::settings::{split_nats_credentials, ClusterSettings};
use crate::store::{ClusterNode, Store, StoreError};

/// How long a node that never registered waits for NATS at start.
const REGISTER_WAIT: Duration = Duration::from_secs(30);

/// Cluster failures.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Cluster mode is on without a node name (the settings check refuses this first).
    #[error("cluster.nats_url is set but cluster.node is not")]
    NoNode,
    #[error("NATS: {0}")]
    Nats(String),
    /// The node's registration conflicts with the store or another node.
    #[error("cluster: {0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A running node's cluster state, for `/healthz` and `/metrics`.
#[derive(Clone)]
pub struct Status {
    node: ClusterNode,
    client: async_nats::Client,
    store: Store,
    /// JetStream, for the node registrations (desk routing).
    js: async_nats::jetstream::Context,
    /// Every node's tickets ([`view`]).
    view: view::View,
    /// The publisher's batch gate, which a forget waits on ([`publisher::Gate`]).
    gate: publisher::Gate,
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Status {
    /// This node's name and index.
    pub fn node(&self) -> &ClusterNode {
        &self.node
    }

    /// Whether the NATS connection is up now.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Outbox entries not yet acknowledged by JetStream.
    pub fn outbox_pending(&self) -> usize {
        self.store.outbox_pending()
    }

    /// Every node's tickets, as read from `PB_TICKETS`.
    pub fn view(&self) -> &view::View {
        &self.view
    }

    /// `/healthz`'s `"cluster"`: `{"node", "connected", "outbox"}`.
    pub fn health(&self) -> serde_json::Value {
        json!({
            "node": self.node.node,
            "connected": self.connected(),
            "outbox": self.outbox_pending(),
        })
    }

    /// Forgets `user` on every node and in the streams, as asked on this node (see
    /// [`forget`]): publishes the request (nothing is done when NATS does not take it), runs
    /// `local` (this node's store, on the blocking pool), deletes this node's messages of the
    /// user from the streams, then waits a moment for the other nodes' answers.
    pub async fn forget_everywhere<T: Send + 'static>(
        &self,
        user: &str,
        local: impl FnOnce() -> T + Send + 'static,
    ) -> Result<(T, forget::ClusterForgot), ClusterError> {
        let js = async_nats::jetstream::new(self.client.clone());
        let request = forget::new_request(user, &self.node.node)?;
        let published = forget::publish(&js, &self.client, &request).await?;
        let done = tokio::task::spawn_blocking(local)
            .await
            .map_err(|e| ClusterError::Nats(format!("forget: {e}")))?;
        let messages = forget::forget_in_streams(
            &js,
            &self.store,
            &self.node.node,
            &self.store.hash_user(user),
            &self.gate,
        )
        .await?;
        let mut others = forget::collect(&js, published, &self.node.node).await?;
        others.applied.insert(
            0,
            forget::NodeForgot {
                node: self.node.node.clone(),
                messages,
                ..Default::default()
            },
        );
        Ok((done, others))
    }

    /// Starts retention over the streams for `windows` (see [`retention`]).
    pub fn keep_for(&self, windows: crate::ops::retention::Windows) {
        let js = async_nats::jetstream::new(self.client.clone());
        tokio::spawn(retention::run(
            js,
            self.store.clone(),
            self.node.node.clone(),
            windows,
        ));
    }

    /// The cluster's lines of `/metrics`.
    pub fn metrics(&self) -> String {
        format!(
            "# HELP personabot_cluster_outbox_pending Interactions and ticket events stored but \
             not yet acknowledged by JetStream.\n\
             # TYPE personabot_cluster_outbox_pending gauge\n\
             personabot_cluster_outbox_pending {}\n\
             # HELP personabot_cluster_connected Whether the NATS connection is up (1) or not (0).\n\
             # TYPE personabot_cluster_connected gauge\n\
             personabot_cluster_connected {}\n",
            self.outbox_pending(),
            u8::from(self.connected()),
        )
    }
}

/// Starts cluster mode for `store` (call it inside the runtime, before serving): connects,
/// registers the node, turns the store's cluster mode on and spawns the publisher.
///
/// A node its store remembers starts at once, even while NATS is down (its registration is
/// checked once NATS answers); a new node waits up to 30 s for NATS to register.
pub async fn start(settings: &ClusterSettings, store: &Store) -> Result<Status, ClusterError> {
    let url = settings
        .url()
        .ok_or_else(|| ClusterError::Nats("cluster.nats_url is not set".into()))?;
    let node = settings
        .node_name()
        .ok_or(ClusterError::NoNode)?
        .to_string();
    let remembered = store.cluster_node()?;
    if let Some(other) = remembered.as_ref().filter(|r| r.node != node) {
        return Err(ClusterError::Conflict(format!(
            "this store belongs to cluster node {:?}, not {node:?}",
            other.node
        )));
    }
    // Credentials ride in the URL (from the environment only: the settings check refuses them
    // in a file); async-nats takes them as options.
    let (url, credentials) = split_nats_credentials(url);
    let client = read::connect_options(credentials)
        .name(format!("personabot-{node}"))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connect(url.as_str())
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot connect: {e}")))?;
    let js = async_nats::jetstream::new(client.clone());
    let index = match remembered {
        Some(known) => {
            tokio::spawn(confirm_registration(js.clone(), known.clone()));
            known.index
        }
        None => register_within(&js, &node, REGISTER_WAIT).await?,
    };
    let joined = ClusterNode {
        node: node.clone(),
        index,
    };
    let wake = store.join_cluster(&joined)?;
    let gate = publisher::Gate::default();
    tokio::spawn(publisher::run(
        js.clone(),
        store.clone(),
        node.clone(),
        wake,
        gate.clone(),
    ));
    let view = view::View::default();
    tokio::spawn(view::follow(js.clone(), view.clone()));
    tokio::spawn(forget::run(
        js.clone(),
        client.clone(),
        store.clone(),
        node,
        gate.clone(),
    ));
    Ok(Status {
        node: joined,
        client,
        store: store.clone(),
        js,
        view,
        gate,
    })
}

/// Registers a new node, retrying while NATS does not answer, for at most `wait`.
async fn register_within(
    js: &async_nats::jetstream::Context,
    node: &str,
    wait: Duration,
) -> Result<u8, ClusterError> {
    let started = Instant::now();
    let mut delay = None;
    loop {
        let attempt = async { ids::register(&ids::bucket(js).await?, node, None).await };
        match attempt.await {
            Ok(index) => return Ok(index),
            Err(e @ ClusterError::Conflict(_)) => return Err(e),
            Err(e) if started.elapsed() >= wait => return Err(e),
            Err(e) => tracing::info!(error = %e, "cluster: waiting for NATS to register"),
        }
        let next = publisher::backoff(delay);
        delay = Some(next);
        tokio::time::sleep(next).await;
    }
}

/// Checks (and if NATS lost it, restores) a remembered registration once NATS answers.
async fn confirm_registration(js: async_nats::jetstream::Context, known: ClusterNode) {
    let mut delay = None;
    loop {
        let attempt =
            async { ids::register(&ids::bucket(&js).await?, &known.node, Some(known.index)).await };
        match attempt.await {
            Ok(_) => return,
            Err(e @ ClusterError::Conflict(_)) => {
                tracing::error!(error = %e, "cluster: this node's index is disputed");
                return;
            }
            Err(e) => tracing::debug!(error = %e, "cluster: registration not confirmed yet"),
        }
        let next = publisher::backoff(delay);
        delay = Some(next);
        tokio::time::sleep(next).await;
    }
}
