//! The hub-signed upstream messages: the purchase intent (a closed CBOR
//! field list in a COSE_Sign1) and its cancellation, signed and verified.

use super::{CURRENCY_MAX, ID_MAX, IntentError, TEXT_MAX};
use crate::crypto::keys::SigningKey;

/// Largest signed intent `verify_intent` accepts, in bytes (room for about
/// 150 member digests).
pub const MAX_INTENT_BYTES: usize = 8192;

/// Intent payload version.
const VERSION: u64 = 1;
/// Most member digests in one intent.
const DIGESTS_MAX: usize = 128;

/// A purchase intent as sent upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// Idempotency key, minted once (32 hex digits).
    pub id: String,
    /// Hub id.
    pub hub: String,
    /// Product / SKU.
    pub product: String,
    /// Whole packages.
    pub packages: u32,
    /// Most the whole order may cost.
    pub price_ceiling: f64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Deliver no earlier than (Unix seconds).
    pub deliver_after: i64,
    /// Deliver no later than (Unix seconds).
    pub deliver_before: i64,
    /// Why it is authorised.
    pub evidence: Evidence,
    /// When the hub signed it (Unix seconds).
    pub issued_at: i64,
}

/// Approval evidence: which rule, or digests of the members' signed replies
/// (never names; the household can match digests against its ledger).
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// Auto-approved by the named rule.
    Rule(String),
    /// Approved by members; SHA-256 of each signed reply.
    Members(Vec<[u8; 32]>),
}

/// Why an intent larder sent is withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// A household member cancelled it inside the cancellation window.
    Household,
    /// The shop's price is above the intent's ceiling.
    PriceAboveCeiling,
    /// The shop would deliver another product.
    SubstitutedProduct,
    /// The shop priced it in another currency.
    CurrencyMismatch,
}

impl CancelReason {
    const ALL: [CancelReason; 4] = [
        CancelReason::Household,
        CancelReason::PriceAboveCeiling,
        CancelReason::SubstitutedProduct,
        CancelReason::CurrencyMismatch,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Household => "household",
            CancelReason::PriceAboveCeiling => "price_above_ceiling",
            CancelReason::SubstitutedProduct => "substituted_product",
            CancelReason::CurrencyMismatch => "currency_mismatch",
        }
    }
}

/// A signed withdrawal of an intent, sent upstream with the intent's own
/// idempotency key: the shop must not fulfil that id.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancellation {
    /// The intent's id (its idempotency key).
    pub id: String,
    /// Hub id.
    pub hub: String,
    /// Why.
    pub reason: CancelReason,
    /// When the hub signed it (Unix seconds).
    pub issued_at: i64,
}

/// A verified message from larder's upstream topic.
#[derive(Debug, Clone, PartialEq)]
pub enum Upstream {
    /// Place this order (once per id).
    Intent(Intent),
    /// Do not fulfil this id.
    Cancel(Cancellation),
}

/// The COSE key id of a hub's signatures: `"hub:" + hub id`.
pub fn hub_kid(hub: &str) -> String {
    format!("hub:{hub}")
}

/// Encodes and signs an intent with the hub key (COSE_Sign1, tagged).
///
/// Protected header `{1: -8 (EdDSA), 4: "hub:<hub>"}`, empty external AAD,
/// payload the closed CBOR map described in `docs/protocol.md` (keys in
/// RFC 8949 deterministic order, `price_ceiling` always a float).
pub fn sign_intent(key: &SigningKey, intent: &Intent) -> Vec<u8> {
    use ciborium::Value;
    let text = |s: &str| Value::Text(s.to_owned());
    let evidence = match &intent.evidence {
        Evidence::Rule(rule) => Value::Map(vec![
            (text("kind"), text("rule")),
            (text("rule"), text(rule)),
        ]),
        Evidence::Members(digests) => Value::Map(vec![
            (text("kind"), text("members")),
            (
                text("digests"),
                Value::Array(digests.iter().map(|d| Value::Bytes(d.to_vec())).collect()),
            ),
        ]),
    };
    let payload = Value::Map(vec![
        (text("v"), Value::Integer(VERSION.into())),
        (text("id"), text(&intent.id)),
        (text("hub"), text(&intent.hub)),
        (text("iat"), Value::Integer(intent.issued_at.into())),
        (text("product"), text(&intent.product)),
        (text("currency"), text(&intent.currency)),
        (text("evidence"), evidence),
        (text("packages"), Value::Integer(intent.packages.into())),
        (
            text("deliver_after"),
            Value::Integer(intent.deliver_after.into()),
        ),
        (text("price_ceiling"), Value::Float(intent.price_ceiling)),
        (
            text("deliver_before"),
            Value::Integer(intent.deliver_before.into()),
        ),
    ]);
    crate::protocol::cose::sign1(
        key,
        hub_kid(&intent.hub).as_bytes(),
        crate::protocol::cbor::cbor_to_vec(&payload),
        &[],
    )
}

