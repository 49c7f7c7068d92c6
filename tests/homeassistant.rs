//! Home Assistant discovery against a real mosquitto and the real daemon:
//! the retained device document and its schema, retained state, availability,
//! re-discovery on Home Assistant's birth, removal of a removed item, the
//! approve/deny buttons (trusted and not), order events, `larder discovery`.

use crate::support::*;
use larder::homeassistant::schema::check_discovery;
use larder::store::IntentState;
use serde_json::Value;
use std::time::Duration;

const DISCOVERY: &str = "homeassistant/device/larder_testhub/config";
const STATUS: &str = "larder/testhub/status";

/// The test household announcing itself to Home Assistant at once.
fn ha_config() -> TestConfig {
    TestConfig::household().set("homeassistant", "birth-delay-max-ms", 0)
}

/// What a fresh subscriber gets as retained on `topic` (None if nothing).
fn retained(port: u16, topic: &str) -> Option<Seen> {
    let watcher = watch(port, &[topic.to_string()]);
    std::thread::sleep(Duration::from_millis(400));
    watcher.on(topic).into_iter().find(|s| s.retain)
}

fn json(seen: &Seen) -> Value {
    serde_json::from_slice(&seen.payload).expect("json payload")
}

/// The `event_type` of each order event `watcher` saw on `topic`.
fn event_types(watcher: &Watcher, topic: &str) -> Vec<String> {
    watcher
        .on(topic)
        .iter()
        .map(|s| {
            json(s)["event_type"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn assert_schema(seen: &Seen) {
    let problems = check_discovery("homeassistant", &seen.topic, &seen.payload);
    assert!(
        problems.is_empty(),
        "{problems:?}\n{}",
        String::from_utf8_lossy(&seen.payload)
    );
}

#[test]
fn the_daemon_announces_itself_publishes_retained_state_and_goes_offline() {
    let broker = start_broker();
    let dir = temp_dir("ha-announce");
    let config = ha_config().write(&dir, &broker);
    let events_topic = "larder/testhub/ha/events".to_string();
    let watcher = watch(
        broker.port(),
        &["homeassistant/#".to_string(), events_topic.clone()],
    );
    let mut daemon = start_daemon(&config);
    wait_online(broker.port(), "testhub");
    wait_until(Duration::from_secs(20), "the discovery document", || {
        !watcher.on(DISCOVERY).is_empty()
    });
    // Retained: a Home Assistant that subscribes later gets it.
    let document = retained(broker.port(), DISCOVERY).expect("retained discovery document");
    assert_schema(&document);
    let doc = json(&document);
    let cmps = doc["cmps"].as_object().expect("cmps");
    for item in ["milk", "detergent"] {
        for kind in ["level", "days_left", "next_order"] {
            assert!(
                cmps.contains_key(&format!("item_{item}_{kind}")),
                "{item} {kind}"
            );
        }
    }
    assert!(cmps.contains_key("pending_approvals") && cmps.contains_key("order_events"));
    assert_eq!(doc["avty_t"], STATUS);

    // Readings: milk runs low; its state is published retained, and the
    // auto-approved order shows up as non-retained order events.
    milk_runs_low(broker.port());
    let milk_topic = "larder/testhub/ha/items/milk";
    wait_until(Duration::from_secs(20), "milk's state at 0.3", || {
        retained(broker.port(), milk_topic).is_some_and(|s| {
            json(&s)["level"]
                .as_f64()
                .is_some_and(|l| (l - 0.3).abs() < 0.02)
        })
    });
    let state = json(&retained(broker.port(), milk_topic).expect("milk state"));
    assert!(
        state["days_left"].as_f64().is_some_and(|d| d >= 0.0),
        "{state}"
    );
    wait_until(Duration::from_secs(20), "order events", || {
        let types = event_types(&watcher, &events_topic);
        types.contains(&"order_approved".to_string()) && types.contains(&"order_sent".to_string())
    });
    let events = watcher.on(&events_topic);
    assert!(
        events.iter().all(|s| !s.retain),
        "event messages are never retained"
    );
    assert!(
        events.iter().all(|s| json(s)["item"] == "milk"),
        "{events:?}"
    );
    assert!(retained(broker.port(), &events_topic).is_none());

    // Home Assistant restarts: its birth makes larder announce again.
    let before = watcher.on(DISCOVERY).len();
    mosquitto_pub(broker.port(), "homeassistant/status", b"online");
    wait_until(Duration::from_secs(10), "discovery re-published", || {
        watcher.on(DISCOVERY).len() > before
    });
    assert_schema(watcher.on(DISCOVERY).last().expect("document"));
    // ...followed by the state again.
    let later = watch(broker.port(), &[milk_topic.to_string()]);
    mosquitto_pub(broker.port(), "homeassistant/status", b"online");
    wait_until(Duration::from_secs(10), "state re-published", || {
        later.on(milk_topic).iter().any(|s| !s.retain)
    });

    // Clean stop: availability goes offline (retained).
    assert_eq!(daemon.terminate(), Ok(Some(0)));
    let status = retained(broker.port(), STATUS).expect("status");
    assert_eq!(status.payload, b"offline");
}

#[test]
fn a_killed_daemon_goes_offline_by_its_last_will() {
    let broker = start_broker();
    let dir = temp_dir("ha-will");
    let config = ha_config().write(&dir, &broker);
    let mut daemon = start_daemon(&config);
    wait_online(broker.port(), "testhub");
    wait_until(Duration::from_secs(20), "the discovery document", || {
        retained(broker.port(), DISCOVERY).is_some()
    });
    daemon.kill9();
    wait_until(Duration::from_secs(10), "offline by last will", || {
        retained(broker.port(), STATUS).is_some_and(|s| s.payload == b"offline")
    });
    // The document stays: Home Assistant shows the entities unavailable.
    assert!(retained(broker.port(), DISCOVERY).is_some());
}

#[test]
fn removing_an_item_and_restarting_removes_its_components() {
    remove_detergent_and_restart("ha-remove", 0);
}

/// A household stocking 300 more items: its discovery document (about
/// 350 KB) is over the 256 KiB a larder connection accepted by default,
/// so the restarted daemon could not read back what it had announced and
/// never published again.
#[test]
fn a_large_households_document_is_read_back_after_a_restart() {
    remove_detergent_and_restart("ha-remove-large", 300);
}

fn remove_detergent_and_restart(name: &str, extra_items: usize) {
    let broker = start_broker();
    let dir = temp_dir(name);
    let mut household = ha_config();
    for i in 0..extra_items {
        household = household.append(&format!(
            "\n[[items]]\nid = \"pantry-{i}\"\nname = \"Pantry shelf item {i}\"\nunit = \"g\"\n\
             package-size = 500\nproduct = \"sku-pantry-{i}\"\nprice = 2.0\ncurrency = \"EUR\"\n\
             category = \"dairy\"\ndevice = \"fridge\"\nslot = \"pantry-{i}\"\n"
        ));
    }
    let config = household.write(&dir, &broker);
    let mut daemon = start_daemon(&config);
    wait_online(broker.port(), "testhub");
    let detergent_state = "larder/testhub/ha/items/detergent";
    wait_until(Duration::from_secs(20), "detergent's state", || {
        retained(broker.port(), detergent_state).is_some()
    });
    assert_eq!(daemon.terminate(), Ok(Some(0)));

    // The household stops stocking detergent.
    household.without_item("detergent").write(&dir, &broker);

    let watcher = watch(broker.port(), &[DISCOVERY.to_string()]);
    let _daemon = start_daemon(&config);
    wait_until(
        Duration::from_secs(20),
        "a document removing detergent",
        || {
            watcher.on(DISCOVERY).iter().any(|s| {
                !s.retain
                    && json(s)["cmps"]["item_detergent_level"] == serde_json::json!({"p": "sensor"})
            })
        },
    );
    let document = retained(broker.port(), DISCOVERY).expect("document");
    assert_schema(&document);
    let doc = json(&document);
    for kind in ["level", "days_left", "next_order"] {
        assert_eq!(
            doc["cmps"][format!("item_detergent_{kind}")],
            serde_json::json!({"p": "sensor"})
        );
    }
    assert!(doc["cmps"]["item_milk_level"]["uniq_id"].is_string());
    wait_until(
        Duration::from_secs(10),
        "detergent's retained state cleared",
        || retained(broker.port(), detergent_state).is_none(),
    );
}

/// Asks for detergent (over the auto-approve limit) and returns the
/// pending intent id once the request is out.
fn pending_detergent(broker: &Broker, watcher: &Watcher) -> String {
    detergent_request(broker.port(), watcher).intent
}

#[test]
fn with_trusted_approvals_a_button_press_approves_and_the_intent_goes_upstream() {
    let broker = start_broker();
    let dir = temp_dir("ha-trusted");
    let config = ha_config()
        .set("homeassistant", "trusted-approvals", true)
        .write(&dir, &broker);
    let upstream = UPSTREAM.to_string();
    let watcher = watch(
        broker.port(),
        &[
            upstream.clone(),
            format!("{REQUESTS}+"),
            DISCOVERY.into(),
            "larder/testhub/ha/#".into(),
        ],
    );
    let _daemon = start_daemon(&config);
    let hub_key = hub_public_key(&dir);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    let intent = pending_detergent(&broker, &watcher);
    let approve = format!("approve_{intent}");
    wait_until(Duration::from_secs(20), "approve/deny buttons", || {
        watcher.on(DISCOVERY).last().is_some_and(|s| {
            let d = json(s);
            d["cmps"][&approve]["cmd_t"] == format!("larder/testhub/ha/approve/{intent}")
                && d["cmps"][format!("deny_{intent}")]["p"] == "button"
        })
    });
    assert_schema(watcher.on(DISCOVERY).last().expect("document"));
    let pending = retained(broker.port(), "larder/testhub/ha/pending").expect("pending count");
    assert_eq!(pending.payload, b"1");
    let list =
        json(&retained(broker.port(), "larder/testhub/ha/pending/attributes").expect("list"));
    assert_eq!(list["requests"][0]["intent"], intent.as_str());
    assert!(watcher.on(&upstream).is_empty());

    // A press with another payload is refused (a retained press is
    // delivered live without the retain flag, as for replies; the engine's
    // retain check covers a press stored at the broker before a resubscribe).
    let press = format!("larder/testhub/ha/approve/{intent}");
    let mut publisher = Publisher::connect(broker.port());
    assert!(publisher.publish(&press, b"ON".to_vec(), false));
    let db = open_db(&dir);
    wait_until(Duration::from_secs(10), "the odd press refused", || {
        db.read().counter("refused_ha_presses").ok() == Some(1)
    });
    assert!(db.read().approvals(&intent).expect("approvals").is_empty());
    // Home Assistant presses approve.
    assert!(publisher.publish(&press, b"PRESS".to_vec(), false));
    wait_until(
        Duration::from_secs(20),
        "the approved intent upstream",
        || !watcher.on(&upstream).is_empty(),
    );
    let sent = larder::protocol::intent::verify_intent(&watcher.on(&upstream)[0].payload, &hub_key)
        .expect("verifies");
    assert_eq!(sent.id, intent);
    let row = db.read().intent(&intent).expect("read").expect("intent");
    assert!(
        matches!(row.state, IntentState::Approved | IntentState::Sent),
        "{:?}",
        row.state
    );
    assert_eq!(row.decided_by.as_deref(), Some("members"));
    let approvals = db.read().approvals(&intent).expect("approvals");
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].member, "home-assistant");
    let entries = db.read().ledger_for_intent(&intent).expect("ledger");
    assert!(
        entries.iter().any(|e| e
            .body
            .as_deref()
            .is_some_and(|b| b.contains("\"by\":\"ha:home-assistant\""))),
        "the press is in the ledger"
    );
    // A second press is refused (answered already); the buttons go away.
    assert!(publisher.publish(
        &format!("larder/testhub/ha/deny/{intent}"),
        b"PRESS".to_vec(),
        false
    ));
    wait_until(Duration::from_secs(10), "the late press refused", || {
        db.read().counter("refused_ha_presses").ok() == Some(2)
    });
    wait_until(Duration::from_secs(20), "buttons removed", || {
        watcher
            .on(DISCOVERY)
            .last()
            .is_some_and(|s| json(s)["cmps"][&approve] == serde_json::json!({"p": "button"}))
    });
    assert_eq!(
        retained(broker.port(), "larder/testhub/ha/pending")
            .expect("count")
            .payload,
        b"0"
    );
    let types = event_types(&watcher, "larder/testhub/ha/events");
    assert!(
        types.contains(&"order_requested".into()) && types.contains(&"order_approved".into()),
        "{types:?}"
    );
}

#[test]
fn without_trusted_approvals_a_press_is_refused_and_nothing_is_approved() {
    let broker = start_broker();
    let dir = temp_dir("ha-untrusted");
    let config = ha_config().write(&dir, &broker);
    let upstream = UPSTREAM.to_string();
    let watcher = watch(
        broker.port(),
        &[upstream.clone(), format!("{REQUESTS}+"), DISCOVERY.into()],
    );
    let _daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    let intent = pending_detergent(&broker, &watcher);
    mosquitto_pub(
        broker.port(),
        &format!("larder/testhub/ha/approve/{intent}"),
        b"PRESS",
    );
    let db = open_db(&dir);
    wait_until(Duration::from_secs(10), "the press refused", || {
        db.read().counter("refused_ha_presses").ok() == Some(1)
    });
    let letters = db.read().dead_letters(10).expect("dead letters");
    assert!(
        letters
            .iter()
            .any(|l| l.reason.contains("homeassistant.trusted-approvals = false")),
        "{letters:?}"
    );
    let row = db.read().intent(&intent).expect("read").expect("intent");
    assert_eq!(row.state, IntentState::AwaitingApproval);
    assert!(db.read().approvals(&intent).expect("approvals").is_empty());
    assert!(watcher.on(&upstream).is_empty());
    // No buttons were ever announced.
    assert!(watcher.on(DISCOVERY).iter().all(|s| {
        json(s)["cmps"]
            .as_object()
            .is_some_and(|c| c.keys().all(|k| !k.starts_with("approve_")))
    }));
}

#[test]
fn larder_discovery_prints_every_message_and_each_passes_the_schema() {
    let dir = temp_dir("ha-cli");
    let broker_less = dir.join("larder.toml");
    let example = std::fs::read_to_string("config/larder.toml").expect("example config");
    std::fs::write(&broker_less, example).expect("write");
    let out = larder(&broker_less, &["discovery"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (topic_line, payload) = stdout.split_once('\n').expect("topic line");
    assert_eq!(
        topic_line,
        "homeassistant/device/larder_home/config (retained)"
    );
    let topic = topic_line.trim_end_matches(" (retained)");
    let payload = payload.trim();
    let problems = check_discovery("homeassistant", topic, payload.as_bytes());
    assert!(problems.is_empty(), "{problems:?}");
    let doc: Value = serde_json::from_str(payload).expect("json");
    let config =
        larder::config::Config::load(std::path::Path::new("config/larder.toml")).expect("config");
    assert_eq!(
        doc["cmps"].as_object().expect("cmps").len(),
        3 * config.items.len() + 2
    );
    // Off: says so, prints no message.
    let text = std::fs::read_to_string(&broker_less).expect("read");
    let off = text.replace("\nenabled = true\n", "\nenabled = false\n");
    assert_ne!(
        off, text,
        "the example config has [homeassistant] enabled = true"
    );
    std::fs::write(&broker_less, off).expect("write");
    let out = larder(&broker_less, &["discovery"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.starts_with('#') && !stdout.contains("homeassistant/device"),
        "{stdout}"
    );
}
