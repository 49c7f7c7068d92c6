//! A port of the rules Home Assistant applies to an MQTT device discovery
//! message, each citing the file under `homeassistant/components/mqtt/`
//! (HA 2026.2.3; `/work/shared/notes/ecosystem.md` §1.6) or `sensor/` it
//! comes from, for the keys and platforms larder uses. It is stricter than
//! HA where larder chose to be (abbreviated keys only, no key HA would
//! silently drop, only device classes checked here). Used by the unit and
//! integration tests on every payload larder publishes.

use serde_json::Value;
use std::collections::BTreeSet;

/// `const.py`: `SUPPORTED_COMPONENTS`.
const SUPPORTED_COMPONENTS: [&str; 28] = [
    "alarm_control_panel",
    "binary_sensor",
    "button",
    "camera",
    "climate",
    "cover",
    "device_automation",
    "device_tracker",
    "event",
    "fan",
    "humidifier",
    "image",
    "lawn_mower",
    "light",
    "lock",
    "notify",
    "number",
    "scene",
    "siren",
    "select",
    "sensor",
    "switch",
    "tag",
    "text",
    "update",
    "vacuum",
    "valve",
    "water_heater",
];

/// `abbreviations.py`: `ABBREVIATIONS` (the keys larder may use; every
/// one here is an abbreviation or a key HA has no abbreviation for).
const COMPONENT_KEYS: [&str; 25] = [
    "p",
    "name",
    "uniq_id",
    "def_ent_id",
    "stat_t",
    "val_tpl",
    "unit_of_meas",
    "stat_cla",
    "dev_cla",
    "json_attr_t",
    "json_attr_tpl",
    "ic",
    "cmd_t",
    "cmd_tpl",
    "pl_prs",
    "evt_typ",
    "avty_t",
    "avty",
    "avty_mode",
    "avty_tpl",
    "qos",
    "ent_cat",
    "en",
    "exp_aft",
    "sug_dsp_prc",
];

/// Full names whose abbreviation must be used instead (`abbreviations.py`).
const HAS_ABBREVIATION: [&str; 18] = [
    "platform",
    "unique_id",
    "default_entity_id",
    "state_topic",
    "value_template",
    "unit_of_measurement",
    "state_class",
    "device_class",
    "json_attributes_topic",
    "json_attributes_template",
    "icon",
    "command_topic",
    "payload_press",
    "event_types",
    "availability_topic",
    "availability",
    "device",
    "origin",
];

/// `schemas.py` `DEVICE_DISCOVERY_SCHEMA`: root keys (device, origin,
/// components, and the shared options).
const ROOT_KEYS: [&str; 11] = [
    "dev",
    "o",
    "cmps",
    "avty_t",
    "avty",
    "avty_mode",
    "avty_tpl",
    "qos",
    "stat_t",
    "cmd_t",
    "enc",
];

/// `abbreviations.py` `DEVICE_ABBREVIATIONS` (+ `via_device`, unabbreviated).
const DEVICE_KEYS: [&str; 12] = [
    "ids",
    "cns",
    "name",
    "mf",
    "mdl",
    "mdl_id",
    "hw",
    "sw",
    "sn",
    "sa",
    "cu",
    "via_device",
];

/// `abbreviations.py` `ORIGIN_ABBREVIATIONS`.
const ORIGIN_KEYS: [&str; 3] = ["name", "sw", "url"];

/// `sensor/const.py` `DEVICE_CLASS_UNITS` for the classes larder uses; a
/// class not listed here is refused by this checker (larder uses none else).
fn units_of(device_class: &str) -> Option<&'static [&'static str]> {
    Some(match device_class {
        "duration" => &["d", "h", "min", "s", "ms", "µs"],
        "weight" => &["kg", "g", "mg", "µg", "oz", "lb", "st"],
        "volume_storage" => &["L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF", "MCF"],
        "timestamp" => &[],
        _ => return None,
    })
}

/// `sensor/const.py` `DEVICE_CLASS_STATE_CLASSES` for those classes.
fn state_classes_of(device_class: &str) -> &'static [&'static str] {
    match device_class {
        "duration" | "weight" => &["measurement", "total", "total_increasing"],
        "volume_storage" => &["measurement"],
        // `sensor/__init__.py`: a timestamp sensor has no state class.
        "timestamp" => &[],
        _ => &["measurement", "total", "total_increasing"],
    }
}

/// `[a-zA-Z0-9_-]+` (`discovery.py` `TOPIC_MATCHER`).
fn id_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn exact_topic(t: &Value) -> bool {
    t.as_str()
        .is_some_and(|t| !t.is_empty() && !t.contains(['+', '#', '\0']))
}

