//! Channel adapters: each turns its platform's messages into [`Inbound`](crate::pipeline::Inbound)
//! and sends the pipeline's replies back. One file per channel.

pub mod discord;
pub mod terminal;
