//! Cluster-unique ids: each node registers a small index (`0..16`) once in the JetStream KV
//! bucket `personabot-nodes`, and then allocates ticket and interaction ids as
//! `local_sequence * 16 + index` ([`spaced_id`]), so two nodes never hand out the same id.
//!
//! The bucket holds two keys per node: `index.<i>` -> node name, taken with the KV's `create`
//! (compare-and-set: it fails when the key exists, so two nodes racing for one index cannot
//! both win), then `node.<name>` -> index. A restarted node finds its own `node.<name>`; its
//! store also remembers the registration (`meta`), so it starts even while NATS is down.
//! Without cluster mode ids are the local sequence itself (1, 2, 3...), as before; a store that
//! joins a cluster keeps its earlier ids, and its new ids are above them.

use async_nats::jetstream::{kv, stream};

pub use crate::store::{spaced_id, ClusterNode, MAX_CLUSTER_NODES};

use super::ClusterError;

/// The KV bucket of node registrations.
pub const NODES_BUCKET: &str = "personabot-nodes";

/// The key naming the node that holds `index`.
pub fn index_key(index: u8) -> String {
    format!("index.{index}")
}

/// The key holding `node`'s index.
pub fn node_key(node: &str) -> String {
    format!("node.{node}")
}

/// The lowest index no node holds, if any is left.
pub fn free_index(taken: &[u8]) -> Option<u8> {
    (0..MAX_CLUSTER_NODES as u8).find(|i| !taken.contains(i))
}

/// Reads an index value (`"3"`).
pub fn parse_index(value: &[u8]) -> Option<u8> {
    std::str::from_utf8(value)
        .ok()?
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|i| u64::from(*i) < MAX_CLUSTER_NODES)
}

/// What a starting node does about its index, from what its store remembers and what the
/// bucket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Use this index (already registered in the bucket).
    Use(u8),
    /// Claim this index (the store remembers it; the bucket lost or never had it).
    Claim(u8),
    /// Take the lowest free index.
    TakeFree,
    /// The store and the bucket disagree: refuse to start rather than risk duplicate ids.
    Conflict { remembered: u8, registered: u8 },
}

/// Decides from the remembered index (in the store) and the registered one (in the bucket).
pub fn decide(remembered: Option<u8>, registered: Option<u8>) -> Decision {
    match (remembered, registered) {
        (Some(r), Some(k)) if r != k => Decision::Conflict {
            remembered: r,
            registered: k,
        },
        (_, Some(k)) => Decision::Use(k),
        (Some(r), None) => Decision::Claim(r),
        (None, None) => Decision::TakeFree,
    }
}

