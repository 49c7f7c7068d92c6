//! larder: a privacy-first restocking agent for smart-home hubs.
//!
//! See `ARCHITECTURE.md` for the code map. In short: `core` decides (pure),
//! everything else moves bytes (MQTT, SQLite, keys, clock).

pub use larder_core as core;

pub mod clock;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod daemon;
pub mod engine;
pub mod homeassistant;
pub mod ledger;
pub mod protocol;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tools;
