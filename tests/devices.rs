//! Real device payloads through a real mosquitto into the real daemon (in
//! process, on a manual clock): every ecosystem's fixture published with a
//! real client on its device topic, the resulting observations checked in
//! the store; a wash programme's power trace published as Zigbee2MQTT
//! messages yields exactly one dose; a redelivered cycle end or programme
//! finished consumes nothing twice; malformed and field-missing payloads
//! are dead-lettered with the reason and the daemon keeps going; a native
//! device's door events keep its sequence whole (the `larder` binary).

use crate::support::*;
use larder::store::Store;
use std::time::Duration;

/// 2026-03-02T10:00:00Z.
const T0: i64 = 1_772_445_600;
/// The hub in `tests/fixtures/devices.toml` (the failpoints test waits for
/// it), and its devices' topics.
#[cfg(feature = "failpoints")]
pub(crate) const HUB: &str = "devhub";
const PLUG: &str = "zigbee2mqtt/Washer plug";
const SCALE: &str = "tele/fridge-scale/SENSOR";
const SHELLY: &str = "shellyplus1pm-a8032ab12c34";
const ESPHOME: &str = "pantry/sensor/rice_weight/state";
pub(crate) const HOMECONNECT: &str = "homeconnect/washer";
const SHELF: &str = "pantry/shelf2";

pub(crate) fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/devices/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

/// A device of every ecosystem, each measuring an item
/// (`tests/fixtures/devices.toml`), and one member.
pub(crate) fn devices_config() -> TestConfig {
    TestConfig::fixture("devices").member(
        "alex",
        &larder::crypto::keys::SigningKey::generate().public_key(),
    )
}

pub(crate) fn observations(db: &Store, item: &str) -> Vec<(String, f64, i64)> {
    let mut rows: Vec<_> = db
        .read()
        .recent_observations(item, 100)
        .expect("observations")
        .into_iter()
        .map(|o| (o.kind, (o.amount * 1000.0).round() / 1000.0, o.observed_at))
        .collect();
    rows.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    rows
}

