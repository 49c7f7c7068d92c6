//! larder: a privacy-first restocking agent for smart-home hubs.
//!
//! See `ARCHITECTURE.md` for the code map. In short: `core` decides (pure),
//! everything else moves bytes (MQTT, SQLite, keys, clock).

pub mod adapters;
pub mod approval;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod core;
pub mod daemon;
#[cfg(feature = "demo-broker")]
pub mod demo;
pub mod engine;
pub mod explain;
pub mod export;
pub mod failpoints;
pub mod forget;
#[doc(hidden)]
pub mod fuzzing;
pub mod ha_link;
pub mod homeassistant;
pub mod intent;
pub mod keys;
pub mod ledger;
pub mod mqtt;
pub mod notify;
pub mod replay;
pub mod retention;
pub mod seal;
pub mod simulate;
pub mod store;
pub mod telemetry;
pub mod wire;
