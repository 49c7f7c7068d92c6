//! Per-item consumption forecast and the reorder proposal (pure).
//!
//! The state is incremental: `observe` folds one observation into a small
//! fixed-size `ItemState`, so deciding never rescans history.
//!
//! # Model
//! - **Level.** A reference level with a deadband of `ItemModel::noise`:
//!   a reading below `L - noise` is consumption, a reading above
//!   `L + max(noise, package_size / 4)` is a restock, anything in between is
//!   sensor noise and keeps the reference (so slow use accumulates until it
//!   crosses the deadband). `Consumed` / `Removed` lower the level (never
//!   below 0), `Added` raises it.
//! - **Daily demand.** Consumption is bucketed into UTC days
//!   (`at.div_euclid(DAY)`). When an observation opens a later day, the
//!   finished day is one sample of daily demand and the silent days between
//!   are zero-demand samples. For `Measure::Level` items a day on which the
//!   item was seen out of stock (reference level `<= noise` at any observed
//!   moment, including the start of the day) is *censored*: it does not
//!   update the rate, because nothing could be consumed.
//! - **Rate.** Exponentially weighted moments of daily demand with weight
//!   `alpha_t = max(1 / (t + n0), 1 / MEMORY_DAYS)` for the `t`-th sample,
//!   where `n0 = PRIOR_DAYS` when the household declared its usage and 0
//!   otherwise. The declared usage is a prior worth `n0` days with mean
//!   `m0` and standard deviation `m0 / 2`; it keeps the weight the data has
//!   not taken over yet (`1 - ItemState::data_weight`), so it dominates at
//!   cold start and fades with a two-week memory.
//! - **Weekly pattern.** Each closed day also updates an exponentially
//!   weighted mean for its weekday (UTC, memory `WEEKDAY_MEMORY_WEEKS`).
//!   The profile is used only where the data supports it: every weekday
//!   seen at least `WEEKDAY_MIN_WEEKS` times, and the spread between the
//!   weekday means at least twice what day-to-day noise alone would give.
//!   Then weekday factors (shrunk toward a flat week by
//!   `WEEKDAY_SHRINK_WEEKS`, averaging 1) scale the horizon's demand by
//!   which days it covers.
//! - **Forecast.** Demand over the horizon `H = lead + review` days is
//!   Normal with mean `rate * H * w` (`w` the horizon's mean weekday
//!   factor, 1 without a pattern) and variance `var * H + (se * H)^2`,
//!   where `se^2 = var / n_eff` is the uncertainty of the mean itself.
//!
//! # Files
//! - `model`: the item's parameters (`ItemModel`), what is learned
//!   (`ItemState`, `Lot`) and what the forecaster returns.
//! - `observe`: folding one observation in: the level deadband, restocks,
//!   closing days, lots.
//! - `rate`: learning daily demand (the prior and the weighted moments).
//! - `weekday`: the weekly pattern.
//! - `outlook`: the forecast at one instant and the stock projection.
//! - `propose`: the simple reorder rule and `reorder_level`.
//! - `plan`: the full policy with its context, and `top_up`.
//! - `household`: away, guests and the household's answers.
//! - `normal`, `reason_text`: the normal distribution and how figures are
//!   written in reasons.

mod household;
mod model;
mod normal;
mod observe;
mod outlook;
mod plan;
mod propose;
mod rate;
mod reason_text;
mod weekday;

#[cfg(test)]
mod tests;

pub use household::{Feedback, MAX_DENIAL_SNOOZE_DAYS, declare_guests, learn, pause, resume};
pub use model::{Forecast, ItemModel, ItemState, Lot, Measure, Observed, Proposal};
pub use observe::{MAX_LOTS, observe};
pub use outlook::forecast;
pub use plan::{
    AutoApprove, BasketItem, DEFAULT_REVIEW_DAYS, DEFAULT_SERVICE_TARGET, DecisionContext,
    MARGINAL_PACK_USE, NON_PERISHABLE_COVER_DAYS, NON_PERISHABLE_SERVICE, PROMPTED_COVER_DAYS,
    Plan, SMALLER_PACK_SPOILAGE, plan, top_up,
};
pub use propose::{propose, reorder_level};
pub use rate::{FAST_MEMORY_DAYS, MEMORY_DAYS, PRIOR_DAYS};
pub use weekday::{WEEKDAY_MEMORY_WEEKS, WEEKDAY_MIN_WEEKS, WEEKDAY_SHRINK_WEEKS, weekday_factors};
