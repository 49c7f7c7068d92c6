//! The full reorder policy (`plan`): the forecast with what is on order,
//! minimum and desired levels, auto-approval limits, the household's
//! quantity edits and shelf life; and `top_up` for one order per vendor.

use super::model::{
    Forecast, ItemModel, ItemState, Proposal, clean_days, horizon_days, service_level,
};
use super::normal::inverse_normal_cdf;
use super::outlook::outlook;
use super::reason_text::{days, num, percent};

/// The household's auto-approval limits the policy tries to stay within,
/// so that routine orders need no prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoApprove {
    /// Largest order (whole packages) approved without asking.
    pub max_packages: u32,
    /// Orders closer than this to the previous one are asked about.
    pub min_gap_days: f64,
}

/// What the engine knows beyond the item's state when it decides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionContext {
    /// Units ordered and not yet delivered.
    pub on_order: f64,
    /// Days since the item was last ordered (`None`: never).
    pub days_since_last_order: Option<f64>,
    /// The auto-approval limits, if the household has them.
    pub auto_approve: Option<AutoApprove>,
    /// Never let the usable stock fall below this (units), e.g. "always
    /// one spare pack of detergent".
    pub min_level: Option<f64>,
    /// Order up to at least this much (units) when ordering.
    pub desired_level: Option<f64>,
}

/// The decision for one item at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The forecast over the lead time plus the review period.
    pub forecast: Forecast,
    /// Stock that can serve demand within the horizon (on hand, minus what
    /// will expire unused before then, plus what is on order).
    pub usable: f64,
    /// On-hand stock expected to expire unused at the current rate.
    pub expected_waste: f64,
    /// The order to propose, if any.
    pub proposal: Option<Proposal>,
    /// Why nothing is proposed although the item may need it (away,
    /// snoozed, a pack that would mostly spoil).
    pub held: Option<String>,
}

/// When more than this share of a single package is expected to spoil
/// before it is used, the proposal suggests a smaller pack.
pub const SMALLER_PACK_SPOILAGE: f64 = 0.25;

/// When a prompt cannot be avoided, the order covers this many days
/// (capped by the shelf life), so the household is asked about once a week.
pub const PROMPTED_COVER_DAYS: f64 = 7.0;

/// The last package of an order must be expected to be used at least
/// this much (as a share) before it expires.
pub const MARGINAL_PACK_USE: f64 = 0.5;

/// Days of supply an order of a non-perishable item aims at (within the
/// auto-approval limit).
pub const NON_PERISHABLE_COVER_DAYS: f64 = 30.0;

/// Service target floor for items that do not spoil.
pub const NON_PERISHABLE_SERVICE: f64 = 0.99;

/// Default review period for a policy that decides daily.
pub const DEFAULT_REVIEW_DAYS: f64 = 1.0;

/// Default service target: the chance of not running out before the next
/// possible delivery.
pub const DEFAULT_SERVICE_TARGET: f64 = 0.95;

