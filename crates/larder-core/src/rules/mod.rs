//! The household's approval rules (pure): given a proposed order and the
//! spending context, decide auto-approve, ask, or deny, with reasons.
//!
//! Evaluation order: the category policy and the per-item order cap can
//! deny; the monthly budget can force a question; an `Allow`ed order within
//! the auto-approve limit and the budget is approved; everything else is
//! asked, held until quiet hours end. A deny is final: nothing later turns
//! it into an ask or an approval. Amounts are plain numbers with two
//! decimals (the currency belongs to the caller). Comparisons are written
//! so that a NaN amount never auto-approves.

use std::collections::BTreeMap;

/// What a household allows for a category of goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryPolicy {
    /// May be auto-approved within the other limits.
    Allow,
    /// Always ask a member.
    Ask,
    /// Never order.
    Deny,
}

/// A daily window (local time) in which nobody is prompted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Start, minutes after local midnight (0..1440).
    pub start_minute: u16,
    /// End, minutes after local midnight (0..1440); may be before `start`.
    pub end_minute: u16,
}

/// At most `count` orders of one item within `period_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCap {
    /// Maximum orders in the period.
    pub count: u32,
    /// Length of the sliding period in days.
    pub period_days: u32,
}

/// The household's approval rules, from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Orders whose price ceiling is at most this are auto-approved
    /// (if their category allows it and the budget holds). 0 disables.
    pub auto_approve_up_to: f64,
    /// Spending cap per calendar month; `None` for no cap.
    pub monthly_budget: Option<f64>,
    /// Per-category policy.
    pub categories: BTreeMap<String, CategoryPolicy>,
    /// Policy for categories not listed.
    pub default_policy: CategoryPolicy,
    /// When prompts must wait.
    pub quiet_hours: Option<QuietHours>,
    /// Cap on orders of one item per period.
    pub max_orders_per_item: Option<OrderCap>,
    /// Distinct members whose approval an asked order needs (at least 1).
    pub approvals_required: u32,
}

/// The order being judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Order<'a> {
    /// Item id.
    pub item: &'a str,
    /// Item category.
    pub category: &'a str,
    /// The item's own policy, overriding its category's (`items[].order`).
    pub item_policy: Option<CategoryPolicy>,
    /// Most the order may cost (the price ceiling sent upstream).
    pub cost: f64,
}

/// What the rules need to know about now and the past.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    /// Now (Unix seconds).
    pub now: i64,
    /// Local wall-clock minutes after midnight now (0..1440).
    pub local_minute_of_day: u16,
    /// Already committed this calendar month (approved or sent orders).
    pub spent_this_month: f64,
    /// Orders of this item within the cap's period.
    pub orders_for_item_in_period: u32,
}

/// The outcome of the rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Send it without asking.
    AutoApprove,
    /// Ask the household; the prompt may not go out before `not_before`.
    Ask {
        /// Distinct member approvals needed.
        approvals_required: u32,
        /// Earliest time to prompt (end of quiet hours), Unix seconds.
        not_before: i64,
    },
    /// Do not order.
    Deny,
}

/// One rule's contribution to a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// Stable rule name, e.g. `auto-approve-up-to`, `monthly-budget`.
    pub rule: &'static str,
    /// Human-readable explanation with the figures.
    pub text: String,
}

/// A verdict and every reason that led to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What to do.
    pub verdict: Verdict,
    /// Why, most decisive first.
    pub reasons: Vec<Reason>,
}

/// Minutes in a day.
const DAY_MINUTES: u16 = 1440;