/// The configuration of the bucket's backing stream, as the KV API makes it (one value per
/// key, on disk). Created directly: async-nats' `create_key_value` first reads the account's
/// info in a form Debian's nats-server 2.9 does not send.
pub fn bucket_stream() -> stream::Config {
    stream::Config {
        name: format!("KV_{NODES_BUCKET}"),
        description: Some("personabot: cluster node name <-> index".into()),
        subjects: vec![format!("$KV.{NODES_BUCKET}.>")],
        max_messages_per_subject: 1,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: 1,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}

/// Opens (or creates) the bucket.
pub async fn bucket(js: &async_nats::jetstream::Context) -> Result<kv::Store, ClusterError> {
    let nats = |e: &dyn std::fmt::Display| {
        ClusterError::Nats(format!("cannot open the {NODES_BUCKET} bucket: {e}"))
    };
    js.get_or_create_stream(bucket_stream())
        .await
        .map_err(|e| nats(&e))?;
    js.get_key_value(NODES_BUCKET).await.map_err(|e| nats(&e))
}

/// Registers `node` in the bucket and returns its index (see [`decide`]).
pub async fn register(
    bucket: &kv::Store,
    node: &str,
    remembered: Option<u8>,
) -> Result<u8, ClusterError> {
    let nats = |what: &str, e: &dyn std::fmt::Display| ClusterError::Nats(format!("{what}: {e}"));
    let registered = bucket
        .get(node_key(node))
        .await
        .map_err(|e| nats("cannot read the node registry", &e))?
        .and_then(|v| parse_index(&v));
    let index = match decide(remembered, registered) {
        Decision::Use(index) => return Ok(index),
        Decision::Conflict {
            remembered,
            registered,
        } => {
            return Err(ClusterError::Conflict(format!(
                "node {node:?}: this store has index {remembered}, the cluster's \
                 {NODES_BUCKET} bucket says {registered}"
            )))
        }
        Decision::Claim(index) => {
            claim(bucket, node, index).await?;
            index
        }
        Decision::TakeFree => loop {
            let taken = taken_indexes(bucket).await?;
            // A start that died between claiming an index and naming the node holds one.
            if let Some(index) = held_by(bucket, node, &taken).await? {
                break index;
            }
            let Some(index) = free_index(&taken) else {
                return Err(ClusterError::Conflict(format!(
                    "every one of the {MAX_CLUSTER_NODES} node indexes is taken"
                )));
            };
            match claim(bucket, node, index).await {
                Ok(()) => break index,
                // Another node took it meanwhile: look again.
                Err(ClusterError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        },
    };
    bucket
        .put(node_key(node), index.to_string().into())
        .await
        .map_err(|e| nats("cannot register the node", &e))?;
    Ok(index)
}

/// Takes `index` for `node` with a compare-and-set create; it is ours already if it names us.
async fn claim(bucket: &kv::Store, node: &str, index: u8) -> Result<(), ClusterError> {
    match bucket
        .create(index_key(index), node.to_string().into())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            let holder = bucket
                .get(index_key(index))
                .await
                .map_err(|e| ClusterError::Nats(format!("cannot read the node registry: {e}")))?;
            match holder {
                Some(name) if name.as_ref() == node.as_bytes() => Ok(()),
                other => Err(ClusterError::Conflict(format!(
                    "index {index} is held by node {:?}",
                    other.map(|n| String::from_utf8_lossy(&n).into_owned())
                ))),
            }
        }
        Err(e) => Err(ClusterError::Nats(format!(
            "cannot claim index {index}: {e}"
        ))),
    }
}

/// The index among `taken` whose holder is `node`, if any.
async fn held_by(bucket: &kv::Store, node: &str, taken: &[u8]) -> Result<Option<u8>, ClusterError> {
    for &index in taken {
        let holder = bucket
            .get(index_key(index))
            .await
            .map_err(|e| ClusterError::Nats(format!("cannot read the node registry: {e}")))?;
        if holder.is_some_and(|h| h.as_ref() == node.as_bytes()) {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

async fn taken_indexes(bucket: &kv::Store) -> Result<Vec<u8>, ClusterError> {
    use futures_util::StreamExt;
    let mut keys = bucket
        .keys()
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot list the node registry: {e}")))?;
    let mut taken = Vec::new();
    while let Some(key) = keys.next().await {
        let key =
            key.map_err(|e| ClusterError::Nats(format!("cannot list the node registry: {e}")))?;
        if let Some(index) = key
            .strip_prefix("index.")
            .and_then(|i| parse_index(i.as_bytes()))
        {
            taken.push(index);
        }
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_free_index() {
        for (taken, free) in [
            (vec![], Some(0)),
            (vec![0], Some(1)),
            (vec![1, 0, 3], Some(2)),
            (vec![2], Some(0)),
            ((0..16).collect(), None),
            ((0..15).collect(), Some(15)),
        ] {
            assert_eq!(free_index(&taken), free, "{taken:?}");
        }
    }

    #[test]
    fn what_a_starting_node_does() {
        for (remembered, registered, decision) in [
            (None, None, Decision::TakeFree),
            (None, Some(3), Decision::Use(3)),
            (Some(3), Some(3), Decision::Use(3)),
            (Some(3), None, Decision::Claim(3)),
            (
                Some(3),
                Some(4),
                Decision::Conflict {
                    remembered: 3,
                    registered: 4,
                },
            ),
        ] {
            assert_eq!(decide(remembered, registered), decision);
        }
    }

    #[test]
    fn index_values() {
        for (value, index) in [
            (&b"0"[..], Some(0)),
            (b"15", Some(15)),
            (b"16", None),
            (b"-1", None),
            (b"x", None),
            (b" 7 ", Some(7)),
        ] {
            assert_eq!(parse_index(value), index, "{value:?}");
        }
    }
}
