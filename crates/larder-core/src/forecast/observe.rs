//! Folding one observation into an item's state: the level deadband and
//! restocks, the daily buckets (closed days feed `rate` and `weekday`),
//! stock-out censoring and the lots by delivery.

use super::household::guest_factor_at;
use super::model::{
    ItemModel, ItemState, Lot, Measure, Observed, noise, package_size, state_is_finite,
};
use super::rate::{Demand, prior_days, push_sample, push_zero_days};
use super::weekday::{push_weekday, push_weekday_zeros};
use crate::{DAY, Observation, ObservationKind};

/// A reading must rise by at least this share of a package (or `noise`,
/// whichever is larger) to count as a restock.
const RESTOCK_SHARE: f64 = 0.25;

/// Most lots tracked per item (older ones merge).
pub const MAX_LOTS: usize = 6;

/// Folds one observation into the item's state.
///
/// Refused (state unchanged, `Observed::default()`): non-finite or negative
/// amounts, anything that would make the state non-finite, a `Level`
/// reading older than `level_at` (stale), and for `Measure::Level` items any
/// observation older than `level_at` (a later reading already reflects it).
/// Other late observations still change the level, but are only counted in
/// the rate if they fall in the currently open day.
pub fn observe(model: &ItemModel, state: &mut ItemState, obs: &Observation) -> Observed {
    if !obs.amount.is_finite() || obs.amount < 0.0 {
        return Observed::default();
    }
    let stale = state.level.is_some() && obs.at < state.level_at;
    if stale && (obs.kind == ObservationKind::Level || model.measure == Measure::Level) {
        return Observed::default();
    }

    // Work on a copy so a refused observation leaves no trace.
    let mut next = state.clone();
    let day = obs.at.div_euclid(DAY);
    let bucketed = next.open_day.is_none_or(|open| day >= open);
    if bucketed {
        close_days(model, &mut next, day);
    }
    let had_level = next.level.is_some();
    let effect = apply_level_effect(model, &mut next, obs);
    reconcile_lots(&mut next, obs.at, effect.restocked > 0.0 || !had_level);
    if bucketed {
        next.day_consumed += effect.consumed;
    }
    if next.level.is_some() {
        next.level_at = if had_level {
            next.level_at.max(obs.at)
        } else {
            obs.at
        };
    }
    if out_of_stock(model, &next) {
        next.day_out_of_stock = true;
    }

    if !state_is_finite(&next) || !effect.consumed.is_finite() || !effect.restocked.is_finite() {
        return Observed::default();
    }
    *state = next;
    effect
}

/// Closes every day before `day` that is still open, then opens `day`.
pub(super) fn close_days(model: &ItemModel, state: &mut ItemState, day: i64) {
    let out_now = out_of_stock(model, state);
    let Some(open) = state.open_day else {
        state.open_day = Some(day);
        state.day_consumed = 0.0;
        state.day_out_of_stock = out_now;
        return;
    };
    if day <= open {
        return;
    }
    let n0 = prior_days(model);
    let silent = (i128::from(day) - i128::from(open) - 1).max(0);
    let silent = u64::try_from(silent).unwrap_or(u64::MAX);
    if state.paused_since.is_some() {
        // Away: these days say nothing about the household's use.
        let skipped = u32::try_from(silent.saturating_add(1)).unwrap_or(u32::MAX);
        state.paused_days = state.paused_days.saturating_add(skipped);
        state.open_day = Some(day);
        state.day_consumed = 0.0;
        state.day_out_of_stock = out_now;
        return;
    }
    // Guests' share of the day is not the household's habit.
    let guests = guest_factor_at(state, open.saturating_mul(DAY));
    let x = state.day_consumed / guests;
    if !state.day_out_of_stock {
        push_sample(state, x, n0);
        push_weekday(state, open, x);
    } else if x > Demand::of(model, state).mean {
        // Ran out: demand was at least `x`. A lower bound above the
        // estimate still teaches (the estimate must rise); one below it
        // says nothing, so the day is censored.
        push_sample(state, x, n0);
        push_weekday(state, open, x);
    } else {
        state.censored_days = state.censored_days.saturating_add(1);
    }
    // Days with no observation at all: nothing was used, or, if the item
    // was out of stock throughout, nothing could be.
    if silent > 0 {
        if out_now {
            let s32 = u32::try_from(silent).unwrap_or(u32::MAX);
            state.censored_days = state.censored_days.saturating_add(s32);
        } else {
            push_zero_days(state, silent, n0);
            push_weekday_zeros(state, open.saturating_add(1), silent);
        }
    }
    state.open_day = Some(day);
    state.day_consumed = 0.0;
    state.day_out_of_stock = out_now;
}

/// Applies an observation's effect on the level and says what it meant.
fn apply_level_effect(model: &ItemModel, state: &mut ItemState, obs: &Observation) -> Observed {
    let amount = obs.amount;
    match obs.kind {
        ObservationKind::Level => {
            let Some(reference) = state.level else {
                state.level = Some(amount);
                return Observed::default();
            };
            let noise = noise(model);
            let restock_step = noise.max(RESTOCK_SHARE * package_size(model));
            if amount < reference - noise {
                state.level = Some(amount);
                Observed {
                    consumed: reference - amount,
                    restocked: 0.0,
                }
            } else if amount > reference + restock_step {
                state.level = Some(amount);
                Observed {
                    consumed: 0.0,
                    restocked: amount - reference,
                }
            } else {
                Observed::default()
            }
        }
        ObservationKind::Consumed => {
            state.level = state.level.map(|l| (l - amount).max(0.0));
            Observed {
                consumed: amount,
                restocked: 0.0,
            }
        }
        ObservationKind::Added => {
            state.level = Some(state.level.unwrap_or(0.0) + amount);
            Observed {
                consumed: 0.0,
                restocked: amount,
            }
        }
        ObservationKind::Removed => {
            state.level = state.level.map(|l| (l - amount).max(0.0));
            Observed::default()
        }
    }
}

/// Whether a `Measure::Level` item is known to be out of stock now.
///
/// Only load-cell items are censored: for `Measure::Consumption` items the
/// level is larder's own bookkeeping (a restock bought in a shop may be
/// missing from it), while the reported doses are the demand itself.
fn out_of_stock(model: &ItemModel, state: &ItemState) -> bool {
    model.measure == Measure::Level && state.level.is_some_and(|l| l <= noise(model))
}

/// Keeps the lots summing to the level: a drop is taken from the oldest
/// lots (first in, first out; expired stock is the oldest), a rise is a
/// new lot if it is a restock (or the first level) and otherwise goes to
/// the newest lot. At most `MAX_LOTS` are kept: the two oldest merge,
/// keeping the older date (so expiry is never underestimated).
fn reconcile_lots(state: &mut ItemState, at: i64, new_lot: bool) {
    let target = state.level.unwrap_or(0.0).max(0.0);
    let held: f64 = state.lots.iter().map(|l| l.amount).sum();
    if held > target {
        let mut excess = held - target;
        for lot in &mut state.lots {
            let take = lot.amount.min(excess);
            lot.amount -= take;
            excess -= take;
        }
        state.lots.retain(|l| l.amount > 1e-9);
    } else if target > held {
        let add = target - held;
        match state.lots.last_mut() {
            Some(last) if !new_lot => last.amount += add,
            _ => state.lots.push(Lot { at, amount: add }),
        }
    }
    while state.lots.len() > MAX_LOTS {
        let second = state.lots.remove(1);
        state.lots[0].amount += second.amount;
    }
}
