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
mod tests {
    use super::*;

    /// 2024-01-01T00:00:00Z; local time is whatever `minute` says.
    const T0: i64 = 1_704_067_200;

    fn rules() -> Rules {
        Rules {
            auto_approve_up_to: 10.0,
            monthly_budget: Some(100.0),
            categories: BTreeMap::from([
                ("dairy".to_owned(), CategoryPolicy::Allow),
                ("cleaning".to_owned(), CategoryPolicy::Ask),
                ("alcohol".to_owned(), CategoryPolicy::Deny),
            ]),
            default_policy: CategoryPolicy::Ask,
            quiet_hours: Some(QuietHours {
                start_minute: 22 * 60,
                end_minute: 7 * 60,
            }),
            max_orders_per_item: Some(OrderCap {
                count: 3,
                period_days: 7,
            }),
            approvals_required: 1,
        }
    }

    fn ctx() -> Context {
        Context {
            now: T0 + 12 * 3600,
            local_minute_of_day: 12 * 60,
            spent_this_month: 50.0,
            orders_for_item_in_period: 0,
        }
    }

    fn order(category: &str, cost: f64) -> Order<'_> {
        Order {
            item: "milk",
            category,
            item_policy: None,
            cost,
        }
    }

    #[test]
    fn an_items_own_policy_overrides_its_category() {
        let c = ctx();
        let never = Order {
            item_policy: Some(CategoryPolicy::Deny),
            ..order("dairy", 2.0)
        };
        let d = decide(&rules(), &never, &c);
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(rule_names(&d), ["item"]);
        assert!(d.reasons[0].text.contains("item 'milk' is never ordered"));

        let ask_anyway = Order {
            item_policy: Some(CategoryPolicy::Ask),
            ..order("dairy", 2.0)
        };
        let d = decide(&rules(), &ask_anyway, &c);
        assert!(matches!(d.verdict, Verdict::Ask { .. }), "{d:?}");
        assert!(rule_names(&d).contains(&"item"));

        let auto = Order {
            item_policy: Some(CategoryPolicy::Allow),
            ..order("cleaning", 2.0)
        };
        assert_eq!(decide(&rules(), &auto, &c).verdict, Verdict::AutoApprove);
        // The more specific word wins: an item set to "auto" in a denied
        // category is ordered.
        let auto_in_denied = Order {
            item_policy: Some(CategoryPolicy::Allow),
            ..order("alcohol", 2.0)
        };
        assert_eq!(
            decide(&rules(), &auto_in_denied, &c).verdict,
            Verdict::AutoApprove
        );
    }

    fn rule_names(d: &Decision) -> Vec<&'static str> {
        d.reasons.iter().map(|r| r.rule).collect()
    }

    fn ask(approvals_required: u32, not_before: i64) -> Verdict {
        Verdict::Ask {
            approvals_required,
            not_before,
        }
    }

    #[test]
    fn each_rule_decides_with_its_reasons_most_decisive_first() {
        let now = ctx().now;
        /// (category, cost, spent, orders so far, verdict, rules in order)
        type Case = (
            &'static str,
            f64,
            f64,
            u32,
            Verdict,
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (
                "dairy",
                4.0,
                50.0,
                0,
                Verdict::AutoApprove,
                &["auto-approve-up-to", "monthly-budget", "category"],
            ),
            (
                "dairy",
                10.0,
                50.0,
                0,
                Verdict::AutoApprove,
                &["auto-approve-up-to", "monthly-budget", "category"],
            ),
            (
                "dairy",
                10.01,
                50.0,
                0,
                ask(1, now),
                &["auto-approve-up-to", "approvals-required", "monthly-budget"],
            ),
            (
                "dairy",
                4.0,
                96.0,
                0,
                Verdict::AutoApprove,
                &["auto-approve-up-to", "monthly-budget", "category"],
            ),
            (
                "dairy",
                4.0,
                96.01,
                0,
                ask(1, now),
                &["monthly-budget", "approvals-required"],
            ),
            (
                "dairy",
                20.0,
                95.0,
                0,
                ask(1, now),
                &["monthly-budget", "auto-approve-up-to", "approvals-required"],
            ),
            (
                "cleaning",
                4.0,
                50.0,
                0,
                ask(1, now),
                &["category", "approvals-required", "monthly-budget"],
            ),
            (
                "cleaning",
                60.0,
                50.0,
                0,
                ask(1, now),
                &["monthly-budget", "category", "approvals-required"],
            ),
            (
                "unlisted",
                4.0,
                50.0,
                0,
                ask(1, now),
                &["category", "approvals-required", "monthly-budget"],
            ),
            ("alcohol", 4.0, 50.0, 0, Verdict::Deny, &["category"]),
            (
                "dairy",
                4.0,
                50.0,
                2,
                Verdict::AutoApprove,
                &["auto-approve-up-to", "monthly-budget", "category"],
            ),
            (
                "dairy",
                4.0,
                50.0,
                3,
                Verdict::Deny,
                &["max-orders-per-item"],
            ),
            (
                "alcohol",
                4.0,
                50.0,
                9,
                Verdict::Deny,
                &["category", "max-orders-per-item"],
            ),
        ];
        for &(category, cost, spent, orders, ref verdict, expected) in cases {
            let c = Context {
                spent_this_month: spent,
                orders_for_item_in_period: orders,
                ..ctx()
            };
            let d = decide(&rules(), &order(category, cost), &c);
            let what = format!("{category} {cost} spent {spent} orders {orders}");
            assert_eq!(&d.verdict, verdict, "{what}: {d:#?}");
            assert_eq!(rule_names(&d), expected, "{what}: {d:#?}");
        }
    }

    #[test]
    fn reasons_show_the_figures() {
        let d = decide(&rules(), &order("dairy", 4.0), &ctx());
        assert_eq!(d.reasons[0].text, "4.00 ≤ auto-approve limit 10.00");
        assert_eq!(
            d.reasons[1].text,
            "50.00 spent this month + 4.00 = 54.00 is within the monthly budget 100.00"
        );
        assert_eq!(d.reasons[2].text, "category 'dairy' may be auto-approved");

        let c = Context {
            spent_this_month: 98.5,
            ..ctx()
        };
        let d = decide(&rules(), &order("dairy", 4.0), &c);
        assert_eq!(
            d.reasons[0].text,
            "98.50 spent this month + 4.00 = 102.50 would exceed the monthly budget 100.00"
        );

        let c = Context {
            orders_for_item_in_period: 5,
            ..ctx()
        };
        let d = decide(&rules(), &order("dairy", 4.0), &c);
        assert_eq!(
            d.reasons[0].text,
            "already ordered 5 times in the last 7 days (cap 3)"
        );

        let d = decide(&rules(), &order("unlisted", 4.0), &ctx());
        assert_eq!(
            d.reasons[0].text,
            "category 'unlisted' has no policy of its own; by default it always asks a member"
        );
        assert_eq!(d.reasons[1].text, "needs 1 member's approval");
    }

    #[test]
    fn a_deny_never_becomes_an_ask_or_an_approval() {
        let generous = Rules {
            auto_approve_up_to: 1e9,
            monthly_budget: None,
            quiet_hours: None,
            approvals_required: 0,
            ..rules()
        };
        let denying_default = Rules {
            default_policy: CategoryPolicy::Deny,
            ..generous.clone()
        };
        let capped = Rules {
            max_orders_per_item: Some(OrderCap {
                count: 0,
                period_days: 30,
            }),
            ..generous.clone()
        };
        let cases = [
            (&generous, "alcohol"),
            (&denying_default, "unlisted"),
            (&capped, "dairy"),
        ];
        for (rules, category) in cases {
            for cost in [0.0, 1.0, 1e6, f64::NAN] {
                for spent in [0.0, 1e9] {
                    let c = Context {
                        spent_this_month: spent,
                        ..ctx()
                    };
                    let d = decide(rules, &order(category, cost), &c);
                    assert_eq!(d.verdict, Verdict::Deny, "{category} {cost}: {d:#?}");
                    assert!(!d.reasons.is_empty());
                }
            }
        }
    }

    #[test]
    fn without_a_budget_or_an_auto_limit_orders_are_asked() {
        let r = Rules {
            auto_approve_up_to: 0.0,
            monthly_budget: None,
            quiet_hours: None,
            approvals_required: 2,
            ..rules()
        };
        let d = decide(&r, &order("dairy", 0.0), &ctx());
        assert_eq!(d.verdict, ask(2, ctx().now));
        assert_eq!(rule_names(&d), ["auto-approve-up-to", "approvals-required"]);
        assert_eq!(d.reasons[0].text, "auto-approval is off (limit 0.00)");
        assert_eq!(
            d.reasons[1].text,
            "needs approvals from 2 different members"
        );

        let r = Rules {
            monthly_budget: None,
            ..rules()
        };
        let d = decide(&r, &order("dairy", 10.0), &ctx());
        assert_eq!(d.verdict, Verdict::AutoApprove);
        assert_eq!(rule_names(&d), ["auto-approve-up-to", "category"]);
    }

    #[test]
    fn invalid_amounts_are_never_auto_approved() {
        // (cost, spent)
        let cases = [
            (f64::NAN, 0.0),
            (-1.0, 0.0),
            (4.0, f64::NAN),
            (f64::INFINITY, 0.0),
        ];
        for (cost, spent) in cases {
            let c = Context {
                spent_this_month: spent,
                ..ctx()
            };
            let d = decide(&rules(), &order("dairy", cost), &c);
            assert!(
                matches!(d.verdict, Verdict::Ask { .. }),
                "{cost} {spent}: {d:#?}"
            );
        }
        let r = Rules {
            monthly_budget: None,
            ..rules()
        };
        let d = decide(&r, &order("dairy", -1.0), &ctx());
        assert_eq!(
            d.reasons[0].text,
            "cost -1.00 is not a valid amount; a member must check it"
        );
    }

    #[test]
    fn approvals_required_is_at_least_one() {
        for (configured, needed) in [(0, 1), (1, 1), (3, 3)] {
            let r = Rules {
                approvals_required: configured,
                quiet_hours: None,
                ..rules()
            };
            let d = decide(&r, &order("cleaning", 1.0), &ctx());
            assert_eq!(d.verdict, ask(needed, ctx().now), "{configured}");
        }
    }

    #[test]
    fn quiet_hours_hold_the_prompt_until_the_window_ends() {
        let hm = |h: u16, m: u16| h * 60 + m;
        // (start, end, local minute now, minutes to wait or None)
        let cases = [
            // Across midnight, 22:00–07:00.
            (hm(22, 0), hm(7, 0), hm(21, 59), None),
            (hm(22, 0), hm(7, 0), hm(22, 0), Some(540)),
            (hm(22, 0), hm(7, 0), hm(23, 30), Some(450)),
            (hm(22, 0), hm(7, 0), hm(0, 0), Some(420)),
            (hm(22, 0), hm(7, 0), hm(6, 59), Some(1)),
            (hm(22, 0), hm(7, 0), hm(7, 0), None),
            (hm(22, 0), hm(7, 0), hm(12, 0), None),
            // Same day, 13:00–15:00.
            (hm(13, 0), hm(15, 0), hm(12, 59), None),
            (hm(13, 0), hm(15, 0), hm(13, 0), Some(120)),
            (hm(13, 0), hm(15, 0), hm(14, 45), Some(15)),
            (hm(13, 0), hm(15, 0), hm(15, 0), None),
            (hm(13, 0), hm(15, 0), hm(23, 0), None),
            // Until midnight, and from midnight.
            (hm(22, 0), 0, hm(23, 0), Some(60)),
            (0, hm(6, 0), hm(0, 0), Some(360)),
            // start == end: no quiet hours.
            (hm(8, 0), hm(8, 0), hm(8, 0), None),
            (0, 0, hm(3, 0), None),
        ];
        for (start, end, minute, wait) in cases {
            let quiet = QuietHours {
                start_minute: start,
                end_minute: end,
            };
            assert_eq!(
                minutes_until_quiet_end(quiet, minute),
                wait,
                "{start}-{end} at {minute}"
            );
            let r = Rules {
                quiet_hours: Some(quiet),
                ..rules()
            };
            // `now` is 30 s into the local minute.
            let now = T0 + i64::from(minute) * 60 + 30;
            let c = Context {
                now,
                local_minute_of_day: minute,
                ..ctx()
            };
            let d = decide(&r, &order("cleaning", 1.0), &c);
            let held = rule_names(&d).contains(&"quiet-hours");
            assert_eq!(held, wait.is_some(), "{start}-{end} at {minute}");
            let not_before = match wait {
                Some(w) => now - 30 + i64::from(w) * 60,
                None => now,
            };
            assert_eq!(d.verdict, ask(1, not_before), "{start}-{end} at {minute}");
        }
    }

    #[test]
    fn quiet_hours_reason_names_the_window_and_the_wait() {
        let c = Context {
            local_minute_of_day: 23 * 60 + 40,
            ..ctx()
        };
        let d = decide(&rules(), &order("cleaning", 1.0), &c);
        let quiet = d.reasons.iter().find(|r| r.rule == "quiet-hours").unwrap();
        assert_eq!(
            quiet.text,
            "quiet hours 22:00–07:00: the prompt waits until 07:00 (in 7 h 20 min)"
        );
    }

    #[test]
    fn quiet_hours_do_not_delay_an_auto_approval() {
        let c = Context {
            local_minute_of_day: 23 * 60,
            ..ctx()
        };
        let d = decide(&rules(), &order("dairy", 1.0), &c);
        assert_eq!(d.verdict, Verdict::AutoApprove);
        assert!(!rule_names(&d).contains(&"quiet-hours"));
    }
}
