//! The load-cell filter: weight readings (calibrated, net of tare,
//! median-filtered) to item levels and restocks; a container lifted off
//! the scale is ignored, not read as empty.

use super::{Derived, SLOT_WEIGHT, clock_set_back};
use crate::ObservationKind;
use serde::{Deserialize, Serialize};

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
