//! The weekly pattern: an exponentially weighted mean per UTC weekday,
//! used only where the data supports it, as factors that scale the
//! horizon's demand.

use super::model::ItemState;
use crate::DAY;

/// Memory of the weekday profile, in weeks (the floor of its weight).
pub const WEEKDAY_MEMORY_WEEKS: f64 = 8.0;

/// Days of data every weekday needs before a weekly pattern is used.
pub const WEEKDAY_MIN_WEEKS: u32 = 4;

/// Shrinkage of the weekday factors toward a flat week, in weeks of data
/// (with `n` weeks the factors keep `n / (n + this)` of their deviation).
pub const WEEKDAY_SHRINK_WEEKS: f64 = 4.0;

/// The UTC weekday of day number `day` (days since 1970-01-01, a
/// Thursday), 0 = Monday.
pub(super) fn weekday(day: i64) -> usize {
    (day.rem_euclid(7) as usize + 3) % 7
}

/// Weight of the `n`-th sample of one weekday.
fn weekday_alpha(n: u32) -> f64 {
    (1.0 / f64::from(n.max(1))).max(1.0 / WEEKDAY_MEMORY_WEEKS)
}

/// Folds one closed day's demand into its weekday's mean.
pub(super) fn push_weekday(state: &mut ItemState, day: i64, x: f64) {
    let w = weekday(day);
    state.weekday_days[w] = state.weekday_days[w].saturating_add(1);
    let a = weekday_alpha(state.weekday_days[w]);
    state.weekday_mean[w] += a * (x - state.weekday_mean[w]);
}

/// Folds `k` zero-demand days starting at `first` into the weekday means:
/// step by step while a weekday's weight is above its floor, then in
/// closed form, so a long gap costs the same as a short one.
pub(super) fn push_weekday_zeros(state: &mut ItemState, first: i64, k: u64) {
    for offset in 0..k.min(7) {
        let w = weekday(first.saturating_add(offset as i64));
        let mut count = (k - offset).div_ceil(7);
        while count > 0
            && weekday_alpha(state.weekday_days[w].saturating_add(1)) > 1.0 / WEEKDAY_MEMORY_WEEKS
        {
            state.weekday_days[w] = state.weekday_days[w].saturating_add(1);
            let a = weekday_alpha(state.weekday_days[w]);
            state.weekday_mean[w] *= 1.0 - a;
            count -= 1;
        }
        if count > 0 {
            state.weekday_mean[w] *= (1.0 - 1.0 / WEEKDAY_MEMORY_WEEKS).powf(count as f64);
            let c32 = u32::try_from(count).unwrap_or(u32::MAX);
            state.weekday_days[w] = state.weekday_days[w].saturating_add(c32);
        }
    }
}

/// The weekly pattern as seven factors averaging 1 (Monday first), or
/// `None` where the data does not support one: fewer than
/// `WEEKDAY_MIN_WEEKS` days of some weekday, no demand, or a spread
/// between weekdays that day-to-day noise (`day_var`, the variance of
/// daily demand) explains by itself.
pub fn weekday_factors(state: &ItemState, day_var: f64) -> Option<[f64; 7]> {
    let weeks = *state.weekday_days.iter().min()?;
    if weeks < WEEKDAY_MIN_WEEKS {
        return None;
    }
    let means = state.weekday_mean;
    let mean = means.iter().sum::<f64>() / 7.0;
    if !(mean > 0.0 && mean.is_finite()) {
        return None;
    }
    // Effective number of days behind each weekday mean (EW weights).
    let floor = 1.0 / WEEKDAY_MEMORY_WEEKS;
    let n_eff = f64::from(weeks).min((2.0 - floor) / floor);
    let noise_spread = day_var.max(0.0) / n_eff;
    let spread = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / 6.0;
    if spread.is_nan() || spread <= 2.0 * noise_spread {
        return None;
    }
    let keep = f64::from(weeks) / (f64::from(weeks) + WEEKDAY_SHRINK_WEEKS);
    let mut factors = means.map(|m| (1.0 + keep * (m / mean - 1.0)).max(0.0));
    let total = factors.iter().sum::<f64>() / 7.0;
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    for f in &mut factors {
        *f /= total;
    }
    Some(factors)
}

/// The mean weekday factor over `horizon` days from `now` (1 without a
/// supported pattern): the horizon's share of demand relative to an
/// average stretch of the same length.
pub(super) fn weekly_share(state: &ItemState, day_var: f64, now: i64, horizon: f64) -> f64 {
    let Some(factors) = weekday_factors(state, day_var) else {
        return 1.0;
    };
    if !(horizon > 0.0 && horizon.is_finite()) {
        return 1.0;
    }
    // Whole weeks contribute exactly 1 each; integrate the remainder day
    // by day.
    let whole_weeks = (horizon / 7.0).floor();
    let mut left = horizon - whole_weeks * 7.0;
    let mut integral = whole_weeks * 7.0;
    let mut day = now.div_euclid(DAY);
    let mut into_day = now.rem_euclid(DAY) as f64 / DAY as f64;
    while left > 1e-12 {
        let take = (1.0 - into_day).min(left);
        integral += take * factors[weekday(day)];
        left -= take;
        into_day = 0.0;
        day = day.saturating_add(1);
    }
    integral / horizon
}
