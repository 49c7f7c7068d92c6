//! The forecast: the level run down at the rate, the stock-out
//! probability, and the normal approximations behind it.

use super::*;
use crate::forecast::normal::{inverse_normal_cdf, normal_upper_tail};

#[test]
fn forecast_level_runs_down_at_the_rate_and_never_below_zero() {
    let model = ItemModel {
        declared_per_day: Some(0.25),
        ..milk()
    };
    let mut state = ItemState::default();
    observe(&model, &mut state, &reading(T0, 1.0));
    // (now, expected level)
    let cases = [
        (T0 - DAY, 1.0),
        (T0, 1.0),
        (T0 + DAY, 0.75),
        (T0 + 2 * DAY, 0.5),
        (T0 + 10 * DAY, 0.0),
    ];
    for (now, level) in cases {
        let f = forecast(&model, &state, now);
        assert!((f.level.unwrap() - level).abs() < 1e-12, "at {now}: {f:?}");
    }
    let f = forecast(&model, &state, T0);
    assert_eq!(f.days_left, Some(4.0));
    assert_eq!(f.horizon_days, 4.0);
}

#[test]
fn stockout_probability_grows_as_stock_shrinks() {
    let model = ItemModel {
        declared_per_day: Some(0.3),
        ..milk()
    };
    let mut last = -1.0;
    for level in [3.0, 2.0, 1.5, 1.2, 1.0, 0.5, 0.1] {
        let mut state = ItemState::default();
        observe(&model, &mut state, &reading(T0, level));
        let p = forecast(&model, &state, T0).stockout_probability;
        assert!((0.0..=1.0).contains(&p));
        assert!(p > last, "level {level}: {p} after {last}");
        last = p;
    }
    // Exactly at the expected demand over the horizon: a coin toss.
    let mut state = ItemState::default();
    observe(&model, &mut state, &reading(T0, 1.2));
    let p = forecast(&model, &state, T0).stockout_probability;
    assert!((p - 0.5).abs() < 1e-6, "{p}");
}

#[test]
fn normal_approximations_match_known_values() {
    // (x, P(Z >= x))
    let tails = [
        (0.0, 0.5),
        (1.0, 0.158_655_253_9),
        (1.644_853_627, 0.05),
        (-1.959_963_985, 0.975),
        (3.0, 0.001_349_898_032),
        (6.0, 9.865_876_45e-10),
    ];
    for (x, p) in tails {
        let got = normal_upper_tail(x);
        assert!(((got - p) / p).abs() < 1e-6, "x = {x}: {got} vs {p}");
    }
    // (p, quantile)
    let quantiles = [
        (0.5, 0.0),
        (0.95, 1.644_853_627),
        (0.99, 2.326_347_874),
        (0.025, -1.959_963_985),
        (0.001, -3.090_232_306),
    ];
    for (p, z) in quantiles {
        let got = inverse_normal_cdf(p);
        assert!((got - z).abs() < 1e-6, "p = {p}: {got} vs {z}");
    }
}
