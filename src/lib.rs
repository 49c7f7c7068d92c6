//! larder: a privacy-first restocking agent for smart-home hubs.
//!
//! A daemon reads device events over MQTT, learns how one household
//! consumes things, forecasts when each item runs out, and sends a signed
//! purchase intent upstream only after the household's rules or members
//! approve. `ARCHITECTURE.md` is the code map with every invariant and
//! where it is enforced.
//!
//! # Layout
//!
//! Modules are layers; each uses only the layers listed before it
//! (checked by `tests/layout.rs`, which also fails on a module cycle):
//!
//! - [`core`]: the pure decision core, its own crate `larder-core`
//!   (forecasting, device signals, approval rules). No IO, no clock: time
//!   and state are arguments. It depends on serde only.
//! - [`text`], [`clock`], [`crypto`], [`telemetry`]: shared leaves: how
//!   times and ids are printed, the clock at the edge and calendar months,
//!   keys and sealing at rest, logging.
//! - [`config`]: TOML to a validated `Config`, every problem reported by
//!   key path.
//! - [`protocol`]: the bytes that cross the broker, decoded and encoded
//!   purely: topics, native device events, foreign device payloads
//!   (one adapter per ecosystem), approval requests and member replies,
//!   control messages, the hub-signed intent and shop acknowledgements.
//! - [`ledger`]: the hash-chained ledger's entries, chain rule and verifier.
//! - [`store`]: SQLite: schema and migrations, sealed rows, reads and
//!   writes by concern, the state-directory lock.
//! - [`homeassistant`]: Home Assistant discovery, state and events (pure,
//!   plus a read-only snapshot of the store).
//! - [`engine`]: what the single writer does with each kind of inbound
//!   message and each decision, inside one transaction. No network IO.
//! - [`daemon`]: the running process: MQTT connections, the writer
//!   thread, the outbox relay, the Home Assistant link, retention,
//!   systemd notifications, crash points.
//! - [`tools`]: `larder demo`, `bench`, `replay`, `simulate`, the
//!   fuzzing entry points and the harness shared by `bench` and the
//!   integration tests. Nothing in the daemon depends on them.
//! - [`commands`]: the command line: clap types, the dispatcher, one file
//!   per subcommand. `main.rs` only parses, sets up logging and maps
//!   errors to exit codes.

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
