//! The washer cycle detector: plug power (and relay state) to one dose per
//! finished programme, with start and stop holds, pauses bridged, short
//! bursts and aborted cycles consuming nothing.

use super::{Derived, SLOT_CYCLE, clock_set_back};
use crate::ObservationKind;
use serde::{Deserialize, Serialize};

/// How long after the stop hold a tick waits before it confirms a cycle's
/// end without a reading: a plug that reports once a minute has reported
/// power coming back by then. Sampled once a minute, a drum rest in the
/// last tumble before a pause makes the pause look up to a minute longer
/// than it was; without this a pause just under the hold counted one
/// programme twice. A low reading at or after the hold confirms the end at
/// once; the dose is dated at the cycle's end either way.
pub const STOP_CONFIRM_SECS: i64 = 60;

/// Washer cycle detection settings (`[devices.washer]`).
#[derive(Debug, Clone, PartialEq)]
pub struct WasherParams {
    /// Item units one finished cycle consumes (`dose`, required).
    pub dose: f64,
    /// Power at or above which a cycle may be starting, W (`start-watts`,
    /// default 10).
    pub start_watts: f64,
    /// Power below which a running cycle may be ending, W (`stop-watts`,
    /// default 5; below `start-watts`: hysteresis).
    pub stop_watts: f64,
    /// Power must stay at or above `start-watts` this long to start a
    /// cycle, s (`start-secs`, default 60).
    pub start_secs: i64,
    /// Power must stay below `stop-watts` this long to end a cycle, s
    /// (`stop-secs`, default 600: washers pause for minutes between wash,
    /// rinse and spin).
    pub stop_secs: i64,
    /// Cycles shorter than this (start to end) are not programmes and
    /// consume nothing, s (`min-run-secs`, default 600).
    pub min_run_secs: i64,
}

impl Default for WasherParams {
    fn default() -> WasherParams {
        WasherParams {
            dose: 0.0,
            start_watts: 10.0,
            stop_watts: 5.0,
            start_secs: 60,
            stop_secs: 600,
            min_run_secs: 600,
        }
    }
}

/// Where the washer is in a cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum WasherPhase {
    /// No cycle (also: relay off / unplugged).
    #[default]
    Idle,
    /// Power at or above the start threshold since `since`, not yet long enough.
    Starting {
        /// First reading at or above the start threshold.
        since: i64,
    },
    /// A cycle is running.
    Running {
        /// When it started.
        started: i64,
    },
    /// Power below the stop threshold since `below_since`: a pause or the end.
    Stopping {
        /// When the cycle started.
        started: i64,
        /// When power dropped below the stop threshold.
        below_since: i64,
    },
}

/// A washer's cycle-detector state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WasherState {
    /// The phase.
    pub phase: WasherPhase,
    /// Time of the newest power reading taken (older ones are ignored).
    pub last_at: Option<i64>,
    /// The newest power reading, W (plugs report on change, so it holds
    /// until the next one).
    pub last_watts: Option<f64>,
}

/// What a washer reading or tick did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WasherOutcome {
    /// The dose of a finished cycle, dated at the cycle's end.
    pub derived: Vec<Derived>,
    /// A cycle ended too short to be a programme (consumed nothing).
    pub too_short: bool,
    /// A running cycle was cut by the relay turning off (consumed nothing).
    pub aborted: bool,
    /// Older than the newest reading taken; ignored.
    pub stale: bool,
}

