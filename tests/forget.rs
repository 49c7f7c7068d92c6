//! `larder forget`: a real household on a real mosquitto, the real binary;
//! afterwards every file in the state directory is scanned as raw bytes for
//! the forgotten item in every encoding it could have been stored in.

use crate::support::*;
use larder::crypto::keys;
use std::path::{Path, PathBuf};
use std::time::Duration;

const OAT: &str = "oat-milk-zx81";
const OAT_NAME: &str = "Oat Drink Zx81 Barista";
const OAT_LEVELS: [f64; 3] = [1.23456, 0.98731, 0.41237];
const RYE: &str = "rye-loaf-q4";
const RYE_NAME: &str = "Rye Loaf Q4 Sourdough";
const RYE_LEVELS: [f64; 3] = [3.71843, 3.24519, 2.71713];
const TOPIC: &str = "larder/fghub/devices/pantry/events";

/// The pantry household (`tests/fixtures/pantry.toml`) with alex as its
/// member.
fn pantry(member_key: &[u8; 32]) -> TestConfig {
    TestConfig::fixture("pantry").member("alex", member_key)
}

/// Every encoding a value of the forgotten item could be stored in.
fn needles_for(ids: &[&str], levels: &[f64]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for id in ids {
        out.push((format!("text {id:?}"), id.as_bytes().to_vec()));
        out.push((
            format!("hex {id:?}"),
            keys::to_hex(id.as_bytes()).into_bytes(),
        ));
        // CBOR text string header + bytes.
        let mut cbor = Vec::new();
        ciborium::into_writer(&ciborium::Value::Text((*id).to_owned()), &mut cbor).expect("cbor");
        out.push((format!("cbor {id:?}"), cbor));
    }
    for level in levels {
        let json = serde_json::to_string(level).expect("json");
        out.push((format!("text/json {level}"), json.clone().into_bytes()));
        out.push((
            format!("hex of text {level}"),
            keys::to_hex(json.as_bytes()).into_bytes(),
        ));
        out.push((format!("f64 LE {level}"), level.to_le_bytes().to_vec()));
        out.push((format!("f64 BE {level}"), level.to_be_bytes().to_vec()));
        out.push((
            format!("f32 LE {level}"),
            (*level as f32).to_le_bytes().to_vec(),
        ));
        out.push((
            format!("f32 BE {level}"),
            (*level as f32).to_be_bytes().to_vec(),
        ));
        let mut cbor = Vec::new();
        ciborium::into_writer(&ciborium::Value::Float(*level), &mut cbor).expect("cbor");
        out.push((format!("cbor {level}"), cbor.clone()));
        out.push((
            format!("hex of cbor {level}"),
            keys::to_hex(&cbor).into_bytes(),
        ));
        out.push((
            format!("hex of f64 LE {level}"),
            keys::to_hex(&level.to_le_bytes()).into_bytes(),
        ));
    }
    out
}

/// The device time of the first oat reading: a distinctive second about two
/// weeks back (within what larder takes at face value), fixed per test run.
fn oat_time0() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        now - 1_234_567
    })
}

/// The oat readings' device times as text and as i64 in both byte orders.
fn time_needles() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..OAT_LEVELS.len() as i64 {
        let t = oat_time0() + 60 * i;
        out.push((format!("time text {t}"), t.to_string().into_bytes()));
        out.push((format!("time i64 LE {t}"), t.to_le_bytes().to_vec()));
        out.push((format!("time i64 BE {t}"), t.to_be_bytes().to_vec()));
    }
    out
}

fn publish_levels(port: u16, slot: &str, first_seq: u64, levels: &[f64]) {
    for (i, level) in levels.iter().enumerate() {
        mosquitto_pub(
            port,
            TOPIC,
            &level_json("pantry", slot, 1, first_seq + i as u64, *level),
        );
    }
}

