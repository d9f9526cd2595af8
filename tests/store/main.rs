//! Integration tests of the sled evidence store: crash safety of the real binary, no personal data
//! in the raw files, and the store API (tickets, queries, export, forget, purge, hashing,
//! reopening). Real parts only: sled in a temporary directory and the built `personabot` binary.

#[path = "../support/mod.rs"]
mod support;

mod cluster;
mod durability;
mod harness;
mod old_records;
mod privacy;
mod queries;
mod regressions;
mod size;
mod tickets;
mod time_index;
mod writer;
