//! The explanation of an item, pure formatting over its gathered evidence:
//! readings, the forecast recomputed with `core::forecast`, and when and
//! how the current rules would reorder. The readings-and-forecast block is
//! shared with the intent explanation.

use super::ItemEvidence;
use crate::config::{Config, Item};
use crate::core::forecast::{self, Forecast, ItemState};
use crate::core::rules::CategoryPolicy;
use crate::engine::COOLDOWN_SECS;
use crate::store::IntentState;
use crate::text::{format_time, short};
use std::fmt::Write as _;

/// The explanation of an item: evidence, forecast, and when it would reorder.
pub fn item(config: &Config, item: &Item, ev: &ItemEvidence, now: i64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}): {}, {} {} a package at {:.2} {}, category {}",
        item.id,
        item.name,
        item.product,
        num(item.model.package_size),
        item.unit,
        item.price,
        item.currency,
        item.category
    );
    evidence(&mut out, item, ev, now);
    let fc = ev
        .state
        .as_ref()
        .map(|s| forecast::forecast(&item.model, s, now));
    let _ = writeln!(out, "\nwhat would change the decision:");
    let open = ev.latest.as_ref().filter(|i| i.state.is_open());
    if let Some(open) = open {
        let _ = writeln!(
            out,
            "  - intent {} is {}: no new proposal until it closes (`larder explain {}`)",
            short(&open.id),
            open.state.as_str(),
            open.id
        );
        return out;
    }
    if let Some(closed) = ev.latest.as_ref().filter(|i| {
        matches!(
            i.state,
            IntentState::Denied
                | IntentState::Refused
                | IntentState::Expired
                | IntentState::Rejected
        ) && now - i.updated_at < COOLDOWN_SECS
    }) {
        let _ = writeln!(
            out,
            "  - intent {} was {} at {}: larder waits until {} before proposing again",
            short(&closed.id),
            closed.state.as_str(),
            format_time(closed.updated_at),
            format_time(closed.updated_at + COOLDOWN_SECS)
        );
    }
    let (Some(state), Some(fc)) = (&ev.state, fc) else {
        let _ = writeln!(
            out,
            "  - nothing is known yet: a first reading from {} slot {} starts the forecast",
            item.device, item.slot
        );
        return out;
    };
    reorder_advice(&mut out, config, item, state, &fc, ev, now);
    out
}

/// The readings and the forecast, shared by both explanations.
pub(super) fn evidence(out: &mut String, item: &Item, ev: &ItemEvidence, now: i64) {
    let unit = &item.unit;
    let _ = writeln!(out, "\nevidence (most recent readings, newest first):");
    if ev.readings.is_empty() {
        let _ = writeln!(out, "  (no readings stored)");
    }
    for r in &ev.readings {
        let _ = writeln!(
            out,
            "  {}  {:<8} {:>10} {unit}  from {}",
            format_time(r.observed_at),
            r.kind,
            num(r.amount),
            r.device
        );
    }
    if let Some(declared) = item.model.declared_per_day {
        let _ = writeln!(
            out,
            "  declared usage: {} {unit} a day (the prior, before data takes over)",
            num(declared)
        );
    }
    let Some(state) = &ev.state else {
        return;
    };
    let fc = forecast::forecast(&item.model, state, now);
    let _ = writeln!(out, "\nforecast now (core::forecast on the stored state):");
    let _ = writeln!(
        out,
        "  level      {}",
        fc.level
            .map_or("unknown".into(), |l| format!("{} {unit}", num(l)))
    );
    let _ = writeln!(
        out,
        "  use        {} ± {} {unit} a day ({} days of data, {} censored, data weight {:.0}%)",
        num(fc.rate_per_day),
        num(fc.rate_sd_per_day),
        state.sample_days,
        state.censored_days,
        state.data_weight * 100.0
    );
    let _ = writeln!(
        out,
        "  days left  {}",
        fc.days_left.map_or("-".into(), |d| format!("{d:.1}"))
    );
    let _ = writeln!(
        out,
        "  stock-out  {:.1}% within {:.1} days (lead time + review); target ≤ {:.1}%",
        fc.stockout_probability * 100.0,
        fc.horizon_days,
        tolerated(item) * 100.0
    );
}

