//! The weekly pattern: when the data supports one, how it shapes the
//! horizon, and long silences.

use super::*;
use crate::forecast::outlook::outlook;
use crate::forecast::rate::Demand;
use crate::forecast::weekday::{push_weekday, push_weekday_zeros, weekday, weekly_share};

/// A washer-style item used `use_on(day)` units on each of `days` days
/// (one `Consumed` event at noon), after a large initial fill.
fn consume_daily(days: i64, mut use_on: impl FnMut(i64) -> f64) -> ItemState {
    let model = detergent();
    let mut state = ItemState::default();
    observe(
        &model,
        &mut state,
        &obs(T0, ObservationKind::Added, 10_000.0),
    );
    for d in 0..days {
        let amount = use_on(d);
        if amount > 0.0 {
            observe(
                &model,
                &mut state,
                &obs(T0 + d * DAY + 12 * HOUR, ObservationKind::Consumed, amount),
            );
        }
    }
    // Close the last day.
    observe(
        &model,
        &mut state,
        &obs(T0 + days * DAY + HOUR, ObservationKind::Consumed, 0.0),
    );
    state
}

#[test]
fn weekdays_are_numbered_from_monday() {
    // T0 (2024-01-01) was a Monday; 1970-01-01 a Thursday.
    assert_eq!(weekday(T0 / DAY), 0);
    assert_eq!(weekday(0), 3);
    assert_eq!(weekday(-1), 2);
    assert_eq!(weekday(T0 / DAY + 5), 5);
}

#[test]
fn a_weekly_pattern_the_data_supports_shapes_the_horizon() {
    // 1 unit Monday to Friday, 4 on Saturday and Sunday, for ten weeks.
    let state = consume_daily(70, |d| if d % 7 >= 5 { 4.0 } else { 1.0 });
    let var = Demand::of(&detergent(), &state).var;
    let f = weekday_factors(&state, var).expect("a clear weekly pattern");
    assert!((f.iter().sum::<f64>() - 7.0).abs() < 1e-9, "{f:?}");
    assert!(f[5] > 2.0 * f[0] && f[6] > 2.0 * f[4], "{f:?}");
    // Friday to Sunday holds more than an average three days; Monday
    // to Wednesday less.
    let friday = T0 + 4 * DAY + 70 * DAY;
    let monday = T0 + 70 * DAY;
    assert!(weekly_share(&state, var, friday, 3.0) > 1.3);
    assert!(weekly_share(&state, var, monday, 3.0) < 0.8);
    // Saturday 00:00 to Tuesday 00:00 is exactly Sat + Sun + Mon, and
    // a horizon starting at noon counts half of its first day.
    let saturday = T0 + 5 * DAY + 70 * DAY;
    let expected = (f[5] + f[6] + f[0]) / 3.0;
    assert!((weekly_share(&state, var, saturday, 3.0) - expected).abs() < 1e-12);
    let noon = saturday + 12 * HOUR;
    let expected = (0.5 * f[5] + f[6] + 0.5 * f[0]) / 2.0;
    assert!((weekly_share(&state, var, noon, 2.0) - expected).abs() < 1e-12);
    // The stockout risk follows: same stock, riskier before a weekend.
    let model = detergent();
    let before_weekend = outlook(&model, &state, friday, 0.0, 3.0);
    let after_weekend = outlook(&model, &state, monday, 0.0, 3.0);
    assert!(before_weekend.mean_h > after_weekend.mean_h * 1.5);
}

#[test]
fn a_flat_noisy_week_shows_no_pattern() {
    let mut noise = Lcg(7);
    let state = consume_daily(84, |_| 2.0 + 0.8 * noise.next());
    let var = Demand::of(&detergent(), &state).var;
    assert!(var > 0.0);
    assert_eq!(weekday_factors(&state, var), None);
    assert_eq!(weekly_share(&state, var, T0 + 88 * DAY, 3.0), 1.0);
}

#[test]
fn a_pattern_needs_weeks_of_every_weekday() {
    let state = consume_daily(20, |d| if d % 7 >= 5 { 4.0 } else { 1.0 });
    assert!(state.weekday_days.iter().any(|&n| n < WEEKDAY_MIN_WEEKS));
    assert_eq!(weekday_factors(&state, 0.0), None);
}

#[test]
fn a_long_silence_fades_the_weekdays_as_step_by_step_would() {
    let mut stepwise = consume_daily(28, |d| (d % 7) as f64 + 1.0);
    let mut closed = stepwise.clone();
    let first = T0 / DAY + 28;
    for d in 0..400 {
        push_weekday(&mut stepwise, first + d, 0.0);
    }
    push_weekday_zeros(&mut closed, first, 400);
    assert_eq!(stepwise.weekday_days, closed.weekday_days);
    for w in 0..7 {
        let (a, b) = (stepwise.weekday_mean[w], closed.weekday_mean[w]);
        assert!(
            (a - b).abs() <= 1e-12 * a.abs().max(1e-300),
            "{w}: {a} vs {b}"
        );
    }
}
