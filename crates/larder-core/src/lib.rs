//! The pure decision core: forecasting, device signals and approval rules.
//!
//! Architecture invariant: nothing in this crate does IO. No clock reads,
//! no files, no network, no database. Time and state arrive as arguments,
//! so every decision can be unit-tested and replayed at simulated time. The
//! crate depends on serde only, so the compiler keeps it that way.
//!
//! # Layout
//! - `forecast/`: per-item consumption forecast and the reorder policy.
//! - `signals/`: device signals to item observations (load cell, washer).
//! - `rules/`: the household's approval rules.

pub mod forecast;
pub mod rules;
pub mod signals;

/// Seconds in a day; all timestamps in the core are Unix seconds (UTC).
pub const DAY: i64 = 86_400;

/// What a sensor told us about one item, already mapped to the item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// When it was observed (Unix seconds).
    pub at: i64,
    /// What kind of fact it is.
    pub kind: ObservationKind,
    /// Amount in the item's unit (a level for `Level`, a delta otherwise).
    pub amount: f64,
}

/// The kinds of fact the forecaster understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationKind {
    /// An absolute level reading (e.g. a load cell), possibly noisy.
    Level,
    /// An amount was used up (e.g. a washer dose).
    Consumed,
    /// An amount was put in (a delivery, a restock).
    Added,
    /// An amount was taken out without being used (thrown away, moved).
    Removed,
}
