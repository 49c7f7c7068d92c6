//! Foreign device payloads (Zigbee2MQTT, Tasmota, Shelly, ESPHome, Home
//! Connect, generic JSON) → typed [`Signal`]s, and the per-device pipeline
//! from signals to item observations ([`apply`], [`tick`]) over the state
//! machines in `core::signals`.
//!
//! Pure: no IO, time is an argument. Every payload is size-checked before
//! parsing. Unknown fields are ignored (firmware adds fields); a payload
//! without the field the configured device needs is refused naming it.
//! Formats and topics: `docs/devices.md`.
//!
//! # Files
//! - `signal`: what a payload says (`Signal`, `Reading`) and `AdapterError`.
//! - One file per ecosystem: `zigbee2mqtt`, `tasmota`, `shelly`, `esphome`,
//!   `homeconnect`, and `json_path` (any JSON, by a configured path); they
//!   share the number and time checks in `value`.
//! - `needed`: whether a reading has what the configured device needs.
//! - `pipeline`: per-device state, redelivery detection, `apply` and `tick`.
//! - `describe`: what `larder decode` prints.

mod describe;
mod esphome;
mod homeconnect;
mod json_path;
mod needed;
mod pipeline;
mod shelly;
mod signal;
mod tasmota;
mod value;
mod zigbee2mqtt;

#[cfg(test)]
mod tests;

pub use describe::describe;
pub use needed::check_needed;
pub use pipeline::{
    Applied, DeviceState, RECENT_PAYLOADS, apply, derived_seq, is_redelivery, payload_digest,
    remember_payload, tick,
};
pub use signal::{AdapterError, Reading, Signal};

use crate::config::{Device, PayloadFormat};
use esphome::esphome;
use homeconnect::homeconnect;
use json_path::json_path;
use serde_json::Value;
use shelly::shelly;
use tasmota::tasmota;
use value::kind_of;
use zigbee2mqtt::zigbee2mqtt;

/// Largest adapter payload accepted, in bytes (checked before parsing; a
/// Zigbee2MQTT plug state is about 400 bytes, a Home Connect event batch
/// a few KiB).
pub const MAX_ADAPTER_BYTES: usize = 8192;

/// Parses one payload of `device` that arrived on `topic` into signals.
/// Unknown fields are ignored; see [`check_needed`] for what the device
/// requires.
pub fn decode(device: &Device, topic: &str, payload: &[u8]) -> Result<Reading, AdapterError> {
    if payload.len() > MAX_ADAPTER_BYTES {
        return Err(AdapterError::TooLarge {
            size: payload.len(),
            limit: MAX_ADAPTER_BYTES,
        });
    }
    let format = device.format.name();
    let json = || -> Result<serde_json::Map<String, Value>, AdapterError> {
        match serde_json::from_slice::<Value>(payload) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(AdapterError::Decode {
                format,
                detail: format!("expected a JSON object, got {}", kind_of(&other)),
            }),
            Err(e) => Err(AdapterError::Decode {
                format,
                detail: e.to_string(),
            }),
        }
    };
    match device.format {
        PayloadFormat::Json | PayloadFormat::Cbor => Err(AdapterError::Decode {
            format,
            detail: "native events are decoded by wire.rs".to_owned(),
        }),
        PayloadFormat::Zigbee2mqtt => zigbee2mqtt(&json()?),
        PayloadFormat::Tasmota => tasmota(&json()?),
        PayloadFormat::Shelly => shelly(device, topic, &json()?),
        PayloadFormat::Esphome => esphome(device, payload),
        PayloadFormat::Homeconnect => homeconnect(&json()?),
        PayloadFormat::JsonPath => json_path(device, &Value::Object(json()?)),
    }
}