/// Every Home Assistant rule the discovery message (`topic`, `payload`)
/// breaks, each naming the component and key; empty if it passes.
/// `prefix` is the discovery prefix.
pub fn check_discovery(prefix: &str, topic: &str, payload: &[u8]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bad = |s: String| problems.push(s);
    // discovery.py TOPIC_MATCHER: <prefix>/device/<object_id>/config.
    match topic
        .strip_prefix(prefix)
        .and_then(|t| t.strip_prefix("/device/"))
        .and_then(|t| t.strip_suffix("/config"))
    {
        Some(object_id) if id_chars(object_id) => {}
        _ => bad(format!(
            "topic {topic:?} is not {prefix}/device/<[a-zA-Z0-9_-]+>/config"
        )),
    }
    if payload.is_empty() {
        return problems; // An empty payload removes the device: valid.
    }
    let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(payload) else {
        bad("payload is not a JSON object".into());
        return problems;
    };
    for key in root.keys() {
        if !ROOT_KEYS.contains(&key.as_str()) {
            bad(format!(
                "root: key {key:?} is not allowed (DEVICE_DISCOVERY_SCHEMA)"
            ));
        }
    }
    // schemas.py MQTT_ENTITY_DEVICE_INFO_SCHEMA: identifiers or connections.
    match root.get("dev").and_then(Value::as_object) {
        None => bad("root: dev is required (DEVICE_DISCOVERY_SCHEMA)".into()),
        Some(dev) => {
            let ids_ok = match dev.get("ids") {
                Some(Value::String(s)) => !s.is_empty(),
                Some(Value::Array(a)) => !a.is_empty() && a.iter().all(Value::is_string),
                _ => false,
            };
            if !ids_ok && !dev.get("cns").is_some_and(Value::is_array) {
                bad("dev: needs ids or cns (MQTT_ENTITY_DEVICE_INFO_SCHEMA)".into());
            }
            for key in dev.keys() {
                if !DEVICE_KEYS.contains(&key.as_str()) {
                    bad(format!("dev: unknown or unabbreviated key {key:?}"));
                }
            }
        }
    }
    // schemas.py MQTT_ORIGIN_INFO_SCHEMA: name required.
    match root.get("o").and_then(Value::as_object) {
        None => bad("root: o is required for device discovery".into()),
        Some(o) => {
            if o.get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                bad("o: name is required (MQTT_ORIGIN_INFO_SCHEMA)".into());
            }
            for key in o.keys() {
                if !ORIGIN_KEYS.contains(&key.as_str()) {
                    bad(format!("o: unknown or unabbreviated key {key:?}"));
                }
            }
        }
    }
    // schemas.py _MQTT_AVAILABILITY_SCHEMA: one form or the other.
    if root.contains_key("avty_t") && root.contains_key("avty") {
        bad("root: avty_t and avty are mutually exclusive".into());
    }
    if let Some(t) = root.get("avty_t") {
        if !exact_topic(t) {
            bad("root: avty_t is not an exact topic".into());
        }
    }
    if let Some(q) = root.get("qos") {
        if q.as_u64().is_none_or(|q| q > 2) {
            bad("root: qos must be 0, 1 or 2".into());
        }
    }
    let root_state = root.contains_key("stat_t");
    let root_command = root.contains_key("cmd_t");
    let Some(cmps) = root.get("cmps").and_then(Value::as_object) else {
        bad("root: cmps is required (DEVICE_DISCOVERY_SCHEMA)".into());
        return problems;
    };
    if cmps.is_empty() {
        bad("root: cmps is empty".into());
    }
    let mut unique_ids = BTreeSet::new();
    for (key, component) in cmps {
        let at = format!("cmps.{key}");
        if !id_chars(key) {
            bad(format!("{at}: component key is not [a-zA-Z0-9_-]"));
        }
        let Some(c) = component.as_object() else {
            bad(format!("{at}: not an object"));
            continue;
        };
        // Every component needs `p` from SUPPORTED_COMPONENTS.
        let platform = c.get("p").and_then(Value::as_str).unwrap_or_default();
        if !SUPPORTED_COMPONENTS.contains(&platform) {
            bad(format!(
                "{at}: p {platform:?} is not a supported component (const.py)"
            ));
            continue;
        }
        if c.len() == 1 {
            continue; // {"p": …} removes the component.
        }
        for k in c.keys() {
            if k == "object_id" || k == "obj_id" {
                bad(format!("{at}: object_id is deprecated (use def_ent_id)"));
            } else if HAS_ABBREVIATION.contains(&k.as_str()) {
                bad(format!(
                    "{at}: {k:?} must be written abbreviated (abbreviations.py)"
                ));
            } else if !COMPONENT_KEYS.contains(&k.as_str()) {
                bad(format!(
                    "{at}: unknown key {k:?} (HA would drop it silently)"
                ));
            }
        }
        // discovery.py check_unique_id: entity platforms need a unique id.
        match c.get("uniq_id").and_then(Value::as_str) {
            None => bad(format!("{at}: uniq_id is required")),
            Some(id) => {
                if !id_chars(id) {
                    bad(format!("{at}: uniq_id {id:?} is not [a-zA-Z0-9_-]"));
                }
                if !unique_ids.insert(id.to_owned()) {
                    bad(format!("{at}: uniq_id {id:?} is used twice"));
                }
            }
        }
        if let Some(id) = c.get("def_ent_id") {
            let ok =
                id.as_str()
                    .and_then(|id| id.split_once('.'))
                    .is_some_and(|(domain, object)| {
                        domain == platform
                            && !object.is_empty()
                            && object
                                .bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    });
            if !ok {
                bad(format!(
                    "{at}: def_ent_id {id} is not {platform}.<[a-z0-9_]+>"
                ));
            }
        }
        if c.contains_key("avty_t") && c.contains_key("avty") {
            bad(format!("{at}: avty_t and avty are mutually exclusive"));
        }
        for topic_key in ["stat_t", "cmd_t", "json_attr_t", "avty_t"] {
            if let Some(t) = c.get(topic_key) {
                if !exact_topic(t) {
                    bad(format!("{at}: {topic_key} is not an exact topic"));
                }
            }
        }
        if c.contains_key("json_attr_tpl") && !c.contains_key("json_attr_t") {
            bad(format!("{at}: json_attr_tpl without json_attr_t"));
        }
        let has_state = c.contains_key("stat_t") || root_state;
        let has_command = c.contains_key("cmd_t") || root_command;
        let device_class = c.get("dev_cla").and_then(Value::as_str);
        match platform {
            // config.py MQTT_RO_SCHEMA + sensor.py.
            "sensor" => {
                if !has_state {
                    bad(format!("{at}: sensor needs stat_t (MQTT_RO_SCHEMA)"));
                }
                let unit = c.get("unit_of_meas").and_then(Value::as_str);
                let state_class = c.get("stat_cla").and_then(Value::as_str);
                if let Some(sc) = state_class {
                    if ![
                        "measurement",
                        "total",
                        "total_increasing",
                        "measurement_angle",
                    ]
                    .contains(&sc)
                    {
                        bad(format!("{at}: stat_cla {sc:?} is unknown"));
                    }
                }
                if let Some(class) = device_class {
                    match units_of(class) {
                        None => bad(format!(
                            "{at}: dev_cla {class:?} is not checked here; leave it out"
                        )),
                        Some(units) => {
                            // sensor.py validate_sensor_state_and_device_class_config.
                            if let Some(unit) = unit {
                                if !units.contains(&unit) {
                                    bad(format!(
                                        "{at}: unit {unit:?} is not valid for dev_cla {class:?}"
                                    ));
                                }
                            } else if !units.is_empty() && class != "timestamp" {
                                bad(format!("{at}: dev_cla {class:?} needs a unit"));
                            }
                            if let Some(sc) = state_class {
                                if !state_classes_of(class).contains(&sc) {
                                    bad(format!(
                                        "{at}: stat_cla {sc:?} is not valid for dev_cla {class:?}"
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            // event.py: MQTT_RO_SCHEMA + event_types, device_class set.
            "event" => {
                if !has_state {
                    bad(format!("{at}: event needs stat_t (MQTT_RO_SCHEMA)"));
                }
                match c.get("evt_typ").and_then(Value::as_array) {
                    Some(types) if !types.is_empty() && types.iter().all(Value::is_string) => {}
                    _ => bad(format!(
                        "{at}: event needs evt_typ, a non-empty list of strings"
                    )),
                }
                if let Some(class) = device_class {
                    if !["doorbell", "button", "motion"].contains(&class) {
                        bad(format!(
                            "{at}: event dev_cla {class:?} is not doorbell/button/motion"
                        ));
                    }
                }
            }
            // button.py: command_topic required; device_class set.
            "button" => {
                if !has_command {
                    bad(format!("{at}: button needs cmd_t"));
                }
                if let Some(class) = device_class {
                    if !["identify", "restart", "update"].contains(&class) {
                        bad(format!(
                            "{at}: button dev_cla {class:?} is not identify/restart/update"
                        ));
                    }
                }
            }
            other => bad(format!("{at}: platform {other:?} is not checked here")),
        }
    }
    problems
}
