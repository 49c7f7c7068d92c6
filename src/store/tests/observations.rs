//! Observations: stored once, devices' sequence positions, compaction into
//! daily aggregates.

use super::{obs, temp_db};
use crate::store::{Inserted, NewObservation};

#[test]
fn the_same_event_is_stored_once() {
    let (_d, mut store) = temp_db();
    let obs = NewObservation {
        device: "fridge",
        epoch: 1,
        seq: 7,
        item: "milk",
        kind: "level",
        amount: 1.0,
        observed_at: 100,
        received_at: 100,
    };
    let tx = store.transaction().expect("tx");
    assert_eq!(tx.insert_observation(&obs).expect("i"), Inserted::New);
    assert_eq!(tx.insert_observation(&obs).expect("i"), Inserted::Duplicate);
    tx.commit().expect("commit");
    assert_eq!(store.read().observation_count().expect("c"), 1);
}

#[test]
fn device_sequence_reports_the_previous_position() {
    let (_d, mut store) = temp_db();
    let tx = store.transaction().expect("tx");
    assert_eq!(tx.advance_device_seq("f", 1, 1).expect("a"), None);
    assert_eq!(tx.advance_device_seq("f", 1, 5).expect("a"), Some((1, 1)));
    // An older seq does not move the mark back.
    assert_eq!(tx.advance_device_seq("f", 1, 3).expect("a"), Some((1, 5)));
    assert_eq!(tx.advance_device_seq("f", 2, 1).expect("a"), Some((1, 5)));
}

#[test]
fn old_observations_become_daily_aggregates() {
    let (_d, mut store) = temp_db();
    let day = crate::core::DAY;
    let t0 = 1_800_000_000 - 1_800_000_000 % day;
    let tx = store.transaction().expect("tx");
    tx.insert_observation(&obs("milk", 1, "level", 2.0, t0 + 10))
        .expect("i");
    tx.insert_observation(&obs("milk", 2, "consumed", 0.25, t0 + 20))
        .expect("i");
    tx.insert_observation(&obs("milk", 3, "level", 1.5, t0 + 30))
        .expect("i");
    tx.insert_observation(&obs("milk", 4, "added", 1.0, t0 + day + 5))
        .expect("i");
    tx.insert_observation(&obs("milk", 5, "level", 9.0, t0 + 3 * day))
        .expect("i");
    // Cutoff after day 1: the first four go, the last stays raw.
    assert_eq!(tx.compact_observations(t0 + 2 * day, 100).expect("c"), 4);
    assert_eq!(tx.compact_observations(t0 + 2 * day, 100).expect("c"), 0);
    tx.commit().expect("commit");
    let days = store.read().observation_days("milk").expect("days");
    assert_eq!(days.len(), 2);
    assert_eq!(
        (
            days[0].count,
            days[0].consumed,
            days[0].last_level,
            days[0].last_level_at
        ),
        (3, 0.25, Some(1.5), Some(t0 + 30))
    );
    assert_eq!(
        (days[1].count, days[1].added, days[1].last_level),
        (1, 1.0, None)
    );
    let raw = store.read().recent_observations("milk", 10).expect("raw");
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].amount, 9.0);
}
