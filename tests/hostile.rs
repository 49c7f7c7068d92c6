//! (d) Malformed and hostile input among valid events.

use crate::support::*;
use std::time::Duration;

/// A deterministic list of bad payloads, all on the fridge's topic.
fn hostile_payloads(n: usize) -> Vec<Vec<u8>> {
    let templates: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not json".to_vec(),
        b"{".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        br#"{"v":1}"#.to_vec(),
        br#"{"v":2,"device":"fridge","epoch":1,"seq":1,"kind":"level","slot":"milk","amount":1}"#.to_vec(),
        br#"{"v":1,"device":"washer","epoch":1,"seq":1,"kind":"level","slot":"milk","amount":1}"#.to_vec(),
        br#"{"v":1,"device":"fridge","epoch":1,"seq":1,"kind":"level","slot":"caviar","amount":1}"#.to_vec(),
        br#"{"v":1,"device":"fridge","epoch":1,"seq":-1,"kind":"level","slot":"milk","amount":1}"#.to_vec(),
        br#"{"v":1,"device":"fridge","epoch":1,"seq":1,"kind":"level","slot":"milk","amount":-5}"#.to_vec(),
        br#"{"v":1,"device":"fridge","epoch":1,"seq":1,"kind":"level","slot":"milk","amount":"NaN"}"#.to_vec(),
        br#"{"v":1,"device":"fridge","epoch":1,"seq":1,"kind":"level","slot":"milk","amount":1e400}"#.to_vec(),
        br#"{"v":1,"device":"fridge","epoch":1,"seq":1,"kind":"explode","slot":"milk","amount":1}"#.to_vec(),
        br#"{"v":1,"device":"fridge","epoch":1,"seq":1,"kind":"level","slot":"milk","amount":1,"evil":true}"#.to_vec(),
        "[".repeat(3000).into_bytes(),
        vec![0xff, 0xfe, 0x00, 0x81],
        vec![0xa1, 0x61, 0x76, 0x01, 0xff, 0xff],
        vec![b'x'; 5000],
    ];
    (0..n)
        .map(|i| templates[i % templates.len()].clone())
        .collect()
}

#[test]
fn a_thousand_hostile_messages_are_dead_lettered_and_every_valid_one_is_stored() {
    let broker = start_broker();
    let dir = temp_dir("hostile");
    let config = TestConfig::household().write(&dir, &broker);
    let mut daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    let topic = FRIDGE;
    let mut publisher = Publisher::connect(broker.port());
    let bad = hostile_payloads(1000);
    let mut valid = 0u64;
    for (i, payload) in bad.into_iter().enumerate() {
        assert!(
            publisher.publish(topic, payload, false),
            "broker refused #{i}"
        );
        if i % 5 == 0 {
            valid += 1;
            let level = 5.0 - valid as f64 * 0.001;
            assert!(publisher.publish(topic, level_json("fridge", "milk", 9, valid, level), false));
        }
    }
    // A duplicate of a valid event is ignored, not stored twice.
    assert!(publisher.publish(topic, level_json("fridge", "milk", 9, 1, 4.999), false));
    wait_until(Duration::from_secs(60), "every message processed", || {
        open_db(&dir).read().counter("messages").unwrap_or(0) > 1000 + valid
    });
    let db = open_db(&dir);
    assert_eq!(db.read().observation_count().expect("count"), valid);
    assert_eq!(db.read().counter("dead_letters").expect("dl"), 1000);
    assert_eq!(db.read().counter("duplicates").expect("dup"), 1);
    assert!(daemon.alive(), "the daemon must survive hostile input");
    assert!(
        db.read()
            .dead_letters(1000)
            .expect("dl")
            .iter()
            .all(|d| !d.reason.is_empty())
    );
    assert_eq!(daemon.terminate(), Ok(Some(0)));
}
