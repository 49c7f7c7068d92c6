//! Unit tests of the forecaster, by concern; the shared models (milk,
//! detergent) and feeders live here.

use super::*;
use crate::{DAY, Observation, ObservationKind};

mod household;
mod observe;
mod outlook;
mod persistence;
mod plan;
mod propose;
mod rate;
mod weekday;

const HOUR: i64 = 3_600;
/// 2024-01-01T00:00:00Z, a day boundary.
const T0: i64 = 1_704_067_200;

fn milk() -> ItemModel {
    ItemModel {
        package_size: 1.0,
        lead_time_days: 1.0,
        review_days: 3.0,
        shelf_life_days: Some(10.0),
        service_level: 0.95,
        declared_per_day: None,
        measure: Measure::Level,
        noise: 0.05,
    }
}

fn detergent() -> ItemModel {
    ItemModel {
        package_size: 2.0,
        lead_time_days: 2.0,
        review_days: 14.0,
        shelf_life_days: None,
        service_level: 0.95,
        declared_per_day: None,
        measure: Measure::Consumption,
        noise: 0.0,
    }
}

/// A milk model deciding daily (lead 1 h, review 1 day).
fn daily_milk() -> ItemModel {
    ItemModel {
        lead_time_days: 1.0 / 24.0,
        review_days: 1.0,
        ..milk()
    }
}

fn obs(at: i64, kind: ObservationKind, amount: f64) -> Observation {
    Observation { at, kind, amount }
}

fn reading(at: i64, amount: f64) -> Observation {
    obs(at, ObservationKind::Level, amount)
}

/// Feeds level readings `step` seconds apart from `T0`; returns the
/// total consumed and restocked.
fn feed_levels(model: &ItemModel, state: &mut ItemState, levels: &[f64], step: i64) -> Observed {
    let mut total = Observed::default();
    for (i, &v) in levels.iter().enumerate() {
        let o = observe(model, state, &reading(T0 + i as i64 * step, v));
        total.consumed += o.consumed;
        total.restocked += o.restocked;
    }
    total
}

/// A small deterministic generator for test noise (no randomness in
/// the code under test; this keeps the tests replayable too).
struct Lcg(u64);
impl Lcg {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// Simulates a load-cell item used at `per_day` for `days` days, read
/// every 6 hours with uniform noise of ±`noise`, restocked with
/// `restock` units whenever the true level drops below `reorder_at`.
fn simulate(model: &ItemModel, per_day: f64, days: i64, noise: f64, seed: u64) -> ItemState {
    let mut state = ItemState::default();
    let mut rng = Lcg(seed);
    let mut level = 2.0;
    for step in 0..days * 4 {
        let at = T0 + step * 6 * HOUR;
        if step > 0 {
            level -= per_day / 4.0;
        }
        if level < 0.5 {
            level += 2.0;
        }
        observe(model, &mut state, &reading(at, level + noise * rng.next()));
    }
    state
}

/// `days` days of steady use at `per_day`, then a reading of `level`
/// restocked (a fresh lot) at the end.
fn steady(model: &ItemModel, per_day: f64, days: i64, level: f64) -> (ItemState, i64) {
    let mut state = ItemState::default();
    for d in 0..days {
        observe(
            model,
            &mut state,
            &obs(T0 + d * DAY + 12 * HOUR, ObservationKind::Consumed, per_day),
        );
    }
    let now = T0 + days * DAY + 20 * HOUR;
    observe(
        model,
        &mut state,
        &obs(now - HOUR, ObservationKind::Added, level),
    );
    (state, now)
}
