//! Unit tests of the replay: the peer's rules (depletion, FIFO lots, lead
//! time, prompts), the statsforecast equivalents, reading events, the
//! sample, and larder in the loop.

use super::*;
use crate::core::DAY;

#[test]
fn max_series_samples_evenly_and_repeatably() {
    let series: Vec<Series> = (0..200)
        .flat_map(|h| {
            ["milk", "eggs"].map(|item| Series {
                household_id: h.to_string(),
                item: item.to_owned(),
                purchases: Vec::new(),
            })
        })
        .collect();
    let picked = sample_per_item(series.clone(), 20, 1);
    for item in ["milk", "eggs"] {
        assert_eq!(picked.iter().filter(|s| s.item == item).count(), 20);
    }
    // Not simply the first 20 households: spread across the file.
    let ids: Vec<usize> = picked
        .iter()
        .filter(|s| s.item == "milk")
        .map(|s| s.household_id.parse().unwrap())
        .collect();
    assert!(ids.iter().any(|&h| h >= 100), "{ids:?}");
    assert!(ids.iter().any(|&h| h < 100), "{ids:?}");
    let again = sample_per_item(series.clone(), 20, 1);
    let key = |v: &[Series]| -> Vec<(String, String)> {
        v.iter()
            .map(|s| (s.household_id.clone(), s.item.clone()))
            .collect()
    };
    assert_eq!(key(&picked), key(&again), "same seed, same sample");
    let other = sample_per_item(series.clone(), 20, 2);
    assert_ne!(key(&picked), key(&other), "another seed, another sample");
    assert_eq!(
        sample_per_item(series, 1000, 1).len(),
        400,
        "n above the count keeps all"
    );
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn depletion_spreads_each_purchase_until_the_next_and_drops_the_tail() {
    // 2 units on day 1, 3 on day 3, 1 on day 6; 10-day calendar.
    let d = daily_demand(&[(1, 2.0), (3, 3.0), (6, 1.0)], 10);
    let want = [0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    assert_eq!(d.len(), 6);
    assert!(d.iter().zip(want).all(|(a, b)| close(*a, b)), "{d:?}");
}

#[test]
fn fifo_lots_are_consumed_oldest_first_and_expire_at_shelf_life() {
    // Shelf life 3 days; 1 unit at start, 1 more arrives on day 1.
    let mut sim = PeerSim::new(3.0, 1, 1.0);
    sim.order(0, 1.0, 1.0, PromptMode::Never);
    let day0 = sim.step(0, 0.25); // first lot 1.0 → 0.75, age 1
    assert!(close(day0.consumed, 0.25) && close(sim.on_hand(), 0.75));
    let day1 = sim.step(1, 0.5); // receive 1; old lot 0.75 → 0.25 (FIFO)
    assert!(close(day1.received, 1.0));
    assert_eq!(sim.lots, vec![(0.25, 2.0), (1.0, 1.0)]);
    sim.step(2, 0.0); // ages 3 and 2
    let day3 = sim.step(3, 0.0); // the old lot is 3 days old: expires
    assert!(close(day3.expired, 0.25) && close(sim.waste, 0.25));
    assert_eq!(sim.lots, vec![(1.0, 3.0)]);
    let day4 = sim.step(4, 0.0);
    assert!(close(day4.expired, 1.0) && close(sim.on_hand(), 0.0));
}

#[test]
fn orders_arrive_after_the_lead_time_and_unmet_demand_is_lost() {
    let mut sim = PeerSim::new(f64::INFINITY, 2, 0.0);
    sim.order(0, 2.0, 1.0, PromptMode::Never);
    assert!(close(sim.position(), 2.0) && close(sim.on_hand(), 0.0));
    let d0 = sim.step(0, 0.5);
    let d1 = sim.step(1, 0.5);
    assert!(close(d0.lost, 0.5) && close(d1.lost, 0.5));
    let d2 = sim.step(2, 0.5); // delivered this morning
    assert!(close(d2.received, 2.0) && close(d2.lost, 0.0));
    assert_eq!(sim.stockout_days, 2);
    assert!(close(sim.lost, 1.0) && close(sim.on_hand(), 1.5));
    // Sum of end-of-day stock: 0 + 0 + 1.5.
    assert!(close(sim.inv_sum, 1.5));
}

#[test]
fn prompts_follow_the_approval_rule() {
    let mut sim = PeerSim::new(f64::INFINITY, 1, 0.0);
    // (day, qty, prompted?)
    let cases = [
        (10, 2.0, false), // small, first order
        (12, 1.0, true),  // only 2 days after the last
        (15, 1.0, false), // 3 days after
        (20, 3.0, true),  // more than 2 packs
        (30, 2.0, false),
    ];
    let mut prompts = 0;
    for (t, q, prompted) in cases {
        sim.order(t, q, 1.0, PromptMode::Rule);
        prompts += u32::from(prompted);
        assert_eq!(sim.prompts, prompts, "day {t}");
    }
    let mut every = PeerSim::new(1.0, 1, 0.0);
    every.order(0, 1.0, 1.0, PromptMode::Every);
    every.order(9, 1.0, 1.0, PromptMode::Never);
    assert_eq!(every.prompts, 1);
    assert_eq!(every.orders, 2);
    // Whole packs, at least one.
    assert!(close(packs(0.0, 1.0), 1.0) && close(packs(2.0000000001, 1.0), 2.0));
    assert!(close(packs(2.1, 1.0), 3.0) && close(packs(1.1, 0.5), 1.5));
}

#[test]
fn statsforecast_equivalents_match_hand_values() {
    // SES(0.5) on [1, 3]: fitted 1, forecast 0.5*3 + 0.5*1 = 2.
    assert!(close(ses_forecast(&[1.0, 3.0], 0.5), 2.0));
    // Croston on [0, 2, 0, 0, 4]: sizes [2, 4], intervals [2, 3].
    // SES(0.1): sizes 0.1*4 + 0.9*2 = 2.2; intervals 0.1*3 + 0.9*2 = 2.1.
    assert!(close(
        sba_forecast(&[0.0, 2.0, 0.0, 0.0, 4.0]),
        0.95 * 2.2 / 2.1
    ));
    // numpy's pairwise sum equals the plain sum on exact values.
    let x: Vec<f64> = (0..300).map(f64::from).collect();
    assert!(close(np_sum(&x), 44_850.0));
}

#[test]
fn events_parse_into_series_in_order_of_appearance() {
    let text = "household_id,item,date,qty\n7,milk,2017-01-01,1\n7,eggs,2017-01-03,2\n7,milk,2017-01-05,1\n7,milk,2017-01-05,2\n";
    let (series, n_days) = parse_events(text).unwrap();
    assert_eq!(n_days, 5);
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].item, "milk");
    assert_eq!(series[0].purchases, vec![(0, 1.0), (4, 3.0)]);
    assert_eq!(series[1].purchases, vec![(2, 2.0)]);
    assert!(parse_events("household_id,item,qty\n").is_err());
    assert_eq!(days_from_civil(2017, 1, 1) * DAY, EPOCH);
}

