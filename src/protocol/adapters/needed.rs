//! Whether a reading carries what the configured device needs (refused
//! naming the missing field), or nothing it needs at all.

use super::signal::{AdapterError, Reading, Signal};
use crate::config::{Device, PayloadFormat};

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
