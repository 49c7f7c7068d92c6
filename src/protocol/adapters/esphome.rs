//! ESPHome: a component's state as plain text, in the device's configured
//! unit.

use super::signal::{AdapterError, Reading, Signal, invalid, unit_signal};
use super::value::{clip, number};
use crate::config::Device;
use serde_json::Value;

/// ESPHome `<prefix>/<component>/<name>/state`: the value as plain text.
pub(super) fn esphome(device: &Device, payload: &[u8]) -> Result<Reading, AdapterError> {
    let text = std::str::from_utf8(payload)
        .map_err(|e| AdapterError::Decode {
            format: "esphome",
            detail: e.to_string(),
        })?
        .trim();
    let mut r = Reading::default();
    match text {
        "ON" => r.signals.push(Signal::Relay(true)),
        "OFF" => r.signals.push(Signal::Relay(false)),
        _ => {
            let value: f64 = text.parse().map_err(|_| AdapterError::Decode {
                format: "esphome",
                detail: format!("state {:?} is not a number", clip(text)),
            })?;
            let spec = device.reading.as_ref().ok_or_else(|| {
                invalid("state", "device has no unit configured (devices[].unit)")
            })?;
            let value = number("state", &Value::from(value * spec.factor))
                .map_err(|_| invalid("state", format!("{text} is not a finite reading")))?;
            r.signals.push(unit_signal(spec.unit, value));
        }
    }
    Ok(r)
}
