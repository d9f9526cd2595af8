//! Checks the fake Discord itself: every payload it sends fits serenity's model, and a real
//! serenity client holds a conversation with it (messages, threads, buttons, selects, slash
//! commands, gateway resume with replay, REST failures).

#[path = "../support/fake_discord/mod.rs"]
mod fake_discord;

mod builders;
mod client;
mod payloads;

use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// In case the machine has proxy variables: reqwest reads them when a client is built.
fn no_proxy() {
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    std::env::set_var("no_proxy", "127.0.0.1,localhost");
}
