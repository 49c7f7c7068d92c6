//! What `larder decode` prints for one payload.

use super::pipeline::{DeviceState, apply};
use super::signal::AdapterError;
use super::{check_needed, decode};
use crate::config::Device;
use crate::core::ObservationKind;
use crate::core::signals::{SLOT_IDOS1, SLOT_IDOS2};

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
