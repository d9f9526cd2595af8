//! The Discord channel end to end: the bot's own serenity client, unchanged, against the fake
//! Discord in tests/support (REST + gateway on 127.0.0.1), with the shipped catalog and sled in a
//! temporary directory.

#[path = "../support/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../support/mod.rs"]
mod support;

mod answers;
mod bot;
mod choices;
mod rating;
mod resilience;
mod safety;
mod tickets;
