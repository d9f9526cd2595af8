//! The real `personabot` binary end to end: check, classify, chat, tickets, evidence and bad
//! input. Every test runs in its own empty temp folder with its own `--data` store, and passes
//! the shipped catalog explicitly with `--catalog <repo root>` (except where the test is about
//! how the catalog is found).

#[path = "../support/mod.rs"]
mod support;

mod chat;
mod check;
mod classify;
mod errors;
mod evidence;
mod find;
mod harness;
mod matching;
mod terminal;
mod tickets;