/// A steady user: larder (driven through observe/plan) keeps the
/// item in stock with no prompts and no waste beyond what the pack
/// size forces.
#[test]
fn larder_in_the_loop_keeps_a_steady_household_stocked() {
    let d = vec![0.2; 300];
    let p = item_params("milk");
    let r = run_policy(Policy::Larder, &d, &p, 0.2, &LarderRun::default());
    assert!(r.fill_rate > 0.995, "{r:?}");
    assert_eq!(r.prompts, 0, "{r:?}");
    assert!(r.wasted < 0.05 * r.demand, "{r:?}");
    // Orders are spaced by about a pack's life (5 days).
    assert!((30..=45).contains(&r.orders), "{r:?}");
}

#[test]
fn larder_orders_nothing_while_the_household_is_away() {
    let d = vec![0.3; 300];
    let p = item_params("milk");
    let away = LarderRun {
        away: vec![(150, 200)],
        ..LarderRun::default()
    };
    let home = run_policy(Policy::Larder, &d, &p, 0.3, &LarderRun::default());
    let mut d_away = d.clone();
    d_away[150..200].fill(0.0);
    let r = run_policy(Policy::Larder, &d_away, &p, 0.3, &away);
    assert!(
        r.orders + 8 < home.orders,
        "{} vs {}",
        r.orders,
        home.orders
    );
}
