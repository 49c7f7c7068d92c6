//! Reading values out of a payload the same way in every ecosystem:
//! finite numbers within range (also sent as text), plausible device
//! times, and clipped text for error messages.

use super::signal::{AdapterError, invalid};
use serde_json::Value;

/// Earliest accepted device timestamp (2000-01-01T00:00:00Z).
const TS_MIN: i64 = 946_684_800;
/// First refused device timestamp (2100-01-01T00:00:00Z).
const TS_END: i64 = 4_102_444_800;
/// Largest magnitude accepted for a measurement.
const VALUE_MAX: f64 = 1e7;

pub(super) fn kind_of(v: &Value) -> &'static str {
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
pub(super) fn number(field: &str, v: &Value) -> Result<f64, AdapterError> {
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
pub(super) fn optional_number(field: &str, v: &Value) -> Option<f64> {
    number(field, v).ok()
}

/// A number sent as text (`"12.30"`, as bridges and some firmware do):
/// the trimmed text parsed, if it is a finite number.
pub(super) fn number_in_text(field: &str, v: &Value) -> Result<f64, AdapterError> {
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
pub(super) fn device_time(v: &Value, scale: f64) -> Option<i64> {
    plausible_ts(v.as_f64()? / scale)
}

pub(super) fn plausible_ts(secs: f64) -> Option<i64> {
    (secs.is_finite() && secs >= TS_MIN as f64 && secs < TS_END as f64).then(|| secs.floor() as i64)
}

pub(super) fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}
