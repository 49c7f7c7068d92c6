//! Unit tests of the Home Assistant module. Every payload larder can
//! publish is run through [`check_discovery`], the port of Home
//! Assistant's discovery rules in `schema.rs`.

use super::schema::check_discovery;
use super::*;
use crate::config::Config;
use crate::core::DAY;
use crate::core::forecast::{self, ItemState};
use crate::ledger::{self, LedgerRow};
use crate::store::{IntentRow, IntentState};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn assert_passes(config: &Config, message: &Message) {
    let problems = check_discovery(
        &config.homeassistant.discovery_prefix,
        &message.topic,
        &message.payload,
    );
    assert!(
        problems.is_empty(),
        "{}:\n  {}\npayload: {}",
        message.topic,
        problems.join("\n  "),
        String::from_utf8_lossy(&message.payload)
    );
}

const CONFIG: &str = include_str!("../../tests/fixtures/three-items.toml");

fn config(extra: &str) -> Config {
    let text = format!("{CONFIG}\n{extra}");
    Config::parse(&text, std::path::Path::new("/etc/larder/larder.toml")).expect("valid config")
}

fn trusted() -> Config {
    config("[homeassistant]\ntrusted-approvals = true\n")
}

fn pending(intent: &str) -> PendingView {
    PendingView {
        intent: intent.into(),
        item: "milk".into(),
        item_name: "Milk".into(),
        packages: 2,
        quantity: 2.0,
        unit: "l".into(),
        price_ceiling: 2.42,
        currency: "EUR".into(),
        expires_at: Some(1_767_312_000),
        approvals_required: 1,
        approvals: 0,
    }
}

fn item(id: &str, level: Option<f64>) -> ItemView {
    ItemView {
        id: id.into(),
        level,
        days_left: level,
        next_order: NextOrder {
            at: None,
            status: "none".into(),
            intent: None,
            packages: None,
        },
    }
}

fn discovery_of(messages: &[Message], config: &Config) -> Vec<Message> {
    let topic = HaTopics::new(config).discovery;
    messages
        .iter()
        .filter(|m| m.topic == topic)
        .cloned()
        .collect()
}

fn cmps(message: &Message) -> Map<String, Value> {
    let doc: Value = serde_json::from_slice(&message.payload).expect("json");
    doc["cmps"].as_object().expect("cmps").clone()
}

const INTENT_A: &str = "0123456789abcdef0123456789abcdef";
const INTENT_B: &str = "fedcba9876543210fedcba9876543210";

#[test]
fn every_discovery_document_larder_can_publish_passes_the_schema_rules() {
    for cfg in [
        config(""),
        trusted(),
        crate::config::Config::load(std::path::Path::new("config/larder.toml"))
            .expect("example config"),
    ] {
        for message in discovery_messages(&cfg) {
            assert_passes(&cfg, &message);
        }
        // With requests pending (buttons in trusted mode), after a removal
        // (stubs) and after Home Assistant's birth.
        let mut publisher = DiscoveryPublisher::default();
        let busy = Snapshot {
            pending: vec![pending(INTENT_A), pending(INTENT_B)],
            ..Snapshot::default()
        };
        let mut all = publisher.messages(&cfg, &busy, Occasion::Connected);
        all.extend(publisher.messages(&cfg, &Snapshot::default(), Occasion::Update));
        all.extend(publisher.messages(&cfg, &Snapshot::default(), Occasion::HomeAssistantOnline));
        let documents = discovery_of(&all, &cfg);
        assert!(!documents.is_empty());
        for message in &documents {
            assert!(message.retain);
            assert_passes(&cfg, message);
        }
    }
}

