//! The forecast at one instant: the learned rate with guests and absence,
//! the stock run down since the last reading, what expires unused
//! (first in, first out) and the chance of running out within the horizon.

use super::household::guest_factor_at;
use super::model::{Forecast, ItemModel, ItemState, Lot, horizon_days};
use super::normal::normal_upper_tail;
use super::rate::{Demand, prior_days, push_sample};
use super::weekday::weekly_share;
use crate::DAY;

/// The forecast for an item at `now`.
///
/// The rate is the estimate from closed days; if the open day's consumption
/// so far already exceeds it, the rate is what closing the open day now
/// would give (that consumption is a lower bound on the day's demand, so
/// it can only raise the estimate). The level is the last level minus
/// `rate * days since level_at` (not below 0).
pub fn forecast(model: &ItemModel, state: &ItemState, now: i64) -> Forecast {
    outlook(model, state, now, 0.0, horizon_days(model)).forecast
}

/// Everything the policy needs to know about an item at one instant.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Outlook {
    /// The published forecast (`stockout_probability` is computed on
    /// `usable`).
    pub(super) forecast: Forecast,
    /// Rate used for the decision: the learned rate times declared
    /// guests, 0 while the household is away.
    pub(super) rate: f64,
    /// Expected demand over the horizon (weekly pattern included).
    pub(super) mean_h: f64,
    /// Standard deviation of demand over the horizon.
    pub(super) sd_h: f64,
    /// Standard deviation of demand per day (day-to-day only).
    pub(super) sd_day: f64,
    /// Uncertainty of the rate itself (its standard error and the gap
    /// between the short- and long-memory estimates), units per day.
    pub(super) rate_uncertainty: f64,
    /// Stock that can serve demand within the horizon: on hand minus what
    /// expires unused before the horizon ends, plus what is on order.
    pub(super) usable: f64,
    /// On-hand stock expected to expire unused (at the mean rate).
    pub(super) expected_waste: f64,
    /// The short-memory rate (times guests; 0 while away).
    pub(super) recent_rate: f64,
    /// Days from now until the usable stock (on order excluded) runs out
    /// at the mean rate (`INFINITY` if it never does).
    pub(super) runs_out_in: f64,
}

/// Computes the outlook for demand over `horizon` days.
pub(super) fn outlook(
    model: &ItemModel,
    state: &ItemState,
    now: i64,
    on_order: f64,
    horizon: f64,
) -> Outlook {
    let mut demand = Demand::of(model, state);
    let open_guests = state
        .open_day
        .map_or(1.0, |d| guest_factor_at(state, d.saturating_mul(DAY)));
    let open_use = state.day_consumed / open_guests;
    if open_use > demand.mean {
        let mut provisional = state.clone();
        push_sample(&mut provisional, open_use, prior_days(model));
        demand = Demand::of(model, &provisional);
    }
    let fast_mean = if state.fast_weight > 0.0 {
        state.fast_sum / state.fast_weight
    } else {
        demand.mean
    };
    let learned = demand.mean;
    let away = state.paused_since.is_some();
    let guests = guest_factor_at(state, now);
    let rate = if away { 0.0 } else { learned * guests };

    // Run the stock down from the last reading at the current rate.
    let elapsed_days = (now.saturating_sub(state.level_at).max(0) as f64) / DAY as f64;
    let level = state.level.map(|l| (l - rate * elapsed_days).max(0.0));
    let mut lots = state.lots.clone();
    let held: f64 = lots.iter().map(|l| l.amount).sum();
    if let Some(l0) = state.level {
        if held + 1e-9 < l0 {
            // Stock of unknown age (e.g. state from before lots were kept).
            lots.insert(
                0,
                Lot {
                    at: state.level_at,
                    amount: l0 - held,
                },
            );
        }
    }
    let mut used = state.level.unwrap_or(0.0) - level.unwrap_or(0.0);
    for lot in &mut lots {
        let take = lot.amount.min(used);
        lot.amount -= take;
        used -= take;
    }
    lots.retain(|l| l.amount > 1e-9);
    let shelf = model.shelf_life_days.filter(|s| s.is_finite() && *s >= 0.0);
    let projection = project(&lots, now, rate, shelf, horizon);

    let fast = fast_mean;
    let se_mean = if demand.n_eff > 0.0 {
        (demand.var / demand.n_eff).sqrt()
    } else {
        0.0
    };
    let drift = if away || state.data_weight <= 0.0 {
        0.0
    } else {
        (fast - demand.mean).abs() * guests
    };
    let rate_uncertainty = (se_mean * se_mean * guests * guests + drift * drift).sqrt();
    let sd_day = demand.var.sqrt() * guests;
    let sd_h = if away {
        0.0
    } else {
        (sd_day * sd_day * horizon + (rate_uncertainty * horizon).powi(2)).sqrt()
    };
    let mean_h = rate * horizon * weekly_share(state, demand.var, now, horizon);
    let usable = level.map(|l| (l - projection.waste_within + on_order.max(0.0)).max(0.0));
    let stockout_probability = match usable {
        None => 0.0,
        Some(_) if away => 0.0,
        Some(u) if u <= 0.0 && mean_h > 0.0 => 1.0,
        Some(u) if sd_h > 0.0 => normal_upper_tail((u - mean_h) / sd_h),
        // No spread at all: certain either way.
        Some(u) if mean_h > u => 1.0,
        Some(_) => 0.0,
    };
    Outlook {
        forecast: Forecast {
            level,
            rate_per_day: learned,
            rate_sd_per_day: demand.var.sqrt(),
            days_left: level.filter(|_| rate > 0.0).map(|l| l / rate),
            horizon_days: horizon,
            stockout_probability,
        },
        rate,
        mean_h,
        sd_h,
        sd_day,
        rate_uncertainty,
        usable: usable.unwrap_or(0.0),
        expected_waste: projection.waste,
        recent_rate: if away { 0.0 } else { fast_mean * guests },
        runs_out_in: projection.runs_out_in,
    }
}

/// Where the stock on hand goes at a steady rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Projection {
    /// Units expiring unused before the horizon ends.
    waste_within: f64,
    /// Units expiring unused at all.
    waste: f64,
    /// Days until the stock that is used runs out.
    runs_out_in: f64,
}

/// Consumes `lots` first in, first out at `rate` from `now`: each lot is
/// used until it is empty or expires; the next starts right after.
fn project(lots: &[Lot], now: i64, rate: f64, shelf: Option<f64>, horizon: f64) -> Projection {
    let mut tau = 0.0;
    let mut waste = 0.0;
    let mut waste_within = 0.0;
    for lot in lots {
        let expires_in = shelf.map_or(f64::INFINITY, |s| {
            (lot.at as f64 - now as f64) / DAY as f64 + s
        });
        let end = if rate > 0.0 {
            (tau + lot.amount / rate).min(expires_in.max(tau))
        } else {
            tau
        };
        let left = (lot.amount - rate * (end - tau)).max(0.0);
        if left > 1e-9 && expires_in.is_finite() {
            waste += left;
            if expires_in <= horizon {
                waste_within += left;
            }
        }
        tau = end;
    }
    Projection {
        waste_within,
        waste,
        runs_out_in: if rate > 0.0 { tau } else { f64::INFINITY },
    }
}
