//! `ItemState` as the store keeps it: JSON round trips, and old state
//! without the newer fields still loads.

use super::*;

#[test]
fn state_round_trips_through_json_and_old_state_still_loads() {
    let state = simulate(&milk(), 0.3, 10, 0.02, 9);
    let json = serde_json::to_string(&state).unwrap();
    let back: ItemState = serde_json::from_str(&json).unwrap();
    // serde_json (without `float_roundtrip`) may be off by one ulp.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
    assert!(close(back.level.unwrap(), state.level.unwrap()));
    assert_eq!(
        (back.level_at, back.open_day, back.day_out_of_stock),
        (state.level_at, state.open_day, state.day_out_of_stock)
    );
    assert_eq!(
        (back.sample_days, back.censored_days),
        (state.sample_days, state.censored_days)
    );
    let pairs = [
        (back.day_consumed, state.day_consumed),
        (back.data_weight, state.data_weight),
        (back.demand_sum, state.demand_sum),
        (back.demand_sq_sum, state.demand_sq_sum),
        (back.weight_sq_sum, state.weight_sq_sum),
    ];
    assert!(pairs.iter().all(|&(a, b)| close(a, b)), "{back:?}");
    let old: ItemState = serde_json::from_str(r#"{"level":1.5,"level_at":5}"#).unwrap();
    assert_eq!(old.level, Some(1.5));
    assert_eq!(old.open_day, None);
    assert_eq!(old.sample_days, 0);
}

#[test]
fn state_with_lots_and_learning_round_trips_through_json() {
    let model = daily_milk();
    let (mut state, now) = steady(&model, 0.3, 10, 1.0);
    learn(
        &mut state,
        Feedback::Edited {
            proposed: 2,
            chosen: 1,
        },
        now,
    );
    pause(&model, &mut state, now);
    let back: ItemState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(back.lots.len(), state.lots.len());
    assert_eq!(back.paused_since, state.paused_since);
    assert!((back.quantity_bias - state.quantity_bias).abs() < 1e-12);
}
