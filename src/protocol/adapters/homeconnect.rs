//! Home Connect (bridged to MQTT): programme finished and the i-Dos tanks,
//! from the SSE event data or a flattened object.

use super::signal::{AdapterError, Reading, Signal, invalid};
use super::value::device_time;
use serde_json::Value;

/// Home Connect events as bridged to MQTT: the SSE event data
/// (`{"haId", "items":[{"key","value","timestamp"}]}`) or a flattened
/// object (`{"<key>": <value>}`, as hcpy publishes).
pub(super) fn homeconnect(map: &serde_json::Map<String, Value>) -> Result<Reading, AdapterError> {
    let mut r = Reading::default();
    if let Some(items) = map.get("items") {
        let items = items
            .as_array()
            .ok_or_else(|| invalid("items", "expected an array"))?;
        for (i, item) in items.iter().enumerate() {
            let Some(key) = item.get("key").and_then(Value::as_str) else {
                return Err(invalid(
                    &format!("items[{i}].key"),
                    "missing or not a string",
                ));
            };
            let value = item.get("value").unwrap_or(&Value::Null);
            let before = r.signals.len();
            homeconnect_key(&mut r, key, value);
            if r.signals.len() > before {
                if let Some(at) = item.get("timestamp").and_then(|ts| device_time(ts, 1.0)) {
                    r.at = Some(at);
                }
            }
        }
    } else {
        for (key, value) in map {
            homeconnect_key(&mut r, key, value);
        }
    }
    Ok(r)
}

fn homeconnect_key(r: &mut Reading, key: &str, value: &Value) {
    // Enum values are `BSH.Common.EnumType.EventPresentState.Present`;
    // bridges may shorten them to the last segment or use booleans.
    let last = |v: &Value| match v {
        Value::String(s) => s.rsplit('.').next().unwrap_or("").to_owned(),
        Value::Bool(b) => if *b { "Present" } else { "Off" }.to_owned(),
        _ => String::new(),
    };
    let short = key.strip_prefix("LaundryCare.Washer.").unwrap_or(key);
    let short = short
        .strip_prefix("Event.")
        .or_else(|| short.strip_prefix("Option."))
        .unwrap_or(short);
    if key == "BSH.Common.Event.ProgramFinished" || key == "ProgramFinished" {
        if last(value) == "Present" {
            r.signals.push(Signal::ProgramFinished);
        }
        return;
    }
    for tank in [1u8, 2] {
        if short == format!("IDos{tank}FillLevelPoor") {
            r.signals
                .push(Signal::IdosFillLevelPoor(tank, last(value) == "Present"));
            return;
        }
        // Both spellings occur in real data (HA core#140551, ioBroker#94).
        if short == format!("IDos{tank}Active") || short == format!("IDos{tank}.Active") {
            let on = match value {
                Value::Bool(b) => *b,
                v => matches!(last(v).as_str(), "On" | "true" | "Present"),
            };
            r.signals.push(Signal::IdosActive(tank, on));
            return;
        }
    }
    if key == "BSH.Common.Status.DoorState" {
        match last(value).as_str() {
            "Closed" | "Locked" => r.signals.push(Signal::Contact(true)),
            "Open" => r.signals.push(Signal::Contact(false)),
            _ => {}
        }
    }
}
