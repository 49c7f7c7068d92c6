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

use crate::ObservationKind;
use serde::{Deserialize, Serialize};

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

/// How long after the stop hold a tick waits before it confirms a cycle's
/// end without a reading: a plug that reports once a minute has reported
/// power coming back by then. Sampled once a minute, a drum rest in the
/// last tumble before a pause makes the pause look up to a minute longer
/// than it was; without this a pause just under the hold counted one
/// programme twice. A low reading at or after the hold confirms the end at
/// once; the dose is dated at the cycle's end either way.
pub const STOP_CONFIRM_SECS: i64 = 60;

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

/// Load-cell settings (`[devices.scale]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleParams {
    /// Weight of the empty container, kg (`tare-kg`, default 0): subtracted
    /// after calibration; a reading clearly below it means the container
    /// was lifted off and is ignored.
    pub tare_kg: f64,
    /// Calibration factor applied to the reported weight (`calibration`,
    /// default 1).
    pub calibration: f64,
    /// Calibration offset in kg added after the factor (`offset-kg`,
    /// default 0).
    pub offset_kg: f64,
    /// Item units per kg of contents (`units-per-kg`, default 1; milk in
    /// litres ≈ 0.97).
    pub units_per_kg: f64,
    /// Changes of the filtered weight smaller than this are noise
    /// (`deadband-kg`, default 0.02).
    pub deadband_kg: f64,
    /// Readings in the median filter (`median-of`, default 3; 1 = off).
    pub median_of: usize,
    /// A rise of the filtered weight above this is a restock: an `added`
    /// observation plus the new level (`restock-kg`, default 0.2).
    pub restock_kg: f64,
}

impl Default for ScaleParams {
    fn default() -> ScaleParams {
        ScaleParams {
            tare_kg: 0.0,
            calibration: 1.0,
            offset_kg: 0.0,
            units_per_kg: 1.0,
            deadband_kg: 0.02,
            median_of: 3,
            restock_kg: 0.2,
        }
    }
}

/// Largest accepted `median-of`.
pub const MAX_MEDIAN_OF: usize = 15;

/// A load cell's filter state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScaleState {
    /// Latest contents weights (kg), oldest first, at most `median_of`.
    pub window: Vec<f64>,
    /// The last level reported, in kg of contents.
    pub reported_kg: Option<f64>,
    /// Time of the newest reading taken (older ones are ignored).
    pub last_at: Option<i64>,
}

/// What a scale reading did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScaleOutcome {
    /// Observations to store (at most an `added` and a `level`).
    pub derived: Vec<Derived>,
    /// The container was off the scale (reading below tare); ignored.
    pub lifted: bool,
    /// Older than the newest reading taken; ignored.
    pub stale: bool,
}

