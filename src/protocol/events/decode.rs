//! Decoding and validating one native event: the size, the flat map, the
//! version, then each field of its kind within range.

use super::field_map::{Scalar, decode_field_map};
use super::{DeviceEvent, EventId, EventKind, MAX_EVENT_BYTES, NOT_NEEDED_KINDS, WireError};
use crate::config::PayloadFormat;
use crate::protocol::cbor::clip;

/// Earliest accepted device timestamp (2000-01-01T00:00:00Z).
pub(super) const TS_MIN: i64 = 946_684_800;
/// First refused device timestamp (2100-01-01T00:00:00Z).
pub(super) const TS_END: i64 = 4_102_444_800;
/// Largest accepted amount or dose.
const AMOUNT_MAX: f64 = 1e7;
/// Longest device id or slot.
const ID_MAX_CHARS: usize = 64;

/// Decodes and validates one native event.
///
/// The size is checked first; then the payload must be one JSON object or
/// one CBOR map (no trailing bytes, no tags, no duplicate keys) holding
/// exactly the fields of its kind.
pub fn decode_event(format: PayloadFormat, bytes: &[u8]) -> Result<DeviceEvent, WireError> {
    if !format.is_native() {
        // Foreign device payloads go through `crate::protocol::adapters` instead.
        return Err(WireError::Decode {
            format: format.name(),
            detail: "not a native larder event format".to_owned(),
        });
    }
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(WireError::TooLarge {
            size: bytes.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    let mut map = decode_field_map(format, bytes)?;

    let v = map.take("v");
    match v {
        Some(Scalar::UInt(1)) => {}
        None => return Err(invalid("v", "missing")),
        Some(other) => {
            return Err(invalid(
                "v",
                format!("unsupported version {}", other.describe()),
            ));
        }
    }
    let kind = map.take("kind");
    let device = map.take("device");
    let epoch = map.take("epoch");
    let seq = map.take("seq");
    if let Some(Scalar::Text(text)) = &kind {
        if let Some(known) = NOT_NEEDED_KINDS.iter().find(|k| **k == text.as_str()) {
            // Only its place in the sequence is read: nothing else of it
            // is kept, and its other fields are not checked.
            let id = match (device, epoch, seq) {
                (Some(device), Some(epoch), Some(seq)) => {
                    match (
                        identifier("device", device),
                        unsigned("epoch", epoch),
                        unsigned("seq", seq),
                    ) {
                        (Ok(device), Ok(epoch), Ok(seq)) => Some(EventId { device, epoch, seq }),
                        _ => None,
                    }
                }
                _ => None,
            };
            return Err(WireError::NotNeeded { kind: known, id });
        }
    }
    let ts = map.take("ts");
    let slot = map.take("slot");
    let amount = map.take("amount");
    let dose = map.take("dose");
    map.refuse_leftovers(format)?;

    let device = identifier("device", required("device", device)?)?;
    let epoch = unsigned("epoch", required("epoch", epoch)?)?;
    let seq = unsigned("seq", required("seq", seq)?)?;
    let ts = match ts {
        None | Some(Scalar::Null) => None,
        Some(value) => {
            let ts = signed("ts", value)?;
            if !(TS_MIN..TS_END).contains(&ts) {
                return Err(invalid(
                    "ts",
                    format!("{ts} is outside 2000-01-01..2100-01-01 (Unix seconds)"),
                ));
            }
            Some(ts)
        }
    };
    let kind = match required("kind", kind)? {
        Scalar::Text(text) => match text.as_str() {
            "level" => EventKind::Level,
            "consumed" => EventKind::Consumed,
            "added" => EventKind::Added,
            "removed" => EventKind::Removed,
            "washer_cycle" => EventKind::WasherCycle,
            _ => {
                return Err(invalid(
                    "kind",
                    format!(
                        "unknown kind {:?} (level, consumed, added, removed, washer_cycle)",
                        clip(&text)
                    ),
                ));
            }
        },
        other => {
            return Err(invalid(
                "kind",
                format!("expected text, got {}", other.describe()),
            ));
        }
    };
    let slot = identifier("slot", required("slot", slot)?)?;
    let (field, value, wrong_field, wrong_value) = if kind == EventKind::WasherCycle {
        ("dose", dose, "amount", amount)
    } else {
        ("amount", amount, "dose", dose)
    };
    if wrong_value.is_some() {
        return Err(invalid(
            wrong_field,
            format!("not allowed for kind {} (use `{field}`)", kind.as_str()),
        ));
    }
    let amount = quantity(field, required(field, value)?)?;

    Ok(DeviceEvent {
        device,
        epoch,
        seq,
        ts,
        slot,
        kind,
        amount,
    })
}

fn invalid(field: &'static str, detail: impl Into<String>) -> WireError {
    WireError::Invalid {
        field,
        detail: detail.into(),
    }
}

fn required(field: &'static str, value: Option<Scalar>) -> Result<Scalar, WireError> {
    match value {
        None | Some(Scalar::Null) => Err(invalid(field, "missing")),
        Some(value) => Ok(value),
    }
}

/// A device id or slot: 1..=64 of `[A-Za-z0-9_-]`.
fn identifier(field: &'static str, value: Scalar) -> Result<String, WireError> {
    let Scalar::Text(text) = value else {
        return Err(invalid(
            field,
            format!("expected text, got {}", value.describe()),
        ));
    };
    if text.is_empty() || text.len() > ID_MAX_CHARS {
        return Err(invalid(
            field,
            format!("must be 1 to {ID_MAX_CHARS} characters"),
        ));
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid(
            field,
            format!("{:?} may only contain A-Z a-z 0-9 _ -", clip(&text)),
        ));
    }
    Ok(text)
}

fn unsigned(field: &'static str, value: Scalar) -> Result<u64, WireError> {
    match value {
        Scalar::UInt(n) => Ok(n),
        Scalar::NegInt(_) => Err(invalid(field, "must not be negative")),
        Scalar::Big => Err(invalid(field, "integer out of range (max 2^64-1)")),
        other => Err(invalid(
            field,
            format!("expected a non-negative integer, got {}", other.describe()),
        )),
    }
}

fn signed(field: &'static str, value: Scalar) -> Result<i64, WireError> {
    match value {
        Scalar::UInt(n) => i64::try_from(n).map_err(|_| invalid(field, "integer out of range")),
        Scalar::NegInt(n) => Ok(n),
        Scalar::Big => Err(invalid(field, "integer out of range")),
        other => Err(invalid(
            field,
            format!("expected an integer, got {}", other.describe()),
        )),
    }
}

/// An amount or dose: a finite number in 0..=1e7 (integer or float).
fn quantity(field: &'static str, value: Scalar) -> Result<f64, WireError> {
    let number = match value {
        Scalar::UInt(n) => n as f64,
        Scalar::NegInt(n) => n as f64,
        Scalar::Float(f) => f,
        Scalar::Big => return Err(invalid(field, "number out of range")),
        other => {
            return Err(invalid(
                field,
                format!("expected a number, got {}", other.describe()),
            ));
        }
    };
    if !number.is_finite() {
        return Err(invalid(field, "must be a finite number"));
    }
    if !(0.0..=AMOUNT_MAX).contains(&number) {
        return Err(invalid(field, format!("{number} is outside 0..=1e7")));
    }
    // Normalise -0.0.
    Ok(number + 0.0)
}
