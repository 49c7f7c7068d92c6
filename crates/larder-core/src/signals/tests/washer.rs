//! The washer cycle detector on recorded programmes, reporting rates,
//! pauses, relay cuts, stale copies and a clock set back.

use super::*;

fn washer() -> WasherParams {
    WasherParams {
        dose: 75.0,
        ..WasherParams::default()
    }
}

/// Parses a `seconds,watts` trace (header and `#` comments skipped).
fn trace(text: &str) -> Vec<(i64, f64)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("seconds"))
        .map(|l| {
            let (s, w) = l.split_once(',').expect("seconds,watts");
            (
                s.trim().parse().expect("seconds"),
                w.trim().parse().expect("watts"),
            )
        })
        .collect()
}

/// Feeds a trace as readings, ticking every 60 s of simulated time in
/// between (as the daemon does); then ticks for an hour after the end.
fn cycles(text: &str) -> Vec<Derived> {
    let params = washer();
    let mut state = WasherState::default();
    let mut found = Vec::new();
    let mut clock = T0;
    for (secs, watts) in trace(text) {
        let at = T0 + secs;
        while clock + 60 < at {
            clock += 60;
            found.extend(state.tick(&params, clock).derived);
        }
        let out = state.reading(&params, Some(watts), Some(true), at);
        found.extend(out.derived);
        // A JSON round trip between messages, as the store does.
        state = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    }
    for _ in 0..60 {
        clock += 60;
        found.extend(state.tick(&params, clock).derived);
    }
    found
}

#[test]
fn recorded_wash_programmes_with_pauses_are_one_cycle_each() {
    for (name, text, end) in [
        (
            "cotton 40",
            include_str!("../../../../../tests/data/devices/trace-cotton40.csv"),
            Some(6_480),
        ),
        (
            "eco 40-60",
            include_str!("../../../../../tests/data/devices/trace-eco4060.csv"),
            Some(10_860),
        ),
        (
            "quick 30",
            include_str!("../../../../../tests/data/devices/trace-quick30.csv"),
            Some(1_980),
        ),
        (
            "standby",
            include_str!("../../../../../tests/data/devices/trace-standby.csv"),
            None,
        ),
    ] {
        let found = cycles(text);
        match end {
            Some(end) => {
                assert_eq!(found.len(), 1, "{name}: {found:?}");
                assert_eq!(found[0].slot, SLOT_CYCLE);
                assert_eq!(found[0].kind, ObservationKind::Consumed);
                assert_eq!(found[0].amount, 75.0);
                assert_eq!(found[0].at, T0 + end, "{name}: dated at the cycle's end");
            }
            None => assert!(found.is_empty(), "{name}: {found:?}"),
        }
    }
}

/// Power at `secs` into a trace (each value holds until the next).
fn power_at(points: &[(i64, f64)], secs: i64) -> f64 {
    points
        .iter()
        .take_while(|(at, _)| *at <= secs)
        .last()
        .map_or(0.0, |(_, w)| *w)
}

#[test]
fn every_reporting_rate_and_a_door_spike_after_the_end_give_one_dose_per_programme() {
    let p = washer();
    for (name, text, end) in [
        (
            "cotton 40",
            include_str!("../../../../../tests/data/devices/trace-cotton40.csv"),
            6_480,
        ),
        (
            "eco 40-60",
            include_str!("../../../../../tests/data/devices/trace-eco4060.csv"),
            10_860,
        ),
    ] {
        let mut points = trace(text);
        let last = points.last().map_or(0, |(at, _)| *at);
        // After the end the door is opened (drum light, pump: 35 W
        // for 20 s), then the plug is switched off.
        points.extend([(end + 120, 35.0), (end + 140, 0.4), (last + 600, 0.4)]);
        let off = last + 900;
        for every in [10, 60] {
            let mut state = WasherState::default();
            let mut found = Vec::new();
            let mut secs = 0;
            while secs <= off + 3600 {
                let at = T0 + secs;
                let relay = secs < off;
                let watts = relay.then(|| power_at(&points, secs));
                found.extend(state.reading(&p, watts, Some(relay), at).derived);
                if secs % 60 == 0 {
                    found.extend(state.tick(&p, at).derived);
                }
                secs += every;
            }
            assert_eq!(found.len(), 1, "{name}, every {every} s: {found:?}");
            assert!(
                (found[0].at - (T0 + end)).abs() <= every,
                "{name}, every {every} s: ends at {}",
                found[0].at - T0
            );
        }
    }
}

#[test]
fn a_pause_shorter_than_the_stop_hold_is_bridged_and_a_longer_one_ends_the_cycle() {
    let p = washer();
    let mut s = WasherState::default();
    s.reading(&p, Some(2000.0), None, T0);
    s.reading(&p, Some(2000.0), None, T0 + 60);
    assert_eq!(s.phase, WasherPhase::Running { started: T0 });
    s.reading(&p, Some(1.0), None, T0 + 900);
    assert!(s.tick(&p, T0 + 900 + 599).derived.is_empty());
    // Between the thresholds: still a pause.
    s.reading(&p, Some(7.0), None, T0 + 1000);
    assert!(matches!(s.phase, WasherPhase::Stopping { .. }));
    s.reading(&p, Some(300.0), None, T0 + 1400);
    assert_eq!(s.phase, WasherPhase::Running { started: T0 });
    s.reading(&p, Some(0.5), None, T0 + 2000);
    assert!(s.tick(&p, T0 + 2599).derived.is_empty());
    // A tick confirms it a minute after the hold (a plug reporting
    // once a minute has reported power coming back by then).
    assert!(
        s.tick(&p, T0 + 2600 + STOP_CONFIRM_SECS - 1)
            .derived
            .is_empty()
    );
    let done = s.tick(&p, T0 + 2600 + STOP_CONFIRM_SECS).derived;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].at, T0 + 2000);
    assert_eq!(s.phase, WasherPhase::Idle);
    // Ticking again finds nothing more.
    assert!(s.tick(&p, T0 + 9000).derived.is_empty());
}