impl ScaleState {
    /// Folds one weight reading (`kg` as the device reports it) taken at
    /// `at` into the filter.
    pub fn reading(&mut self, params: &ScaleParams, kg: f64, at: i64) -> ScaleOutcome {
        let mut out = ScaleOutcome::default();
        if !kg.is_finite() {
            return out;
        }
        if clock_set_back(self.last_at, at) {
            self.last_at = None;
        }
        if self.last_at.is_some_and(|last| at < last) {
            out.stale = true;
            return out;
        }
        self.last_at = Some(at);
        let gross = kg * params.calibration + params.offset_kg;
        let contents = gross - params.tare_kg;
        // Clearly below empty: the container is off the scale (with
        // `tare-kg` 0 the device itself was tared with the container on,
        // and lifting it reads negative). Not an empty container.
        if contents < -params.deadband_kg.max(0.5 * params.tare_kg) {
            out.lifted = true;
            return out;
        }
        let contents = contents.max(0.0);
        let size = params.median_of.clamp(1, MAX_MEDIAN_OF);
        self.window.push(contents);
        while self.window.len() > size {
            self.window.remove(0);
        }
        if self.window.len() < size {
            return out;
        }
        let filtered = median(&self.window);
        let units = |kg: f64| kg * params.units_per_kg;
        match self.reported_kg {
            None => {}
            Some(reported) if (filtered - reported).abs() < params.deadband_kg => return out,
            Some(reported) if filtered - reported > params.restock_kg => {
                out.derived.push(Derived {
                    slot: SLOT_WEIGHT,
                    kind: ObservationKind::Added,
                    amount: units(filtered - reported),
                    at,
                });
            }
            Some(_) => {}
        }
        self.reported_kg = Some(filtered);
        out.derived.push(Derived {
            slot: SLOT_WEIGHT,
            kind: ObservationKind::Level,
            amount: units(filtered),
            at,
        });
        out
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_772_445_600;

    fn washer() -> WasherParams {
        WasherParams {
            dose: 75.0,
            ..WasherParams::default()
        }
    }

    /// Parses a `seconds,watts` trace (header and `#` comments skipped).
    fn trace(text: &str) -> Vec<(i64, f64)> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("seconds"))
            .map(|l| {
                let (s, w) = l.split_once(',').expect("seconds,watts");
                (
                    s.trim().parse().expect("seconds"),
                    w.trim().parse().expect("watts"),
                )
            })
            .collect()
    }

    /// Feeds a trace as readings, ticking every 60 s of simulated time in
    /// between (as the daemon does); then ticks for an hour after the end.
    fn cycles(text: &str) -> Vec<Derived> {
        let params = washer();
        let mut state = WasherState::default();
        let mut found = Vec::new();
        let mut clock = T0;
        for (secs, watts) in trace(text) {
            let at = T0 + secs;
            while clock + 60 < at {
                clock += 60;
                found.extend(state.tick(&params, clock).derived);
            }
            let out = state.reading(&params, Some(watts), Some(true), at);
            found.extend(out.derived);
            // A JSON round trip between messages, as the store does.
            state = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        }
        for _ in 0..60 {
            clock += 60;
            found.extend(state.tick(&params, clock).derived);
        }
        found
    }

    #[test]
    fn recorded_wash_programmes_with_pauses_are_one_cycle_each() {
        for (name, text, end) in [
            (
                "cotton 40",
                include_str!("../../../tests/data/devices/trace-cotton40.csv"),
                Some(6_480),
            ),
            (
                "eco 40-60",
                include_str!("../../../tests/data/devices/trace-eco4060.csv"),
                Some(10_860),
            ),
            (
                "quick 30",
                include_str!("../../../tests/data/devices/trace-quick30.csv"),
                Some(1_980),
            ),
            (
                "standby",
                include_str!("../../../tests/data/devices/trace-standby.csv"),
                None,
            ),
        ] {
            let found = cycles(text);
            match end {
                Some(end) => {
                    assert_eq!(found.len(), 1, "{name}: {found:?}");
                    assert_eq!(found[0].slot, SLOT_CYCLE);
                    assert_eq!(found[0].kind, ObservationKind::Consumed);
                    assert_eq!(found[0].amount, 75.0);
                    assert_eq!(found[0].at, T0 + end, "{name}: dated at the cycle's end");
                }
                None => assert!(found.is_empty(), "{name}: {found:?}"),
            }
        }
    }

    /// Power at `secs` into a trace (each value holds until the next).
    fn power_at(points: &[(i64, f64)], secs: i64) -> f64 {
        points
            .iter()
            .take_while(|(at, _)| *at <= secs)
            .last()
            .map_or(0.0, |(_, w)| *w)
    }

    #[test]
    fn every_reporting_rate_and_a_door_spike_after_the_end_give_one_dose_per_programme() {
        let p = washer();
        for (name, text, end) in [
            (
                "cotton 40",
                include_str!("../../../tests/data/devices/trace-cotton40.csv"),
                6_480,
            ),
            (
                "eco 40-60",
                include_str!("../../../tests/data/devices/trace-eco4060.csv"),
                10_860,
            ),
        ] {
            let mut points = trace(text);
            let last = points.last().map_or(0, |(at, _)| *at);
            // After the end the door is opened (drum light, pump: 35 W
            // for 20 s), then the plug is switched off.
            points.extend([(end + 120, 35.0), (end + 140, 0.4), (last + 600, 0.4)]);
            let off = last + 900;
            for every in [10, 60] {
                let mut state = WasherState::default();
                let mut found = Vec::new();
                let mut secs = 0;
                while secs <= off + 3600 {
                    let at = T0 + secs;
                    let relay = secs < off;
                    let watts = relay.then(|| power_at(&points, secs));
                    found.extend(state.reading(&p, watts, Some(relay), at).derived);
                    if secs % 60 == 0 {
                        found.extend(state.tick(&p, at).derived);
                    }
                    secs += every;
                }
                assert_eq!(found.len(), 1, "{name}, every {every} s: {found:?}");
                assert!(
                    (found[0].at - (T0 + end)).abs() <= every,
                    "{name}, every {every} s: ends at {}",
                    found[0].at - T0
                );
            }
        }
    }

    #[test]
    fn a_pause_shorter_than_the_stop_hold_is_bridged_and_a_longer_one_ends_the_cycle() {
        let p = washer();
        let mut s = WasherState::default();
        s.reading(&p, Some(2000.0), None, T0);
        s.reading(&p, Some(2000.0), None, T0 + 60);
        assert_eq!(s.phase, WasherPhase::Running { started: T0 });
        s.reading(&p, Some(1.0), None, T0 + 900);
        assert!(s.tick(&p, T0 + 900 + 599).derived.is_empty());
        // Between the thresholds: still a pause.
        s.reading(&p, Some(7.0), None, T0 + 1000);
        assert!(matches!(s.phase, WasherPhase::Stopping { .. }));
        s.reading(&p, Some(300.0), None, T0 + 1400);
        assert_eq!(s.phase, WasherPhase::Running { started: T0 });
        s.reading(&p, Some(0.5), None, T0 + 2000);
        assert!(s.tick(&p, T0 + 2599).derived.is_empty());
        // A tick confirms it a minute after the hold (a plug reporting
        // once a minute has reported power coming back by then).
        assert!(
            s.tick(&p, T0 + 2600 + STOP_CONFIRM_SECS - 1)
                .derived
                .is_empty()
        );
        let done = s.tick(&p, T0 + 2600 + STOP_CONFIRM_SECS).derived;
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].at, T0 + 2000);
        assert_eq!(s.phase, WasherPhase::Idle);
        // Ticking again finds nothing more.
        assert!(s.tick(&p, T0 + 9000).derived.is_empty());
    }

    #[test]
    fn a_start_needs_the_start_hold_and_a_short_burst_is_no_cycle() {
        let p = washer();
        let mut s = WasherState::default();
        s.reading(&p, Some(1500.0), None, T0);
        s.reading(&p, Some(2.0), None, T0 + 30);
        assert_eq!(s.phase, WasherPhase::Idle, "a kettle-length burst");
        // Held by a tick alone (reports on change only).
        s.reading(&p, Some(50.0), None, T0 + 100);
        s.tick(&p, T0 + 160);
        assert_eq!(s.phase, WasherPhase::Running { started: T0 + 100 });
        // Ends after 5 minutes: too short for a programme.
        s.reading(&p, Some(0.0), None, T0 + 400);
        let out = s.tick(&p, T0 + 1000 + STOP_CONFIRM_SECS);
        assert!(out.derived.is_empty());
        assert!(out.too_short);
    }

    #[test]
    fn relay_off_ends_a_pausing_cycle_and_aborts_a_running_one() {
        let p = washer();
        let mut s = WasherState::default();
        s.reading(&p, Some(2000.0), Some(true), T0);
        s.reading(&p, Some(400.0), Some(true), T0 + 3000);
        s.reading(&p, Some(1.0), Some(true), T0 + 3600);
        let out = s.reading(&p, None, Some(false), T0 + 3700);
        assert_eq!(out.derived.len(), 1, "switched off after the end");
        assert_eq!(out.derived[0].at, T0 + 3600);
        let mut s = WasherState::default();
        s.reading(&p, Some(2000.0), Some(true), T0);
        s.reading(&p, Some(400.0), Some(true), T0 + 3000);
        let out = s.reading(&p, Some(0.0), Some(false), T0 + 3100);
        assert!(out.derived.is_empty() && out.aborted);
        assert_eq!(s.phase, WasherPhase::Idle);
    }

    #[test]
    fn stale_readings_change_nothing() {
        let p = washer();
        let mut s = WasherState::default();
        s.reading(&p, Some(2000.0), None, T0 + 100);
        let before = s.clone();
        assert!(s.reading(&p, Some(0.0), None, T0).stale);
        assert_eq!(s, before);
    }

    #[test]
    fn a_clock_set_back_an_hour_mid_cycle_loses_no_readings_and_counts_one_dose() {
        let p = washer();
        let mut s = WasherState::default();
        for minute in 0..=20 {
            s.reading(&p, Some(2000.0), Some(true), T0 + 60 * minute);
        }
        assert_eq!(s.phase, WasherPhase::Running { started: T0 });
        // The hub's clock is set back an hour (a Pi without a real-time
        // clock booting from its saved time, then corrected).
        let back = T0 + 1260 - 3600;
        let out = s.reading(&p, Some(1800.0), Some(true), back);
        assert!(
            !out.stale,
            "a reading an hour 'older' is the clock, not a late copy"
        );
        assert!(matches!(s.phase, WasherPhase::Running { .. }), "{s:?}");
        s.reading(&p, Some(1.0), Some(true), back + 60);
        assert!(matches!(s.phase, WasherPhase::Stopping { .. }), "{s:?}");
        assert!(s.tick(&p, back + 60 + 599).derived.is_empty());
        // A low reading at the hold's end confirms it at once.
        let done = s
            .reading(&p, Some(0.8), Some(true), back + 60 + 600)
            .derived;
        assert_eq!(
            done.len(),
            1,
            "one dose, at the cycle's end on the new clock"
        );
        assert_eq!(done[0].at, back + 60);
        assert!(s.tick(&p, back + 7200).derived.is_empty());
        // Ticks alone also follow the clock back (a plug silent in a
        // pause): the hold counts on from the first tick after the step.
        let mut s = WasherState::default();
        s.reading(&p, Some(2000.0), None, T0);
        s.reading(&p, Some(2000.0), None, T0 + 1200);
        s.reading(&p, Some(0.5), None, T0 + 1800);
        let back = T0 + 1800 - 3600;
        assert!(s.tick(&p, back).derived.is_empty());
        assert!(
            s.tick(&p, back + 599 + STOP_CONFIRM_SECS)
                .derived
                .is_empty()
        );
        assert_eq!(s.tick(&p, back + 600 + STOP_CONFIRM_SECS).derived.len(), 1);
        // A copy a few seconds late is still stale.
        let mut s = WasherState::default();
        s.reading(&p, Some(2000.0), None, T0 + 100);
        assert!(s.reading(&p, Some(0.0), None, T0 + 40).stale);
    }

    #[test]
    fn a_negative_weight_is_a_lifted_container_and_putting_it_back_is_no_restock() {
        // Tared on the device with the container on (tare-kg 0): lifting
        // the container reads its weight negative.
        for median_of in [1, 3] {
            let p = ScaleParams {
                median_of,
                ..ScaleParams::default()
            };
            let mut s = ScaleState::default();
            let first = feed(&mut s, &p, &[0.8, 0.8, 0.8]);
            assert_eq!(first.len(), 1, "{first:?}");
            let mut lifted = Vec::new();
            for i in 0..4 {
                let out = s.reading(&p, -0.35, T0 + 3000 + 60 * i);
                assert!(out.lifted, "median-of {median_of}: {out:?}");
                lifted.extend(out.derived);
            }
            assert!(lifted.is_empty(), "not read as empty: {lifted:?}");
            let mut back = Vec::new();
            for i in 0..3 {
                back.extend(s.reading(&p, 0.75, T0 + 4000 + 60 * i).derived);
            }
            assert_eq!(back.len(), 1, "median-of {median_of}: {back:?}");
            assert_eq!(back[0].kind, ObservationKind::Level, "no phantom restock");
            assert!((back[0].amount - 0.75).abs() < 1e-9);
        }
        // The scale's clock set back: readings keep coming in.
        let p = ScaleParams {
            median_of: 1,
            ..ScaleParams::default()
        };
        let mut s = ScaleState::default();
        s.reading(&p, 0.8, T0);
        let out = s.reading(&p, 0.5, T0 - 3600);
        assert!(!out.stale);
        assert_eq!(out.derived.len(), 1);
    }

    fn scale() -> ScaleParams {
        ScaleParams {
            tare_kg: 0.1,
            units_per_kg: 0.97,
            ..ScaleParams::default()
        }
    }

    fn feed(s: &mut ScaleState, p: &ScaleParams, readings: &[f64]) -> Vec<Derived> {
        let mut out = Vec::new();
        for (i, kg) in readings.iter().enumerate() {
            out.extend(s.reading(p, *kg, T0 + 300 * i as i64).derived);
        }
        out
    }

    #[test]
    fn the_scale_reports_a_median_filtered_level_net_of_tare() {
        let p = scale();
        let mut s = ScaleState::default();
        // A hand on the shelf (a spike) is filtered out.
        let out = feed(&mut s, &p, &[1.13, 1.13, 2.9, 1.13]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].kind, ObservationKind::Level);
        assert!((out[0].amount - 1.03 * 0.97).abs() < 1e-9);
        // Jitter within the deadband reports nothing.
        let mut s2 = s.clone();
        assert!(s2.reading(&p, 1.14, T0 + 2000).derived.is_empty());
    }

    #[test]
    fn the_scale_reports_consumption_as_lower_levels_and_a_jump_as_a_restock() {
        let p = ScaleParams {
            units_per_kg: 1.0,
            ..scale()
        };
        let mut s = ScaleState::default();
        let out = feed(&mut s, &p, &[0.6, 0.6, 0.6, 0.4, 0.4, 1.4, 1.4]);
        let kinds: Vec<_> = out
            .iter()
            .map(|d| (d.kind, (d.amount * 100.0).round()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ObservationKind::Level, 50.0),
                (ObservationKind::Level, 30.0),
                (ObservationKind::Added, 100.0),
                (ObservationKind::Level, 130.0),
            ]
        );
    }

    #[test]
    fn a_lifted_container_is_ignored_not_read_as_empty() {
        let p = scale();
        let mut s = ScaleState::default();
        feed(&mut s, &p, &[0.6, 0.6, 0.6]);
        let out = s.reading(&p, 0.0, T0 + 5000);
        assert!(out.lifted && out.derived.is_empty());
        assert_eq!(s.window, vec![0.5, 0.5, 0.5]);
        // Calibration: factor and offset apply before the tare.
        let p = ScaleParams {
            calibration: 2.0,
            offset_kg: 0.1,
            median_of: 1,
            ..scale()
        };
        let mut s = ScaleState::default();
        let out = s.reading(&p, 0.5, T0);
        assert!((out.derived[0].amount - 1.0 * 0.97).abs() < 1e-9);
    }
}