/// Decides whether and how much to order, with the full context.
///
/// Orders when the chance of running out before the next possible
/// delivery (lead time plus review period) exceeds `1 - service_level`,
/// counting only stock that will still be good, or when the usable stock
/// would fall below `ctx.min_level`. The quantity is in whole packages:
/// - up to `S = mean_H + z * sd_H` (or `ctx.desired_level`, if higher),
///   where `mean_H` is `rate * H` scaled by the weekly pattern, if any,
///   where `sd_H` carries the day-to-day spread, the uncertainty of the
///   rate and the disagreement between the short- and long-memory rates
///   (a change of habit);
/// - with auto-approval limits: enough that the next order is not needed
///   before `min_gap_days`, if that fits in `max_packages`; otherwise a
///   prompt is unavoidable and the order covers `PROMPTED_COVER_DAYS`;
/// - scaled by what the household's edits taught (`ItemState::quantity_bias`);
/// - capped by shelf life: never more than is used before it expires,
///   given the stock already there (at least one pack).
///
/// Nothing is proposed while the household is away (`pause`) or the item
/// is snoozed. Cost does not depend on history (`ItemState` is bounded).
pub fn plan(model: &ItemModel, state: &ItemState, now: i64, ctx: &DecisionContext) -> Plan {
    let horizon = horizon_days(model);
    let o = outlook(model, state, now, ctx.on_order, horizon);
    let mut plan = Plan {
        forecast: o.forecast.clone(),
        usable: o.usable,
        expected_waste: o.expected_waste,
        proposal: None,
        held: None,
    };
    if let Some(since) = state.paused_since {
        plan.held = Some(format!("paused since {since}: the household is away"));
        return plan;
    }
    if now < state.snoozed_until {
        plan.held = Some(format!("snoozed until {}", state.snoozed_until));
        return plan;
    }
    let Some(level) = o.forecast.level else {
        return plan;
    };
    let rate = o.rate;
    let package = model.package_size;
    if !(rate > 0.0 && rate.is_finite() && package > 0.0 && package.is_finite()) {
        return plan;
    }
    // Nothing spoils: over-stocking costs only shelf space, so the
    // newsvendor ratio is close to 1.
    let service = if model.shelf_life_days.is_some_and(f64::is_finite) {
        service_level(model)
    } else {
        service_level(model).max(NON_PERISHABLE_SERVICE)
    };
    let tolerated = 1.0 - service;
    let shelf = model.shelf_life_days.filter(|s| s.is_finite() && *s >= 0.0);
    // What keeps costs nothing but shelf space: one spare package.
    let min_level = ctx.min_level.or_else(|| shelf.is_none().then_some(package));
    let below_min = min_level.is_some_and(|m| o.usable < m);
    // Right after an order, another one would need the household's
    // attention: then only when running out is more likely than not.
    let just_ordered = ctx
        .auto_approve
        .zip(ctx.days_since_last_order)
        .is_some_and(|(a, d)| d < a.min_gap_days);
    let trigger = if just_ordered {
        tolerated.max(0.5)
    } else {
        tolerated
    };
    let at_risk = o.forecast.stockout_probability > trigger || below_min;
    if !at_risk {
        return plan;
    }

    let z = inverse_normal_cdf(service);
    let lead = clean_days(model.lead_time_days);
    let order_up_to = (o.mean_h + z * o.sd_h).max(ctx.desired_level.unwrap_or(0.0));
    let whole = |units: f64| ((units / package - 1e-9).ceil().max(1.0)) as u32;
    let mut packages = whole(order_up_to - o.usable);
    let mut reasons = vec![
        format!(
            "{} left ({} still good within {}), using {} ± {} a day: empty in {}",
            num(level),
            num(o.usable - ctx.on_order.max(0.0)),
            days(horizon),
            num(rate),
            num(o.sd_day),
            days(o.runs_out_in.min(level / rate)),
        ),
        format!(
            "a delivery takes {}; {} chance of running out within {} (target ≤ {})",
            days(lead),
            percent(o.forecast.stockout_probability),
            days(horizon),
            percent(tolerated),
        ),
    ];
    if below_min {
        reasons.push(format!(
            "below the minimum of {}",
            num(min_level.unwrap_or(0.0))
        ));
    }
    let mut prompted = false;
    if let Some(auto) = ctx.auto_approve {
        let gap = clean_days(auto.min_gap_days);
        let recent = ctx.days_since_last_order.is_some_and(|d| d < gap);
        // Enough for the gap at the higher of the long-run and recent rates.
        let spaced = whole(order_up_to + rate.max(o.recent_rate) * gap - o.usable);
        if !recent && spaced <= auto.max_packages.max(1) {
            packages = packages.max(spaced);
            if shelf.is_none() {
                // Nothing spoils: stock up to a month, as far as it is
                // still approved without asking.
                let month = whole(order_up_to + rate * NON_PERISHABLE_COVER_DAYS - o.usable);
                packages = packages.max(month.min(auto.max_packages.max(1)));
            }
        } else {
            prompted = true;
            packages = packages.max(whole(order_up_to + rate * PROMPTED_COVER_DAYS - o.usable));
        }
    }
    reasons.push(format!(
        "order-up-to {} for {} at {} service{} → {} × {}",
        num(order_up_to),
        days(horizon),
        percent(service),
        if prompted {
            format!(", {} when asking anyway", days(PROMPTED_COVER_DAYS))
        } else {
            String::new()
        },
        packages,
        num(package),
    ));
    if state.quantity_bias.abs() > 1e-6 {
        let scaled = (f64::from(packages) * state.quantity_bias.exp())
            .round()
            .max(1.0);
        let scaled = scaled.min(f64::from(u32::MAX)) as u32;
        if scaled != packages {
            reasons.push(format!(
                "{} instead of {}: the household usually changes the quantity",
                scaled, packages
            ));
            packages = scaled;
        }
    }
    if let Some(s) = shelf {
        // New stock starts being used once the good stock already there
        // runs out (or when it arrives, if that is later).
        // At the lower of the long-run and the recent rate: a burst of
        // use must not fill the fridge with what will spoil.
        let wait = (o.runs_out_in - lead).max(0.0);
        let usable_new = rate.min(o.recent_rate) * (s - wait).max(0.0);
        let max_packages = ((usable_new / package + 1.0 - MARGINAL_PACK_USE)
            .floor()
            .max(1.0)) as u32;
        if packages > max_packages {
            packages = max_packages;
            reasons.push(format!(
                "capped at {} × {}: only {} is used within the {} shelf life",
                packages,
                num(package),
                num(usable_new),
                days(s),
            ));
        }
        // Even one package mostly spoils: say so, with the pack size that
        // would be used up in time.
        let spoils = (package - usable_new).max(0.0) / package;
        if packages == 1 && usable_new > 0.0 && spoils > SMALLER_PACK_SPOILAGE {
            reasons.push(format!(
                "about {} of each package spoils before it is used; a pack of about {} would waste less",
                percent(spoils),
                num(usable_new.max(0.0)),
            ));
        }
    }
    plan.proposal = Some(Proposal { packages, reasons });
    plan
}

