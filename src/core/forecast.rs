//! Per-item consumption forecast and the reorder proposal (pure).
//!
//! The state is incremental: `observe` folds one observation into a small
//! fixed-size `ItemState`, so deciding never rescans history.

use super::Observation;
use serde::{Deserialize, Serialize};

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

/// Folds one observation into the item's state.
pub fn observe(model: &ItemModel, state: &mut ItemState, obs: &Observation) -> Observed {
    let _ = (model, state, obs);
    todo!("forecast helper")
}

/// The forecast for an item at `now`.
pub fn forecast(model: &ItemModel, state: &ItemState, now: i64) -> Forecast {
    let _ = (model, state, now);
    todo!("forecast helper")
}

/// Whether to reorder now, and how many whole packages.
pub fn propose(model: &ItemModel, forecast: &Forecast) -> Option<Proposal> {
    let _ = (model, forecast);
    todo!("forecast helper")
}
