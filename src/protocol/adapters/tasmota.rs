//! Tasmota: the `ENERGY` and `HX711` objects of `tele/<topic>/SENSOR`.

use super::signal::{AdapterError, Reading, Signal, invalid};
use super::value::{number, optional_number};
use serde_json::Value;

/// Tasmota `tele/<topic>/SENSOR`: `ENERGY` and `HX711` objects. `Time` is
/// the device's local time without an offset, so it is not used.
pub(super) fn tasmota(map: &serde_json::Map<String, Value>) -> Result<Reading, AdapterError> {
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