/// One item of a vendor's basket, for `top_up`.
#[derive(Debug, Clone, Copy)]
pub struct BasketItem<'a> {
    /// The item's parameters.
    pub model: &'a ItemModel,
    /// What larder learned about it.
    pub state: &'a ItemState,
    /// The engine's context for it.
    pub ctx: &'a DecisionContext,
    /// Who delivers it.
    pub vendor: &'a str,
}

/// One order per vendor: returns `(index, proposal)` for every item that
/// needs ordering now, plus, for every vendor with such an item, the
/// items of that vendor that would need ordering within `window_days`
/// anyway (their proposal sized as if decided then). Items that are
/// paused, snoozed or not at risk within the window are left out.
pub fn top_up(items: &[BasketItem<'_>], now: i64, window_days: f64) -> Vec<(usize, Proposal)> {
    let window = clean_days(window_days);
    let mut out: Vec<(usize, Proposal)> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        if let Some(p) = plan(it.model, it.state, now, it.ctx).proposal {
            out.push((i, p));
        }
    }
    let triggered: Vec<&str> = out.iter().map(|(i, _)| items[*i].vendor).collect();
    for (i, it) in items.iter().enumerate() {
        if out.iter().any(|(j, _)| *j == i) || !triggered.contains(&it.vendor) {
            continue;
        }
        let soon = ItemModel {
            review_days: clean_days(it.model.review_days) + window,
            ..it.model.clone()
        };
        if let Some(mut p) = plan(&soon, it.state, now, it.ctx).proposal {
            p.reasons.push(format!(
                "topped up with this vendor's order: it would be needed within {}",
                days(window)
            ));
            out.push((i, p));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}
