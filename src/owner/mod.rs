//! The persona owners' tools: labelled datasets, `eval`, `learn`, `replay`, `review` and
//! `suggest`.

pub mod dataset;
pub mod eval;
pub mod learn;
pub mod replay;
pub mod review;
pub mod suggest;
