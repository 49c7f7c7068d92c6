//! Foreign device payloads (Zigbee2MQTT, Tasmota, Shelly, ESPHome, Home
//! Connect, generic JSON) → typed [`Signal`]s, and the per-device pipeline
//! from signals to item observations ([`apply`], [`tick`]) over the state
//! machines in `core::signals`.
//!
//! Pure: no IO, time is an argument. Every payload is size-checked before
//! parsing. Unknown fields are ignored (firmware adds fields); a payload
//! without the field the configured device needs is refused naming it.
//! Formats and topics: `docs/devices.md`.

use crate::config::{Device, PayloadFormat, Unit};
use crate::core::ObservationKind;
use crate::core::signals::{
    Derived, SLOT_CYCLE, SLOT_IDOS1, SLOT_IDOS2, ScaleState, WasherOutcome, WasherState,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Largest adapter payload accepted, in bytes (checked before parsing; a
/// Zigbee2MQTT plug state is about 400 bytes, a Home Connect event batch
/// a few KiB).
pub const MAX_ADAPTER_BYTES: usize = 8192;

/// A typed measurement read from a device payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// Active power, W.
    Power(f64),
    /// Energy counter, kWh.
    Energy(f64),
    /// Relay / output state (`false` = switched off).
    Relay(bool),
    /// Load-cell weight, kg.
    Weight(f64),
    /// Load-cell raw count (Tasmota `WeightRaw`).
    WeightRaw(i64),
    /// Contact sensor (`true` = closed). Not needed by any feature.
    Contact(bool),
    /// Temperature, °C. Not needed by any feature.
    Temperature(f64),
    /// Home Connect `BSH.Common.Event.ProgramFinished` (present).
    ProgramFinished,
    /// Home Connect `IDos<n>FillLevelPoor`: tank, present (`false` = Off
    /// or Confirmed).
    IdosFillLevelPoor(u8, bool),
    /// Home Connect `IDos<n>Active` / `IDos<n>.Active`: tank, on.
    IdosActive(u8, bool),
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signal::Power(w) => write!(f, "power {w} W"),
            Signal::Energy(kwh) => write!(f, "energy {kwh} kWh"),
            Signal::Relay(on) => write!(f, "relay {}", if *on { "on" } else { "off" }),
            Signal::Weight(kg) => write!(f, "weight {kg} kg"),
            Signal::WeightRaw(raw) => write!(f, "weight raw {raw}"),
            Signal::Contact(closed) => {
                write!(f, "contact {}", if *closed { "closed" } else { "open" })
            }
            Signal::Temperature(c) => write!(f, "temperature {c} °C"),
            Signal::ProgramFinished => write!(f, "programme finished"),
            Signal::IdosFillLevelPoor(tank, present) => write!(
                f,
                "i-Dos {tank} fill level poor: {}",
                if *present { "present" } else { "off" }
            ),
            Signal::IdosActive(tank, on) => write!(f, "i-Dos {tank} active: {on}"),
        }
    }
}

/// What one payload says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// The signals found, in payload order.
    pub signals: Vec<Signal>,
    /// The device's own timestamp (Unix seconds), when the payload has an
    /// unambiguous one.
    pub at: Option<i64>,
}

/// The signal for `value` in `unit`.
fn unit_signal(unit: Unit, value: f64) -> Signal {
    match unit {
        Unit::Kg => Signal::Weight(value),
        Unit::G => Signal::Weight(value / 1000.0),
        Unit::Lb => Signal::Weight(value * 0.453_592_37),
        Unit::W => Signal::Power(value),
        Unit::Kw => Signal::Power(value * 1000.0),
    }
}

/// Why a payload yields no observation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdapterError {
    /// Over the size limit.
    #[error("payload of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not parseable in the format.
    #[error("cannot decode {format} payload: {detail}")]
    Decode {
        /// Format name.
        format: &'static str,
        /// Parser message.
        detail: String,
    },
    /// The field the device is configured for is not in the payload.
    #[error("{format} payload has no `{field}` field (needed: {why})")]
    Missing {
        /// Format name.
        format: &'static str,
        /// The missing field, as the device names it.
        field: String,
        /// Which configuration needs it.
        why: &'static str,
    },
    /// A field has the wrong type or an impossible value.
    #[error("invalid field `{field}`: {detail}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        detail: String,
    },
    /// Nothing in it is needed by the configured device (a contact, a
    /// temperature, another Shelly component): counted and dropped, not an
    /// error (`events_not_needed`).
    #[error("nothing in it is needed by this device ({found}); dropped unstored")]
    NotNeeded {
        /// What it carried.
        found: String,
    },
}

fn invalid(field: &str, detail: impl Into<String>) -> AdapterError {
    AdapterError::Invalid {
        field: field.to_owned(),
        detail: detail.into(),
    }
}

/// Earliest accepted device timestamp (2000-01-01T00:00:00Z).
const TS_MIN: i64 = 946_684_800;
/// First refused device timestamp (2100-01-01T00:00:00Z).
const TS_END: i64 = 4_102_444_800;
/// Largest magnitude accepted for a measurement.
const VALUE_MAX: f64 = 1e7;

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

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A finite number within range, or an `Invalid` naming the field.
fn number(field: &str, v: &Value) -> Result<f64, AdapterError> {
    match v.as_f64() {
        Some(n) if n.is_finite() && n.abs() <= VALUE_MAX => Ok(n),
        Some(n) => Err(invalid(field, format!("{n} is out of range"))),
        None => Err(invalid(
            field,
            format!("expected a number, got {}", kind_of(v)),
        )),
    }
}

