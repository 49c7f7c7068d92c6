//! Whole configuration files: the annotated example, the CLI's invalid test
//! file, the minimal file's defaults, and loading one from disk.

use super::{ConfigTestDir, EXAMPLE, INVALID, MINIMAL, check, ok};
use crate::config::{Config, ConfigError, DEFAULT_STATE_DIR, PayloadFormat};
use crate::core::forecast::{ItemModel, Measure};
use crate::core::rules::{CategoryPolicy, OrderCap, QuietHours, Rules};
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn the_example_config_is_valid_and_means_what_it_says() {
    let c = ok(EXAMPLE);
    assert_eq!(c.hub.id, "home");
    assert_eq!(c.hub.state_dir, Path::new("/var/lib/larder"));
    assert_eq!(c.hub.key_file, Path::new("/var/lib/larder/hub.key"));
    assert_eq!(
        c.hub.database_path(),
        Path::new("/var/lib/larder/larder.db")
    );
    assert_eq!(
        (c.mqtt.host.as_str(), c.mqtt.port, c.mqtt.tls),
        ("127.0.0.1", 1883, false)
    );
    assert_eq!(c.mqtt.client_id, "larder-home");
    assert_eq!(c.upstream.topic, "larder/home/upstream/intents");
    assert!((c.upstream.price_tolerance - 0.10).abs() < 1e-12);
    let devices: Vec<_> = c
        .devices
        .iter()
        .map(|d| (d.id.as_str(), d.format))
        .collect();
    assert_eq!(
        devices,
        [
            ("fridge", PayloadFormat::Json),
            ("washer", PayloadFormat::Cbor)
        ]
    );
    let ids: Vec<_> = c.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["milk", "eggs", "cold_cuts", "laundry_detergent"]);
    let milk = c.item("milk").unwrap();
    assert_eq!(milk.model.declared_per_day, Some(2.0 / 7.0));
    assert_eq!(milk.model.shelf_life_days, Some(7.0));
    let ham = c.item_for_slot("fridge", "deli-drawer").unwrap();
    assert!(
        (ham.model.noise - 3.0).abs() < 1e-9,
        "default noise is 2 % of 150 g"
    );
    let detergent = c.item("laundry_detergent").unwrap();
    assert_eq!(detergent.model.measure, Measure::Consumption);
    assert_eq!(detergent.category, "household");
    assert_eq!(c.members.len(), 2);
    assert!(c.member("piotr").is_some_and(|m| m.may_approve));
    assert_eq!(c.rules.auto_approve_up_to, 8.0);
    assert_eq!(c.rules.monthly_budget, Some(150.0));
    assert_eq!(
        c.rules.quiet_hours,
        Some(QuietHours {
            start_minute: 22 * 60,
            end_minute: 7 * 60
        })
    );
    assert_eq!(
        c.rules.max_orders_per_item,
        Some(OrderCap {
            count: 2,
            period_days: 7
        })
    );
    assert_eq!(c.policy_for("dairy"), CategoryPolicy::Allow);
    assert_eq!(c.policy_for("meat"), CategoryPolicy::Ask);
    assert_eq!(c.policy_for("toys"), CategoryPolicy::Ask);
    assert_eq!(c.approvals.request_ttl_secs, 24 * 3600);
    assert_eq!(c.approvals.cancel_window_secs, 2 * 3600);
    assert_eq!(c.warnings(), Vec::<String>::new());
}

#[test]
fn the_cli_test_file_reports_each_documented_problem() {
    check(
        INVALID,
        &[
            "items[0].colour: unknown key",
            "items[0].device: unknown device \"freezer\"",
            "items[1].id: duplicate id \"milk\" (also items[0].id)",
            "items[1].currency: \"usd\" is not an ISO 4217 code",
            "rules.quiet-hours.start: \"10pm\" is not a time",
            "rules.approvals-required: 2 approvals required but only 1",
        ],
    );
}

#[test]
fn defaults_are_applied() {
    let c = ok(MINIMAL);
    assert_eq!(c.hub.state_dir, Path::new(DEFAULT_STATE_DIR));
    assert_eq!(c.hub.key_file, Path::new("/var/lib/larder/hub.key"));
    assert_eq!(c.hub.timezone, None);
    assert_eq!((c.mqtt.port, c.mqtt.tls), (1883, false));
    assert_eq!(c.mqtt.client_id, "larder-home");
    assert_eq!(
        (c.mqtt.username.as_ref(), c.mqtt.password_file.as_ref()),
        (None, None)
    );
    assert_eq!(c.mqtt.keep_alive_secs, 30);
    assert_eq!(c.mqtt.max_payload_bytes, 65536);
    assert_eq!(c.upstream.topic, "larder/home/upstream/intents");
    assert_eq!(c.upstream.ack_topic, "larder/home/upstream/acks");
    assert!((c.upstream.price_tolerance - 0.10).abs() < 1e-12);
    let milk = &c.items[0];
    assert_eq!(
        milk.currency, "EUR",
        "item currency defaults to rules.currency"
    );
    let expected = ItemModel {
        package_size: 1.0,
        lead_time_days: 1.0,
        review_days: 3.0,
        shelf_life_days: None,
        service_level: 0.95,
        declared_per_day: None,
        measure: Measure::Level,
        noise: 0.02,
    };
    assert_eq!(milk.model, expected);
    assert!(c.members[0].may_approve);
    let rules = Rules {
        auto_approve_up_to: 0.0,
        monthly_budget: None,
        categories: BTreeMap::new(),
        default_policy: CategoryPolicy::Ask,
        quiet_hours: None,
        max_orders_per_item: None,
        approvals_required: 1,
    };
    assert_eq!(c.rules, rules);
    assert_eq!(c.approvals.request_ttl_secs, 86400);
}

#[test]
fn load_reads_the_file_and_reports_io_errors_by_path() {
    let dir = ConfigTestDir::new("load");
    let file = dir.0.join("larder.toml");
    std::fs::write(&file, EXAMPLE).unwrap();
    assert_eq!(Config::load(&file).unwrap().items.len(), 4);
    let missing = dir.0.join("missing.toml");
    let e = Config::load(&missing).unwrap_err();
    assert!(
        matches!(e, ConfigError::Io { ref path, .. } if path == &missing),
        "{e}"
    );
}
