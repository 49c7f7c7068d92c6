//! Away days, guests, denials, snoozes and quantity edits.

use super::*;
use crate::forecast::outlook::outlook;

#[test]
fn away_days_teach_nothing_and_hold_orders() {
    let model = daily_milk();
    let (mut state, now) = steady(&model, 0.3, 30, 0.1);
    let rate = forecast(&model, &state, now).rate_per_day;
    pause(&model, &mut state, now);
    let p = plan(&model, &state, now + DAY, &DecisionContext::default());
    assert_eq!(p.proposal, None);
    assert!(p.held.unwrap().contains("away"));
    // Twenty silent days away: no zero-demand samples.
    let back = now + 20 * DAY;
    resume(&model, &mut state, back);
    assert!(state.paused_days >= 19, "{state:?}");
    let f = forecast(&model, &state, back);
    assert!((f.rate_per_day - rate).abs() < 1e-9, "{rate} vs {f:?}");
    // The stock was not run down while away; now it is needed again.
    assert_eq!(f.level, Some(0.1));
    assert!(
        plan(&model, &state, back, &DecisionContext::default())
            .proposal
            .is_some()
    );
}

#[test]
fn guests_raise_the_forecast_but_not_the_learned_habit() {
    let model = daily_milk();
    let (mut state, now) = steady(&model, 0.3, 30, 5.0);
    declare_guests(&mut state, 2.0, now + 3 * DAY);
    let o = outlook(&model, &state, now, 0.0, 1.0);
    assert!((o.rate - 0.6).abs() < 1e-9, "{o:?}");
    // A guest day using 0.6 is learned as 0.3.
    for d in 0..2 {
        let t = now + d * DAY + 2 * HOUR;
        observe(&model, &mut state, &obs(t, ObservationKind::Consumed, 0.6));
    }
    let f = forecast(&model, &state, now + 2 * DAY + 3 * HOUR);
    assert!((f.rate_per_day - 0.3).abs() < 0.02, "{f:?}");
}

#[test]
fn denials_snooze_longer_each_time_and_edits_scale_quantities() {
    let model = ItemModel {
        shelf_life_days: None,
        ..daily_milk()
    };
    let (mut state, now) = steady(&model, 0.5, 30, 0.0);
    let ctx = DecisionContext::default();
    let base = plan(&model, &state, now, &ctx).proposal.unwrap().packages;
    learn(&mut state, Feedback::Denied, now);
    assert_eq!(state.snoozed_until, now + DAY);
    assert!(
        plan(&model, &state, now + HOUR, &ctx)
            .held
            .unwrap()
            .contains("snoozed")
    );
    learn(&mut state, Feedback::Denied, now);
    assert_eq!(state.snoozed_until, now + 2 * DAY);
    for _ in 0..10 {
        learn(&mut state, Feedback::Denied, now);
    }
    assert_eq!(state.snoozed_until, now + MAX_DENIAL_SNOOZE_DAYS * DAY);
    learn(&mut state, Feedback::Snoozed { until: now + 5 }, now);
    learn(&mut state, Feedback::Approved, now);
    assert_eq!(state.denials, 0);
    // The household keeps doubling the quantity.
    for _ in 0..6 {
        learn(
            &mut state,
            Feedback::Edited {
                proposed: 2,
                chosen: 4,
            },
            now,
        );
    }
    let more = plan(&model, &state, now + 10, &ctx).proposal.unwrap();
    assert_eq!(
        more.packages,
        (f64::from(base) * 2.0).round() as u32,
        "{more:?}"
    );
    assert!(more.reasons.iter().any(|r| r.contains("usually changes")));
}
