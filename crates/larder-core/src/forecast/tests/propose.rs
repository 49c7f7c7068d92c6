//! The simple reorder rule: when it triggers, whole packages, the shelf
//! cap and its reasons.

use super::*;

fn forecast_with(level: f64, p: f64) -> Forecast {
    Forecast {
        level: Some(level),
        rate_per_day: 0.3,
        rate_sd_per_day: 0.1,
        days_left: Some(level / 0.3),
        horizon_days: 4.0,
        stockout_probability: p,
    }
}

#[test]
fn proposal_triggers_exactly_past_the_service_level() {
    // service level 0.95: reorder when P(stockout) > 0.05.
    let cases = [
        (0.0, false),
        (0.049_999, false),
        (0.05, false),
        (0.050_001, true),
        (0.5, true),
        (1.0, true),
    ];
    for (p, wanted) in cases {
        let got = propose(&milk(), &forecast_with(0.4, p));
        assert_eq!(got.is_some(), wanted, "p = {p}: {got:?}");
    }
}

#[test]
fn well_stocked_items_are_not_reordered() {
    let model = ItemModel {
        declared_per_day: Some(0.3),
        ..milk()
    };
    let mut state = ItemState::default();
    observe(&model, &mut state, &reading(T0, 3.0));
    let f = forecast(&model, &state, T0);
    assert!(f.stockout_probability < 0.01, "{f:?}");
    assert_eq!(propose(&model, &f), None);
    // Two days later it is time.
    let f = forecast(&model, &state, T0 + 6 * DAY);
    assert!(propose(&model, &f).is_some(), "{f:?}");
}

#[test]
fn proposals_are_whole_packages_and_at_least_one() {
    // (package size, level, expected packages); rate 0.3 ± 0.1 over
    // 4 days at 95%: order-up-to 1.2 + 1.645 * 0.2 = 1.529.
    let model = |package_size| ItemModel {
        package_size,
        shelf_life_days: None,
        ..milk()
    };
    let cases = [
        (1.0, 0.4, 2),  // need 1.13
        (1.0, 0.0, 2),  // need 1.53
        (0.5, 0.0, 4),  // need 1.53 → 3.06 packs
        (0.25, 0.4, 5), // need 1.13 → 4.5 packs
        (1.0, 1.5, 1),  // need 0.03
        (1.0, 5.0, 1),  // need negative, still one
        (10.0, 0.0, 1), // a big pack
    ];
    for (package, level, packages) in cases {
        let got = propose(&model(package), &forecast_with(level, 0.9)).unwrap();
        assert_eq!(got.packages, packages, "{package} at {level}: {got:?}");
    }
}

#[test]
fn shelf_life_caps_the_order() {
    // (shelf life, rate, expected packages, capped)
    let cases = [
        (None, 0.3, 2, false),
        (Some(10.0), 0.3, 2, false), // 3.0 usable
        (Some(5.0), 0.3, 1, true),   // 1.5 usable → 1
        (Some(2.0), 0.3, 1, true),   // 0.6 usable → still 1
        (Some(0.0), 0.3, 1, true),
    ];
    for (shelf, rate, packages, capped) in cases {
        let model = ItemModel {
            shelf_life_days: shelf,
            ..milk()
        };
        let f = Forecast {
            rate_per_day: rate,
            ..forecast_with(0.0, 0.9)
        };
        let got = propose(&model, &f).unwrap();
        assert_eq!(got.packages, packages, "{shelf:?}: {got:?}");
        let says_capped = got.reasons.iter().any(|r| r.contains("shelf life"));
        assert_eq!(says_capped, capped, "{shelf:?}: {got:?}");
    }
}

#[test]
fn proposal_reasons_carry_the_figures() {
    let got = propose(&milk(), &forecast_with(0.4, 0.72)).unwrap();
    assert_eq!(
        got.reasons,
        [
            "0.40 left, using 0.30 ± 0.10 a day: empty in 1.3 days",
            "a delivery takes 1 day; 72% chance of running out within 4 days (target ≤ 5%)",
            "order-up-to 1.53 for 4 days at 95% service: 1.13 more → 2 × 1.00",
        ]
    );
}

#[test]
fn no_proposal_without_a_level_or_use_or_a_valid_package() {
    let unknown = Forecast {
        level: None,
        ..forecast_with(0.0, 0.9)
    };
    assert_eq!(propose(&milk(), &unknown), None);
    let unused = Forecast {
        rate_per_day: 0.0,
        ..forecast_with(0.0, 0.9)
    };
    assert_eq!(propose(&milk(), &unused), None);
    for package_size in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let model = ItemModel {
            package_size,
            ..milk()
        };
        assert_eq!(
            propose(&model, &forecast_with(0.0, 0.9)),
            None,
            "{package_size}"
        );
    }
}
