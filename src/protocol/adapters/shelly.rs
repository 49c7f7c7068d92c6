//! Shelly Gen2/Gen3: a switch's status, or a `NotifyStatus` delta on the
//! RPC events topic.

use super::signal::{AdapterError, Reading, Signal, invalid};
use super::value::{device_time, number, optional_number};
use crate::config::Device;
use serde_json::Value;

/// Shelly Gen2/Gen3: the switch status (`<prefix>/status/switch:N`) or a
/// `NotifyStatus` delta (`<prefix>/events/rpc`).
pub(super) fn shelly(
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
