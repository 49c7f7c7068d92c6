//! MQTT discovery: every component larder announces (three sensors per
//! item, the pending-approvals sensor, the order-events entity, and in
//! trusted mode an approve and a deny button per pending request), the
//! device document around them with `{"p": …}` stubs for removed ones, and
//! its bytes streamed without copying the components.

use super::Message;
use super::topics::{HaTopics, PRESS_PAYLOAD, Press, node_id};
use super::views::{ORDER_EVENT_TYPES, Snapshot};
use crate::config::Config;
use crate::text::short;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The Home Assistant `device_class` and unit for an item's unit, where HA
/// has a device class whose units include it (`sensor/const.py`,
/// `DEVICE_CLASS_UNITS`); otherwise no device class and the unit as
/// configured.
pub fn level_class(unit: &str) -> (Option<&'static str>, String) {
    match unit {
        "kg" | "g" | "mg" | "lb" | "oz" => (Some("weight"), unit.to_owned()),
        "l" | "L" => (Some("volume_storage"), "L".to_owned()),
        "ml" | "mL" => (Some("volume_storage"), "mL".to_owned()),
        other => (None, other.to_owned()),
    }
}

/// A Home Assistant entity id object part: lower case, `[a-z0-9_]`.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The component key of one of an item's sensors (`item_<id>_<kind>`).
fn item_key(item: &str, kind: &str) -> String {
    format!("item_{item}_{kind}")
}

/// The item id of an item component key, if `key` is one (an id as
/// configuration allows: `[A-Za-z0-9_-]`, 1 to 64 characters).
pub(super) fn item_of_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("item_")?;
    ["_level", "_days_left", "_next_order"]
        .iter()
        .find_map(|kind| rest.strip_suffix(kind))
        .filter(|id| is_ident(id, 64))
}

