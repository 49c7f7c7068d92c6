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
    // The log sums the burst up: each kind of refusal once in full, then
    // (here, at shutdown: the burst took less than a minute) one line with
    // the count, instead of a thousand lines.
    let log = daemon.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("refused"))
        .collect();
    let firsts = warnings
        .iter()
        .filter(|l| l.contains("refused inbound message"))
        .count();
    let summed: u64 = warnings
        .iter()
        .filter(|l| l.contains("more inbound messages refused"))
        .filter_map(|l| {
            l.split("refused=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    eprintln!(
        "{} warnings about refusals:\n{}",
        warnings.len(),
        warnings.join("\n")
    );
    assert!(
        warnings.len() <= 10,
        "{} warnings about refusals:\n{}",
        warnings.len(),
        warnings.join("\n")
    );
    assert_eq!(firsts as u64 + summed, 1000, "{}", warnings.join("\n"));
}

/// `n` bytes that do not compress or parse (xorshift64*, seeded).
fn random_payload(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// Resident memory of a process in kB (`VmRSS`).
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// How often mosquitto's log says the client `id` connected.
fn connections(broker: &Broker, id: &str) -> usize {
    broker_log(broker).matches(&format!(" as {id} (")).count()
}

/// mosquitto's log so far.
fn broker_log(broker: &Broker) -> String {
    std::fs::read_to_string(broker.dir().join("mosquitto.log")).unwrap_or_default()
}

/// Waits up to 10 s for the fridge's event `(3, seq)` to be stored, or
/// fails with what the daemon said about its connection.
fn wait_stored(dir: &ScratchDir, daemon: &DaemonProcess, seq: u64, after: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !stored(dir, "fridge", 3, seq) {
        if std::time::Instant::now() > deadline {
            let log = daemon.log();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains("connection")).collect();
            panic!(
                "the valid event after {after} was not stored within 10 s; the daemon's last words on its connection:\n{}",
                lines[lines.len().saturating_sub(5)..].join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Publishes `big` messages `(size, retained)` on the fridge's topic with
/// mosquitto_pub (a stock mosquitto: no `message_size_limit`), each
/// followed by a valid event that must be stored within seconds; `limit`
/// sets `mqtt.max-payload-bytes`. Returns the broker, the daemon (still
/// running), its directory and configuration, and the last valid seq.
fn big_messages_between_valid_events(
    big: &[(usize, bool)],
    limit: Option<usize>,
) -> (Broker, DaemonProcess, ScratchDir, std::path::PathBuf, u64) {
    let broker = start_broker();
    let dir = temp_dir("oversize");
    let mut config = TestConfig::household();
    if let Some(limit) = limit {
        config = config.set("mqtt", "max-payload-bytes", limit);
    }
    let config = config.write(&dir, &broker);
    let daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    let rss_before = rss_kb(daemon.pid());
    let mut seq = 1;
    mosquitto_pub(
        broker.port(),
        FRIDGE,
        &level_json("fridge", "milk", 3, seq, 2.0),
    );
    wait_stored(&dir, &daemon, seq, "nothing");
    for (i, &(size, retain)) in big.iter().enumerate() {
        let extra: &[&str] = if retain { &["-r"] } else { &[] };
        let payload = random_payload(size, i as u64 + 1);
        let (ok, stderr) = mosquitto_pub_as(broker.port(), None, FRIDGE, &payload, extra);
        assert!(ok, "mosquitto_pub of {size} bytes failed: {stderr}");
        seq += 1;
        let level = 2.0 - seq as f64 * 0.1;
        mosquitto_pub(
            broker.port(),
            FRIDGE,
            &level_json("fridge", "milk", 3, seq, level),
        );
        let started = std::time::Instant::now();
        let what = format!("{size} bytes (retained: {retain})");
        wait_stored(&dir, &daemon, seq, &what);
        eprintln!(
            "the event after {what} was stored in {} ms",
            started.elapsed().as_millis()
        );
    }
    eprintln!(
        "larder's resident size: {rss_before} kB before the big messages, {} kB after; peak {} kB",
        rss_kb(daemon.pid()),
        daemon.peak_rss_kb().unwrap_or(0)
    );
    let db = open_db(&dir);
    assert_eq!(db.read().observation_count().expect("count"), seq);
    let log = daemon.log();
    assert!(
        !log.contains("broker connection lost") && !log.contains("reconnected"),
        "{}",
        daemon.failure("the big messages")
    );
    assert_eq!(
        connections(&broker, "larder-testhub"),
        1,
        "one ingest connection"
    );
    (broker, daemon, dir, config, seq)
}

/// The sizes of the latest dead letters, smallest first.
fn dead_letter_sizes(dir: &ScratchDir) -> Vec<usize> {
    let mut sizes: Vec<usize> = open_db(dir)
        .read()
        .dead_letters(100)
        .expect("dead letters")
        .into_iter()
        .map(|d| d.size)
        .collect();
    sizes.sort_unstable();
    sizes
}

/// Issue 14: one message of 300 KB stopped ingestion for good (rumqttc
/// dropped the connection, and the broker sent the message again on every
/// reconnect). Now, with the household's limits (a packet limit of
/// 1 MiB): messages of 300 KB are counted and dead-lettered with their
/// size; those of 2 MB and 5 MB the broker drops for larder (MQTT 5's
/// Maximum Packet Size); plain or retained, every valid event after them
/// is stored within seconds, and the daemon never reconnects. After a
/// restart the retained ones are not delivered again.
#[test]
fn messages_of_any_size_never_stop_ingestion() {
    let big = [
        (300_000, false),
        (2_000_000, false),
        (300_000, true),
        (2_000_000, true),
        (5_000_000, false),
    ];
    let (broker, mut daemon, dir, config, mut seq) = big_messages_between_valid_events(&big, None);
    assert_eq!(counter(&dir, "refused_oversize"), 2);
    assert_eq!(dead_letter_sizes(&dir), [300_000, 300_000]);
    assert_eq!(
        broker_log(&broker)
            .matches("Dropping too large outgoing PUBLISH for larder-testhub ")
            .count(),
        3,
        "mosquitto drops the 2 MB and 5 MB messages for larder"
    );

    // A restart resumes the session: the retained ones are not delivered
    // (nor dead-lettered) again.
    let stopping = std::time::Instant::now();
    assert_eq!(daemon.terminate(), Ok(Some(0)));
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "SIGTERM is prompt"
    );
    let mut daemon = start_daemon(&config);
    wait_online(broker.port(), "testhub");
    seq += 1;
    mosquitto_pub(
        broker.port(),
        FRIDGE,
        &level_json("fridge", "milk", 3, seq, 0.9),
    );
    wait_stored(&dir, &daemon, seq, "a restart");
    assert_eq!(
        counter(&dir, "refused_oversize"),
        2,
        "retained ones only once"
    );
    assert_eq!(counter(&dir, "sequence_gaps"), 0);
    assert_eq!(daemon.terminate(), Ok(Some(0)));
}

/// With `mqtt.max-payload-bytes` at its largest (1 MiB, a packet limit of
/// 4 MiB), messages of 2 MB reach larder too, and are counted and
/// dead-lettered; ingestion goes on as before.
#[test]
fn with_the_largest_payload_limit_2_mb_messages_are_counted_too() {
    let big = [
        (300_000, false),
        (2_000_000, false),
        (2_000_000, true),
        (5_000_000, false),
    ];
    let (_broker, mut daemon, dir, _config, _seq) =
        big_messages_between_valid_events(&big, Some(1_048_576));
    assert_eq!(counter(&dir, "refused_oversize"), 2);
    // The 300 KB one is within the limit: refused as what it is, not JSON.
    assert_eq!(counter(&dir, "refused_events"), 1);
    assert_eq!(dead_letter_sizes(&dir), [300_000, 2_000_000, 2_000_000]);
    assert_eq!(daemon.terminate(), Ok(Some(0)));
}