#[test]
fn the_document_has_three_sensors_per_item_the_pending_sensor_and_the_event_entity() {
    let cfg = config("");
    let message = &discovery_messages(&cfg)[0];
    assert_eq!(message.topic, "homeassistant/device/larder_home-1/config");
    let c = cmps(message);
    assert_eq!(c.len(), 3 * 3 + 2);
    let level = &c["item_milk_level"];
    assert_eq!(level["uniq_id"], "larder_home-1_item_milk_level");
    assert_eq!(level["def_ent_id"], "sensor.larder_home_1_item_milk_level");
    assert_eq!(level["stat_t"], "larder/home-1/ha/items/milk");
    assert_eq!(level["dev_cla"], "volume_storage");
    assert_eq!(level["unit_of_meas"], "L");
    // Grams are a weight; pieces have no device class, only the unit.
    assert_eq!(c["item_Coffee-Beans_level"]["dev_cla"], "weight");
    assert_eq!(
        c["item_Coffee-Beans_level"]["def_ent_id"],
        "sensor.larder_home_1_item_coffee_beans_level"
    );
    assert!(c["item_eggs_level"].get("dev_cla").is_none());
    assert_eq!(c["item_eggs_level"]["unit_of_meas"], "pcs");
    assert_eq!(c["item_milk_days_left"]["unit_of_meas"], "d");
    assert_eq!(c["item_milk_next_order"]["dev_cla"], "timestamp");
    assert_eq!(
        c["order_events"]["evt_typ"].as_array().map(Vec::len),
        Some(ORDER_EVENT_TYPES.len())
    );
    let doc: Value = serde_json::from_slice(&message.payload).expect("json");
    assert_eq!(doc["avty_t"], "larder/home-1/status");
    assert_eq!(doc["dev"]["ids"][0], "larder_home-1");
    // No buttons without trusted approvals, even with requests pending.
    let busy = Snapshot {
        pending: vec![pending(INTENT_A)],
        ..Snapshot::default()
    };
    assert!(
        components(&cfg, &busy)
            .keys()
            .all(|k| !k.starts_with("approve_"))
    );
}

#[test]
fn unique_ids_do_not_depend_on_display_names() {
    let a = config("");
    let renamed = config("").items.iter().fold(a.clone(), |mut c, _| {
        for item in &mut c.items {
            item.name = format!("{} (renamed)", item.name);
        }
        c
    });
    let ids = |cfg: &Config| -> Vec<Value> {
        components(cfg, &Snapshot::default())
            .values()
            .map(|c| c["uniq_id"].clone())
            .collect()
    };
    assert_eq!(ids(&a), ids(&renamed));
}