/// Verifies a signed intent against the hub's public key and decodes it.
///
/// Checks, in order: size (`MAX_INTENT_BYTES`), COSE_Sign1 structure with
/// protected alg EdDSA, the signature (empty AAD), then the payload: exactly
/// the closed field list, `v` = 1, and kid = `"hub:" + hub`.
pub fn verify_intent(bytes: &[u8], hub_public_key: &[u8; 32]) -> Result<Intent, IntentError> {
    match verify_upstream(bytes, hub_public_key)? {
        Upstream::Intent(intent) => Ok(intent),
        Upstream::Cancel(_) => Err(IntentError::Malformed(
            "a cancellation, not an intent".into(),
        )),
    }
}

/// Verifies any signed upstream message (an intent or a cancellation)
/// against the hub's public key and decodes it. A payload with an `action`
/// key is a cancellation; otherwise it is an intent. Same checks as
/// [`verify_intent`], each message kind with its own closed field list.
pub fn verify_upstream(bytes: &[u8], hub_public_key: &[u8; 32]) -> Result<Upstream, IntentError> {
    use crate::protocol::cose::EnvelopeError;
    if bytes.len() > MAX_INTENT_BYTES {
        return Err(IntentError::TooLarge(bytes.len()));
    }
    let envelope = crate::protocol::cose::open_envelope(bytes).map_err(|e| match e {
        EnvelopeError::Malformed(m) => IntentError::Malformed(m),
        EnvelopeError::Algorithm => {
            IntentError::Malformed("unsupported signature algorithm (EdDSA required)".into())
        }
    })?;
    if !envelope.verify(hub_public_key, &[]) {
        return Err(IntentError::BadSignature);
    }
    let message = if payload_has_key(&envelope.payload, "action") {
        Upstream::Cancel(decode_cancel(&envelope.payload).map_err(IntentError::Malformed)?)
    } else {
        Upstream::Intent(decode_intent(&envelope.payload).map_err(IntentError::Malformed)?)
    };
    let hub = match &message {
        Upstream::Intent(intent) => &intent.hub,
        Upstream::Cancel(cancel) => &cancel.hub,
    };
    if envelope.kid != hub_kid(hub).as_bytes() {
        return Err(IntentError::Malformed(
            "key id does not match the message's hub".into(),
        ));
    }
    Ok(message)
}

/// Whether a CBOR map payload has a text key `key` (false if not a map).
fn payload_has_key(payload: &[u8], key: &str) -> bool {
    match ciborium::from_reader::<ciborium::Value, _>(payload) {
        Ok(ciborium::Value::Map(entries)) => entries
            .iter()
            .any(|(k, _)| matches!(k, ciborium::Value::Text(t) if t == key)),
        _ => false,
    }
}

/// Encodes and signs a cancellation with the hub key, like an intent:
/// payload `{v, id, hub, iat, action: "cancel", reason}` (deterministic
/// key order, closed list).
pub fn sign_cancel(key: &SigningKey, cancel: &Cancellation) -> Vec<u8> {
    use ciborium::Value;
    let text = |s: &str| Value::Text(s.to_owned());
    let payload = Value::Map(vec![
        (text("v"), Value::Integer(VERSION.into())),
        (text("id"), text(&cancel.id)),
        (text("hub"), text(&cancel.hub)),
        (text("iat"), Value::Integer(cancel.issued_at.into())),
        (text("action"), text("cancel")),
        (text("reason"), text(cancel.reason.as_str())),
    ]);
    crate::protocol::cose::sign1(
        key,
        hub_kid(&cancel.hub).as_bytes(),
        crate::protocol::cbor::cbor_to_vec(&payload),
        &[],
    )
}

