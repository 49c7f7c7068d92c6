//! The full policy: usable stock, auto-approval limits, the shelf cap,
//! spare packs, smaller packs and vendor top-ups.

use super::*;

fn plan_of(model: &ItemModel, state: &ItemState, now: i64) -> Vec<String> {
    plan(model, state, now, &DecisionContext::default())
        .proposal
        .map(|p| p.reasons)
        .unwrap_or_default()
}

#[test]
fn a_pack_that_mostly_spoils_suggests_a_smaller_one() {
    // 200 g packs kept 6 days, used at 20 g a day; the new pack starts
    // when the 29 g left run out (1.5 days, minus the 1-day lead): 5.5
    // days × 20 g = 110.83 g eaten in time, 45 % spoils.
    let cold_cuts = ItemModel {
        package_size: 200.0,
        lead_time_days: 1.0,
        review_days: 3.0,
        shelf_life_days: Some(6.0),
        service_level: 0.9,
        declared_per_day: Some(20.0),
        measure: Measure::Consumption,
        noise: 0.0,
    };
    let mut state = ItemState::default();
    observe(
        &cold_cuts,
        &mut state,
        &obs(T0, ObservationKind::Added, 30.0),
    );
    let plan = plan(&cold_cuts, &state, T0 + HOUR, &DecisionContext::default());
    let proposal = plan.proposal.expect("nearly out: an order");
    assert_eq!(proposal.packages, 1);
    let hint = proposal
        .reasons
        .iter()
        .find(|r| r.contains("would waste less"))
        .unwrap_or_else(|| panic!("{:?}", proposal.reasons));
    assert!(hint.contains("about 45% of each package spoils"), "{hint}");
    assert!(hint.contains("a pack of about 110.83"), "{hint}");

    // Milk used faster than it spoils: no such hint.
    let mut state = ItemState::default();
    let model = ItemModel {
        declared_per_day: Some(0.5),
        ..milk()
    };
    observe(&model, &mut state, &reading(T0, 0.2));
    let proposal = plan_of(&model, &state, T0 + HOUR);
    assert!(!proposal.is_empty(), "milk at 0.2 is ordered");
    assert!(
        !proposal.iter().any(|r| r.contains("would waste less")),
        "{proposal:?}"
    );
}

#[test]
fn plan_orders_when_the_stock_will_not_last_until_the_next_delivery() {
    let model = daily_milk();
    let (state, now) = steady(&model, 0.3, 30, 0.2);
    let p = plan(&model, &state, now, &DecisionContext::default());
    assert!(p.proposal.is_some(), "{p:?}");
    let (state, now) = steady(&model, 0.3, 30, 1.0);
    let p = plan(&model, &state, now, &DecisionContext::default());
    assert_eq!(p.proposal, None, "{p:?}");
    // What is already on order counts.
    let (state, now) = steady(&model, 0.3, 30, 0.2);
    let ctx = DecisionContext {
        on_order: 1.0,
        ..DecisionContext::default()
    };
    assert_eq!(plan(&model, &state, now, &ctx).proposal, None);
}

#[test]
fn stock_that_expires_before_use_does_not_count() {
    let model = daily_milk(); // shelf life 10 days
    let (mut state, now) = steady(&model, 0.05, 30, 1.0);
    // The lot arrived 9.5 days ago: only ~0.5 day of use is left in it.
    state.lots[0].at = now - 9 * DAY - 12 * HOUR;
    let p = plan(&model, &state, now, &DecisionContext::default());
    assert!(p.usable < 0.1, "{p:?}");
    assert!(p.expected_waste > 0.9, "{p:?}");
    assert!(p.proposal.is_some(), "{p:?}");
}

#[test]
fn auto_approval_limits_shape_the_quantity() {
    let model = ItemModel {
        shelf_life_days: None,
        ..daily_milk()
    };
    let auto = AutoApprove {
        max_packages: 2,
        min_gap_days: 3.0,
    };
    let ctx = DecisionContext {
        auto_approve: Some(auto),
        ..DecisionContext::default()
    };
    // 0.4 a day: one pack would last 2.5 days → two packs, no prompt.
    let (state, now) = steady(&model, 0.4, 30, 0.1);
    let p = plan(&model, &state, now, &ctx).proposal.unwrap();
    assert_eq!(p.packages, 2, "{p:?}");
    // 1.5 a day: a prompt is unavoidable → a week's worth.
    let (state, now) = steady(&model, 1.5, 30, 0.1);
    let p = plan(&model, &state, now, &ctx).proposal.unwrap();
    assert!(p.packages >= 11, "{p:?}");
    assert!(p.reasons.iter().any(|r| r.contains("when asking anyway")));
}