#[test]
fn the_checker_refuses_what_home_assistant_refuses() {
    let cfg = trusted();
    let good = discovery_messages(&cfg).remove(0);
    let doc: Value = serde_json::from_slice(&good.payload).expect("json");
    let broken = |change: &dyn Fn(&mut Value), expect: &str| {
        let mut d = doc.clone();
        change(&mut d);
        let problems = check_discovery(
            "homeassistant",
            &good.topic,
            &serde_json::to_vec(&d).expect("json"),
        );
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "expected a problem containing {expect:?}, got {problems:?}"
        );
    };
    broken(
        &|d| {
            d["dev"].as_object_mut().expect("dev").remove("ids");
        },
        "needs ids or cns",
    );
    broken(
        &|d| {
            d.as_object_mut().expect("root").remove("o");
        },
        "o is required",
    );
    broken(
        &|d| {
            d["o"].as_object_mut().expect("o").remove("name");
        },
        "name is required",
    );
    broken(&|d| d["avty"] = json!([{"t": "x"}]), "mutually exclusive");
    broken(
        &|d| d["cmps"]["item_milk_level"]["object_id"] = json!("x"),
        "object_id is deprecated",
    );
    broken(
        &|d| d["cmps"]["item_milk_level"]["unique_id"] = json!("x"),
        "must be written abbreviated",
    );
    broken(
        &|d| d["cmps"]["item_milk_level"]["colour"] = json!("x"),
        "unknown key",
    );
    broken(
        &|d| d["cmps"]["item_milk_level"]["unit_of_meas"] = json!("l"),
        "not valid for dev_cla",
    );
    broken(
        &|d| d["cmps"]["item_milk_level"]["stat_cla"] = json!("total"),
        "not valid for dev_cla \"volume_storage\"",
    );
    broken(
        &|d| d["cmps"]["item_milk_next_order"]["stat_cla"] = json!("measurement"),
        "not valid for dev_cla \"timestamp\"",
    );
    broken(
        &|d| {
            d["cmps"]["order_events"]
                .as_object_mut()
                .expect("c")
                .remove("evt_typ");
        },
        "needs evt_typ",
    );
    broken(
        &|d| {
            d["cmps"]["order_events"]
                .as_object_mut()
                .expect("c")
                .remove("stat_t");
        },
        "event needs stat_t",
    );
    broken(
        &|d| {
            d["cmps"]["item_milk_level"]
                .as_object_mut()
                .expect("c")
                .remove("uniq_id");
        },
        "uniq_id is required",
    );
    broken(
        &|d| {
            d["cmps"]["item_eggs_level"]["uniq_id"] =
                d["cmps"]["item_milk_level"]["uniq_id"].clone()
        },
        "used twice",
    );
    broken(
        &|d| d["cmps"]["item_milk_level"]["p"] = json!("gauge"),
        "not a supported component",
    );
    broken(
        &|d| d["cmps"]["item_milk_level"]["def_ent_id"] = json!("button.x"),
        "def_ent_id",
    );
    broken(
        &|d| d["cmps"]["item_milk_level"]["stat_t"] = json!("larder/+/x"),
        "not an exact topic",
    );
    broken(
        &|d| d["cmps"]["bad key!"] = json!({"p": "sensor"}),
        "not [a-zA-Z0-9_-]",
    );
    broken(
        &|d| d["cmps"]["approve_x"] = json!({"p": "button", "uniq_id": "b", "name": "B"}),
        "button needs cmd_t",
    );
    let bad_topic = check_discovery(
        "homeassistant",
        "homeassistant/device/larder home/config",
        &good.payload,
    );
    assert!(!bad_topic.is_empty());
    // An empty payload (remove the device) and a stub are fine.
    assert!(check_discovery("homeassistant", &good.topic, b"").is_empty());
}

#[test]
fn trusted_mode_announces_approve_and_deny_buttons_per_pending_request() {
    let cfg = trusted();
    let busy = Snapshot {
        pending: vec![pending(INTENT_A)],
        ..Snapshot::default()
    };
    let c = components(&cfg, &busy);
    let approve = &c[&format!("approve_{INTENT_A}")];
    assert_eq!(approve["p"], "button");
    assert_eq!(
        approve["cmd_t"],
        format!("larder/home-1/ha/approve/{INTENT_A}")
    );
    assert_eq!(approve["pl_prs"], "PRESS");
    assert_eq!(
        c[&format!("deny_{INTENT_A}")]["cmd_t"],
        format!("larder/home-1/ha/deny/{INTENT_A}")
    );
    let topics = HaTopics::new(&cfg);
    assert_eq!(
        topics.parse_press(&format!("larder/home-1/ha/deny/{INTENT_A}")),
        Some((Press::Deny, INTENT_A))
    );
    assert_eq!(topics.parse_press("larder/home-1/ha/approve/"), None);
    assert_eq!(topics.parse_press("larder/home-1/ha/approve/a/b"), None);
    assert_eq!(topics.parse_press("larder/home-1/ha/cancel/a"), None);
    assert_eq!(topics.parse_press("larder/other/ha/approve/a"), None);
    assert_eq!(
        topics.press_filters(),
        vec!["larder/home-1/ha/approve/+", "larder/home-1/ha/deny/+"]
    );
}

