//! The restocking decision through the real engine and a real SQLite file
//! (in process, simulated time; no broker needed): one vendor order tops
//! up that vendor's items that would be needed soon, and only those.

use crate::support::*;
use larder::config::Config;
use larder::crypto::keys::SigningKey;
use larder::engine::{Engine, Inbound};
use larder::store::Store;

/// 2026-03-02T10:00:00Z, a Monday morning.
const NOW: i64 = 1_772_445_600;

/// The grocer-and-farm household (`tests/fixtures/vendors.toml`) with
/// `top_up_days` and the milk's `milk_levels` (key, TOML value).
fn config(dir: &ScratchDir, top_up_days: f64, milk_levels: &[(&str, &str)]) -> Config {
    let mut config = TestConfig::fixture("vendors")
        .member("alex", &SigningKey::generate().public_key())
        .set("upstream", "top-up-days", top_up_days);
    for (key, value) in milk_levels {
        config = config.set_on_item("milk", key, value);
    }
    let text = config.render(dir, "mqtt://127.0.0.1:1");
    Config::parse(&text, &dir.join("larder.toml")).expect("config")
}

/// Milk is low; butter and eggs would last about ten days; which items
/// get an order at once?
fn ordered_after_one_pass(top_up_days: f64) -> Vec<(String, Vec<String>)> {
    ordered(top_up_days, 0.2, &[])
        .into_iter()
        .map(|(item, _, why)| (item, why))
        .collect()
}

/// One decision pass after one reading per item (milk at `milk_level`):
/// (item, packages, why) of every open intent.
fn ordered(
    top_up_days: f64,
    milk_level: f64,
    milk_levels: &[(&str, &str)],
) -> Vec<(String, u32, Vec<String>)> {
    let dir = temp_dir(&format!("topup-{top_up_days}"));
    let config = config(&dir, top_up_days, milk_levels);
    std::fs::create_dir_all(dir.join("state")).expect("state dir");
    let mut store = Store::open(&dir.join("state").join("larder.db")).expect("store");
    let engine = Engine::new(config, SigningKey::generate());
    let payloads = [
        level_json("fridge", "milk", 1, 1, milk_level),
        level_json("fridge", "butter", 1, 2, 5.0),
        level_json("fridge", "eggs", 1, 3, 5.0),
    ];
    let batch: Vec<Inbound<'_>> = payloads
        .iter()
        .map(|p| Inbound {
            topic: "fridge/events",
            payload: p,
            size: p.len(),
            retain: false,
            dup: false,
        })
        .collect();
    let outcome = engine.ingest(&mut store, &batch, NOW).expect("ingest");
    assert_eq!(outcome.stored, 3);
    engine
        .decide(&mut store, Some(&outcome.touched), NOW)
        .expect("decide");
    let read = store.read();
    ["milk", "butter", "eggs"]
        .into_iter()
        .filter_map(|item| {
            read.open_intent(item)
                .expect("read")
                .map(|i| (item.to_owned(), i.packages, i.why))
        })
        .collect()
}

#[test]
fn one_vendor_order_tops_up_that_vendors_items_needed_soon() {
    let alone = ordered_after_one_pass(0.0);
    assert_eq!(
        alone.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
        ["milk"],
        "without top-ups only the low item is ordered: {alone:?}"
    );
    let together = ordered_after_one_pass(3.0);
    let items: Vec<&str> = together.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        items,
        ["milk", "butter"],
        "butter rides along with the grocer's milk order; the farm's eggs wait"
    );
    let butter_why = &together[1].1;
    assert!(
        butter_why
            .iter()
            .any(|w| w.contains("topped up") && w.contains("grocer")),
        "{butter_why:?}"
    );
}

#[test]
fn a_minimum_level_orders_and_a_desired_level_sizes_the_order() {
    // 5 units of milk at 0.3 a day: no order by the forecast.
    assert!(ordered(0.0, 5.0, &[]).is_empty());
    // Below the household's minimum of 6: ordered, filled up to 12.
    let with_levels = ordered(0.0, 5.0, &[("min-level", "6.0"), ("desired-level", "12.0")]);
    assert_eq!(with_levels.len(), 1, "{with_levels:?}");
    let (item, packages, why) = &with_levels[0];
    assert_eq!(item, "milk");
    assert!(*packages >= 7, "5 + {packages} packages reach 12: {why:?}");
    assert!(
        why.iter().any(|w| w.contains("below the minimum of 6.00")),
        "{why:?}"
    );
}