/// A value of a field no configured feature needs (energy, temperature,
/// raw counts): decoded when it is a good number, skipped otherwise (a
/// `null` from firmware without that sensor must not refuse the payload).
fn optional_number(field: &str, v: &Value) -> Option<f64> {
    number(field, v).ok()
}

/// A number sent as text (`"12.30"`, as bridges and some firmware do):
/// the trimmed text parsed, if it is a finite number.
fn number_in_text(field: &str, v: &Value) -> Result<f64, AdapterError> {
    match v {
        Value::String(text) => match text.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => number(field, &Value::from(n)),
            _ => Err(invalid(field, format!("{:?} is not a number", clip(text)))),
        },
        v => number(field, v),
    }
}

/// A device timestamp in seconds (`scale` = 1) or milliseconds (1000), if
/// it is a plausible time (2000–2100). A device without time sync, or an
/// unparseable time, gives `None`: larder uses the receive time rather
/// than refusing the reading.
fn device_time(v: &Value, scale: f64) -> Option<i64> {
    plausible_ts(v.as_f64()? / scale)
}

fn plausible_ts(secs: f64) -> Option<i64> {
    (secs.is_finite() && secs >= TS_MIN as f64 && secs < TS_END as f64).then(|| secs.floor() as i64)
}

/// Zigbee2MQTT `zigbee2mqtt/<friendly name>`: flat JSON state.
fn zigbee2mqtt(map: &serde_json::Map<String, Value>) -> Result<Reading, AdapterError> {
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

/// Tasmota `tele/<topic>/SENSOR`: `ENERGY` and `HX711` objects. `Time` is
/// the device's local time without an offset, so it is not used.
fn tasmota(map: &serde_json::Map<String, Value>) -> Result<Reading, AdapterError> {
    let mut r = Reading::default();
    if let Some(energy) = map.get("ENERGY") {
        let energy = energy
            .as_object()
            .ok_or_else(|| invalid("ENERGY", "expected an object"))?;
        if let Some(v) = energy.get("Power").filter(|v| !v.is_null()) {
            // Multi-channel devices report an array; channel 1 is first.
            let v = match v {
                Value::Array(a) => a
                    .first()
                    .ok_or_else(|| invalid("ENERGY.Power", "empty array"))?,
                v => v,
            };
            r.signals.push(Signal::Power(number("ENERGY.Power", v)?));
        }
        if let Some(v) = energy.get("Total") {
            r.signals
                .extend(optional_number("ENERGY.Total", v).map(Signal::Energy));
        }
    }
    if let Some(hx) = map.get("HX711") {
        let hx = hx
            .as_object()
            .ok_or_else(|| invalid("HX711", "expected an object"))?;
        if let Some(v) = hx.get("Weight").filter(|v| !v.is_null()) {
            r.signals.push(Signal::Weight(number("HX711.Weight", v)?));
        }
        if let Some(raw) = hx
            .get("WeightRaw")
            .and_then(|v| optional_number("HX711.WeightRaw", v))
        {
            r.signals.push(Signal::WeightRaw(raw as i64));
        }
    }
    Ok(r)
}

/// Shelly Gen2/Gen3: the switch status (`<prefix>/status/switch:N`) or a
/// `NotifyStatus` delta (`<prefix>/events/rpc`).
fn shelly(
    device: &Device,
    topic: &str,
    map: &serde_json::Map<String, Value>,
) -> Result<Reading, AdapterError> {
    let component = format!("switch:{}", device.channel);
    let mut r = Reading::default();
    let status = if topic.ends_with("/events/rpc") {
        match map.get("method").and_then(Value::as_str) {
            Some("NotifyStatus" | "NotifyFullStatus") => {}
            _ => return Ok(r),
        }
        let Some(params) = map.get("params").and_then(Value::as_object) else {
            return Err(invalid("params", "missing or not an object"));
        };
        r.at = params.get("ts").and_then(|ts| device_time(ts, 1.0));
        match params.get(&component) {
            Some(Value::Object(s)) => s,
            Some(_) => return Err(invalid(&component, "expected an object")),
            None => return Ok(r),
        }
    } else {
        map
    };
    if let Some(v) = status.get("apower").filter(|v| !v.is_null()) {
        r.signals.push(Signal::Power(number("apower", v)?));
    }
    if let Some(v) = status.get("output").filter(|v| !v.is_null()) {
        let on = v
            .as_bool()
            .ok_or_else(|| invalid("output", "expected true or false"))?;
        r.signals.push(Signal::Relay(on));
    }
    if let Some(total) = status
        .get("aenergy")
        .and_then(|a| a.get("total"))
        .and_then(|t| optional_number("aenergy.total", t))
    {
        r.signals.push(Signal::Energy(total / 1000.0));
    }
    if let Some(t) = status
        .get("temperature")
        .and_then(|t| t.get("tC"))
        .and_then(|t| optional_number("temperature.tC", t))
    {
        r.signals.push(Signal::Temperature(t));
    }
    Ok(r)
}

/// ESPHome `<prefix>/<component>/<name>/state`: the value as plain text.
fn esphome(device: &Device, payload: &[u8]) -> Result<Reading, AdapterError> {
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

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Home Connect events as bridged to MQTT: the SSE event data
/// (`{"haId", "items":[{"key","value","timestamp"}]}`) or a flattened
/// object (`{"<key>": <value>}`, as hcpy publishes).
fn homeconnect(map: &serde_json::Map<String, Value>) -> Result<Reading, AdapterError> {
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

/// Any JSON: the configured dotted path, unit and factor.
fn json_path(device: &Device, root: &Value) -> Result<Reading, AdapterError> {
    let Some(spec) = device.reading.as_ref() else {
        return Err(invalid("field", "device has no field configured"));
    };
    let mut at = root;
    for segment in spec.field.split('.') {
        let next = match at {
            Value::Object(m) => m.get(segment),
            Value::Array(a) => segment.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        at = match next {
            Some(v) => v,
            None => {
                return Err(AdapterError::Missing {
                    format: "json-path",
                    field: spec.field.clone(),
                    why: "devices[].field",
                });
            }
        };
    }
    let value = number_in_text(&spec.field, at)? * spec.factor;
    let value = number(&spec.field, &Value::from(value))?;
    Ok(Reading {
        signals: vec![unit_signal(spec.unit, value)],
        at: None,
    })
}

/// Refuses a reading that lacks what the device is configured for (naming
/// the field), and reports one with nothing needed as
/// [`AdapterError::NotNeeded`].
pub fn check_needed(device: &Device, topic: &str, reading: &Reading) -> Result<(), AdapterError> {
    let has = |f: fn(&Signal) -> bool| reading.signals.iter().any(f);
    let found = || {
        if reading.signals.is_empty() {
            "no known fields".to_owned()
        } else {
            reading
                .signals
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let format = device.format.name();
    if device.format == PayloadFormat::Homeconnect {
        let finished = device.washer.is_some() && has(|s| matches!(s, Signal::ProgramFinished));
        let poor = has(|s| matches!(s, Signal::IdosFillLevelPoor(_, true)));
        return if finished || poor {
            Ok(())
        } else {
            Err(AdapterError::NotNeeded { found: found() })
        };
    }
    if device.scale.is_some() {
        if has(|s| matches!(s, Signal::Weight(_))) {
            return Ok(());
        }
        let field = match device.format {
            PayloadFormat::Tasmota => "HX711.Weight".to_owned(),
            PayloadFormat::JsonPath => device
                .reading
                .as_ref()
                .map_or(String::new(), |r| r.field.clone()),
            _ => "state".to_owned(),
        };
        return Err(AdapterError::Missing {
            format,
            field,
            why: "[devices.scale]",
        });
    }
    if device.washer.is_some() {
        if has(|s| matches!(s, Signal::Power(_) | Signal::Relay(_))) {
            return Ok(());
        }
        // Shelly deltas carry only what changed (and other components).
        if device.format == PayloadFormat::Shelly && topic.ends_with("/events/rpc") {
            return Err(AdapterError::NotNeeded { found: found() });
        }
        let field = match device.format {
            PayloadFormat::Zigbee2mqtt => "power".to_owned(),
            PayloadFormat::Tasmota => "ENERGY.Power".to_owned(),
            PayloadFormat::Shelly => "apower".to_owned(),
            PayloadFormat::JsonPath => device
                .reading
                .as_ref()
                .map_or(String::new(), |r| r.field.clone()),
            _ => "state".to_owned(),
        };
        return Err(AdapterError::Missing {
            format,
            field,
            why: "[devices.washer]",
        });
    }
    Err(AdapterError::NotNeeded { found: found() })
}

/// What larder keeps per adapter device (`device_state`, one row).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Digests of the payloads taken most recently (topic and bytes; at
    /// most [`RECENT_PAYLOADS`], newest last): a redelivered copy changes
    /// nothing (see [`is_redelivery`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_payloads: Vec<String>,
    /// When the last Home Connect programme finished (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_finished_at: Option<i64>,
    /// Load-cell filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleState>,
    /// Washer cycle detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub washer: Option<WasherState>,
}

/// How many recent payload digests a device keeps for redelivery
/// detection. A broker redelivers at most the messages it had in flight to
/// larder unacknowledged (mosquitto's `max_inflight_messages`, default 20;
/// rumqttc's default inflight is 100), so 128 covers a whole window.
pub const RECENT_PAYLOADS: usize = 128;

/// Whether a payload with `digest` is one larder already took. Only a
/// message the broker marks as a copy can be one: a redelivery after a
/// reconnect carries MQTT's DUP flag, and a retained message handed over on
/// (re)subscribe carries the retain flag. Such a copy is a redelivery when
/// its digest is among the device's recent ones. A fresh publication (no
/// flag) is always a new reading, even when its bytes repeat an earlier
/// one: a stable scale reporting the same weight, or a second wash reported
/// with the same flattened Home Connect object.
pub fn is_redelivery(state: &DeviceState, digest: &str, dup: bool, retain: bool) -> bool {
    (dup || retain) && state.recent_payloads.iter().any(|d| d == digest)
}

/// Records `digest` as taken (newest last, at most [`RECENT_PAYLOADS`]).
pub fn remember_payload(state: &mut DeviceState, digest: String) {
    state.recent_payloads.retain(|d| *d != digest);
    if state.recent_payloads.len() >= RECENT_PAYLOADS {
        let excess = state.recent_payloads.len() + 1 - RECENT_PAYLOADS;
        state.recent_payloads.drain(..excess);
    }
    state.recent_payloads.push(digest);
}

/// Hex digest identifying a payload on a topic (for redelivery detection).
pub fn payload_digest(topic: &str, payload: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&(topic.len() as u64).to_be_bytes());
    ctx.update(topic.as_bytes());
    ctx.update(payload);
    crate::crypto::keys::to_hex(&ctx.finish().as_ref()[..8])
}

/// What a reading or tick produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// Observations for items, by fixed slot.
    pub derived: Vec<Derived>,
    /// Counters to bump (`scale_lifted`, `washer_cycles_too_short`, …).
    pub counters: Vec<&'static str>,
}

/// Runs a reading taken at `at` through the device's state machines.
pub fn apply(device: &Device, state: &mut DeviceState, reading: &Reading, at: i64) -> Applied {
    let mut out = Applied::default();
    if device.format == PayloadFormat::Homeconnect {
        for signal in &reading.signals {
            match signal {
                Signal::ProgramFinished => {
                    if let Some(washer) = &device.washer {
                        // Two programmes cannot finish closer together than
                        // the shortest one runs: the same event reported
                        // again (a bridge re-sending it) uses no detergent.
                        let repeated = state
                            .last_finished_at
                            .is_some_and(|last| (at - last).abs() < washer.min_run_secs);
                        if repeated {
                            out.counters.push("washer_finished_repeated");
                        } else {
                            state.last_finished_at = Some(at);
                            out.derived.push(Derived {
                                slot: SLOT_CYCLE,
                                kind: ObservationKind::Consumed,
                                amount: washer.dose,
                                at,
                            });
                        }
                    }
                }
                Signal::IdosFillLevelPoor(tank, true) => out.derived.push(Derived {
                    slot: if *tank == 1 { SLOT_IDOS1 } else { SLOT_IDOS2 },
                    kind: ObservationKind::Level,
                    // The engine sets the item's low level (min-level or 0).
                    amount: 0.0,
                    at,
                }),
                _ => {}
            }
        }
        return out;
    }
    if let Some(params) = &device.scale {
        let scale = state.scale.get_or_insert_with(ScaleState::default);
        for signal in &reading.signals {
            if let Signal::Weight(kg) = signal {
                let o = scale.reading(params, *kg, at);
                if o.lifted {
                    out.counters.push("scale_lifted");
                }
                if o.stale {
                    out.counters.push("readings_stale");
                }
                out.derived.extend(o.derived);
            }
        }
    }
    if let Some(params) = &device.washer {
        let power = reading.signals.iter().find_map(|s| match s {
            Signal::Power(w) => Some(*w),
            _ => None,
        });
        let relay = reading.signals.iter().find_map(|s| match s {
            Signal::Relay(on) => Some(*on),
            _ => None,
        });
        if power.is_some() || relay.is_some() {
            let washer = state.washer.get_or_insert_with(WasherState::default);
            let o = washer.reading(params, power, relay, at);
            washer_counters(&o, &mut out);
            out.derived.extend(o.derived);
        }
    }
    out
}

/// Confirms time-based transitions at `now` (a washer whose power stayed
/// low for the stop hold). `None` if nothing could change (no state saved).
pub fn tick(device: &Device, state: &mut DeviceState, now: i64) -> Option<Applied> {
    let params = device.washer.as_ref()?;
    let washer = state.washer.as_mut().filter(|w| w.waiting())?;
    let o = washer.tick(params, now);
    let mut out = Applied::default();
    washer_counters(&o, &mut out);
    out.derived.extend(o.derived);
    Some(out)
}

fn washer_counters(o: &WasherOutcome, out: &mut Applied) {
    if o.too_short {
        out.counters.push("washer_cycles_too_short");
    }
    if o.aborted {
        out.counters.push("washer_cycles_aborted");
    }
    if o.stale {
        out.counters.push("readings_stale");
    }
    if !o.derived.is_empty() {
        out.counters.push("washer_cycles");
    }
}

/// The observation sequence number for an adapter observation (stored
/// with epoch 0): derived from its identity, so a redelivered payload with
/// a device timestamp stores nothing twice.
pub fn derived_seq(slot: &str, kind: ObservationKind, at: i64) -> u64 {
    let kind = match kind {
        ObservationKind::Level => "level",
        ObservationKind::Consumed => "consumed",
        ObservationKind::Added => "added",
        ObservationKind::Removed => "removed",
    };
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{slot}\u{0}{kind}\u{0}{at}").as_bytes(),
    );
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    // Stored as a signed SQLite integer: keep it positive.
    u64::from_be_bytes(first) >> 1
}

/// What `larder decode` prints for one payload: the signals, the
/// observations this payload yields on a fresh device (or why none), and
/// the device state after it. `Err` is the refusal (what larder would
/// dead-letter).
pub fn describe(
    device: &Device,
    topic: &str,
    payload: &[u8],
    now: i64,
) -> Result<String, AdapterError> {
    use std::fmt::Write as _;
    let reading = decode(device, topic, payload)?;
    let mut out = String::new();
    let _ = writeln!(out, "format: {}", device.format.name());
    match reading.at {
        Some(at) => {
            let _ = writeln!(out, "device time: {at} ({})", iso(at));
        }
        None => {
            let _ = writeln!(out, "device time: none (larder uses the receive time)");
        }
    }
    let _ = writeln!(out, "signals:");
    if reading.signals.is_empty() {
        let _ = writeln!(out, "  (none: no field this format knows)");
    }
    for signal in &reading.signals {
        let _ = writeln!(out, "  {signal}");
    }
    let _ = writeln!(out, "observations:");
    match check_needed(device, topic, &reading) {
        Err(AdapterError::NotNeeded { .. }) => {
            let _ = writeln!(
                out,
                "  none: nothing here is needed by this device{}; larder counts it (events_not_needed) and stores nothing",
                if device.scale.is_none() && device.washer.is_none() {
                    " (no [devices.scale] or [devices.washer]; pass --device-config)"
                } else {
                    ""
                }
            );
            return Ok(out);
        }
        Err(refusal) => return Err(refusal),
        Ok(()) => {}
    }
    let mut state = DeviceState::default();
    let applied = apply(device, &mut state, &reading, reading.at.unwrap_or(now));
    if applied.derived.is_empty() {
        let _ = writeln!(
            out,
            "  none from this payload alone ({})",
            if device.scale.is_some() {
                "the scale reports once its median filter is full (median-of readings)"
            } else {
                "a washer cycle needs readings over time: start hold, run, stop hold"
            }
        );
    }
    for d in &applied.derived {
        let kind = match d.kind {
            ObservationKind::Level => "level",
            ObservationKind::Consumed => "consumed",
            ObservationKind::Added => "added",
            ObservationKind::Removed => "removed",
        };
        let amount = if d.slot == SLOT_IDOS1 || d.slot == SLOT_IDOS2 {
            "the item's min-level (or 0)".to_owned()
        } else {
            format!("{}", d.amount)
        };
        let _ = writeln!(
            out,
            "  slot {:?}: {kind} {amount} at {} ({})",
            d.slot,
            d.at,
            iso(d.at)
        );
    }
    for counter in &applied.counters {
        let _ = writeln!(out, "  counter: {counter}");
    }
    let state = serde_json::to_string(&DeviceState {
        recent_payloads: Vec::new(),
        ..state
    })
    .unwrap_or_default();
    let _ = writeln!(out, "device state after: {state}");
    Ok(out)
}

fn iso(at: i64) -> String {
    jiff::Timestamp::from_second(at).map_or_else(|_| "?".to_owned(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FieldSpec;
    use crate::core::signals::{ScaleParams, WasherParams};

    fn device(format: PayloadFormat) -> Device {
        Device {
            id: "d".into(),
            topic: "t".into(),
            format,
            scale: None,
            washer: None,
            reading: None,
            channel: 0,
        }
    }

    fn washer(format: PayloadFormat) -> Device {
        Device {
            washer: Some(WasherParams {
                dose: 75.0,
                ..WasherParams::default()
            }),
            ..device(format)
        }
    }

    fn scale(format: PayloadFormat) -> Device {
        Device {
            scale: Some(ScaleParams::default()),
            ..device(format)
        }
    }

    fn fixture(name: &str) -> &'static [u8] {
        match name {
            "z2m-plug" => include_bytes!("../../tests/data/devices/z2m-ts011f-plug.json"),
            "z2m-plug-off" => include_bytes!("../../tests/data/devices/z2m-ts011f-plug-off.json"),
            "z2m-contact" => include_bytes!("../../tests/data/devices/z2m-contact.json"),
            "z2m-temperature" => include_bytes!("../../tests/data/devices/z2m-temperature.json"),
            "tasmota-energy" => include_bytes!("../../tests/data/devices/tasmota-energy.json"),
            "tasmota-hx711" => include_bytes!("../../tests/data/devices/tasmota-hx711.json"),
            "tasmota-hx711-old" => {
                include_bytes!("../../tests/data/devices/tasmota-hx711-no-absraw.json")
            }
            "shelly-status" => {
                include_bytes!("../../tests/data/devices/shelly-status-switch0.json")
            }
            "shelly-delta" => include_bytes!("../../tests/data/devices/shelly-notifystatus.json"),
            "shelly-delta-energy" => {
                include_bytes!("../../tests/data/devices/shelly-notifystatus-energy.json")
            }
            "esphome" => include_bytes!("../../tests/data/devices/esphome-weight.txt"),
            "hc-sse" => include_bytes!("../../tests/data/devices/homeconnect-sse-idos1-poor.json"),
            "hc-finished" => {
                include_bytes!("../../tests/data/devices/homeconnect-sse-program-finished.json")
            }
            "hc-hcpy" => include_bytes!("../../tests/data/devices/homeconnect-hcpy.json"),
            "generic" => include_bytes!("../../tests/data/devices/generic-scale.json"),
            other => panic!("no fixture {other}"),
        }
    }

    fn signals(d: &Device, topic: &str, name: &str) -> Vec<Signal> {
        decode(d, topic, fixture(name)).unwrap().signals
    }

    #[test]
    fn zigbee2mqtt_plugs_contacts_and_thermometers() {
        let plug = washer(PayloadFormat::Zigbee2mqtt);
        let r = decode(&plug, "zigbee2mqtt/washer", fixture("z2m-plug")).unwrap();
        assert_eq!(
            r.signals,
            vec![
                Signal::Energy(12.87),
                Signal::Power(427.0),
                Signal::Relay(true)
            ]
        );
        assert_eq!(r.at, Some(1_772_445_600), "last_seen ISO 8601 with offset");
        check_needed(&plug, "", &r).unwrap();
        assert!(signals(&plug, "", "z2m-plug-off").contains(&Signal::Relay(false)));
        let contact = signals(&plug, "", "z2m-contact");
        assert!(contact.contains(&Signal::Contact(true)), "{contact:?}");
        let r = decode(&plug, "", fixture("z2m-contact")).unwrap();
        assert_eq!(
            check_needed(&plug, "", &r),
            Err(AdapterError::Missing {
                format: "zigbee2mqtt",
                field: "power".into(),
                why: "[devices.washer]"
            })
        );
        let thermo = device(PayloadFormat::Zigbee2mqtt);
        let r = decode(&thermo, "", fixture("z2m-temperature")).unwrap();
        assert!(r.signals.contains(&Signal::Temperature(6.75)));
        assert!(matches!(
            check_needed(&thermo, "", &r),
            Err(AdapterError::NotNeeded { .. })
        ));
    }

    #[test]
    fn tasmota_energy_and_hx711_with_and_without_absraw() {
        let plug = washer(PayloadFormat::Tasmota);
        let s = signals(&plug, "", "tasmota-energy");
        assert_eq!(s, vec![Signal::Power(1987.0), Signal::Energy(423.118)]);
        let scale = scale(PayloadFormat::Tasmota);
        for name in ["tasmota-hx711", "tasmota-hx711-old"] {
            let r = decode(&scale, "", fixture(name)).unwrap();
            assert!(r.signals.contains(&Signal::Weight(1.236)), "{name}: {r:?}");
            assert!(r.signals.contains(&Signal::WeightRaw(412_345)), "{name}");
            assert_eq!(r.at, None, "Tasmota's Time has no offset");
            check_needed(&scale, "", &r).unwrap();
        }
        let r = decode(&scale, "", fixture("tasmota-energy")).unwrap();
        assert_eq!(
            check_needed(&scale, "", &r).unwrap_err().to_string(),
            "tasmota payload has no `HX711.Weight` field (needed: [devices.scale])"
        );
    }

    #[test]
    fn shelly_status_and_notifystatus_deltas() {
        let plug = washer(PayloadFormat::Shelly);
        let s = signals(&plug, "shelly/status/switch:0", "shelly-status");
        assert_eq!(s[..2], [Signal::Power(512.3), Signal::Relay(true)]);
        assert!(matches!(s[2], Signal::Energy(kwh) if (kwh - 25.302_612).abs() < 1e-9));
        assert_eq!(s[3], Signal::Temperature(41.2));
        let r = decode(&plug, "shelly/events/rpc", fixture("shelly-delta")).unwrap();
        assert_eq!(r.signals, vec![Signal::Power(2.1)]);
        assert_eq!(r.at, Some(1_772_449_200));
        let r = decode(&plug, "shelly/events/rpc", fixture("shelly-delta-energy")).unwrap();
        assert!(matches!(
            check_needed(&plug, "shelly/events/rpc", &r),
            Err(AdapterError::NotNeeded { .. })
        ));
        // Another channel's delta says nothing about ours.
        let ch1 = Device {
            channel: 1,
            ..washer(PayloadFormat::Shelly)
        };
        let r = decode(&ch1, "shelly/events/rpc", fixture("shelly-delta")).unwrap();
        assert!(r.signals.is_empty());
    }

    #[test]
    fn esphome_plain_text_states() {
        let scale = Device {
            reading: Some(FieldSpec {
                field: String::new(),
                unit: Unit::G,
                factor: 1.0,
            }),
            ..scale(PayloadFormat::Esphome)
        };
        assert_eq!(signals(&scale, "", "esphome"), vec![Signal::Weight(0.8125)]);
        assert!(matches!(
            decode(&scale, "", b"nan"),
            Err(AdapterError::Invalid { .. })
        ));
        assert!(matches!(
            decode(&scale, "", b"heavy"),
            Err(AdapterError::Decode { .. })
        ));
        assert_eq!(
            decode(&scale, "", b"OFF").unwrap().signals,
            vec![Signal::Relay(false)]
        );
    }

    #[test]
    fn home_connect_sse_and_flattened_with_both_idos_spellings() {
        let hc = washer(PayloadFormat::Homeconnect);
        let r = decode(&hc, "", fixture("hc-sse")).unwrap();
        assert_eq!(r.signals, vec![Signal::IdosFillLevelPoor(1, true)]);
        assert_eq!(r.at, Some(1_741_701_234));
        check_needed(&hc, "", &r).unwrap();
        let r = decode(&hc, "", fixture("hc-finished")).unwrap();
        assert!(r.signals.contains(&Signal::ProgramFinished), "{r:?}");
        assert!(r.signals.contains(&Signal::IdosActive(1, true)), "{r:?}");
        let flat = signals(&hc, "", "hc-hcpy");
        assert!(flat.contains(&Signal::ProgramFinished), "{flat:?}");
        assert!(flat.contains(&Signal::IdosActive(1, true)), "{flat:?}");
        assert!(flat.contains(&Signal::IdosActive(2, false)), "{flat:?}");
        assert!(
            flat.contains(&Signal::IdosFillLevelPoor(2, false)),
            "{flat:?}"
        );
        // Confirmed is not "present": not needed.
        let r = decode(
            &hc,
            "",
            br#"{"LaundryCare.Washer.Event.IDos1FillLevelPoor":"BSH.Common.EnumType.EventPresentState.Confirmed"}"#,
        )
        .unwrap();
        assert!(matches!(
            check_needed(&hc, "", &r),
            Err(AdapterError::NotNeeded { .. })
        ));
    }

    #[test]
    fn the_generic_adapter_reads_a_path_in_a_unit() {
        let scale = Device {
            reading: Some(FieldSpec {
                field: "sensors.shelf.0.grams".into(),
                unit: Unit::G,
                factor: 1.0,
            }),
            ..scale(PayloadFormat::JsonPath)
        };
        assert_eq!(signals(&scale, "", "generic"), vec![Signal::Weight(1.5)]);
        assert_eq!(
            decode(&scale, "", br#"{"sensors":{}}"#)
                .unwrap_err()
                .to_string(),
            "json-path payload has no `sensors.shelf.0.grams` field (needed: devices[].field)"
        );
        assert!(matches!(
            decode(&scale, "", br#"{"sensors":{"shelf":[{"grams":"x"}]}}"#),
            Err(AdapterError::Invalid { .. })
        ));
    }

    #[test]
    fn a_bad_value_in_a_field_the_device_does_not_need_refuses_nothing() {
        let plug = washer(PayloadFormat::Shelly);
        // Shelly firmware reports `null` temperatures when the sensor has
        // no value; the power is still good.
        let r = decode(
            &plug,
            "s/status/switch:0",
            br#"{"id":0,"output":true,"apower":512.3,"aenergy":{"total":null},"temperature":{"tC":null,"tF":null}}"#,
        )
        .unwrap();
        assert_eq!(r.signals, vec![Signal::Power(512.3), Signal::Relay(true)]);
        check_needed(&plug, "s/status/switch:0", &r).unwrap();
        // Zigbee2MQTT publishes `null` for attributes not reported yet.
        let z2m = washer(PayloadFormat::Zigbee2mqtt);
        let r = decode(
            &z2m,
            "",
            br#"{"power":null,"energy":null,"state":"OFF","temperature":"n/a","contact":null,"linkquality":40}"#,
        )
        .unwrap();
        assert_eq!(r.signals, vec![Signal::Relay(false)]);
        check_needed(&z2m, "", &r).unwrap();
        let r = decode(&z2m, "", br#"{"power":null,"linkquality":40}"#).unwrap();
        assert!(matches!(
            check_needed(&z2m, "", &r),
            Err(AdapterError::Missing { .. })
        ));
        // A raw count out of range beside a good weight.
        let scale = scale(PayloadFormat::Tasmota);
        let r = decode(
            &scale,
            "",
            br#"{"HX711":{"Weight":1.25,"WeightRaw":99999999999,"AbsRaw":"x"},"ENERGY":{"Total":"?"}}"#,
        )
        .unwrap();
        assert_eq!(r.signals, vec![Signal::Weight(1.25)]);
        // A needed field with a bad value is still refused, naming it.
        assert_eq!(
            decode(&z2m, "", br#"{"power":"lots"}"#)
                .unwrap_err()
                .to_string(),
            "invalid field `power`: expected a number, got a string"
        );
    }

    #[test]
    fn an_implausible_device_time_falls_back_to_the_receive_time() {
        // A Shelly without time sync (no internet on the IoT network), a
        // Zigbee2MQTT `last_seen` it cannot parse, a bridge's odd timestamp.
        let plug = washer(PayloadFormat::Shelly);
        for ts in ["null", "12.5", "-5", "\"soon\""] {
            let payload = format!(
                r#"{{"method":"NotifyStatus","params":{{"ts":{ts},"switch:0":{{"apower":1800.5}}}}}}"#
            );
            let r = decode(&plug, "s/events/rpc", payload.as_bytes()).unwrap();
            assert_eq!(r.signals, vec![Signal::Power(1800.5)], "ts {ts}");
            assert_eq!(r.at, None, "ts {ts}");
        }
        let z2m = washer(PayloadFormat::Zigbee2mqtt);
        for seen in ["\"yesterday\"", "null", "3", "true"] {
            let payload = format!(r#"{{"power":3.5,"last_seen":{seen}}}"#);
            let r = decode(&z2m, "", payload.as_bytes()).unwrap();
            assert_eq!(r.signals, vec![Signal::Power(3.5)], "{seen}");
            assert_eq!(r.at, None, "{seen}");
        }
        let hc = washer(PayloadFormat::Homeconnect);
        let r = decode(
            &hc,
            "",
            br#"{"items":[{"key":"BSH.Common.Event.ProgramFinished","value":"BSH.Common.EnumType.EventPresentState.Present","timestamp":"n/a"}]}"#,
        )
        .unwrap();
        assert_eq!(r.signals, vec![Signal::ProgramFinished]);
        assert_eq!(r.at, None);
    }

    #[test]
    fn the_generic_adapter_reads_numbers_sent_as_strings() {
        let plug = Device {
            reading: Some(FieldSpec {
                field: "data.1.power".into(),
                unit: Unit::Kw,
                factor: 1.0,
            }),
            ..washer(PayloadFormat::JsonPath)
        };
        let r = decode(&plug, "", br#"{"data":[{"power":"0"},{"power":" 1.25 "}]}"#).unwrap();
        assert_eq!(r.signals, vec![Signal::Power(1250.0)]);
        for bad in [r#""""#, r#""nan""#, r#""12 W""#, r#""inf""#, "null"] {
            let payload = format!(r#"{{"data":[0,{{"power":{bad}}}]}}"#);
            assert!(
                matches!(
                    decode(&plug, "", payload.as_bytes()),
                    Err(AdapterError::Invalid { .. })
                ),
                "{bad}"
            );
        }
    }

    /// Every fixture with bytes flipped, cut and repeated, through every
    /// format and the whole pipeline: refused or read, never a panic.
    #[test]
    fn mutated_fixtures_never_panic_in_any_format() {
        let names = [
            "z2m-plug",
            "tasmota-hx711",
            "shelly-status",
            "shelly-delta",
            "esphome",
            "hc-sse",
            "hc-hcpy",
            "generic",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let interesting: &[&[u8]] = &[
            b"null", b"-1e308", b"1e400", b"[]", b"{}", b"\"\"", b"NaN", b"\xff", b"[[[[", b"0",
        ];
        for format in PayloadFormat::ALL {
            let mut d = washer(format);
            d.scale = Some(ScaleParams::default());
            d.reading = Some(FieldSpec {
                field: "sensors.shelf.0.grams".into(),
                unit: Unit::G,
                factor: 1.0,
            });
            let mut state = DeviceState::default();
            for name in names {
                let original = fixture(name);
                for round in 0..300 {
                    let mut bytes = original.to_vec();
                    for _ in 0..=(next() % 4) {
                        if bytes.is_empty() {
                            break;
                        }
                        let at = (next() as usize) % bytes.len();
                        match next() % 4 {
                            0 => bytes[at] = next() as u8,
                            1 => bytes.truncate(at),
                            2 => {
                                let with = interesting[(next() as usize) % interesting.len()];
                                bytes.splice(at..at, with.iter().copied());
                            }
                            _ => {
                                let end = (at + 1 + (next() as usize) % 16).min(bytes.len());
                                bytes.drain(at..end);
                            }
                        }
                    }
                    let topic = if round % 2 == 0 {
                        "s/events/rpc"
                    } else {
                        "s/status/switch:0"
                    };
                    if let Ok(reading) = decode(&d, topic, &bytes) {
                        let _ = check_needed(&d, topic, &reading);
                        let _ = apply(&d, &mut state, &reading, 1_772_445_600 + round);
                        let _ = tick(&d, &mut state, 1_772_445_600 + round);
                    }
                    let _ = describe(&d, topic, &bytes, 1_772_445_600);
                }
            }
        }
    }

    #[test]
    fn bad_payloads_are_refused_not_panicked_on() {
        for format in PayloadFormat::ALL {
            let d = washer(format);
            for bad in [
                &b""[..],
                b"{",
                b"[]",
                b"null",
                b"{\"power\":\"lots\"}",
                b"{\"power\":1e400}",
                b"{\"ENERGY\":[1]}",
                b"{\"items\":{}}",
                b"{\"method\":\"NotifyStatus\",\"params\":{\"ts\":-5}}",
                &[0xff, 0xfe],
            ] {
                let _ = decode(&d, "x/events/rpc", bad);
            }
            let big = vec![b' '; MAX_ADAPTER_BYTES + 1];
            assert!(matches!(
                decode(&d, "", &big),
                Err(AdapterError::TooLarge { .. })
            ));
        }
    }

    #[test]
    fn describe_shows_signals_observations_or_the_refusal() {
        let hc = washer(PayloadFormat::Homeconnect);
        let text = describe(&hc, "", fixture("hc-finished"), 0).unwrap();
        assert!(text.contains("programme finished"), "{text}");
        assert!(
            text.contains("slot \"cycle\": consumed 75 at 1772452800 (2026-03-02T12:00:00Z)"),
            "{text}"
        );
        let plug = washer(PayloadFormat::Zigbee2mqtt);
        let text = describe(&plug, "", fixture("z2m-plug"), 0).unwrap();
        assert!(text.contains("power 427 W"), "{text}");
        assert!(text.contains("starting"), "{text}");
        let text = describe(&plug, "", fixture("z2m-temperature"), 0).unwrap_err();
        assert_eq!(
            text.to_string(),
            "zigbee2mqtt payload has no `power` field (needed: [devices.washer])"
        );
        let bare = device(PayloadFormat::Zigbee2mqtt);
        let text = describe(&bare, "", fixture("z2m-contact"), 0).unwrap();
        assert!(text.contains("contact closed"), "{text}");
        assert!(text.contains("none: nothing here is needed"), "{text}");
    }

    #[test]
    fn only_a_flagged_copy_of_a_recent_payload_is_a_redelivery() {
        let digest = payload_digest("homeconnect/washer", fixture("hc-hcpy"));
        let mut state = DeviceState::default();
        remember_payload(&mut state, digest.clone());
        // The broker's copies: DUP after a reconnect, retain on subscribe.
        assert!(is_redelivery(&state, &digest, true, false));
        assert!(is_redelivery(&state, &digest, false, true));
        // A fresh publication with the same bytes is a new reading.
        assert!(!is_redelivery(&state, &digest, false, false));
        // A flagged copy of something larder never took is new too.
        assert!(!is_redelivery(&state, "0011223344556677", true, false));
        // The last RECENT_PAYLOADS are kept; older ones are forgotten.
        for i in 0..RECENT_PAYLOADS {
            remember_payload(&mut state, format!("{i:016x}"));
        }
        assert_eq!(state.recent_payloads.len(), RECENT_PAYLOADS);
        assert!(!is_redelivery(&state, &digest, true, false));
        assert!(is_redelivery(&state, &format!("{:016x}", 0), true, false));
        // Remembering one again moves it to the newest place, no doubles.
        remember_payload(&mut state, format!("{:016x}", 0));
        assert_eq!(state.recent_payloads.len(), RECENT_PAYLOADS);
        assert_eq!(
            state.recent_payloads.last().unwrap(),
            &format!("{:016x}", 0)
        );
    }

    #[test]
    fn a_redelivered_program_finished_is_one_dose_by_identity() {
        let hc = washer(PayloadFormat::Homeconnect);
        let r = decode(&hc, "", fixture("hc-finished")).unwrap();
        let mut state = DeviceState::default();
        let at = r.at.unwrap();
        let a = apply(&hc, &mut state, &r, at);
        // With the state lost (a restart before it was saved), the same
        // event derives the same observation identity: stored once.
        let b = apply(&hc, &mut DeviceState::default(), &r, at);
        assert_eq!(a.derived.len(), 1);
        assert_eq!(a, b, "same payload, same observation identity");
        let seq = |d: &Derived| derived_seq(d.slot, d.kind, d.at);
        assert_eq!(seq(&a.derived[0]), seq(&b.derived[0]));
        // With the state kept, the same event again uses nothing at all.
        let again = apply(&hc, &mut state, &r, at);
        assert!(again.derived.is_empty(), "{again:?}");
        assert_eq!(again.counters, ["washer_finished_repeated"]);
        assert_ne!(
            seq(&a.derived[0]),
            derived_seq(SLOT_CYCLE, ObservationKind::Consumed, at + 1)
        );
        assert!(seq(&a.derived[0]) < 1 << 63);
        assert_ne!(payload_digest("a", b"x"), payload_digest("b", b"x"));
    }
}
