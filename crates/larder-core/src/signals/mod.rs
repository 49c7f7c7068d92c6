//! From device signals to item observations: a load-cell filter (weight →
//! level, restocks) and a washer cycle detector (plug power → one dose per
//! finished programme).
//!
//! Both are small state machines with serializable state that the engine
//! keeps per device (`device_state`, migration 7). Pure: time is an
//! argument; time-based transitions ("below the stop threshold for
//! `stop_secs`") are also confirmed without a new message by [`WasherState::tick`],
//! which the daemon's writer calls on every tick.
//!
//! Defaults are the values real projects use (see
//! `/work/shared/notes/ecosystem.md` §3 and `docs/devices.md`).
//!
//! The load cell is in `scale`, the washer in `washer`; the slots and the
//! clock-step rule both follow are here.

mod scale;
mod washer;

#[cfg(test)]
mod tests;

pub use scale::{MAX_MEDIAN_OF, ScaleOutcome, ScaleParams, ScaleState};
pub use washer::{STOP_CONFIRM_SECS, WasherOutcome, WasherParams, WasherPhase, WasherState};

use crate::ObservationKind;

/// Slot a load cell's level (and restocks) are reported on.
pub const SLOT_WEIGHT: &str = "weight";
/// Slot a finished washer cycle's dose is reported on (also Home Connect
/// `BSH.Common.Event.ProgramFinished`).
pub const SLOT_CYCLE: &str = "cycle";
/// Slot of Home Connect i-Dos tank 1 (fill level poor → low level).
pub const SLOT_IDOS1: &str = "idos1";
/// Slot of Home Connect i-Dos tank 2.
pub const SLOT_IDOS2: &str = "idos2";

/// A reading (or tick) more than this many seconds older than the newest
/// one taken is the clock having been set back (a Pi without a real-time
/// clock booting from its saved time, a corrected NTP step), not a late
/// copy: it is taken, and a washer's phase times move back with the
/// clock so the durations measured so far are kept. Within it, an older
/// reading is a reordered or redelivered copy and is ignored.
pub const CLOCK_STEP_SECS: i64 = 300;

/// Whether `at` is behind `last` by more than [`CLOCK_STEP_SECS`].
fn clock_set_back(last: Option<i64>, at: i64) -> bool {
    last.is_some_and(|last| at < last.saturating_sub(CLOCK_STEP_SECS))
}

/// An observation derived from device signals, for the item on `slot`.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// Fixed slot name (`weight`, `cycle`, `idos1`, `idos2`).
    pub slot: &'static str,
    /// What kind of fact it is.
    pub kind: ObservationKind,
    /// Amount in the item's unit.
    pub amount: f64,
    /// When it happened (Unix seconds).
    pub at: i64,
}