#[test]
fn right_after_an_order_only_a_likely_stockout_reorders() {
    let model = daily_milk();
    let auto = AutoApprove {
        max_packages: 2,
        min_gap_days: 3.0,
    };
    // 0.2 and 0.4 on alternate days.
    let mut state = ItemState::default();
    for d in 0..30 {
        let x = if d % 2 == 0 { 0.2 } else { 0.4 };
        observe(
            &model,
            &mut state,
            &obs(T0 + d * DAY + 12 * HOUR, ObservationKind::Consumed, x),
        );
    }
    let now = T0 + 30 * DAY + 20 * HOUR;
    observe(
        &model,
        &mut state,
        &obs(now - HOUR, ObservationKind::Added, 0.4),
    );
    let ctx = |since| DecisionContext {
        auto_approve: Some(auto),
        days_since_last_order: Some(since),
        ..DecisionContext::default()
    };
    let p = plan(&model, &state, now, &ctx(5.0));
    let fc = &p.forecast;
    assert!(
        fc.stockout_probability > 0.05 && fc.stockout_probability < 0.5,
        "{fc:?}"
    );
    assert!(p.proposal.is_some());
    assert_eq!(plan(&model, &state, now, &ctx(1.0)).proposal, None);
}

#[test]
fn the_shelf_cap_uses_the_lower_of_the_long_and_recent_rates() {
    let model = ItemModel {
        lead_time_days: 1.0 / 24.0,
        review_days: 1.0,
        shelf_life_days: Some(7.0),
        ..milk()
    };
    let ctx = DecisionContext {
        auto_approve: Some(AutoApprove {
            max_packages: 2,
            min_gap_days: 3.0,
        }),
        ..DecisionContext::default()
    };
    // A long habit of 1.5 a day that just dropped to 0.1 a day.
    let mut state = ItemState::default();
    for d in 0..40 {
        let x = if d < 30 { 1.5 } else { 0.1 };
        observe(
            &model,
            &mut state,
            &obs(T0 + d * DAY + 12 * HOUR, ObservationKind::Consumed, x),
        );
    }
    let now = T0 + 40 * DAY + 20 * HOUR;
    observe(
        &model,
        &mut state,
        &obs(now - HOUR, ObservationKind::Added, 0.0),
    );
    let p = plan(&model, &state, now, &ctx).proposal.unwrap();
    // 0.1 × 7 days < 1 pack: a single pack, not a week at 1.5.
    assert_eq!(p.packages, 1, "{p:?}");
}

#[test]
fn non_perishables_keep_a_spare_pack() {
    let model = ItemModel {
        shelf_life_days: None,
        ..detergent()
    };
    let mut state = ItemState::default();
    for d in 0..30 {
        observe(
            &model,
            &mut state,
            &obs(T0 + d * DAY, ObservationKind::Consumed, 0.05),
        );
    }
    let now = T0 + 30 * DAY + HOUR;
    // 1.9 left lasts 38 days, but it is less than one spare pack (2).
    observe(&model, &mut state, &obs(now, ObservationKind::Added, 1.9));
    let p = plan(&model, &state, now, &DecisionContext::default());
    assert!(p.proposal.is_some(), "{p:?}");
    assert!(
        p.proposal
            .unwrap()
            .reasons
            .iter()
            .any(|r| r.contains("minimum"))
    );
}

#[test]
fn top_up_adds_same_vendor_items_that_would_trigger_soon() {
    let model = ItemModel {
        shelf_life_days: None,
        ..daily_milk()
    };
    let (low, now) = steady(&model, 0.5, 30, 0.1); // triggers now
    let (soon, _) = steady(&model, 0.5, 30, 1.5); // in ~2 days
    let (full, _) = steady(&model, 0.5, 30, 9.0); // not for weeks
    let ctx = DecisionContext::default();
    let item = |state, vendor| BasketItem {
        model: &model,
        state,
        ctx: &ctx,
        vendor,
    };
    let basket = [
        item(&low, "shop"),
        item(&soon, "shop"),
        item(&full, "shop"),
        item(&soon, "other"),
    ];
    let got: Vec<usize> = top_up(&basket, now, 3.0).iter().map(|(i, _)| *i).collect();
    assert_eq!(got, vec![0, 1]);
    // Nothing triggers: nothing is topped up.
    let quiet = [item(&soon, "shop"), item(&full, "shop")];
    assert!(top_up(&quiet, now, 3.0).is_empty());
}
