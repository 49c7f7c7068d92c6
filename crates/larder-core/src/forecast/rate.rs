//! Learning daily demand: the declared usage as a prior, exponentially
//! weighted moments of the closed days (a long and a short memory), and
//! runs of zero-demand days in closed form.

use super::model::{ItemModel, ItemState, state_is_finite};

/// Days of data the declared usage (the prior) is worth.
pub const PRIOR_DAYS: f64 = 7.0;

/// Memory of the rate estimate in days: the smallest per-day weight is
/// `1 / MEMORY_DAYS`.
pub const MEMORY_DAYS: f64 = 14.0;

/// Memory of the fast rate estimate in days (a change of habit shows
/// within about this many days).
pub const FAST_MEMORY_DAYS: f64 = 3.0;

/// Moments of daily demand, prior and data combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Demand {
    /// Mean daily demand.
    pub(super) mean: f64,
    /// Variance of daily demand.
    pub(super) var: f64,
    /// Effective number of days behind `mean` (0 when nothing is known).
    pub(super) n_eff: f64,
}

impl Demand {
    /// Combines the declared usage (if any) with the data in `state`.
    pub(super) fn of(model: &ItemModel, state: &ItemState) -> Demand {
        let known = state_is_finite(state) && state.data_weight > 0.0;
        let (w, sum, sq, w2) = if known {
            (
                state.data_weight.min(1.0),
                state.demand_sum,
                state.demand_sq_sum,
                state.weight_sq_sum,
            )
        } else {
            (0.0, 0.0, 0.0, 0.0)
        };
        match declared(model) {
            Some(m0) => {
                // The prior holds the weight the data has not taken over,
                // as PRIOR_DAYS pseudo-days of mean m0 and sd m0 / 2.
                let wp = 1.0 - w;
                let v0 = (0.5 * m0).powi(2);
                let mean = wp * m0 + sum;
                let second = wp * (v0 + m0 * m0) + sq;
                let w2_total = w2 + wp * wp / PRIOR_DAYS;
                Demand {
                    mean: mean.max(0.0),
                    var: (second - mean * mean).max(0.0),
                    n_eff: if w2_total > 0.0 { 1.0 / w2_total } else { 0.0 },
                }
            }
            None if w > 0.0 => {
                let mean = sum / w;
                Demand {
                    mean: mean.max(0.0),
                    var: (sq / w - mean * mean).max(0.0),
                    n_eff: if w2 > 0.0 { w * w / w2 } else { 0.0 },
                }
            }
            None => Demand {
                mean: 0.0,
                var: 0.0,
                n_eff: 0.0,
            },
        }
    }
}

/// The declared usage, if it is a usable number.
fn declared(model: &ItemModel) -> Option<f64> {
    model
        .declared_per_day
        .filter(|m| m.is_finite() && *m >= 0.0)
}

/// Pseudo-days of the prior in the smoothing schedule.
pub(super) fn prior_days(model: &ItemModel) -> f64 {
    if declared(model).is_some() {
        PRIOR_DAYS
    } else {
        0.0
    }
}

/// Weight of the `t`-th daily sample.
fn alpha(t: u32, n0: f64) -> f64 {
    (1.0 / (f64::from(t) + n0)).max(1.0 / MEMORY_DAYS)
}

/// Adds one day's demand `x` to the weighted moments.
pub(super) fn push_sample(state: &mut ItemState, x: f64, n0: f64) {
    state.sample_days = state.sample_days.saturating_add(1);
    let a = alpha(state.sample_days, n0);
    let r = 1.0 - a;
    state.data_weight = r * state.data_weight + a;
    state.demand_sum = r * state.demand_sum + a * x;
    state.demand_sq_sum = r * state.demand_sq_sum + a * x * x;
    state.weight_sq_sum = r * r * state.weight_sq_sum + a * a;
    let f = fast_alpha(state.sample_days);
    state.fast_weight = (1.0 - f) * state.fast_weight + f;
    state.fast_sum = (1.0 - f) * state.fast_sum + f * x;
}

/// Weight of the `t`-th daily sample in the fast estimate.
fn fast_alpha(t: u32) -> f64 {
    (1.0 / f64::from(t.max(1))).max(1.0 / FAST_MEMORY_DAYS)
}

/// Adds `k` zero-demand days: one by one while the weight is still above
/// its floor (at most `MEMORY_DAYS` steps), then in closed form, so any gap
/// costs the same.
pub(super) fn push_zero_days(state: &mut ItemState, mut k: u64, n0: f64) {
    while k > 0 && alpha(state.sample_days.saturating_add(1), n0) > 1.0 / MEMORY_DAYS {
        push_sample(state, 0.0, n0);
        k -= 1;
    }
    if k == 0 {
        return;
    }
    let a = 1.0 / MEMORY_DAYS;
    let r = 1.0 - a;
    let rk = r.powf(k as f64);
    state.data_weight = 1.0 - (1.0 - state.data_weight) * rk;
    state.demand_sum *= rk;
    state.demand_sq_sum *= rk;
    state.weight_sq_sum = state.weight_sq_sum * rk * rk + a * a * (1.0 - rk * rk) / (1.0 - r * r);
    let k32 = u32::try_from(k).unwrap_or(u32::MAX);
    state.sample_days = state.sample_days.saturating_add(k32);
    // The fast estimate's weight has long reached its floor here.
    let fk = (1.0 - 1.0 / FAST_MEMORY_DAYS).powf(k as f64);
    state.fast_weight = 1.0 - (1.0 - state.fast_weight) * fk;
    state.fast_sum *= fk;
}
