//! (e) kill -9 mid-stream: no acknowledged event lost, no duplicate intent.

use crate::support::*;
use std::time::Duration;

#[test]
fn killing_the_daemon_mid_stream_loses_no_acknowledged_event_and_doubles_no_intent() {
    let broker = start_broker();
    let dir = temp_dir("kill9");
    let config = TestConfig::household().write(&dir, &broker);
    let upstream = UPSTREAM.to_string();
    let watcher = watch(broker.port(), std::slice::from_ref(&upstream));
    let mut daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");

    // The publisher runs on its own thread: 600 readings, milk slowly
    // running out, recording which ones the broker acknowledged.
    let port = broker.port();
    let publisher = std::thread::spawn(move || {
        let mut p = Publisher::connect(port);
        let mut acked = Vec::new();
        for seq in 1..=600u64 {
            let level = 3.0 - seq as f64 * 0.0045;
            if p.publish(FRIDGE, level_json("fridge", "milk", 4, seq, level), false) {
                acked.push(seq);
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        acked
    });

    // Kill -9 and restart at irregular points while it streams.
    let mut kills = 0;
    let pauses = [150u64, 420, 90, 260, 333, 60, 500];
    for pause in pauses {
        std::thread::sleep(Duration::from_millis(pause));
        daemon.kill9();
        kills += 1;
        std::thread::sleep(Duration::from_millis(50));
        daemon = start_daemon(&config);
        if publisher.is_finished() {
            break;
        }
    }
    let acked = publisher.join().expect("publisher");
    assert!(
        acked.len() >= 590,
        "the broker acknowledged {} of 600",
        acked.len()
    );

    let missing = settle(&db_path(&dir), 4, &acked, Duration::from_secs(60)).lost;
    assert!(missing.is_empty(), "lost after {kills} kills: {missing:?}");
    let db = open_db(&dir);
    assert_eq!(
        db.read().observation_count().expect("count"),
        acked.len() as u64
    );

    // The milk ran low: exactly one intent id, however often it was sent.
    wait_until(Duration::from_secs(20), "an intent upstream", || {
        !watcher.on(&upstream).is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    let hub = hub_public_key(&dir);
    let ids: std::collections::BTreeSet<String> = watcher
        .on(&upstream)
        .iter()
        .map(|s| {
            larder::protocol::intent::verify_intent(&s.payload, &hub)
                .expect("verifies")
                .id
        })
        .collect();
    assert_eq!(ids.len(), 1, "distinct intents upstream: {ids:?}");
    assert!(daemon.alive());
}
