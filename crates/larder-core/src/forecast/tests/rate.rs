//! Learning the rate: the prior, zero-demand and censored days, and
//! accuracy on simulated data.

use super::*;
use crate::forecast::rate::Demand;

#[test]
fn prior_dominates_at_cold_start_and_data_takes_over() {
    let model = ItemModel {
        declared_per_day: Some(0.5),
        ..detergent()
    };
    let mut state = ItemState::default();
    let f = forecast(&model, &state, T0);
    assert_eq!(f.rate_per_day, 0.5, "no data: the declared usage");
    assert!((f.rate_sd_per_day - 0.25).abs() < 1e-12);

    // Actually 0.2 a day.
    let mut rates = Vec::new();
    for day in 0..61 {
        observe(
            &model,
            &mut state,
            &obs(T0 + day * DAY + 8 * HOUR, ObservationKind::Consumed, 0.2),
        );
        rates.push(forecast(&model, &state, T0 + day * DAY + 9 * HOUR).rate_per_day);
    }
    assert!(
        rates[1] > 0.45,
        "after one day the prior still rules: {}",
        rates[1]
    );
    assert!(
        rates.windows(2).all(|w| w[1] <= w[0] + 1e-12),
        "moves steadily toward the data"
    );
    let last = rates[60];
    assert!(
        (last - 0.2).abs() < 0.02,
        "after 60 days the data rules: {last}"
    );
}

#[test]
fn no_declared_usage_and_no_data_means_rate_zero_and_no_proposal() {
    let model = milk();
    let mut state = ItemState::default();
    observe(&model, &mut state, &reading(T0, 0.0));
    let f = forecast(&model, &state, T0);
    assert_eq!(f.rate_per_day, 0.0);
    assert_eq!(f.days_left, None);
    assert_eq!(propose(&model, &f), None);
}

#[test]
fn stockout_days_do_not_drag_the_rate_down() {
    let model = milk();
    let run = |out_days: i64| {
        let mut state = ItemState::default();
        let mut t = T0;
        let mut level = 3.0;
        // 0.3 a day, read every 6 hours, for 9 days.
        for _ in 0..36 {
            observe(&model, &mut state, &reading(t, level));
            level = (level - 0.075).max(0.0);
            t += 6 * HOUR;
        }
        // Empty for `out_days` days, read every 6 hours.
        observe(&model, &mut state, &reading(t, 0.0));
        for _ in 0..out_days * 4 {
            t += 6 * HOUR;
            observe(&model, &mut state, &reading(t, 0.0));
        }
        // Restocked and used again for 3 days.
        let mut level = 2.0;
        for _ in 0..12 {
            t += 6 * HOUR;
            observe(&model, &mut state, &reading(t, level));
            level -= 0.075;
        }
        (
            forecast(&model, &state, t).rate_per_day,
            state.censored_days,
        )
    };
    let (baseline, _) = run(0);
    let (rate, censored) = run(10);
    assert!(censored >= 10, "censored {censored}");
    assert!((rate - baseline).abs() < 0.03, "{rate} vs {baseline}");
    assert!(rate > 0.25, "{rate}");
}

#[test]
fn silent_days_of_an_empty_item_are_censored_too() {
    let model = milk();
    let mut state = ItemState::default();
    observe(&model, &mut state, &reading(T0, 0.0));
    observe(&model, &mut state, &reading(T0 + 5 * DAY, 0.0));
    assert_eq!(state.censored_days, 5);
    assert_eq!(state.sample_days, 0);
}

#[test]
fn quiet_days_are_zero_demand_days() {
    let model = detergent();
    let mut state = ItemState::default();
    observe(&model, &mut state, &obs(T0, ObservationKind::Consumed, 0.4));
    observe(
        &model,
        &mut state,
        &obs(T0 + 4 * DAY, ObservationKind::Consumed, 0.4),
    );
    // Days 0..4 closed: 0.4, 0, 0, 0 → a mean of 0.1.
    assert_eq!(state.sample_days, 4);
    let f = forecast(&model, &state, T0 + 4 * DAY);
    // The open day already holds 0.4 > 0.1: the provisional close raises it.
    assert!((Demand::of(&model, &state).mean - 0.1).abs() < 1e-12);
    assert!((f.rate_per_day - 0.16).abs() < 1e-12, "{f:?}");
}

#[test]
fn a_stockout_day_that_used_more_than_the_estimate_still_teaches() {
    let model = milk();
    let mut state = ItemState::default();
    for d in 0..20 {
        // 0.1 a day, read each evening, restocked to 1 each morning.
        observe(
            &model,
            &mut state,
            &obs(T0 + d * DAY + HOUR, ObservationKind::Added, 1.0),
        );
        let level = state.level.unwrap();
        observe(
            &model,
            &mut state,
            &reading(T0 + d * DAY + 20 * HOUR, level - 0.1),
        );
    }
    let before = forecast(&model, &state, T0 + 20 * DAY).rate_per_day;
    // Now all of it goes in a day: the day is out of stock, but 1.0 > 0.1.
    let level = state.level.unwrap();
    observe(
        &model,
        &mut state,
        &obs(T0 + 20 * DAY + HOUR, ObservationKind::Added, 1.0 - level),
    );
    observe(&model, &mut state, &reading(T0 + 20 * DAY + 20 * HOUR, 0.0));
    observe(&model, &mut state, &reading(T0 + 21 * DAY + 20 * HOUR, 0.0));
    let after = forecast(&model, &state, T0 + 21 * DAY + 21 * HOUR).rate_per_day;
    assert!(after > before + 0.04, "{before} -> {after}");
}

#[test]
fn sixty_days_of_milk_are_learned_within_fifteen_percent() {
    let model = milk();
    for seed in [1, 2, 3, 42, 2024] {
        let state = simulate(&model, 0.3, 60, 0.02, seed);
        let f = forecast(&model, &state, T0 + 60 * DAY);
        let error = (f.rate_per_day - 0.3).abs() / 0.3;
        assert!(error < 0.15, "seed {seed}: {f:?}");
        assert!(f.rate_sd_per_day < 0.3, "seed {seed}: {f:?}");
        assert!(state.censored_days == 0, "seed {seed}");
    }
}

#[test]
fn replay_is_deterministic() {
    let a = simulate(&milk(), 0.3, 30, 0.02, 7);
    let b = simulate(&milk(), 0.3, 30, 0.02, 7);
    assert_eq!(a, b);
    assert_eq!(
        forecast(&milk(), &a, T0 + 30 * DAY),
        forecast(&milk(), &b, T0 + 30 * DAY)
    );
}
