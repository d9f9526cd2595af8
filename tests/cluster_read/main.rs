//! The owner's tools and `forget` across a cluster, on a real `nats-server -js` with real
//! `personabot serve` nodes and the real binary's commands: `evidence export`, `review`,
//! `suggest` and `replay` read every node's records from the streams with no data folder, and
//! `forget` reaches every node's store and the streams, even a node that was down when asked;
//! both are recorded in the cluster's audit log first.

#[path = "../support/nats.rs"]
mod nats;
#[path = "../support/serve_process.rs"]
mod serve_process;

mod audit;
mod export;
mod forget;
mod nodes;
mod retention;
