//! The full pipeline on the shipped catalog, with sled in a temporary directory: table-driven
//! conversations (persona, routing, tickets, feedback, clarifying questions), message limits and
//! concurrent turns.

#[path = "../support/mod.rs"]
mod support;

mod clock;
mod concurrency;
mod conversations;
mod flow;
mod limits;
mod regressions;
mod table;

use std::path::Path;

use personabot::engine::pipeline::{Inbound, Pipeline};
use personabot::store::Store;

const CHANNEL: &str = "test";

fn pipeline(dir: &Path) -> Pipeline {
    support::pipeline_on(Store::open(dir, Some("pipeline-test-key")).expect("open store"))
}

fn inbound(conversation: &str, text: &str) -> Inbound {
    Inbound {
        channel: CHANNEL.into(),
        conversation: conversation.into(),
        user: "pat".into(),
        text: text.into(),
    }
}
