//! The model of one item: its fixed parameters (`ItemModel`, sanitised
//! here before use), what the forecaster learns about it (`ItemState`,
//! `Lot`) and what it answers (`Observed`, `Forecast`, `Proposal`).

use serde::{Deserialize, Serialize};

/// Service levels are clamped into this range before they are used, so a
/// configuration of 1.0 (or NaN) cannot ask for infinite safety stock.
const SERVICE_LEVEL_RANGE: (f64, f64) = (0.5, 0.9999);

/// Service level used when the configured one is not a number.
const DEFAULT_SERVICE_LEVEL: f64 = 0.95;

/// How an item's stock is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// A sensor reports absolute levels (load cell); restocks show as jumps.
    Level,
    /// Devices report consumed amounts (washer doses); larder tracks the
    /// level itself from deliveries and consumption.
    Consumption,
}

/// The fixed parameters of one item, taken from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemModel {
    /// Units in one package (e.g. 1.0 l of milk, 10 eggs).
    pub package_size: f64,
    /// Days from ordering until a delivery can arrive.
    pub lead_time_days: f64,
    /// Days an order should cover beyond the lead time (the review period).
    pub review_days: f64,
    /// Days the item keeps once delivered; `None` for non-perishables.
    pub shelf_life_days: Option<f64>,
    /// Wanted probability of not running out before a delivery (e.g. 0.95).
    pub service_level: f64,
    /// What the household declared it uses, in units per day (the prior).
    pub declared_per_day: Option<f64>,
    /// How the stock is measured.
    pub measure: Measure,
    /// Level changes smaller than this are sensor noise, in units.
    pub noise: f64,
}

/// What the forecaster has learned about one item; small and fixed-size.
///
/// Serialised (JSON) by the store; new fields must carry `#[serde(default)]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ItemState {
    /// Best estimate of the stock at `level_at`, in units; `None` until known.
    pub level: Option<f64>,
    /// When `level` was last set (Unix seconds).
    pub level_at: i64,
    /// UTC day (`at.div_euclid(DAY)`) whose consumption is being collected;
    /// `None` before the first observation.
    pub open_day: Option<i64>,
    /// Units consumed so far in `open_day`.
    pub day_consumed: f64,
    /// Whether a `Measure::Level` item was seen out of stock during
    /// `open_day` (the day will be censored).
    pub day_out_of_stock: bool,
    /// Closed days that updated the rate (zero-demand days included).
    pub sample_days: u32,
    /// Closed days skipped because the item was out of stock.
    pub censored_days: u32,
    /// Total weight of the data in the rate estimate, 0..=1; the declared
    /// usage holds the rest.
    pub data_weight: f64,
    /// Weighted sum of daily demand (units per day).
    pub demand_sum: f64,
    /// Weighted sum of squared daily demand.
    pub demand_sq_sum: f64,
    /// Sum of the squared sample weights (for the effective sample size).
    pub weight_sq_sum: f64,
    /// Weighted sum of daily demand with the short memory
    /// (`FAST_MEMORY_DAYS`): tracks a change of habit within days.
    pub fast_sum: f64,
    /// Total weight of the data in `fast_sum`, 0..=1.
    pub fast_weight: f64,
    /// Stock on hand by delivery, oldest first (at most `MAX_LOTS`), so
    /// the policy knows what will expire before it is used.
    pub lots: Vec<Lot>,
    /// When the household went away (`pause`); `None` when present. While
    /// paused, days teach nothing and nothing is proposed.
    pub paused_since: Option<i64>,
    /// Closed days skipped because the household was away.
    pub paused_days: u32,
    /// Declared guests multiply consumption by this factor until
    /// `guests_until` (values `<= 1` mean no guests).
    pub guest_factor: f64,
    /// End of the declared guest visit (Unix seconds).
    pub guests_until: i64,
    /// No proposal before this time (a snooze or a denial).
    pub snoozed_until: i64,
    /// Proposals denied since the last approval.
    pub denials: u32,
    /// Learned correction of proposed quantities, as a natural log of the
    /// ratio the household chose over what was proposed (0 = none).
    pub quantity_bias: f64,
    /// Exponentially weighted mean daily demand per UTC weekday
    /// (0 = Monday), for the weekly pattern.
    pub weekday_mean: [f64; 7],
    /// Closed days that updated each weekday's mean.
    pub weekday_days: [u32; 7],
}

/// Units delivered (or found) at one time; part of `ItemState::lots`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lot {
    /// When the lot arrived (Unix seconds); its shelf life runs from here.
    pub at: i64,
    /// Units of it still on hand.
    pub amount: f64,
}

/// What one observation meant once folded in.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observed {
    /// Units judged consumed by this observation.
    pub consumed: f64,
    /// Units judged added (a restock) by this observation.
    pub restocked: f64,
}

/// The forecast for one item at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Estimated stock now, in units; `None` when never observed.
    pub level: Option<f64>,
    /// Estimated consumption, units per day.
    pub rate_per_day: f64,
    /// Standard deviation of daily consumption, units per day.
    pub rate_sd_per_day: f64,
    /// Days until empty at the estimated rate; `None` if unknown or no use.
    pub days_left: Option<f64>,
    /// Days from now until a delivery ordered now arrives plus the review period.
    pub horizon_days: f64,
    /// Chance of running out within `horizon_days` if nothing is ordered.
    pub stockout_probability: f64,
}

/// A reorder the forecaster would like to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// Whole packages to order (at least 1).
    pub packages: u32,
    /// Human-readable reasons, most important first.
    pub reasons: Vec<String>,
}

/// Whether every number in the state is finite.
pub(super) fn state_is_finite(state: &ItemState) -> bool {
    state.level.is_none_or(f64::is_finite)
        && [
            state.day_consumed,
            state.data_weight,
            state.demand_sum,
            state.demand_sq_sum,
            state.weight_sq_sum,
            state.fast_sum,
            state.fast_weight,
            state.guest_factor,
            state.quantity_bias,
        ]
        .iter()
        .all(|x| x.is_finite())
        && state.lots.iter().all(|l| l.amount.is_finite())
}

/// The deadband, sanitised (negative or NaN means none).
pub(super) fn noise(model: &ItemModel) -> f64 {
    clean_days(model.noise)
}

/// The package size, sanitised (negative or NaN means 0).
pub(super) fn package_size(model: &ItemModel) -> f64 {
    clean_days(model.package_size)
}

/// A non-negative finite number, or 0.
pub(super) fn clean_days(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

/// Lead time plus review period, in days.
pub(super) fn horizon_days(model: &ItemModel) -> f64 {
    clean_days(model.lead_time_days) + clean_days(model.review_days)
}

/// The service level, clamped into `SERVICE_LEVEL_RANGE`.
pub(super) fn service_level(model: &ItemModel) -> f64 {
    let s = if model.service_level.is_nan() {
        DEFAULT_SERVICE_LEVEL
    } else {
        model.service_level
    };
    s.clamp(SERVICE_LEVEL_RANGE.0, SERVICE_LEVEL_RANGE.1)
}