impl WasherState {
    /// Folds one reading taken at `at`: power in W and/or the plug's relay
    /// state (`Some(false)` = switched off / unplugged).
    pub fn reading(
        &mut self,
        params: &WasherParams,
        watts: Option<f64>,
        relay_on: Option<bool>,
        at: i64,
    ) -> WasherOutcome {
        let mut out = WasherOutcome::default();
        self.follow_clock_back(at);
        if self.last_at.is_some_and(|last| at < last) {
            out.stale = true;
            return out;
        }
        // Time may have passed since the last reading: settle that first.
        self.advance(params, at, &mut out);
        self.last_at = Some(at);
        if relay_on == Some(false) {
            match self.phase {
                WasherPhase::Stopping {
                    started,
                    below_since,
                } => self.finish(params, started, below_since, &mut out),
                WasherPhase::Running { .. } => out.aborted = true,
                WasherPhase::Idle | WasherPhase::Starting { .. } => {}
            }
            self.phase = WasherPhase::Idle;
            self.last_watts = Some(0.0);
            return out;
        }
        let Some(watts) = watts.filter(|w| w.is_finite()) else {
            return out;
        };
        self.last_watts = Some(watts);
        if let WasherPhase::Stopping {
            started,
            below_since,
        } = self.phase
        {
            // Still no power at or after the stop hold: the cycle ended.
            if watts < params.start_watts && at - below_since >= params.stop_secs {
                self.phase = WasherPhase::Idle;
                self.finish(params, started, below_since, &mut out);
            }
        }
        self.phase = match self.phase {
            WasherPhase::Idle if watts >= params.start_watts => WasherPhase::Starting { since: at },
            WasherPhase::Idle => WasherPhase::Idle,
            WasherPhase::Starting { since } if watts >= params.start_watts => {
                if at - since >= params.start_secs {
                    WasherPhase::Running { started: since }
                } else {
                    WasherPhase::Starting { since }
                }
            }
            WasherPhase::Starting { .. } => WasherPhase::Idle,
            WasherPhase::Running { started } if watts < params.stop_watts => {
                WasherPhase::Stopping {
                    started,
                    below_since: at,
                }
            }
            running @ WasherPhase::Running { .. } => running,
            // Hysteresis: a pause ends only when power is clearly back.
            WasherPhase::Stopping { started, .. } if watts >= params.start_watts => {
                WasherPhase::Running { started }
            }
            stopping @ WasherPhase::Stopping { .. } => stopping,
        };
        out
    }

    /// Confirms time-based transitions at `now` without a new reading (a
    /// plug reports on change only): a held start, or a cycle whose power
    /// stayed below the stop threshold for `stop_secs`.
    pub fn tick(&mut self, params: &WasherParams, now: i64) -> WasherOutcome {
        let mut out = WasherOutcome::default();
        self.follow_clock_back(now);
        self.advance(params, now, &mut out);
        out
    }

    /// If `at` shows the clock was set back ([`CLOCK_STEP_SECS`]), moves
    /// the phase times and the newest reading time back with it.
    fn follow_clock_back(&mut self, at: i64) {
        let Some(last) = self.last_at.filter(|_| clock_set_back(self.last_at, at)) else {
            return;
        };
        let back = last - at;
        self.phase = match self.phase {
            WasherPhase::Idle => WasherPhase::Idle,
            WasherPhase::Starting { since } => WasherPhase::Starting {
                since: since.saturating_sub(back),
            },
            WasherPhase::Running { started } => WasherPhase::Running {
                started: started.saturating_sub(back),
            },
            WasherPhase::Stopping {
                started,
                below_since,
            } => WasherPhase::Stopping {
                started: started.saturating_sub(back),
                below_since: below_since.saturating_sub(back),
            },
        };
        self.last_at = Some(at);
    }

    /// Whether a tick could change anything (the engine skips idle devices).
    pub fn waiting(&self) -> bool {
        matches!(
            self.phase,
            WasherPhase::Starting { .. } | WasherPhase::Stopping { .. }
        )
    }

    fn advance(&mut self, params: &WasherParams, now: i64, out: &mut WasherOutcome) {
        match self.phase {
            WasherPhase::Starting { since }
                if now - since >= params.start_secs
                    && self.last_watts.is_some_and(|w| w >= params.start_watts) =>
            {
                self.phase = WasherPhase::Running { started: since };
            }
            WasherPhase::Stopping {
                started,
                below_since,
            } if now - below_since >= params.stop_secs.saturating_add(STOP_CONFIRM_SECS) => {
                self.phase = WasherPhase::Idle;
                self.finish(params, started, below_since, out);
            }
            _ => {}
        }
    }

    fn finish(&self, params: &WasherParams, started: i64, ended: i64, out: &mut WasherOutcome) {
        if ended - started < params.min_run_secs {
            out.too_short = true;
            return;
        }
        out.derived.push(Derived {
            slot: SLOT_CYCLE,
            kind: ObservationKind::Consumed,
            amount: params.dose,
            at: ended,
        });
    }
}
