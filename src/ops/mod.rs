//! Operations around a running bot: hot reload of the catalog and settings, and the retention
//! purge.

pub mod reload;
pub mod retention;
