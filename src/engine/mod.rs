//! The engine: the pipeline that turns one inbound message into a decision, a reply and the
//! records to store, and the runtime every channel hands its messages to.

pub mod address_limit;
pub mod assign;
pub mod csat;
pub mod error;
pub mod flood;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod runtime;
pub mod supervise;
pub mod targets;
mod turn;

pub use runtime::{Admission, AppState, HandlerGuard, Handlers};