/// The fields every upstream message starts with: `v` (must be
/// `VERSION`), then `id` and `hub`.
fn take_header(fields: &mut crate::protocol::cbor::CborFields) -> Result<(String, String), String> {
    use crate::protocol::cbor::cbor_text;
    match fields.take("v")? {
        ciborium::Value::Integer(v) if u64::try_from(v) == Ok(VERSION) => {}
        _ => return Err(format!("unsupported version (expected {VERSION})")),
    }
    let id = cbor_text("id", fields.take("id")?, ID_MAX)?;
    let hub = cbor_text("hub", fields.take("hub")?, ID_MAX)?;
    Ok((id, hub))
}

fn decode_cancel(payload: &[u8]) -> Result<Cancellation, String> {
    use crate::protocol::cbor::{CborFields, cbor_i64, cbor_text};
    let mut fields = CborFields::decode(payload)?;
    let (id, hub) = take_header(&mut fields)?;
    let issued_at = cbor_i64("iat", fields.take("iat")?)?;
    if cbor_text("action", fields.take("action")?, TEXT_MAX)? != "cancel" {
        return Err("field \"action\" must be \"cancel\"".into());
    }
    let reason = cbor_text("reason", fields.take("reason")?, TEXT_MAX)?;
    let reason = CancelReason::ALL
        .into_iter()
        .find(|r| r.as_str() == reason)
        .ok_or_else(|| {
            format!(
                "unknown cancel reason {:?}",
                crate::protocol::cbor::clip(&reason)
            )
        })?;
    fields.finish()?;
    Ok(Cancellation {
        id,
        hub,
        reason,
        issued_at,
    })
}

fn decode_intent(payload: &[u8]) -> Result<Intent, String> {
    use crate::protocol::cbor::{CborFields, cbor_i64, cbor_text};
    use ciborium::Value;
    let mut fields = CborFields::decode(payload)?;
    let (id, hub) = take_header(&mut fields)?;
    let product = cbor_text("product", fields.take("product")?, TEXT_MAX)?;
    let packages = match fields.take("packages")? {
        Value::Integer(n) => {
            u32::try_from(n).map_err(|_| "field \"packages\" is out of range".to_owned())?
        }
        _ => return Err("field \"packages\" must be an integer".into()),
    };
    let price_ceiling = match fields.take("price_ceiling")? {
        Value::Float(f) => f,
        Value::Integer(n) => i64::try_from(n)
            .map(|n| n as f64)
            .map_err(|_| "field \"price_ceiling\" is out of range".to_owned())?,
        _ => return Err("field \"price_ceiling\" must be a number".into()),
    };
    if !price_ceiling.is_finite() || price_ceiling < 0.0 {
        return Err("field \"price_ceiling\" must be a finite, non-negative number".into());
    }
    let currency = cbor_text("currency", fields.take("currency")?, CURRENCY_MAX)?;
    let deliver_after = cbor_i64("deliver_after", fields.take("deliver_after")?)?;
    let deliver_before = cbor_i64("deliver_before", fields.take("deliver_before")?)?;
    if deliver_after > deliver_before {
        return Err("delivery window ends before it starts".into());
    }
    let evidence = decode_evidence(fields.take("evidence")?)?;
    let issued_at = cbor_i64("iat", fields.take("iat")?)?;
    fields.finish()?;
    Ok(Intent {
        id,
        hub,
        product,
        packages,
        price_ceiling,
        currency,
        deliver_after,
        deliver_before,
        evidence,
        issued_at,
    })
}

fn decode_evidence(value: ciborium::Value) -> Result<Evidence, String> {
    use crate::protocol::cbor::{CborFields, cbor_text};
    use ciborium::Value;
    let mut fields = CborFields::from_value(value).map_err(|e| format!("evidence: {e}"))?;
    let kind = cbor_text("kind", fields.take("kind")?, TEXT_MAX)?;
    let evidence = match kind.as_str() {
        "rule" => Evidence::Rule(cbor_text("rule", fields.take("rule")?, TEXT_MAX)?),
        "members" => {
            let Value::Array(items) = fields.take("digests")? else {
                return Err("evidence \"digests\" must be an array".into());
            };
            if items.len() > DIGESTS_MAX {
                return Err(format!("more than {DIGESTS_MAX} digests"));
            }
            let digests = items
                .into_iter()
                .map(|item| match item {
                    Value::Bytes(b) => <[u8; 32]>::try_from(b)
                        .map_err(|_| "each digest must be 32 bytes".to_owned()),
                    _ => Err("each digest must be a byte string".to_owned()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Evidence::Members(digests)
        }
        _ => return Err("evidence \"kind\" must be \"rule\" or \"members\"".into()),
    };
    fields.finish().map_err(|e| format!("evidence: {e}"))?;
    Ok(evidence)
}
