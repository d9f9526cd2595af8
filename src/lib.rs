//! personabot: classify who is asking (persona) and what they want (intent), then answer with
//! self-help tailored to the persona or hand a ticket to the right team, logging every
//! interaction as persona evidence.
//!
//! The modules are layers; each imports only the layers listed before it:
//!
//! - [`core`]: message text, the catalog's model, classification, conversation state and the
//!   routing decision. Pure: no I/O.
//! - [`catalog`]: loading the catalog and settings files, every error as `path:line:col`, and
//!   running the catalog's examples. [`store`]: the sled evidence store, redaction.
//! - [`cluster`]: cluster mode on NATS JetStream: node ids, the outbox and its publisher.
//! - [`engine`]: the pipeline (one message in, a decision, reply and records out) and the
//!   runtime every channel hands its messages to (flood limit, in-flight bound, metrics).
//! - The edges: [`http`] (errors, auth, the agent desk and owner pages), [`channels`] (web, Slack,
//!   Telegram, Discord, terminal), [`ops`] (hot reload, retention), [`owner`] (eval, learn,
//!   replay, review, suggest); [`app`] composes the HTTP application from them.

pub mod core;

pub mod catalog;
pub mod store;

pub mod cluster;

pub mod engine;

pub mod channels;
pub mod http;
pub mod ops;
pub mod owner;

pub mod app;
