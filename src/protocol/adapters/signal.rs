//! What a foreign payload says, typed: the `Signal`s of one `Reading`,
//! and `AdapterError`, why a payload yields no observation.

use crate::config::Unit;
use std::fmt;

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
pub(super) fn unit_signal(unit: Unit, value: f64) -> Signal {
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

pub(super) fn invalid(field: &str, detail: impl Into<String>) -> AdapterError {
    AdapterError::Invalid {
        field: field.to_owned(),
        detail: detail.into(),
    }
}
