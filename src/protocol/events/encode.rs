//! Encoding a native event in JSON or deterministic CBOR.

use super::{DeviceEvent, EventKind};
use crate::config::PayloadFormat;
use crate::protocol::cbor::cbor_to_vec;

/// Encodes an event in the native format (used by the demo, tests and tools).
///
/// JSON fields come in schema order; CBOR uses definite lengths, the
/// shortest float that keeps the value, and RFC 8949 deterministic key order.
/// An event that would not validate encodes to bytes `decode_event` refuses.
pub fn encode_event(format: PayloadFormat, event: &DeviceEvent) -> Vec<u8> {
    let washer = event.kind == EventKind::WasherCycle;
    match format {
        // Adapter formats have no native encoding; JSON is the fallback.
        PayloadFormat::Json
        | PayloadFormat::Zigbee2mqtt
        | PayloadFormat::Tasmota
        | PayloadFormat::Shelly
        | PayloadFormat::Esphome
        | PayloadFormat::Homeconnect
        | PayloadFormat::JsonPath => {
            #[derive(serde::Serialize)]
            struct JsonEvent<'a> {
                v: u8,
                device: &'a str,
                epoch: u64,
                seq: u64,
                #[serde(skip_serializing_if = "Option::is_none")]
                ts: Option<i64>,
                kind: &'static str,
                slot: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                amount: Option<f64>,
                #[serde(skip_serializing_if = "Option::is_none")]
                dose: Option<f64>,
            }
            let json = JsonEvent {
                v: 1,
                device: &event.device,
                epoch: event.epoch,
                seq: event.seq,
                ts: event.ts,
                kind: event.kind.as_str(),
                slot: &event.slot,
                amount: (!washer).then_some(event.amount),
                dose: washer.then_some(event.amount),
            };
            serde_json::to_vec(&json).expect("a plain struct always serializes to JSON")
        }
        PayloadFormat::Cbor => {
            use ciborium::Value;
            let text = |s: &str| Value::Text(s.to_owned());
            // Deterministic order: shorter keys first, then bytewise.
            let mut entries = vec![(text("v"), Value::Integer(1.into()))];
            if let Some(ts) = event.ts {
                entries.push((text("ts"), Value::Integer(ts.into())));
            }
            entries.push((text("seq"), Value::Integer(event.seq.into())));
            if washer {
                entries.push((text("dose"), Value::Float(event.amount)));
            }
            entries.push((text("kind"), text(event.kind.as_str())));
            entries.push((text("slot"), text(&event.slot)));
            entries.push((text("epoch"), Value::Integer(event.epoch.into())));
            if !washer {
                entries.push((text("amount"), Value::Float(event.amount)));
            }
            entries.push((text("device"), text(&event.device)));
            cbor_to_vec(&Value::Map(entries))
        }
    }
}