#[test]
fn discovery_goes_out_on_connect_and_when_components_change_state_when_it_changes() {
    let cfg = trusted();
    let topics = HaTopics::new(&cfg);
    let mut publisher = DiscoveryPublisher::default();
    let quiet = Snapshot {
        items: vec![item("milk", Some(1.5))],
        ..Snapshot::default()
    };
    let first = publisher.messages(&cfg, &quiet, Occasion::Connected);
    assert_eq!(first[0].topic, topics.discovery, "discovery first");
    assert!(first.iter().all(|m| m.retain));
    assert!(first.iter().any(|m| m.topic == topics.item_state("milk")));
    assert!(
        first
            .iter()
            .any(|m| m.topic == topics.pending() && m.payload == b"0")
    );
    // Nothing changed: nothing to send.
    assert!(
        publisher
            .messages(&cfg, &quiet, Occasion::Update)
            .is_empty()
    );
    // A level change: that item's state only.
    let lower = Snapshot {
        items: vec![item("milk", Some(0.5))],
        ..Snapshot::default()
    };
    let changed = publisher.messages(&cfg, &lower, Occasion::Update);
    assert_eq!(changed.len(), 1, "{changed:?}");
    let state: Value = serde_json::from_slice(&changed[0].payload).expect("json");
    assert_eq!(state["level"], 0.5);
    // A request: buttons (discovery) and the pending count and list.
    let asking = Snapshot {
        pending: vec![pending(INTENT_A)],
        ..lower.clone()
    };
    let out = publisher.messages(&cfg, &asking, Occasion::Update);
    let topics_out: Vec<&str> = out.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(
        topics_out,
        vec![
            topics.discovery.as_str(),
            &topics.pending(),
            &topics.pending_attributes()
        ]
    );
    // Answered: the buttons go as stubs.
    let out = publisher.messages(&cfg, &lower, Occasion::Update);
    let c = cmps(&discovery_of(&out, &cfg)[0]);
    assert_eq!(c[&format!("approve_{INTENT_A}")], json!({"p": "button"}));
    assert_eq!(c[&format!("deny_{INTENT_A}")], json!({"p": "button"}));
    // Home Assistant restarts: everything again, the stubs one last time.
    let out = publisher.messages(&cfg, &lower, Occasion::HomeAssistantOnline);
    assert_eq!(out[0].topic, topics.discovery);
    assert!(cmps(&out[0]).contains_key(&format!("approve_{INTENT_A}")));
    assert!(out.iter().any(|m| m.topic == topics.item_state("milk")));
    let out = publisher.messages(&cfg, &lower, Occasion::Update);
    let c = cmps(&discovery_of(&out, &cfg)[0]);
    assert!(
        !c.contains_key(&format!("approve_{INTENT_A}")),
        "stubs dropped after HA saw them"
    );
}

#[test]
fn a_removed_item_is_stubbed_and_its_state_cleared_after_a_restart() {
    let before = config("");
    let mut publisher = DiscoveryPublisher::default();
    let document = publisher.messages(&before, &Snapshot::default(), Occasion::Connected)[0]
        .payload
        .clone();
    // Restart with eggs gone from the configuration.
    let text = CONFIG.replace(
        "[[items]]\nid = \"eggs\"\nname = \"Eggs\"\nunit = \"pcs\"\npackage-size = 10\nproduct = \"sku-3\"\nprice = 3.0\ncategory = \"dairy\"\ndevice = \"fridge\"\nslot = \"eggs\"\n",
        "",
    );
    let after = Config::parse(&text, std::path::Path::new("/x.toml")).expect("valid");
    assert_eq!(after.items.len(), 2);
    let mut restarted = DiscoveryPublisher::new(Some(&document));
    let out = restarted.messages(&after, &Snapshot::default(), Occasion::Connected);
    let doc = discovery_of(&out, &after).remove(0);
    assert_passes(&after, &doc);
    let c = cmps(&doc);
    for kind in ["level", "days_left", "next_order"] {
        assert_eq!(c[&format!("item_eggs_{kind}")], json!({"p": "sensor"}));
    }
    assert!(c["item_milk_level"].get("uniq_id").is_some());
    let topics = HaTopics::new(&after);
    let cleared = out
        .iter()
        .find(|m| m.topic == topics.item_state("eggs"))
        .expect("eggs state cleared");
    assert!(cleared.payload.is_empty() && cleared.retain);
    // A third start reads the stubbed document: the stubs stay until HA
    // has been seen online, and nothing is cleared twice.
    let mut third = DiscoveryPublisher::new(Some(&doc.payload));
    assert_eq!(third.removed().len(), 3);
    let out = third.messages(&after, &Snapshot::default(), Occasion::Connected);
    assert!(!out.iter().any(|m| m.topic == topics.item_state("eggs")));
}

