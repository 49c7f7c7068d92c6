//! The shop's acknowledgements (JSON or CBOR, same fields): decoded and
//! checked field by field, and encoded for the demo's shop and tests.

use super::{CURRENCY_MAX, ID_MAX, IntentError, TEXT_MAX};

/// Largest upstream ack accepted, in bytes.
pub const MAX_ACK_BYTES: usize = 4096;

/// Longest ack reason, in characters.
const REASON_MAX_CHARS: usize = 512;
/// Largest order total a shop may quote.
const MAX_TOTAL: f64 = 1e9;

/// Status a shop reports for an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// The shop priced the order and has not placed it yet; larder checks
    /// the quote against the intent's ceiling and product.
    Quoted,
    /// The order was placed.
    Accepted,
    /// The goods were delivered.
    Delivered,
    /// The shop refused the intent.
    Rejected,
}

impl AckStatus {
    /// The wire name (`quoted`, `accepted`, `delivered`, `rejected`).
    pub fn as_str(self) -> &'static str {
        match self {
            AckStatus::Quoted => "quoted",
            AckStatus::Accepted => "accepted",
            AckStatus::Delivered => "delivered",
            AckStatus::Rejected => "rejected",
        }
    }
}

/// A shop's acknowledgement (JSON or CBOR, same fields).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamAck {
    /// Intent id.
    pub intent: String,
    /// Status.
    pub status: AckStatus,
    /// Optional reason (for rejections).
    pub reason: Option<String>,
    /// What the shop says it will charge and deliver, if it says.
    pub quote: Quote,
}

/// The price and product a shop reports with `quoted` or `accepted`; each
/// part is optional, and larder's price guard checks every part given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quote {
    /// What the whole order will cost.
    pub total: Option<f64>,
    /// Currency of `total` (ISO 4217).
    pub currency: Option<String>,
    /// The product the shop will deliver (a substitution if it differs).
    pub product: Option<String>,
}

