//! What the household tells the forecaster: away (`pause`, `resume`),
//! guests (`declare_guests`) and its answers to proposals (`learn`).

use super::model::{ItemModel, ItemState};
use super::observe::close_days;
use crate::DAY;

/// The household went away at `at`: until `resume`, days teach the rate
/// nothing, the stock is not run down and nothing is proposed.
pub fn pause(model: &ItemModel, state: &mut ItemState, at: i64) {
    if state.paused_since.is_some() {
        return;
    }
    if state.open_day.is_some() {
        close_days(model, state, at.div_euclid(DAY));
    }
    state.paused_since = Some(at);
}

/// The household is back at `at` (see `pause`). The stock level is
/// carried forward unchanged over the absence.
pub fn resume(model: &ItemModel, state: &mut ItemState, at: i64) {
    if state.paused_since.is_none() {
        return;
    }
    if state.open_day.is_some() {
        close_days(model, state, at.div_euclid(DAY));
    }
    state.paused_since = None;
    if state.level.is_some() {
        state.level_at = state.level_at.max(at);
    }
}

/// Guests are declared: consumption is expected to be `factor` times the
/// usual until `until`; their share is kept out of the learned rate.
/// A factor of 1 (or less, or not finite) clears the declaration.
pub fn declare_guests(state: &mut ItemState, factor: f64, until: i64) {
    if factor.is_finite() && factor > 1.0 {
        state.guest_factor = factor.min(20.0);
        state.guests_until = until;
    } else {
        state.guest_factor = 0.0;
        state.guests_until = 0;
    }
}

/// The guest multiplier in force at `at` (1 when none).
pub(super) fn guest_factor_at(state: &ItemState, at: i64) -> f64 {
    if state.guest_factor > 1.0 && state.guest_factor.is_finite() && at < state.guests_until {
        state.guest_factor
    } else {
        1.0
    }
}

/// What the household did with a proposal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Feedback {
    /// Approved as proposed.
    Approved,
    /// Denied: larder waits longer (1, 2, 4 … up to 14 days) before asking
    /// again, as denials repeat.
    Denied,
    /// "Not now": no proposal before `until` (Unix seconds).
    Snoozed {
        /// End of the snooze.
        until: i64,
    },
    /// Approved with a different quantity: future quantities move halfway
    /// (in ratio) toward what the household chose. Choosing 0 is a denial.
    Edited {
        /// Packages proposed.
        proposed: u32,
        /// Packages the household chose.
        chosen: u32,
    },
}

/// Longest wait after repeated denials, in days.
pub const MAX_DENIAL_SNOOZE_DAYS: i64 = 14;

/// Folds the household's answer to a proposal (made at `now`) into the
/// item's state, so future proposals follow it.
pub fn learn(state: &mut ItemState, feedback: Feedback, now: i64) {
    match feedback {
        Feedback::Approved => state.denials = 0,
        Feedback::Denied | Feedback::Edited { chosen: 0, .. } => {
            state.denials = state.denials.saturating_add(1);
            let wait = (1i64 << state.denials.saturating_sub(1).min(4)).min(MAX_DENIAL_SNOOZE_DAYS);
            state.snoozed_until = now.saturating_add(wait * DAY);
        }
        Feedback::Snoozed { until } => state.snoozed_until = until,
        Feedback::Edited { proposed, chosen } => {
            state.denials = 0;
            if proposed > 0 {
                let step = (f64::from(chosen) / f64::from(proposed)).ln();
                state.quantity_bias = (0.5 * state.quantity_bias + 0.5 * step).clamp(-3.0, 3.0);
            }
        }
    }
}