/// `[A-Za-z0-9_-]{1,max}`: what larder's ids (and so its keys and topic
/// segments) are made of.
fn is_ident(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `key` with `platform` is a component larder announces (read
/// back from the broker, the document may be anyone's).
pub(super) fn is_own_component(key: &str, platform: &str) -> bool {
    match platform {
        "sensor" => key == "pending_approvals" || item_of_key(key).is_some(),
        "event" => key == "order_events",
        "button" => key
            .strip_prefix("approve_")
            .or_else(|| key.strip_prefix("deny_"))
            .is_some_and(|intent| is_ident(intent, 128)),
        _ => false,
    }
}

/// Every component larder announces for this configuration and state,
/// keyed by component key (stable; the unique id is `larder_<hub>_<key>`).
pub fn components(config: &Config, snapshot: &Snapshot) -> BTreeMap<String, Value> {
    let topics = HaTopics::new(config);
    let node = node_id(config);
    let unique = |key: &str| format!("{node}_{key}");
    let entity =
        |platform: &str, key: &str| format!("{platform}.{}", slug(&format!("{node}_{key}")));
    let mut out = BTreeMap::new();
    for item in &config.items {
        let state = topics.item_state(&item.id);
        let (device_class, unit) = level_class(&item.unit);
        let key = item_key(&item.id, "level");
        let mut level = json!({
            "p": "sensor",
            "name": format!("{} level", item.name),
            "uniq_id": unique(&key),
            "def_ent_id": entity("sensor", &key),
            "stat_t": state,
            "val_tpl": "{{ value_json.level }}",
            "unit_of_meas": unit,
            "stat_cla": "measurement",
            "ic": "mdi:fridge-outline",
        });
        if let Some(class) = device_class {
            level["dev_cla"] = json!(class);
            level.as_object_mut().map(|o| o.remove("ic"));
        }
        out.insert(key, level);
        let key = item_key(&item.id, "days_left");
        out.insert(
            key.clone(),
            json!({
                "p": "sensor",
                "name": format!("{} days left", item.name),
                "uniq_id": unique(&key),
                "def_ent_id": entity("sensor", &key),
                "stat_t": state,
                "val_tpl": "{{ value_json.days_left }}",
                "dev_cla": "duration",
                "unit_of_meas": "d",
                "stat_cla": "measurement",
            }),
        );
        let key = item_key(&item.id, "next_order");
        out.insert(
            key.clone(),
            json!({
                "p": "sensor",
                "name": format!("{} next order", item.name),
                "uniq_id": unique(&key),
                "def_ent_id": entity("sensor", &key),
                "stat_t": state,
                "val_tpl": "{{ value_json.next_order_at }}",
                "dev_cla": "timestamp",
                "json_attr_t": state,
                "json_attr_tpl": "{{ value_json.next_order | tojson }}",
            }),
        );
    }
    out.insert(
        "pending_approvals".into(),
        json!({
            "p": "sensor",
            "name": "Pending approvals",
            "uniq_id": unique("pending_approvals"),
            "def_ent_id": entity("sensor", "pending_approvals"),
            "stat_t": topics.pending(),
            "json_attr_t": topics.pending_attributes(),
            "stat_cla": "measurement",
            "ic": "mdi:cart-arrow-down",
        }),
    );
    out.insert(
        "order_events".into(),
        json!({
            "p": "event",
            "name": "Order events",
            "uniq_id": unique("order_events"),
            "def_ent_id": entity("event", "order_events"),
            "stat_t": topics.events(),
            "evt_typ": ORDER_EVENT_TYPES,
            "ic": "mdi:cart",
        }),
    );
    if config.homeassistant.trusted_approvals {
        for request in &snapshot.pending {
            for press in [Press::Approve, Press::Deny] {
                let key = format!("{}_{}", press.as_str(), request.intent);
                let verb = match press {
                    Press::Approve => "Approve",
                    Press::Deny => "Deny",
                };
                out.insert(
                    key.clone(),
                    json!({
                        "p": "button",
                        "name": format!("{verb} {} × {} ({})", request.packages, request.item_name, short(&request.intent)),
                        "uniq_id": unique(&key),
                        "def_ent_id": entity("button", &key),
                        "cmd_t": topics.press(press, &request.intent),
                        "pl_prs": PRESS_PAYLOAD,
                        "ic": match press { Press::Approve => "mdi:cart-check", Press::Deny => "mdi:cart-remove" },
                    }),
                );
            }
        }
    }
    out
}

/// The device discovery document: `dev`, `o`, shared availability and QoS,
/// the components, and a `{"p": …}` stub for every component in `removed`
/// (key → platform) that is not announced any more.
pub fn discovery_document(
    config: &Config,
    components: &BTreeMap<String, Value>,
    removed: &BTreeMap<String, String>,
) -> Value {
    let mut cmps = Map::new();
    for (key, platform) in removed {
        if !components.contains_key(key) {
            cmps.insert(key.clone(), json!({ "p": platform }));
        }
    }
    for (key, component) in components {
        cmps.insert(key.clone(), component.clone());
    }
    document_with(config, Value::Object(cmps))
}

/// [`discovery_document`] as the JSON bytes published, written straight
/// from the components (no copy of them: for 200 items that copy was the
/// publisher's largest allocation). Same bytes as serialising the document.
pub fn discovery_bytes(
    config: &Config,
    components: &BTreeMap<String, Value>,
    removed: &BTreeMap<String, String>,
) -> Vec<u8> {
    /// The `cmps` object: stubs and components merged in key order, as a
    /// `serde_json::Map` would hold them.
    struct Cmps<'a> {
        components: &'a BTreeMap<String, Value>,
        removed: &'a BTreeMap<String, String>,
    }
    impl serde::Serialize for Cmps<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut entries: Vec<(&str, Option<&Value>, &str)> = self
                .removed
                .iter()
                .filter(|(key, _)| !self.components.contains_key(*key))
                .map(|(key, platform)| (key.as_str(), None, platform.as_str()))
                .chain(
                    self.components
                        .iter()
                        .map(|(k, c)| (k.as_str(), Some(c), "")),
                )
                .collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut map = serializer.serialize_map(Some(entries.len()))?;
            for (key, component, platform) in entries {
                match component {
                    Some(component) => map.serialize_entry(key, component)?,
                    None => map.serialize_entry(key, &json!({ "p": platform }))?,
                }
            }
            map.end()
        }
    }
    let placeholder = document_with(config, Value::Null);
    let mut out = Vec::with_capacity(1024 + components.len() * 400);
    let mut ser = serde_json::Serializer::new(&mut out);
    {
        use serde::ser::{SerializeMap, Serializer as _};
        let Value::Object(fields) = &placeholder else {
            unreachable!("the document is an object")
        };
        let result = (|| {
            let mut map = (&mut ser).serialize_map(Some(fields.len()))?;
            for (key, value) in fields {
                if key == "cmps" {
                    map.serialize_entry(
                        key,
                        &Cmps {
                            components,
                            removed,
                        },
                    )?;
                } else {
                    map.serialize_entry(key, value)?;
                }
            }
            map.end()
        })();
        result.expect("serialising to a Vec cannot fail");
    }
    out
}

/// The document around `cmps`.
fn document_with(config: &Config, cmps: Value) -> Value {
    let topics = HaTopics::new(config);
    let version = env!("CARGO_PKG_VERSION");
    json!({
        "dev": {
            "ids": [node_id(config)],
            "name": format!("larder {}", config.hub.id),
            "mf": "larder",
            "mdl": "larder restocking hub",
            "sw": version,
        },
        "o": {
            "name": "larder",
            "sw": version,
        },
        "avty_t": topics.availability,
        "qos": 1,
        "cmps": cmps,
    })
}

/// The discovery messages larder publishes for a configuration in a
/// fresh state (no pending requests): what `larder discovery` prints.
pub fn discovery_messages(config: &Config) -> Vec<Message> {
    if !config.homeassistant.enabled {
        return Vec::new();
    }
    let topics = HaTopics::new(config);
    let document = discovery_document(
        config,
        &components(config, &Snapshot::default()),
        &BTreeMap::new(),
    );
    vec![Message {
        topic: topics.discovery,
        payload: serde_json::to_vec(&document).unwrap_or_default(),
        retain: true,
    }]
}