/// Decodes a shop acknowledgement (JSON if it starts with `{`, else CBOR).
///
/// Leading JSON whitespace is skipped before looking at the first byte.
/// Fields: `intent` (1..=64 chars), `status`, optional `reason`
/// (≤ 512 chars, `null` = absent); unknown or duplicate fields are refused.
pub fn decode_ack(bytes: &[u8]) -> Result<UpstreamAck, IntentError> {
    use crate::config::PayloadFormat;
    use crate::protocol::events::field_map::Scalar;
    if bytes.len() > MAX_ACK_BYTES {
        return Err(IntentError::TooLarge(bytes.len()));
    }
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let format = if first == Some(&b'{') {
        PayloadFormat::Json
    } else {
        PayloadFormat::Cbor
    };
    let malformed = |m: String| IntentError::Malformed(m);
    let mut map = crate::protocol::events::field_map::decode_field_map(format, bytes)
        .map_err(|e| malformed(e.to_string()))?;
    let intent = map.take("intent");
    let status = map.take("status");
    let reason = map.take("reason");
    let total = map.take("total");
    let currency = map.take("currency");
    let product = map.take("product");
    map.refuse_leftovers(format)
        .map_err(|e| malformed(e.to_string()))?;

    let intent = match intent {
        Some(Scalar::Text(t)) if !t.is_empty() && t.chars().count() <= ID_MAX => t,
        Some(Scalar::Text(_)) => {
            return Err(malformed(format!(
                "\"intent\" must be 1 to {ID_MAX} characters"
            )));
        }
        None | Some(Scalar::Null) => return Err(malformed("missing \"intent\"".into())),
        Some(other) => {
            return Err(malformed(format!(
                "\"intent\" must be text, got {}",
                other.describe()
            )));
        }
    };
    let status = match status {
        Some(Scalar::Text(t)) => match t.as_str() {
            "quoted" => AckStatus::Quoted,
            "accepted" => AckStatus::Accepted,
            "delivered" => AckStatus::Delivered,
            "rejected" => AckStatus::Rejected,
            _ => {
                return Err(malformed(format!(
                    "unknown status {:?} (quoted, accepted, delivered, rejected)",
                    crate::protocol::cbor::clip(&t)
                )));
            }
        },
        None | Some(Scalar::Null) => return Err(malformed("missing \"status\"".into())),
        Some(other) => {
            return Err(malformed(format!(
                "\"status\" must be text, got {}",
                other.describe()
            )));
        }
    };
    let reason = match reason {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Text(t)) if t.chars().count() <= REASON_MAX_CHARS => Some(t),
        Some(Scalar::Text(_)) => {
            return Err(malformed(format!(
                "\"reason\" is longer than {REASON_MAX_CHARS} characters"
            )));
        }
        Some(other) => {
            return Err(malformed(format!(
                "\"reason\" must be text, got {}",
                other.describe()
            )));
        }
    };
    let total = match total {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Float(f)) if f.is_finite() && (0.0..=MAX_TOTAL).contains(&f) => Some(f),
        Some(Scalar::UInt(n)) if n as f64 <= MAX_TOTAL => Some(n as f64),
        Some(other) => {
            return Err(malformed(format!(
                "\"total\" must be a number from 0 to {MAX_TOTAL}, got {}",
                other.describe()
            )));
        }
    };
    let optional_text = |name: &str, value: Option<Scalar>, max: usize| match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Text(t)) if !t.is_empty() && t.chars().count() <= max => Ok(Some(t)),
        Some(Scalar::Text(_)) => Err(malformed(format!(
            "\"{name}\" must be 1 to {max} characters"
        ))),
        Some(other) => Err(malformed(format!(
            "\"{name}\" must be text, got {}",
            other.describe()
        ))),
    };
    let quote = Quote {
        total,
        currency: optional_text("currency", currency, CURRENCY_MAX)?,
        product: optional_text("product", product, TEXT_MAX)?,
    };
    if status == AckStatus::Quoted && quote.total.is_none() {
        return Err(malformed("a \"quoted\" ack needs \"total\"".into()));
    }
    Ok(UpstreamAck {
        intent,
        status,
        reason,
        quote,
    })
}

#[derive(serde::Serialize)]
struct AckOut<'a> {
    intent: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<&'a str>,
}

/// Encodes an acknowledgement as JSON (used by the demo's shop and tests).
pub fn encode_ack_json(ack: &UpstreamAck) -> Vec<u8> {
    let out = AckOut {
        intent: &ack.intent,
        status: ack.status.as_str(),
        reason: ack.reason.as_deref(),
        total: ack.quote.total,
        currency: ack.quote.currency.as_deref(),
        product: ack.quote.product.as_deref(),
    };
    serde_json::to_vec(&out).expect("a plain struct always serializes to JSON")
}

/// Encodes an acknowledgement as CBOR (same fields as JSON; for shops that
/// speak CBOR and for tests).
pub fn encode_ack_cbor(ack: &UpstreamAck) -> Vec<u8> {
    use ciborium::Value;
    let text = |s: &str| Value::Text(s.to_owned());
    // RFC 8949 deterministic order: shorter keys first, then bytewise.
    let mut entries = Vec::new();
    if let Some(total) = ack.quote.total {
        entries.push((text("total"), Value::Float(total)));
    }
    entries.push((text("intent"), text(&ack.intent)));
    if let Some(reason) = &ack.reason {
        entries.push((text("reason"), text(reason)));
    }
    entries.push((text("status"), text(ack.status.as_str())));
    if let Some(product) = &ack.quote.product {
        entries.push((text("product"), text(product)));
    }
    if let Some(currency) = &ack.quote.currency {
        entries.push((text("currency"), text(currency)));
    }
    crate::protocol::cbor::cbor_to_vec(&Value::Map(entries))
}
