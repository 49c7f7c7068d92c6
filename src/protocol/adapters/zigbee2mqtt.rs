//! Zigbee2MQTT: a device's flat JSON state on `zigbee2mqtt/<friendly name>`.

use super::signal::{AdapterError, Reading, Signal, invalid};
use super::value::{device_time, number, optional_number, plausible_ts};
use serde_json::Value;

/// Zigbee2MQTT `zigbee2mqtt/<friendly name>`: flat JSON state.
pub(super) fn zigbee2mqtt(map: &serde_json::Map<String, Value>) -> Result<Reading, AdapterError> {
    let mut r = Reading::default();
    for (key, v) in map {
        // `null` is an attribute the device has not reported yet.
        if v.is_null() {
            continue;
        }
        match key.as_str() {
            "power" => r.signals.push(Signal::Power(number(key, v)?)),
            "energy" => r
                .signals
                .extend(optional_number(key, v).map(Signal::Energy)),
            "state" => match v.as_str() {
                Some("ON") => r.signals.push(Signal::Relay(true)),
                Some("OFF") => r.signals.push(Signal::Relay(false)),
                _ => return Err(invalid(key, "expected \"ON\" or \"OFF\"")),
            },
            "contact" => r.signals.extend(v.as_bool().map(Signal::Contact)),
            "temperature" => r
                .signals
                .extend(optional_number(key, v).map(Signal::Temperature)),
            // Epoch milliseconds (`last_seen: epoch`) or ISO 8601 with an
            // offset (`ISO_8601`, `ISO_8601_local`).
            "last_seen" => {
                r.at = match v {
                    Value::Number(_) => device_time(v, 1000.0),
                    Value::String(s) => s
                        .parse::<jiff::Timestamp>()
                        .ok()
                        .and_then(|t| plausible_ts(t.as_second() as f64)),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    Ok(r)
}
