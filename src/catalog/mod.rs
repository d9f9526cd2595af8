//! The catalog: personas (who is asking), intents (what they want) and the teams tickets go to,
//! with the settings beside them.
//!
//! The model lives in [`crate::core::model`] (re-exported here); this layer loads it from
//! `personas/<id>.toml` and `intents/<id>.toml` (see `docs/catalog.md`) and the settings file;
//! [`load`] and [`settings::check_file`] report every problem at once, as `path:line:col`.

pub(crate) mod answers;
mod diagnostics;
pub mod examples;
pub(crate) mod fields;
mod load;
mod replies;
pub mod settings;

pub use diagnostics::{Diagnostic, Diagnostics, SourceText};
pub use load::{load, load_from_sources, CatalogSources};

pub use crate::core::model::*;
