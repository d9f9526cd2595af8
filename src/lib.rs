//! personabot: classify who is asking (persona) and what they want (intent), then answer with
//! self-help tailored to the persona or hand a ticket to the right team, logging every
//! interaction as persona evidence.

pub mod agent;
pub mod catalog;
pub mod channels;
pub mod check;
pub mod classify;
pub mod conversation;
pub mod dataset;
pub mod dedupe;
pub mod eval;
pub mod flood;
pub mod hours;
pub mod learn;
pub mod metrics;
pub mod output;
pub mod owner;
pub mod pipeline;
pub mod reload;
pub mod replay;
pub mod retention;
pub mod review;
pub mod route;
pub mod server;
pub mod settings;
pub mod store;
pub mod suggest;
pub mod text;
