//! Unit tests of the approval rules: each rule with its reasons, denies
//! that stay final, invalid amounts and quiet hours.

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
