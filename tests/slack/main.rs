//! The Slack channel end to end: the real HTTP server (`app::app`) with the Slack routes, the
//! real pipeline over the shipped catalog and sled in a temporary directory, and the channel's
//! own Web API client talking to a fake Slack Web API on 127.0.0.1
//! (`tests/support/fake_slack.rs`). Requests are signed here with an HMAC computed in bot.rs,
//! independently of the channel's own signing code.

#[path = "../support/fake_slack.rs"]
mod fake_slack;
#[path = "../support/mod.rs"]
mod support;

mod answers;
mod bot;
mod buttons;
mod delivery;
mod events;
mod rating;
