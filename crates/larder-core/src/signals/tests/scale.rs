//! The load-cell filter: median and tare, consumption and restocks, a
//! lifted container.

use super::*;

#[test]
fn a_negative_weight_is_a_lifted_container_and_putting_it_back_is_no_restock() {
    // Tared on the device with the container on (tare-kg 0): lifting
    // the container reads its weight negative.
    for median_of in [1, 3] {
        let p = ScaleParams {
            median_of,
            ..ScaleParams::default()
        };
        let mut s = ScaleState::default();
        let first = feed(&mut s, &p, &[0.8, 0.8, 0.8]);
        assert_eq!(first.len(), 1, "{first:?}");
        let mut lifted = Vec::new();
        for i in 0..4 {
            let out = s.reading(&p, -0.35, T0 + 3000 + 60 * i);
            assert!(out.lifted, "median-of {median_of}: {out:?}");
            lifted.extend(out.derived);
        }
        assert!(lifted.is_empty(), "not read as empty: {lifted:?}");
        let mut back = Vec::new();
        for i in 0..3 {
            back.extend(s.reading(&p, 0.75, T0 + 4000 + 60 * i).derived);
        }
        assert_eq!(back.len(), 1, "median-of {median_of}: {back:?}");
        assert_eq!(back[0].kind, ObservationKind::Level, "no phantom restock");
        assert!((back[0].amount - 0.75).abs() < 1e-9);
    }
    // The scale's clock set back: readings keep coming in.
    let p = ScaleParams {
        median_of: 1,
        ..ScaleParams::default()
    };
    let mut s = ScaleState::default();
    s.reading(&p, 0.8, T0);
    let out = s.reading(&p, 0.5, T0 - 3600);
    assert!(!out.stale);
    assert_eq!(out.derived.len(), 1);
}

fn scale() -> ScaleParams {
    ScaleParams {
        tare_kg: 0.1,
        units_per_kg: 0.97,
        ..ScaleParams::default()
    }
}

fn feed(s: &mut ScaleState, p: &ScaleParams, readings: &[f64]) -> Vec<Derived> {
    let mut out = Vec::new();
    for (i, kg) in readings.iter().enumerate() {
        out.extend(s.reading(p, *kg, T0 + 300 * i as i64).derived);
    }
    out
}

#[test]
fn the_scale_reports_a_median_filtered_level_net_of_tare() {
    let p = scale();
    let mut s = ScaleState::default();
    // A hand on the shelf (a spike) is filtered out.
    let out = feed(&mut s, &p, &[1.13, 1.13, 2.9, 1.13]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].kind, ObservationKind::Level);
    assert!((out[0].amount - 1.03 * 0.97).abs() < 1e-9);
    // Jitter within the deadband reports nothing.
    let mut s2 = s.clone();
    assert!(s2.reading(&p, 1.14, T0 + 2000).derived.is_empty());
}

#[test]
fn the_scale_reports_consumption_as_lower_levels_and_a_jump_as_a_restock() {
    let p = ScaleParams {
        units_per_kg: 1.0,
        ..scale()
    };
    let mut s = ScaleState::default();
    let out = feed(&mut s, &p, &[0.6, 0.6, 0.6, 0.4, 0.4, 1.4, 1.4]);
    let kinds: Vec<_> = out
        .iter()
        .map(|d| (d.kind, (d.amount * 100.0).round()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ObservationKind::Level, 50.0),
            (ObservationKind::Level, 30.0),
            (ObservationKind::Added, 100.0),
            (ObservationKind::Level, 130.0),
        ]
    );
}

#[test]
fn a_lifted_container_is_ignored_not_read_as_empty() {
    let p = scale();
    let mut s = ScaleState::default();
    feed(&mut s, &p, &[0.6, 0.6, 0.6]);
    let out = s.reading(&p, 0.0, T0 + 5000);
    assert!(out.lifted && out.derived.is_empty());
    assert_eq!(s.window, vec![0.5, 0.5, 0.5]);
    // Calibration: factor and offset apply before the tare.
    let p = ScaleParams {
        calibration: 2.0,
        offset_kg: 0.1,
        median_of: 1,
        ..scale()
    };
    let mut s = ScaleState::default();
    let out = s.reading(&p, 0.5, T0);
    assert!((out.derived[0].amount - 1.0 * 0.97).abs() < 1e-9);
}