/// Publishes with the real client and waits until the daemon committed it.
async fn publish(
    publisher: &mut Option<Publisher>,
    running: &larder::daemon::Running,
    topic: &str,
    payload: Vec<u8>,
) {
    let before = running.processed();
    let mut p = publisher.take().expect("publisher");
    let topic_owned = topic.to_owned();
    let p = tokio::task::spawn_blocking(move || {
        assert!(p.publish(&topic_owned, payload, false), "PUBACK");
        p
    })
    .await
    .expect("publish");
    *publisher = Some(p);
    wait_for(Duration::from_secs(20), "the message processed", || {
        running.processed() > before
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ecosystems_payloads_become_observations_and_a_wash_trace_one_dose() {
    let DevicesRig {
        broker,
        dir: _dir,
        path: _path,
        daemon: InProcessDaemon { running, clock },
        mut publisher,
    } = DevicesRig::start("devices").await;
    let port = broker.port();
    let db = Store::open_readonly(running.database()).expect("db");

    // Tasmota HX711: 1.236 kg gross, 0.1 kg tare → 1136 ml of milk.
    publish(&mut publisher, &running, SCALE, data("tasmota-hx711.json")).await;
    assert_eq!(
        observations(&db, "milk"),
        vec![("level".into(), 1136.0, T0)]
    );
    // ESPHome plain text in grams; the generic JSON path in grams.
    publish(
        &mut publisher,
        &running,
        ESPHOME,
        data("esphome-weight.txt"),
    )
    .await;
    assert_eq!(observations(&db, "rice"), vec![("level".into(), 812.5, T0)]);
    publish(&mut publisher, &running, SHELF, data("generic-scale.json")).await;
    assert_eq!(
        observations(&db, "flour"),
        vec![("level".into(), 1500.0, T0)]
    );
    // A restock on the scale: an `added` and the new level.
    clock.set(T0 + 600);
    publish(
        &mut publisher,
        &running,
        SCALE,
        br#"{"Time":"2026-03-02T11:15:00","HX711":{"Weight":2.236,"WeightRaw":745678}}"#.to_vec(),
    )
    .await;
    assert_eq!(
        observations(&db, "milk")[1..],
        [
            ("added".into(), 1000.0, T0 + 600),
            ("level".into(), 2136.0, T0 + 600)
        ]
    );

    // Home Connect: i-Dos 1 fill level poor → the item's min-level; a
    // programme finished → one dose, also when it is published again (same
    // payload, same identity).
    // (Its 2025 timestamp is over 30 days old: larder uses the receive time.)
    publish(
        &mut publisher,
        &running,
        HOMECONNECT,
        data("homeconnect-sse-idos1-poor.json"),
    )
    .await;
    assert_eq!(
        observations(&db, "idos-detergent")
            .iter()
            .map(|o| (o.0.as_str(), o.1))
            .collect::<Vec<_>>(),
        vec![("level", 100.0)]
    );
    clock.set(1_772_452_800 + 60);
    for _ in 0..2 {
        publish(
            &mut publisher,
            &running,
            HOMECONNECT,
            data("homeconnect-sse-program-finished.json"),
        )
        .await;
    }
    assert_eq!(
        observations(&db, "tabs"),
        vec![("consumed".into(), 1.0, 1_772_452_800)]
    );

    // Shelly: the status topic and a NotifyStatus delta both reach the
    // device; a delta without power is not needed (counted, not stored).
    let not_needed = db.read().counter("events_not_needed").expect("counter");
    publish(
        &mut publisher,
        &running,
        &format!("{SHELLY}/status/switch:0"),
        data("shelly-status-switch0.json"),
    )
    .await;
    publish(
        &mut publisher,
        &running,
        &format!("{SHELLY}/events/rpc"),
        data("shelly-notifystatus-energy.json"),
    )
    .await;
    assert_eq!(
        db.read().counter("events_not_needed").expect("counter"),
        not_needed + 1
    );
    let shelly_state = db
        .read()
        .device_state("shelly-washer")
        .expect("state")
        .expect("a row");
    assert!(shelly_state.contains("starting"), "{shelly_state}");

    // A Zigbee2MQTT plug under a washer running a quick 30 programme: one
    // message per reading (reported on change), the daemon's tick every
    // simulated minute, then quiet.
    let trace = data("trace-quick30.csv");
    let start = T0 + 2 * 86_400;
    let mut ticked = start;
    let mut last = Vec::new();
    for line in String::from_utf8(trace).expect("utf-8").lines() {
        let Some((secs, watts)) = line.split_once(',') else {
            continue;
        };
        let Ok(secs) = secs.parse::<i64>() else {
            continue;
        };
        let at = start + secs;
        while ticked + 60 < at {
            ticked += 60;
            clock.set(ticked);
            running.tick().await.expect("tick");
        }
        clock.set(at);
        last = format!(
            r#"{{"child_lock":"UNLOCK","current":{current:.2},"energy":13.{secs},"linkquality":102,"power":{watts},"power_outage_memory":"restore","state":"ON","voltage":231}}"#,
            current = watts.parse::<f64>().expect("watts") / 231.0,
        )
        .into_bytes();
        publish(&mut publisher, &running, PLUG, last.clone()).await;
    }
    for _ in 0..20 {
        ticked += 60;
        clock.set(ticked);
        running.tick().await.expect("tick");
    }
    let doses = observations(&db, "detergent");
    assert_eq!(
        doses,
        vec![("consumed".into(), 75.0, start + 1980)],
        "one cycle, dated at its end"
    );
    // The same low reading again (a plug repeating its state): nothing more.
    publish(&mut publisher, &running, PLUG, last).await;
    running.tick().await.expect("tick");
    assert_eq!(observations(&db, "detergent"), doses);
    // Raw power readings are never stored: only derived observations are.
    let stored = db.read().observation_count().expect("count");
    assert_eq!(stored, 1 + 1 + 1 + 2 + 1 + 1 + 1, "observations stored");

    // Malformed and field-missing payloads: dead-lettered with the reason;
    // the daemon keeps going (mosquitto's own client this time).
    let processed_before_refusals = running.processed();
    tokio::task::spawn_blocking(move || {
        mosquitto_pub(port, PLUG, br#"{"power":"lots","state":"ON"}"#);
        mosquitto_pub(port, PLUG, &data("z2m-contact.json"));
        mosquitto_pub(port, SCALE, b"{\"HX711\":");
    })
    .await
    .expect("mosquitto_pub");
    wait_for(Duration::from_secs(20), "three dead letters", || {
        db.read().dead_letters(10).map_or(0, |d| d.len()) >= 3
    })
    .await;
    // Counted as processed only after the writer's next decision pass: wait
    // for that too, or the next `publish` could take their count for its own.
    wait_for(Duration::from_secs(20), "the refusals counted", || {
        running.processed() >= processed_before_refusals + 3
    })
    .await;
    let reasons: Vec<String> = db
        .read()
        .dead_letters(10)
        .expect("dead letters")
        .into_iter()
        .map(|d| format!("{}: {}", d.topic, d.reason))
        .collect();
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(
        has(
            "zigbee2mqtt/Washer plug: device \"washer-plug\" (zigbee2mqtt): invalid field `power`: expected a number, got a string"
        ),
        "{reasons:#?}"
    );
    assert!(
        has(
            "device \"washer-plug\" (zigbee2mqtt): zigbee2mqtt payload has no `power` field (needed: [devices.washer])"
        ),
        "{reasons:#?}"
    );
    assert!(
        has(
            "tele/fridge-scale/SENSOR: device \"fridge-scale\" (tasmota): cannot decode tasmota payload"
        ),
        "{reasons:#?}"
    );
    clock.set(ticked + 600);
    publish(&mut publisher, &running, SCALE, data("tasmota-hx711.json")).await;
    assert_eq!(
        observations(&db, "milk").last().map(|o| o.1),
        Some(1136.0),
        "still ingesting after refusals"
    );
    drop(publisher);
    running.stop().await.expect("stop");
}

/// The daemon in process on the devices configuration, on a manual clock
/// at `T0`, online, and a publisher.
struct DevicesRig {
    broker: Broker,
    dir: ScratchDir,
    path: std::path::PathBuf,
    daemon: InProcessDaemon,
    publisher: Option<Publisher>,
}

impl DevicesRig {
    async fn start(tag: &str) -> DevicesRig {
        let broker = start_broker();
        let dir = temp_dir(tag);
        let path = devices_config().write(&dir, &broker);
        let config = larder::config::Config::load(&path).expect("config");
        let daemon = daemon::start(config, T0).await;
        let publisher = Some(Publisher::connect(broker.port()));
        DevicesRig {
            broker,
            dir,
            path,
            daemon,
            publisher,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_state_is_sealed_exported_and_forgotten_with_the_item_it_measures() {
    let DevicesRig {
        broker: _broker,
        dir,
        path,
        daemon: InProcessDaemon { running, clock },
        mut publisher,
    } = DevicesRig::start("devices-forget").await;
    // The milk scale and the detergent plug each get a state row.
    publish(
        &mut publisher,
        &running,
        SCALE,
        br#"{"Time":"2026-03-02T10:00:00","HX711":{"Weight":1.5432109}}"#.to_vec(),
    )
    .await;
    clock.set(T0 + 60);
    publish(
        &mut publisher,
        &running,
        PLUG,
        br#"{"power":321.789,"state":"ON"}"#.to_vec(),
    )
    .await;
    drop(publisher);
    running.stop().await.expect("stop");

    // Sealed: the scale's window (contents 1.4432109 kg) and the plug's
    // last power are in no file of the state directory.
    let state_dir = dir.join("state");
    for needle in ["1.4432109", "321.789", "\"window\"", "last_watts"] {
        let (_, _, hits) = scan(&state_dir, &[(needle.to_owned(), needle.into())]);
        assert!(hits.is_empty(), "{needle} in {hits:?}");
    }
    // `larder export` has both, decrypted.
    let export = |what: &str| -> serde_json::Value {
        let out = larder(&path, &["export"]);
        assert!(
            out.status.success(),
            "export {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("export JSON")
    };
    let doc = export("before");
    let devices: Vec<&str> = doc["device_state"]
        .as_array()
        .expect("device_state rows")
        .iter()
        .map(|r| r["device"].as_str().expect("device"))
        .collect();
    assert_eq!(devices, ["fridge-scale", "washer-plug"]);
    let scale = &doc["device_state"][0];
    assert_eq!(scale["state"]["scale"]["window"][0], 1.4432109);
    assert_eq!(scale["updated_at"], T0);
    assert_eq!(
        doc["device_state"][1]["state"]["washer"]["last_watts"],
        321.789
    );
    assert_eq!(doc["counts"]["device_state"], 2);

    // Forgetting the milk erases the state of the scale that measures it,
    // not the plug's.
    let out = larder(&path, &["forget", "--item", "milk", "--yes"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let db = Store::open_readonly(&state_dir.join("larder.db")).expect("db");
    assert_eq!(db.read().device_state("fridge-scale").expect("read"), None);
    assert!(
        db.read()
            .device_state("washer-plug")
            .expect("read")
            .is_some()
    );
    drop(db);
    let doc = export("after forget --item milk");
    assert_eq!(doc["counts"]["device_state"], 1);
    assert_eq!(doc["device_state"][0]["device"], "washer-plug");

    // Forgetting the household erases every device's state.
    let out = larder(&path, &["forget", "--all", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(export("after forget --all")["counts"]["device_state"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_home_connect_event_soon_after_is_one_wash_and_later_a_second() {
    let DevicesRig {
        broker: _broker,
        dir: _dir,
        path: _path,
        daemon: InProcessDaemon { running, clock },
        mut publisher,
    } = DevicesRig::start("devices-hc-twice").await;
    let db = Store::open_readonly(running.database()).expect("db");
    // hcpy's flattened object has no timestamp: larder dates it on receipt.
    let finished = data("homeconnect-hcpy.json");
    let t1 = T0 + 3600;
    clock.set(t1);
    publish(&mut publisher, &running, HOMECONNECT, finished.clone()).await;
    // The bridge sends the same event again 20 s later: a programme cannot
    // finish that soon after another (min-run-secs), so no second tab.
    // (A broker redelivery carries the DUP flag and is dropped earlier, as
    // a duplicate: `failpoints::a_redelivered_adapter_payload_…`.)
    clock.set(t1 + 20);
    publish(&mut publisher, &running, HOMECONNECT, finished.clone()).await;
    assert_eq!(
        observations(&db, "tabs"),
        vec![("consumed".into(), 1.0, t1)]
    );
    assert_eq!(
        db.read()
            .counter("washer_finished_repeated")
            .expect("counter"),
        1
    );
    // The next programme, two hours later, finishes with the same object:
    // a second wash, a second tab.
    let t2 = t1 + 7200;
    clock.set(t2);
    publish(&mut publisher, &running, HOMECONNECT, finished).await;
    assert_eq!(
        observations(&db, "tabs"),
        vec![("consumed".into(), 1.0, t1), ("consumed".into(), 1.0, t2)]
    );
    drop(publisher);
    running.stop().await.expect("stop");
}

/// Issue 14: a fridge numbers its door events with its level readings; the
/// door events are not stored (data minimisation) but their numbers are
/// recorded, so seq 1 level, 2 door_open, 3 level is no gap. A real gap
/// after them is still counted.
#[test]
fn door_events_between_readings_are_no_sequence_gap() {
    let broker = start_broker();
    let dir = temp_dir("door-seq");
    let config = TestConfig::household().write(&dir, &broker);
    let mut daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    let door = |seq: u64, kind: &str| {
        format!(r#"{{"v":1,"device":"fridge","epoch":4,"seq":{seq},"kind":"{kind}","open":true}}"#)
            .into_bytes()
    };
    mosquitto_pub(
        broker.port(),
        FRIDGE,
        &level_json("fridge", "milk", 4, 1, 2.0),
    );
    mosquitto_pub(broker.port(), FRIDGE, &door(2, "door_open"));
    mosquitto_pub(
        broker.port(),
        FRIDGE,
        &level_json("fridge", "milk", 4, 3, 1.9),
    );
    mosquitto_pub(broker.port(), FRIDGE, &door(4, "door_open"));
    mosquitto_pub(broker.port(), FRIDGE, &door(5, "door_closed"));
    mosquitto_pub(
        broker.port(),
        FRIDGE,
        &level_json("fridge", "milk", 4, 6, 1.8),
    );
    wait_until(Duration::from_secs(10), "three readings stored", || {
        stored(&dir, "fridge", 4, 6)
    });
    let db = open_db(&dir);
    assert_eq!(db.read().observation_count().expect("count"), 3);
    assert_eq!(counter(&dir, "events_not_needed"), 3);
    assert_eq!(counter(&dir, "sequence_gaps"), 0);
    assert_eq!(counter(&dir, "sequence_missing"), 0);
    assert!(!daemon.log().contains("sequence gap"), "{}", daemon.log());

    // Seq 7 and 8 never arrive: that is a gap of two.
    mosquitto_pub(
        broker.port(),
        FRIDGE,
        &level_json("fridge", "milk", 4, 9, 1.7),
    );
    wait_until(Duration::from_secs(10), "the reading after the gap", || {
        stored(&dir, "fridge", 4, 9)
    });
    assert_eq!(counter(&dir, "sequence_gaps"), 1);
    assert_eq!(counter(&dir, "sequence_missing"), 2);
    assert_eq!(daemon.terminate(), Ok(Some(0)));
}
