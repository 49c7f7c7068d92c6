//! Folding observations in: the deadband, restocks, doses, lots, and
//! hostile amounts and times.

use super::*;
use crate::forecast::model::state_is_finite;

#[test]
fn noise_does_not_look_like_consumption() {
    let mut state = ItemState::default();
    let levels = [1.00, 1.03, 0.97, 1.04, 0.96, 1.02, 0.99, 1.05, 0.95];
    let total = feed_levels(&milk(), &mut state, &levels, HOUR);
    assert_eq!(total, Observed::default());
    assert_eq!(state.level, Some(1.00));
}

#[test]
fn level_changes_are_classified_by_the_deadband() {
    // (reference, reading, consumed, restocked, new reference)
    let cases = [
        (1.0, 0.96, 0.0, 0.0, 1.0),   // within noise below
        (1.0, 0.90, 0.10, 0.0, 0.90), // consumption
        (1.0, 1.20, 0.0, 0.0, 1.0),   // above noise, below a quarter package
        (1.0, 1.26, 0.0, 0.26, 1.26), // restock
        (0.3, 1.30, 0.0, 1.0, 1.30),  // a delivered litre
        (0.2, 0.0, 0.2, 0.0, 0.0),    // emptied
    ];
    for (reference, v, consumed, restocked, after) in cases {
        let mut state = ItemState::default();
        observe(&milk(), &mut state, &reading(T0, reference));
        let got = observe(&milk(), &mut state, &reading(T0 + HOUR, v));
        let what = format!("{reference} -> {v}");
        assert!((got.consumed - consumed).abs() < 1e-9, "{what}: {got:?}");
        assert!((got.restocked - restocked).abs() < 1e-9, "{what}: {got:?}");
        assert_eq!(state.level, Some(after), "{what}");
    }
}

#[test]
fn restock_jump_is_detected_as_a_restock() {
    let mut state = ItemState::default();
    let total = feed_levels(&milk(), &mut state, &[0.40, 0.30, 1.31, 1.30], HOUR);
    assert!((total.restocked - 1.01).abs() < 1e-9, "{total:?}");
    assert!((total.consumed - 0.10).abs() < 1e-9, "{total:?}");
    assert_eq!(state.level, Some(1.31));
}

#[test]
fn slow_consumption_accumulates_past_the_deadband() {
    let mut state = ItemState::default();
    // 0.02 per reading: no single step exceeds the 0.05 deadband.
    let levels: Vec<f64> = (0..10).map(|i| 1.0 - 0.02 * f64::from(i)).collect();
    let total = feed_levels(&milk(), &mut state, &levels, HOUR);
    let last = levels[levels.len() - 1];
    let reference = state.level.unwrap();
    assert!((total.consumed - (1.0 - reference)).abs() < 1e-9);
    assert!(total.consumed >= 0.12, "{total:?}");
    assert!(
        reference - last <= 0.05 + 1e-9,
        "reference {reference} vs {last}"
    );
}

#[test]
fn washer_doses_drive_the_rate_of_a_consumption_item() {
    let model = detergent();
    let mut state = ItemState::default();
    // 0.1 l every second day for 40 days; the level was never told.
    for day in (0..40).step_by(2) {
        let got = observe(
            &model,
            &mut state,
            &obs(T0 + day * DAY + 10 * HOUR, ObservationKind::Consumed, 0.1),
        );
        assert_eq!(got.consumed, 0.1);
    }
    assert_eq!(state.level, None);
    let f = forecast(&model, &state, T0 + 40 * DAY);
    assert!((f.rate_per_day - 0.05).abs() < 0.01, "{f:?}");
    assert_eq!(f.level, None);
    assert_eq!(f.stockout_probability, 0.0);
    assert_eq!(propose(&model, &f), None, "unknown level: no proposal");

    // A delivery makes the level known; doses lower it.
    let at = T0 + 40 * DAY + HOUR;
    observe(&model, &mut state, &obs(at, ObservationKind::Added, 2.0));
    observe(
        &model,
        &mut state,
        &obs(at + HOUR, ObservationKind::Consumed, 0.1),
    );
    observe(
        &model,
        &mut state,
        &obs(at + 2 * HOUR, ObservationKind::Removed, 0.4),
    );
    assert!((state.level.unwrap() - 1.5).abs() < 1e-9);
    // Removed is not consumption.
    assert!((state.day_consumed - 0.1).abs() < 1e-9);
}

#[test]
fn consumption_never_takes_the_level_below_zero() {
    let model = detergent();
    let mut state = ItemState::default();
    observe(&model, &mut state, &obs(T0, ObservationKind::Added, 0.1));
    let got = observe(
        &model,
        &mut state,
        &obs(T0 + 1, ObservationKind::Consumed, 0.3),
    );
    assert_eq!(got.consumed, 0.3);
    assert_eq!(state.level, Some(0.0));
    observe(
        &model,
        &mut state,
        &obs(T0 + 2, ObservationKind::Removed, 1.0),
    );
    assert_eq!(state.level, Some(0.0));
}