#[test]
fn disabling_the_integration_removes_the_device_once() {
    let on = config("");
    let off = config("[homeassistant]\nenabled = false\n");
    assert!(discovery_messages(&off).is_empty());
    let mut publisher = DiscoveryPublisher::default();
    let document = publisher.messages(&on, &Snapshot::default(), Occasion::Connected)[0]
        .payload
        .clone();
    let mut restarted = DiscoveryPublisher::new(Some(&document));
    let out = restarted.messages(&off, &Snapshot::default(), Occasion::Connected);
    assert_eq!(out.len(), 1);
    assert!(out[0].payload.is_empty() && out[0].retain);
    assert_passes(&off, &out[0]);
    assert!(
        restarted
            .messages(&off, &Snapshot::default(), Occasion::Connected)
            .is_empty()
    );
}

#[test]
fn order_events_go_out_once_and_never_retained() {
    let cfg = config("");
    let mut publisher = DiscoveryPublisher::default();
    let event = |seq: i64, event_type: &'static str| OrderEvent {
        seq,
        event_type,
        intent: INTENT_A.into(),
        item: "milk".into(),
        packages: 2,
        by: "rule:dairy".into(),
        at: 1_767_225_600,
    };
    let snap = Snapshot {
        events: vec![event(7, "order_requested"), event(9, "order_approved")],
        ..Snapshot::default()
    };
    let out = publisher.messages(&cfg, &snap, Occasion::Connected);
    let events: Vec<&Message> = out
        .iter()
        .filter(|m| m.topic == "larder/home-1/ha/events")
        .collect();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|m| !m.retain));
    let body: Value = serde_json::from_slice(&events[1].payload).expect("json");
    assert_eq!(body["event_type"], "order_approved");
    assert_eq!(body["at"], "2026-01-01T00:00:00Z");
    assert!(ORDER_EVENT_TYPES.contains(&body["event_type"].as_str().expect("str")));
    // The same snapshot again (or after a reconnect): not again.
    assert!(publisher.messages(&cfg, &snap, Occasion::Update).is_empty());
    let again = publisher.messages(&cfg, &snap, Occasion::Connected);
    assert!(again.iter().all(|m| m.topic != "larder/home-1/ha/events"));
}

#[test]
fn ledger_decisions_and_sent_intents_become_order_events() {
    let decision = |verdict: ledger::Outcome| LedgerRow {
        seq: 3,
        at: 100,
        kind: "decision".into(),
        body: Some(
            serde_json::to_string(&ledger::DecisionEntry {
                intent: INTENT_A.into(),
                item: "milk".into(),
                verdict,
                by: "ha:home-assistant".into(),
                packages: 2,
                price_ceiling: 2.0,
                currency: "EUR".into(),
                rules: Vec::new(),
                replies: Vec::new(),
            })
            .expect("json"),
        ),
        body_sha256: Vec::new(),
        prev_hash: Vec::new(),
        hash: Vec::new(),
    };
    let e = order_event(&decision(ledger::Outcome::Approved)).expect("event");
    assert_eq!(
        (e.event_type, e.item.as_str(), e.packages),
        ("order_approved", "milk", 2)
    );
    assert_eq!(
        order_event(&decision(ledger::Outcome::MemberDenied))
            .expect("e")
            .event_type,
        "order_denied"
    );
    assert!(order_event(&decision(ledger::Outcome::MemberApproved)).is_none());
    let mut erased = decision(ledger::Outcome::Asked);
    erased.body = None;
    assert!(order_event(&erased).is_none());
    let published = LedgerRow {
        kind: "published".into(),
        body: Some(
            serde_json::to_string(&ledger::Published {
                outbox: 1,
                message: "intent".into(),
                topic: "t".into(),
                intent: Some(INTENT_A.into()),
                payload_sha256: String::new(),
            })
            .expect("json"),
        ),
        ..decision(ledger::Outcome::Asked)
    };
    assert_eq!(
        order_event(&published).expect("sent").event_type,
        "order_sent"
    );
    let request = LedgerRow {
        body: Some(
            published
                .body
                .clone()
                .expect("body")
                .replace("\"intent\",", "\"approval_request\","),
        ),
        ..published.clone()
    };
    assert!(order_event(&request).is_none());
}