fn export(config: &Path) -> serde_json::Value {
    let out = larder(config, &["export"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("export json")
}

fn ledger_ok(config: &Path) -> String {
    let verify = larder(config, &["ledger", "verify"]);
    let out = text(&verify.stdout);
    assert!(verify.status.success(), "{out}{}", text(&verify.stderr));
    out
}

/// A household with two items, an order for the one to forget, a refused
/// event and a quarantined database copy mentioning it.
fn household(tag: &str) -> (Broker, ScratchDir, PathBuf, PathBuf, DaemonProcess) {
    let broker = start_broker();
    let dir = temp_dir(tag);
    let key_path = dir.join("alex.key");
    let alex = keys::SigningKey::create(&key_path).expect("key");
    let config = pantry(&alex.public_key()).write(&dir, &broker);
    let upstream = "larder/fghub/upstream/intents".to_string();
    let watcher = watch(broker.port(), std::slice::from_ref(&upstream));
    let daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "fghub");
    // The oat readings carry device times (times of use) to look for later.
    let t0 = oat_time0();
    for (i, level) in OAT_LEVELS.iter().enumerate() {
        mosquitto_pub(
            broker.port(),
            TOPIC,
            format!(
                r#"{{"v":1,"device":"pantry","epoch":1,"seq":{},"ts":{},"kind":"level","slot":"oat","amount":{level}}}"#,
                i + 1,
                t0 + 60 * i as i64
            )
            .as_bytes(),
        );
    }
    publish_levels(broker.port(), "rye", 11, &RYE_LEVELS);
    // A refused event that carries the item's slot and a reading.
    mosquitto_pub(
        broker.port(),
        TOPIC,
        format!(
            r#"{{"v":1,"device":"pantry","epoch":1,"seq":99,"kind":"level","slot":"oat","amount":"{}"}}"#,
            OAT_LEVELS[0]
        )
        .as_bytes(),
    );
    // A fridge door event: no feature needs it, so it is counted, not stored
    // and not dead-lettered.
    mosquitto_pub(
        broker.port(),
        TOPIC,
        br#"{"v":1,"device":"pantry","epoch":1,"seq":50,"kind":"door_open"}"#,
    );
    wait_until(Duration::from_secs(20), "an oat intent upstream", || {
        !watcher.on(&upstream).is_empty()
    });
    wait_until(Duration::from_secs(20), "every reading stored", || {
        stored(&dir, "pantry", 1, 3) && stored(&dir, "pantry", 1, 13)
    });
    wait_until(Duration::from_secs(20), "the door event counted", || {
        larder::store::Store::open_readonly(&db_path(&dir))
            .ok()
            .is_some_and(|db| db.read().counter("events_not_needed").unwrap_or(0) == 1)
    });
    let db = open_db(&dir);
    let dead = dead_letter_reasons(&db, 10);
    assert_eq!(
        dead.len(),
        1,
        "only the malformed reading is a dead letter: {dead:?}"
    );
    assert_eq!(db.read().counter("dead_letters").expect("c"), 1);
    drop(db);
    // A quarantined copy (as `daemon::open_store` leaves one) naming it.
    std::fs::write(
        dir.join("state").join("larder.db.corrupt-1700000000"),
        format!("garbage {OAT} {OAT_NAME} {}", OAT_LEVELS[0]),
    )
    .expect("quarantine copy");
    (broker, dir, config, key_path, daemon)
}

#[test]
fn forgetting_an_item_through_the_running_daemon_leaves_no_byte_of_it_in_the_state_dir() {
    let (broker, dir, config, key_path, mut daemon) = household("forget-item");
    let state = dir.join("state");
    let mut oat_needles = needles_for(&[OAT, OAT_NAME], &OAT_LEVELS);
    oat_needles.extend(time_needles());

    // Before: the scan finds it (the test can fail), in plaintext columns
    // (ids) and the ledger; the readings themselves are sealed.
    let (_, _, before) = scan(&state, &oat_needles);
    assert!(
        before
            .iter()
            .any(|h| h.contains("larder.db") && h.contains(OAT)),
        "{before:?}"
    );
    let before_export = export(&config);
    assert_eq!(
        before_export["observations"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|o| o["item"] == OAT)
            .map(|o| o["observed_at"].as_i64().expect("time"))
            .collect::<Vec<_>>(),
        vec![oat_time0(), oat_time0() + 60, oat_time0() + 120],
        "the device times were stored (sealed), so scanning for them means something"
    );
    // Sealed: the readings and times are not in any file even now.
    // Only the deliberately refused reading (a dead letter keeps the
    // payload's first bytes in clear) and the fake quarantined copy show.
    let (_, _, plain) = scan(
        &state,
        &[needles_for(&[], &OAT_LEVELS), time_needles()].concat(),
    );
    let unexpected: Vec<&String> = plain
        .iter()
        .filter(|h| !h.contains("larder.db.corrupt-"))
        .filter(|h| !h.ends_with(&format!(": text/json {}", OAT_LEVELS[0])))
        .collect();
    assert!(
        unexpected.is_empty(),
        "sealed values found in clear: {unexpected:?}"
    );
    assert!(
        plain
            .iter()
            .any(|h| h.ends_with(&format!(": text/json {}", OAT_LEVELS[0]))),
        "the dead letter's clear copy is visible to the scan: {plain:?}"
    );

    // While larder runs, the CLI without a member key refuses, naming the lock.
    let refused = larder(&config, &["forget", "--item", OAT, "--yes"]);
    let err = text(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        err.contains("larder.lock") && err.contains(&format!("pid {}", daemon.pid())),
        "{err}"
    );
    // Without --yes and nothing on stdin it asks and erases nothing.
    let unconfirmed = larder(&config, &["forget", "--item", OAT]);
    assert!(!unconfirmed.status.success());

    let forget = larder(
        &config,
        &[
            "forget",
            "--item",
            OAT,
            "--yes",
            "--key",
            key_path.to_str().expect("utf-8"),
        ],
    );
    let out = text(&forget.stdout);
    assert!(forget.status.success(), "{out}{}", text(&forget.stderr));
    assert!(out.contains("executed by the running larder"), "{out}");

    // The daemon still works: a new rye reading is stored after the forget.
    publish_levels(broker.port(), "rye", 14, &[2.5]);
    wait_until(
        Duration::from_secs(20),
        "a reading after the forget",
        || stored(&dir, "pantry", 1, 14),
    );
    let (files, bytes, hits) = scan(&state, &oat_needles);
    assert!(hits.is_empty(), "found while running: {hits:?}");
    eprintln!("scanned {files} files, {bytes} bytes while running: no trace of {OAT}");

    // The other item is intact; the ledger verifies and shows the forget.
    let after = export(&config);
    let rye: Vec<f64> = after["observations"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|o| o["item"] == RYE)
        .map(|o| o["amount"].as_f64().expect("amount"))
        .collect();
    assert_eq!(rye, vec![RYE_LEVELS[0], RYE_LEVELS[1], RYE_LEVELS[2], 2.5]);
    assert!(
        after["item_state"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|s| s["item"] == RYE)
    );
    for table in [
        "observations",
        "item_state",
        "observation_days",
        "intents",
        "approvals",
        "outbox",
        "dead_letters",
        "ledger",
    ] {
        assert!(
            !after[table].to_string().contains(OAT),
            "{table} still names {OAT}"
        );
    }
    let verified = ledger_ok(&config);
    assert!(
        verified.contains("erased by recorded forgets"),
        "{verified}"
    );
    let show = text(&larder(&config, &["ledger", "show", "--limit", "200"]).stdout);
    assert!(show.contains("forget (item)"), "{show}");
    assert!(!show.contains(OAT), "{show}");

    assert_eq!(daemon.terminate(), Ok(Some(0)), "clean exit on SIGTERM");
    let (files, bytes, hits) = scan(&state, &oat_needles);
    assert!(hits.is_empty(), "found after stop: {hits:?}");
    eprintln!("scanned {files} files, {bytes} bytes after stop: no trace of {OAT}");
    // The rye id is still in the database (the scan is not blind).
    let (_, _, rye_hits) = scan(&state, &needles_for(&[RYE], &[]));
    assert!(
        rye_hits.iter().any(|h| h.contains("larder.db")),
        "{rye_hits:?}"
    );
}

#[test]
fn forget_all_without_the_daemon_erases_the_household_and_larder_starts_again() {
    let (broker, dir, config, _key, mut daemon) = household("forget-all");
    let state = dir.join("state");
    assert_eq!(daemon.terminate(), Ok(Some(0)));

    let forget = larder(&config, &["forget", "--all", "--yes"]);
    let out = text(&forget.stdout);
    assert!(forget.status.success(), "{out}{}", text(&forget.stderr));
    assert!(out.contains("quarantined copies wiped: 1"), "{out}");

    let mut needles = needles_for(&[OAT, OAT_NAME, RYE, RYE_NAME], &OAT_LEVELS);
    needles.extend(needles_for(&[], &RYE_LEVELS));
    let (files, bytes, hits) = scan(&state, &needles);
    assert!(hits.is_empty(), "{hits:?}");
    eprintln!("scanned {files} files, {bytes} bytes after forget --all: nothing left");
    ledger_ok(&config);
    let show = text(&larder(&config, &["ledger", "show"]).stdout);
    assert!(show.contains("forget (household)"), "{show}");

    // larder starts on the erased database and works.
    let mut daemon = start_daemon(&config);
    wait_online(broker.port(), "fghub");
    publish_levels(broker.port(), "rye", 21, &[3.0]);
    wait_until(
        Duration::from_secs(20),
        "a reading after forget --all",
        || stored(&dir, "pantry", 1, 21),
    );
    assert_eq!(daemon.terminate(), Ok(Some(0)));
    ledger_ok(&config);
}

/// Retention on the daemon's ticker, at simulated time: readings older than
/// `retention.raw-days` become one sealed daily aggregate, and the
/// forecaster keeps working on its own state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_folds_old_readings_into_daily_aggregates_on_its_ticker() {
    let broker = start_broker();
    let dir = temp_dir("retention");
    let alex = keys::SigningKey::generate();
    let config = pantry(&alex.public_key())
        .set("retention", "raw-days", 30)
        .load(&dir, &broker);
    let start = 1_800_000_000;
    let InProcessDaemon { running, clock } = daemon::start(config, start).await;
    let port = broker.port();
    tokio::task::spawn_blocking(move || publish_levels(port, "rye", 1, &RYE_LEVELS))
        .await
        .expect("publish");
    let read = || open_db(&dir);
    wait_for(Duration::from_secs(20), "three readings", || {
        read().read().observation_count().unwrap_or(0) == 3
    })
    .await;
    let state_before = read().read().item_state(RYE).expect("state").expect("some");

    // 29 days on: still raw.
    clock.set(start + 29 * 86_400);
    running.tick().await.expect("tick");
    assert_eq!(read().read().observation_count().expect("n"), 3);
    assert!(
        read()
            .read()
            .observation_days(RYE)
            .expect("days")
            .is_empty()
    );

    // 31 days on: one aggregate for that day; the forecaster's state is kept.
    clock.set(start + 31 * 86_400);
    running.tick().await.expect("tick");
    let db = read();
    assert_eq!(db.read().observation_count().expect("n"), 0);
    let days = db.read().observation_days(RYE).expect("days");
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(days[0].count, 3);
    assert_eq!(days[0].day, start / 86_400);
    assert_eq!(days[0].last_level, Some(RYE_LEVELS[2]));
    assert_eq!(db.read().counter("observations_compacted").expect("c"), 3);
    // The decision pass may advance the state with time, but what was
    // learned from the folded readings is still there.
    let kept = db.read().item_state(RYE).expect("state").expect("some");
    assert_eq!(
        (kept.level, kept.level_at),
        (state_before.level, state_before.level_at)
    );
    drop(db);

    // A new reading still moves the forecast.
    tokio::task::spawn_blocking(move || publish_levels(port, "rye", 4, &[2.0]))
        .await
        .expect("publish");
    wait_for(Duration::from_secs(20), "the new reading", || {
        read().read().observation_count().unwrap_or(0) == 1
    })
    .await;
    assert_ne!(
        read().read().item_state(RYE).expect("state"),
        Some(state_before)
    );
    running.stop().await.expect("stop");
}