/// Judges an order against the rules.
///
/// Reasons come most decisive first: for a deny, the denying rules; for an
/// approval, the auto-approve limit, then the budget and category that let
/// it through; for an ask, why it is asked (budget, category, auto limit),
/// then how many approvals it needs, then quiet hours.
pub fn decide(rules: &Rules, order: &Order<'_>, ctx: &Context) -> Decision {
    let (policy, policy_reason) = match order.item_policy {
        Some(policy) => (policy, item_reason(order.item, policy)),
        None => match rules.categories.get(order.category) {
            Some(policy) => (*policy, category_reason(order.category, *policy, true)),
            None => (
                rules.default_policy,
                category_reason(order.category, rules.default_policy, false),
            ),
        },
    };

    // 1 and 2: rules that deny.
    let mut denials = Vec::new();
    if policy == CategoryPolicy::Deny {
        denials.push(policy_reason.clone());
    }
    if let Some(cap) = rules.max_orders_per_item {
        if ctx.orders_for_item_in_period >= cap.count {
            denials.push(Reason {
                rule: "max-orders-per-item",
                text: format!(
                    "already ordered {} times in the last {} days (cap {})",
                    ctx.orders_for_item_in_period, cap.period_days, cap.count
                ),
            });
        }
    }
    if !denials.is_empty() {
        return Decision {
            verdict: Verdict::Deny,
            reasons: denials,
        };
    }

    // 3: the budget; `!(x <= b)` so that a NaN counts as over budget.
    let budget = rules.monthly_budget.map(|limit| {
        let total = ctx.spent_this_month + order.cost;
        let holds = total <= limit;
        let text = if holds {
            format!(
                "{} spent this month + {} = {} is within the monthly budget {}",
                money(ctx.spent_this_month),
                money(order.cost),
                money(total),
                money(limit)
            )
        } else {
            format!(
                "{} spent this month + {} = {} would exceed the monthly budget {}",
                money(ctx.spent_this_month),
                money(order.cost),
                money(total),
                money(limit)
            )
        };
        (
            holds,
            Reason {
                rule: "monthly-budget",
                text,
            },
        )
    });
    let over_budget = budget.as_ref().is_some_and(|(holds, _)| !holds);

    // 4: auto-approval.
    let limit = rules.auto_approve_up_to;
    let within_limit = limit > 0.0 && order.cost >= 0.0 && order.cost <= limit;
    if policy == CategoryPolicy::Allow && within_limit && !over_budget {
        let mut reasons = vec![Reason {
            rule: "auto-approve-up-to",
            text: format!(
                "{} ≤ auto-approve limit {}",
                money(order.cost),
                money(limit)
            ),
        }];
        reasons.extend(budget.map(|(_, reason)| reason));
        reasons.push(policy_reason.clone());
        return Decision {
            verdict: Verdict::AutoApprove,
            reasons,
        };
    }

    // 5: ask, saying why.
    let mut reasons = Vec::new();
    let mut budget_info = None;
    if let Some((holds, reason)) = budget {
        if holds {
            budget_info = Some(reason);
        } else {
            reasons.push(reason);
        }
    }
    if policy == CategoryPolicy::Ask {
        reasons.push(policy_reason.clone());
    } else if limit > 0.0 {
        if !within_limit {
            let text = if order.cost > limit {
                format!(
                    "{} > auto-approve limit {}",
                    money(order.cost),
                    money(limit)
                )
            } else {
                format!(
                    "cost {} is not a valid amount; a member must check it",
                    money(order.cost)
                )
            };
            reasons.push(Reason {
                rule: "auto-approve-up-to",
                text,
            });
        }
    } else {
        reasons.push(Reason {
            rule: "auto-approve-up-to",
            text: format!("auto-approval is off (limit {})", money(limit)),
        });
    }
    let approvals_required = rules.approvals_required.max(1);
    reasons.push(Reason {
        rule: "approvals-required",
        text: if approvals_required == 1 {
            "needs 1 member's approval".to_owned()
        } else {
            format!("needs approvals from {approvals_required} different members")
        },
    });
    let mut not_before = ctx.now;
    if let Some(quiet) = rules.quiet_hours {
        if let Some(wait) = minutes_until_quiet_end(quiet, ctx.local_minute_of_day) {
            // Align to the start of the minute the window ends in.
            not_before = ctx
                .now
                .saturating_add(i64::from(wait) * 60)
                .saturating_sub(ctx.now.rem_euclid(60))
                .max(ctx.now);
            reasons.push(Reason {
                rule: "quiet-hours",
                text: format!(
                    "quiet hours {}–{}: the prompt waits until {} (in {})",
                    clock(quiet.start_minute),
                    clock(quiet.end_minute),
                    clock(quiet.end_minute),
                    duration(wait)
                ),
            });
        }
    }
    reasons.extend(budget_info);
    Decision {
        verdict: Verdict::Ask {
            approvals_required,
            not_before,
        },
        reasons,
    }
}

/// Minutes from `minute` until the quiet window ends, if `minute` is inside
/// it. `start == end` means no quiet hours; `start > end` crosses midnight.
/// Minutes are taken modulo a day.
pub fn minutes_until_quiet_end(quiet: QuietHours, minute: u16) -> Option<u16> {
    let start = quiet.start_minute % DAY_MINUTES;
    let end = quiet.end_minute % DAY_MINUTES;
    let now = minute % DAY_MINUTES;
    let inside = if start < end {
        start <= now && now < end
    } else if start > end {
        now >= start || now < end
    } else {
        false
    };
    inside.then(|| (end + DAY_MINUTES - now) % DAY_MINUTES)
}

/// The `category` reason for a policy.
fn category_reason(category: &str, policy: CategoryPolicy, listed: bool) -> Reason {
    let what = match policy {
        CategoryPolicy::Allow => "may be auto-approved",
        CategoryPolicy::Ask => "always asks a member",
        CategoryPolicy::Deny => "is never ordered",
    };
    let text = if listed {
        format!("category '{category}' {what}")
    } else {
        format!("category '{category}' has no policy of its own; by default it {what}")
    };
    Reason {
        rule: "category",
        text,
    }
}

fn item_reason(item: &str, policy: CategoryPolicy) -> Reason {
    let what = match policy {
        CategoryPolicy::Allow => "may be auto-approved",
        CategoryPolicy::Ask => "always asks a member",
        CategoryPolicy::Deny => "is never ordered",
    };
    Reason {
        rule: "item",
        text: format!("item '{item}' {what} (its own order policy)"),
    }
}

/// An amount with two decimals and no currency.
fn money(x: f64) -> String {
    format!("{x:.2}")
}

/// Minutes after midnight as `HH:MM`.
fn clock(minute: u16) -> String {
    let m = minute % DAY_MINUTES;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A wait in minutes, e.g. `3 h 20 min`, `45 min`.
fn duration(minutes: u16) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests;