#[test]
fn an_items_view_forecasts_level_days_left_and_the_next_order() {
    let cfg = config("");
    let milk = cfg.item("milk").expect("milk");
    let now = 1_767_225_600;
    assert_eq!(item_view(milk, None, None, now).next_order.status, "none");
    let mut state = ItemState::default();
    forecast::observe(
        &milk.model,
        &mut state,
        &crate::core::Observation {
            at: now,
            kind: crate::core::ObservationKind::Level,
            amount: 6.0,
        },
    );
    let view = item_view(milk, Some(&state), None, now);
    assert_eq!(view.level, Some(6.0));
    let days = view.days_left.expect("days left from the declared 1 l/day");
    assert!((days - 6.0).abs() < 0.6, "{days}");
    assert_eq!(view.next_order.status, "planned");
    let at = view.next_order.at.expect("planned time");
    assert!(at >= now && at < now + 6 * DAY, "{at}");
    assert_eq!(at % 60, 0);
    // An open intent is the next order.
    let open = IntentRow {
        id: INTENT_A.into(),
        item: "milk".into(),
        state: IntentState::AwaitingApproval,
        product: "sku-1".into(),
        packages: 3,
        quantity: 3.0,
        unit_price: 1.1,
        price_ceiling: 3.3,
        currency: "EUR".into(),
        deliver_after: now,
        deliver_before: now,
        nonce: None,
        prompt_at: Some(now + 60),
        expires_at: Some(now + DAY),
        approvals_required: 1,
        why: Vec::new(),
        decided_by: None,
        created_at: now,
        updated_at: now,
    };
    let view = item_view(milk, Some(&state), Some(&open), now);
    assert_eq!(view.next_order.status, "awaiting_approval");
    assert_eq!(view.next_order.packages, Some(3));
    assert_eq!(view.next_order.at, Some(now + 60));
    // Pending only once prompted, and only until it expires.
    assert!(pending_view(&cfg, &open, 0, now).is_none());
    assert!(pending_view(&cfg, &open, 0, now + 60).is_some());
    assert!(pending_view(&cfg, &open, 0, now + DAY + 1).is_none());
}

#[test]
fn state_payloads_use_none_for_unknown_values_and_iso_times() {
    let cfg = config("");
    let snap = Snapshot {
        items: vec![item("milk", None)],
        pending: vec![pending(INTENT_A)],
        events: Vec::new(),
    };
    let messages = state_messages(&cfg, &snap);
    let milk: Value = serde_json::from_slice(&messages[0].payload).expect("json");
    assert_eq!(milk["level"], Value::Null);
    assert_eq!(milk["next_order"]["status"], "none");
    assert_eq!(messages[1].payload, b"1");
    let list: Value = serde_json::from_slice(&messages[2].payload).expect("json");
    assert_eq!(list["requests"][0]["intent"], INTENT_A);
    assert_eq!(list["requests"][0]["expires_at"], "2026-01-02T00:00:00Z");
    assert!(messages.iter().all(|m| m.retain));
}