/// Tolerated stock-out risk as the household configured it.
fn tolerated(item: &Item) -> f64 {
    (1.0 - item.model.service_level).clamp(0.0, 1.0)
}

/// For an item without an open intent: would it reorder now, and if not,
/// at what level.
fn reorder_advice(
    out: &mut String,
    config: &Config,
    item: &Item,
    state: &ItemState,
    fc: &Forecast,
    ev: &ItemEvidence,
    now: i64,
) {
    let unit = &item.unit;
    if let Some(proposal) = forecast::propose(&item.model, fc) {
        let cost = item.price * f64::from(proposal.packages);
        let _ = writeln!(
            out,
            "  - the forecast asks for {} × {} now (about {:.2} {}); the next decision tick proposes it:",
            proposal.packages, item.product, cost, item.currency
        );
        for reason in &proposal.reasons {
            let _ = writeln!(out, "      {reason}");
        }
        rule_outlook(out, config, item, cost, ev.spent_this_month);
        return;
    }
    let Some(level) = fc.level else {
        let _ = writeln!(
            out,
            "  - no level is known yet: a level reading (or a delivery) is needed"
        );
        return;
    };
    if fc.rate_per_day <= 0.0 {
        let _ = writeln!(
            out,
            "  - no consumption is estimated, so no stock-out is expected; declaring usage in the configuration gives a prior"
        );
        return;
    }
    let _ = writeln!(
        out,
        "  - no reorder now: stock-out risk {:.1}% is within the target {:.1}%",
        fc.stockout_probability * 100.0,
        tolerated(item) * 100.0
    );
    if let Some(at) = forecast::reorder_level(&item.model, state, level, now) {
        let days = (level - at) / fc.rate_per_day;
        let _ = writeln!(
            out,
            "  - it reorders when the level falls below about {} {unit} (in about {:.1} days at {} {unit} a day)",
            num(at),
            days.max(0.0),
            num(fc.rate_per_day)
        );
    }
}

/// How the current rules would treat an order of `cost`.
fn rule_outlook(out: &mut String, config: &Config, item: &Item, cost: f64, spent: f64) {
    let rules = &config.rules;
    let policy = config.policy_for_item(item);
    let ceiling = cost * (1.0 + config.upstream.price_tolerance);
    let whose = match item.order {
        Some(_) => format!("item {:?}'s own order policy", item.id),
        None => format!("category {:?}", item.category),
    };
    let verdict = match policy {
        CategoryPolicy::Deny => format!("{whose} is never: it would be refused"),
        CategoryPolicy::Ask => format!("{whose} is ask: a member would be asked"),
        CategoryPolicy::Allow if ceiling <= rules.auto_approve_up_to => format!(
            "ceiling about {:.2} ≤ auto-approve limit {:.2}: it would be auto-approved (budget permitting)",
            ceiling, rules.auto_approve_up_to
        ),
        CategoryPolicy::Allow => format!(
            "ceiling about {:.2} > auto-approve limit {:.2}: a member would be asked",
            ceiling, rules.auto_approve_up_to
        ),
    };
    let _ = writeln!(out, "  - under the current rules: {verdict}");
    budget_line(out, config, ceiling, spent);
}

/// The budget line: headroom against the order's ceiling, or none set.
fn budget_line(out: &mut String, config: &Config, ceiling: f64, spent: f64) {
    if let Some(budget) = config.rules.monthly_budget {
        let headroom = budget - spent;
        let _ = writeln!(
            out,
            "  - monthly budget {:.2}: {:.2} committed, headroom {:.2} {} {:.2}",
            budget,
            spent,
            headroom,
            if ceiling <= headroom { "≥" } else { "<" },
            ceiling
        );
    } else {
        let _ = writeln!(out, "  - no monthly budget is set");
    }
}

/// A number without needless digits.
pub(super) fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