#[test]
fn lots_follow_deliveries_fifo_and_expired_removals() {
    let model = milk();
    let mut state = ItemState::default();
    observe(&model, &mut state, &obs(T0, ObservationKind::Added, 1.0));
    observe(
        &model,
        &mut state,
        &obs(T0 + DAY, ObservationKind::Added, 1.0),
    );
    observe(&model, &mut state, &reading(T0 + DAY + HOUR, 1.6));
    // 0.4 used from the older lot.
    assert_eq!(state.lots.len(), 2);
    assert!((state.lots[0].amount - 0.6).abs() < 1e-9 && state.lots[0].at == T0);
    // The older lot is thrown away.
    observe(
        &model,
        &mut state,
        &obs(T0 + 10 * DAY, ObservationKind::Removed, 0.6),
    );
    assert_eq!(state.lots.len(), 1);
    assert_eq!(state.lots[0].at, T0 + DAY);
}

#[test]
fn stale_readings_are_ignored_and_late_deltas_are_not_bucketed() {
    let model = milk();
    let mut state = ItemState::default();
    observe(&model, &mut state, &reading(T0 + 2 * DAY, 1.0));
    let before = state.clone();
    // A reading from before the last one changes nothing.
    assert_eq!(
        observe(&model, &mut state, &reading(T0, 0.2)),
        Observed::default()
    );
    assert_eq!(state, before);

    // A late dose for a consumption item lowers the level but stays
    // out of the closed day's demand.
    let model = detergent();
    let mut state = ItemState::default();
    observe(
        &model,
        &mut state,
        &obs(T0 + 2 * DAY, ObservationKind::Added, 1.0),
    );
    let got = observe(&model, &mut state, &obs(T0, ObservationKind::Consumed, 0.3));
    assert_eq!(got.consumed, 0.3);
    assert!((state.level.unwrap() - 0.7).abs() < 1e-12);
    assert_eq!(state.day_consumed, 0.0);
    assert_eq!(state.level_at, T0 + 2 * DAY);
}

#[test]
fn nan_infinite_and_negative_amounts_are_refused() {
    let kinds = [
        ObservationKind::Level,
        ObservationKind::Consumed,
        ObservationKind::Added,
        ObservationKind::Removed,
    ];
    for model in [milk(), detergent()] {
        let mut state = ItemState::default();
        observe(&model, &mut state, &reading(T0, 1.0));
        let before = state.clone();
        for kind in kinds {
            for amount in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.1, -1e300] {
                let got = observe(&model, &mut state, &obs(T0 + DAY, kind, amount));
                assert_eq!(got, Observed::default(), "{kind:?} {amount}");
                assert_eq!(state, before, "{kind:?} {amount}");
            }
        }
        // Finite but overflowing amounts are refused as a whole too.
        observe(
            &model,
            &mut state,
            &obs(T0 + DAY, ObservationKind::Added, f64::MAX),
        );
        let before = state.clone();
        let got = observe(
            &model,
            &mut state,
            &obs(T0 + DAY, ObservationKind::Added, f64::MAX),
        );
        assert_eq!(got, Observed::default());
        assert_eq!(state, before);
    }
}

#[test]
fn a_ten_year_gap_does_not_hang() {
    for model in [milk(), detergent()] {
        let mut state = ItemState::default();
        observe(&model, &mut state, &obs(T0, ObservationKind::Added, 1.0));
        observe(
            &model,
            &mut state,
            &obs(T0 + 1, ObservationKind::Consumed, 0.5),
        );
        observe(
            &model,
            &mut state,
            &obs(T0 + 3650 * DAY, ObservationKind::Consumed, 0.1),
        );
        assert!(state_is_finite(&state));
        assert_eq!(state.sample_days, 3650);
        let f = forecast(&model, &state, T0 + 3650 * DAY);
        assert!(
            f.rate_per_day.is_finite() && f.rate_per_day <= 0.1 + 1e-9,
            "{f:?}"
        );
    }
}

#[test]
fn extreme_and_out_of_order_times_never_panic() {
    let times = [
        i64::MIN,
        -1,
        0,
        T0,
        i64::MAX,
        T0 - 3 * DAY,
        i64::MIN + 1,
        T0,
    ];
    for model in [milk(), detergent()] {
        let mut state = ItemState::default();
        for (i, &at) in times.iter().enumerate() {
            let kind = [
                ObservationKind::Level,
                ObservationKind::Consumed,
                ObservationKind::Added,
                ObservationKind::Removed,
            ][i % 4];
            observe(&model, &mut state, &obs(at, kind, 0.5));
            for now in [i64::MIN, 0, T0, i64::MAX] {
                let f = forecast(&model, &state, now);
                assert!(f.stockout_probability.is_finite());
                let _ = propose(&model, &f);
            }
        }
        assert!(state_is_finite(&state));
    }
}
