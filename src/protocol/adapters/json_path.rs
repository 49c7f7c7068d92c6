//! Any JSON: the number at the device's configured dotted path, in its
//! configured unit and factor.

use super::signal::{AdapterError, Reading, invalid, unit_signal};
use super::value::{number, number_in_text};
use crate::config::Device;
use serde_json::Value;

/// Any JSON: the configured dotted path, unit and factor.
pub(super) fn json_path(device: &Device, root: &Value) -> Result<Reading, AdapterError> {
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