#[test]
fn a_start_needs_the_start_hold_and_a_short_burst_is_no_cycle() {
    let p = washer();
    let mut s = WasherState::default();
    s.reading(&p, Some(1500.0), None, T0);
    s.reading(&p, Some(2.0), None, T0 + 30);
    assert_eq!(s.phase, WasherPhase::Idle, "a kettle-length burst");
    // Held by a tick alone (reports on change only).
    s.reading(&p, Some(50.0), None, T0 + 100);
    s.tick(&p, T0 + 160);
    assert_eq!(s.phase, WasherPhase::Running { started: T0 + 100 });
    // Ends after 5 minutes: too short for a programme.
    s.reading(&p, Some(0.0), None, T0 + 400);
    let out = s.tick(&p, T0 + 1000 + STOP_CONFIRM_SECS);
    assert!(out.derived.is_empty());
    assert!(out.too_short);
}

#[test]
fn relay_off_ends_a_pausing_cycle_and_aborts_a_running_one() {
    let p = washer();
    let mut s = WasherState::default();
    s.reading(&p, Some(2000.0), Some(true), T0);
    s.reading(&p, Some(400.0), Some(true), T0 + 3000);
    s.reading(&p, Some(1.0), Some(true), T0 + 3600);
    let out = s.reading(&p, None, Some(false), T0 + 3700);
    assert_eq!(out.derived.len(), 1, "switched off after the end");
    assert_eq!(out.derived[0].at, T0 + 3600);
    let mut s = WasherState::default();
    s.reading(&p, Some(2000.0), Some(true), T0);
    s.reading(&p, Some(400.0), Some(true), T0 + 3000);
    let out = s.reading(&p, Some(0.0), Some(false), T0 + 3100);
    assert!(out.derived.is_empty() && out.aborted);
    assert_eq!(s.phase, WasherPhase::Idle);
}

#[test]
fn stale_readings_change_nothing() {
    let p = washer();
    let mut s = WasherState::default();
    s.reading(&p, Some(2000.0), None, T0 + 100);
    let before = s.clone();
    assert!(s.reading(&p, Some(0.0), None, T0).stale);
    assert_eq!(s, before);
}

#[test]
fn a_clock_set_back_an_hour_mid_cycle_loses_no_readings_and_counts_one_dose() {
    let p = washer();
    let mut s = WasherState::default();
    for minute in 0..=20 {
        s.reading(&p, Some(2000.0), Some(true), T0 + 60 * minute);
    }
    assert_eq!(s.phase, WasherPhase::Running { started: T0 });
    // The hub's clock is set back an hour (a Pi without a real-time
    // clock booting from its saved time, then corrected).
    let back = T0 + 1260 - 3600;
    let out = s.reading(&p, Some(1800.0), Some(true), back);
    assert!(
        !out.stale,
        "a reading an hour 'older' is the clock, not a late copy"
    );
    assert!(matches!(s.phase, WasherPhase::Running { .. }), "{s:?}");
    s.reading(&p, Some(1.0), Some(true), back + 60);
    assert!(matches!(s.phase, WasherPhase::Stopping { .. }), "{s:?}");
    assert!(s.tick(&p, back + 60 + 599).derived.is_empty());
    // A low reading at the hold's end confirms it at once.
    let done = s
        .reading(&p, Some(0.8), Some(true), back + 60 + 600)
        .derived;
    assert_eq!(
        done.len(),
        1,
        "one dose, at the cycle's end on the new clock"
    );
    assert_eq!(done[0].at, back + 60);
    assert!(s.tick(&p, back + 7200).derived.is_empty());
    // Ticks alone also follow the clock back (a plug silent in a
    // pause): the hold counts on from the first tick after the step.
    let mut s = WasherState::default();
    s.reading(&p, Some(2000.0), None, T0);
    s.reading(&p, Some(2000.0), None, T0 + 1200);
    s.reading(&p, Some(0.5), None, T0 + 1800);
    let back = T0 + 1800 - 3600;
    assert!(s.tick(&p, back).derived.is_empty());
    assert!(
        s.tick(&p, back + 599 + STOP_CONFIRM_SECS)
            .derived
            .is_empty()
    );
    assert_eq!(s.tick(&p, back + 600 + STOP_CONFIRM_SECS).derived.len(), 1);
    // A copy a few seconds late is still stale.
    let mut s = WasherState::default();
    s.reading(&p, Some(2000.0), None, T0 + 100);
    assert!(s.reading(&p, Some(0.0), None, T0 + 40).stale);
}
