//! The core: what a message says and what to do about it, with no I/O. Text normalisation, the
//! catalog's model, classification, conversation state, business hours and the routing decision.

pub mod classify;
pub mod contact;
pub mod conversation;
pub mod hex;
pub mod hours;
pub mod model;
pub mod net;
pub mod route;
pub mod saved_reply;
pub mod secret;
pub mod team_names;
pub mod text;
pub mod wording;