#[test]
fn config_section_defaults_and_errors_by_key_path() {
    let cfg = config("");
    assert!(cfg.homeassistant.enabled);
    assert!(!cfg.homeassistant.trusted_approvals);
    assert_eq!(cfg.homeassistant.discovery_prefix, "homeassistant");
    assert_eq!(cfg.homeassistant.status_topic, "homeassistant/status");
    assert_eq!(cfg.homeassistant.approver, "home-assistant");
    let text = format!(
        "{CONFIG}\n[homeassistant]\ncolour = 1\ndiscovery-prefix = \"ha/#\"\napprover = \"anna\"\nbirth-delay-max-ms = -1\nstatus-topic = \"/x/\"\n"
    );
    let err = Config::parse(&text, std::path::Path::new("/x.toml")).expect_err("invalid");
    let text = err.to_string();
    for want in [
        "homeassistant.colour: unknown key",
        "homeassistant.discovery-prefix: ",
        "homeassistant.approver: \"anna\" is also a member's name",
        "homeassistant.birth-delay-max-ms: must be between 0 and 60000",
        "homeassistant.status-topic: \"/x/\" must not start or end with '/'",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

/// Anyone allowed to write discovery (Zigbee2MQTT, ESPHome and Tasmota
/// all are) can put a document at larder's discovery topic before it
/// starts. larder reads it back to learn what it announced: a forged one
/// must not make it publish to wildcard topics, clear topics outside its
/// own item states, or spin on a huge key list.
#[test]
fn a_forged_retained_document_is_read_back_safely() {
    let cfg = config("");
    let mut cmps = Map::new();
    for i in 0..60_000 {
        cmps.insert(
            format!("item_junk{i}_level"),
            json!({"p": "sensor", "x": 1}),
        );
    }
    for key in [
        "item_a/#_level",
        "item_b+_level",
        "item_c/../../status_level",
        "item__level",
        "approve_x/y",
    ] {
        cmps.insert(key.into(), json!({"p": "sensor", "x": 1}));
    }
    cmps.insert("item_stub/+_level".into(), json!({"p": "sensor"}));
    let forged = serde_json::to_vec(&json!({ "cmps": cmps })).expect("json");
    let started = std::time::Instant::now();
    let mut publisher = DiscoveryPublisher::new(Some(&forged));
    let out = publisher.messages(&cfg, &Snapshot::default(), Occasion::Connected);
    let took = started.elapsed();
    let topics = HaTopics::new(&cfg);
    let prefix = format!("{}/", topics.item_state("x").trim_end_matches("/x"));
    for m in &out {
        assert!(
            !m.topic.contains('+') && !m.topic.contains('#'),
            "{}",
            m.topic
        );
        if m.payload.is_empty() && m.topic != topics.discovery {
            let item = m.topic.strip_prefix(&prefix).expect("an item state topic");
            assert!(
                !item.is_empty()
                    && item
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{}",
                m.topic
            );
        }
    }
    let doc = discovery_of(&out, &cfg).remove(0);
    assert_passes(&cfg, &doc);
    assert!(cmps_len(&doc) <= 3 * 3 + 2 + MAX_REMOVAL_STUBS);
    assert!(
        out.len() <= 1 + MAX_REMOVAL_STUBS + 3 + 2,
        "{} messages",
        out.len()
    );
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}

fn cmps_len(message: &Message) -> usize {
    cmps(message).len()
}

#[test]
fn the_streamed_document_is_byte_for_byte_the_document() {
    let cfg = trusted();
    let snapshot = Snapshot {
        pending: vec![pending(INTENT_A)],
        ..Snapshot::default()
    };
    let current = components(&cfg, &snapshot);
    let mut removed = BTreeMap::new();
    removed.insert("item_gone_level".to_owned(), "sensor".to_owned());
    removed.insert("zz_gone".to_owned(), "button".to_owned());
    // A stub for a key that is announced again is dropped.
    removed.insert(format!("approve_{INTENT_A}"), "button".to_owned());
    let document = discovery_document(&cfg, &current, &removed);
    assert_eq!(
        discovery_bytes(&cfg, &current, &removed),
        serde_json::to_vec(&document).expect("json")
    );
    assert_eq!(
        document["cmps"].as_object().map_or(0, |c| c.len()),
        current.len() + 2
    );
}
