//! The upstream purchase intent (CBOR in a COSE_Sign1 signed by the hub)
//! and the shop's acknowledgements.
//!
//! Architecture invariant: the intent's field list is closed. It carries
//! what a shop needs to deliver and nothing about the household's habits.

use crate::crypto::keys::SigningKey;

/// Largest upstream ack accepted, in bytes.
pub const MAX_ACK_BYTES: usize = 4096;

/// Largest signed intent `verify_intent` accepts, in bytes (room for about
/// 150 member digests).
pub const MAX_INTENT_BYTES: usize = 8192;

/// Intent payload version.
const VERSION: u64 = 1;
/// Longest intent id, hub id or ack intent reference.
const ID_MAX: usize = 64;
/// Longest product, rule name or currency text.
const TEXT_MAX: usize = 256;
/// Longest currency code.
const CURRENCY_MAX: usize = 16;
/// Most member digests in one intent.
const DIGESTS_MAX: usize = 128;
/// Longest ack reason, in characters.
const REASON_MAX_CHARS: usize = 512;
/// Largest order total a shop may quote.
const MAX_TOTAL: f64 = 1e9;

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

/// Why upstream bytes were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntentError {
    /// Over the size limit.
    #[error("payload of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Not decodable or a field is wrong.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The hub signature does not verify.
    #[error("bad hub signature")]
    BadSignature,
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
    crate::protocol::approval::sign1(
        key,
        hub_kid(&intent.hub).as_bytes(),
        crate::protocol::events::cbor_to_vec(&payload),
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
    use crate::protocol::approval::EnvelopeError;
    if bytes.len() > MAX_INTENT_BYTES {
        return Err(IntentError::TooLarge(bytes.len()));
    }
    let envelope = crate::protocol::approval::open_envelope(bytes).map_err(|e| match e {
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
    crate::protocol::approval::sign1(
        key,
        hub_kid(&cancel.hub).as_bytes(),
        crate::protocol::events::cbor_to_vec(&payload),
        &[],
    )
}

/// The fields every upstream message starts with: `v` (must be
/// `VERSION`), then `id` and `hub`.
fn take_header(
    fields: &mut crate::protocol::approval::CborFields,
) -> Result<(String, String), String> {
    use crate::protocol::approval::cbor_text;
    match fields.take("v")? {
        ciborium::Value::Integer(v) if u64::try_from(v) == Ok(VERSION) => {}
        _ => return Err(format!("unsupported version (expected {VERSION})")),
    }
    let id = cbor_text("id", fields.take("id")?, ID_MAX)?;
    let hub = cbor_text("hub", fields.take("hub")?, ID_MAX)?;
    Ok((id, hub))
}

fn decode_cancel(payload: &[u8]) -> Result<Cancellation, String> {
    use crate::protocol::approval::{CborFields, cbor_i64, cbor_text};
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
                crate::protocol::events::clip(&reason)
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
    use crate::protocol::approval::{CborFields, cbor_i64, cbor_text};
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
    use crate::protocol::approval::{CborFields, cbor_text};
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

/// Decodes a shop acknowledgement (JSON if it starts with `{`, else CBOR).
///
/// Leading JSON whitespace is skipped before looking at the first byte.
/// Fields: `intent` (1..=64 chars), `status`, optional `reason`
/// (≤ 512 chars, `null` = absent); unknown or duplicate fields are refused.
pub fn decode_ack(bytes: &[u8]) -> Result<UpstreamAck, IntentError> {
    use crate::config::PayloadFormat;
    use crate::protocol::events::Scalar;
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
    let mut map = crate::protocol::events::decode_field_map(format, bytes)
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
                    crate::protocol::events::clip(&t)
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
    crate::protocol::events::cbor_to_vec(&Value::Map(entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::Value;
    use coset::TaggedCborSerializable;

    fn intent(evidence: Evidence) -> Intent {
        Intent {
            id: "0123456789abcdef0123456789abcdef".into(),
            hub: "home".into(),
            product: "acme-milk-1l".into(),
            packages: 2,
            price_ceiling: 2.62,
            currency: "EUR".into(),
            deliver_after: 1_767_225_600,
            deliver_before: 1_767_398_400,
            evidence,
            issued_at: 1_767_225_601,
        }
    }

    #[test]
    fn intent_round_trip_both_evidence_kinds() {
        let hub = SigningKey::generate();
        for evidence in [
            Evidence::Rule("milk-under-5".into()),
            Evidence::Members(vec![[1; 32], [2; 32]]),
            Evidence::Members(vec![]),
        ] {
            let i = intent(evidence);
            let bytes = sign_intent(&hub, &i);
            assert_eq!(bytes.first(), Some(&0xd2));
            assert_eq!(verify_intent(&bytes, &hub.public_key()), Ok(i));
        }
        // Whole-number ceilings stay exact.
        let mut i = intent(Evidence::Rule("r".into()));
        i.price_ceiling = 12.0;
        assert_eq!(
            verify_intent(&sign_intent(&hub, &i), &hub.public_key()),
            Ok(i)
        );
    }

    #[test]
    fn payload_has_exactly_the_documented_fields() {
        let hub = SigningKey::generate();
        let bytes = sign_intent(&hub, &intent(Evidence::Members(vec![[7; 32]])));
        let sign1 = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
        assert_eq!(sign1.protected.header.key_id, b"hub:home");
        assert!(sign1.unprotected.is_empty());
        let tbs = sign1.tbs_data(&[]);
        assert!(crate::crypto::keys::verify(
            &hub.public_key(),
            &tbs,
            &sign1.signature
        ));
        let Value::Map(entries) =
            crate::protocol::events::cbor_value_from_slice(sign1.payload.as_ref().unwrap())
                .unwrap()
        else {
            panic!("payload not a map")
        };
        let keys: Vec<_> = entries.iter().map(|(k, _)| k.as_text().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "v",
                "id",
                "hub",
                "iat",
                "product",
                "currency",
                "evidence",
                "packages",
                "deliver_after",
                "price_ceiling",
                "deliver_before"
            ]
        );
        let price = entries
            .iter()
            .find(|(k, _)| k.as_text() == Some("price_ceiling"))
            .unwrap();
        assert!(matches!(price.1, Value::Float(_)));
    }

    #[test]
    fn tampered_or_wrong_key_fails() {
        let hub = SigningKey::generate();
        let bytes = sign_intent(&hub, &intent(Evidence::Rule("r".into())));
        // Change a payload byte: "acme" -> "bcme".
        let mut tampered = bytes.clone();
        let at = tampered.windows(4).position(|w| w == b"acme").unwrap();
        tampered[at] = b'b';
        assert_eq!(
            verify_intent(&tampered, &hub.public_key()),
            Err(IntentError::BadSignature)
        );
        // Re-encode with a changed payload but the old signature.
        let mut sign1 = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
        let mut p = intent(Evidence::Rule("r".into()));
        p.packages = 200;
        let other = coset::CoseSign1::from_tagged_slice(&sign_intent(&hub, &p)).unwrap();
        sign1.payload = other.payload;
        assert_eq!(
            verify_intent(&sign1.to_tagged_vec().unwrap(), &hub.public_key()),
            Err(IntentError::BadSignature)
        );
        let stranger = SigningKey::generate();
        assert_eq!(
            verify_intent(&bytes, &stranger.public_key()),
            Err(IntentError::BadSignature)
        );
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x80;
        assert_eq!(
            verify_intent(&flipped, &hub.public_key()),
            Err(IntentError::BadSignature)
        );
        assert_eq!(
            verify_intent(&vec![0; MAX_INTENT_BYTES + 1], &hub.public_key()),
            Err(IntentError::TooLarge(MAX_INTENT_BYTES + 1))
        );
        for bad in [&b""[..], b"\xd2", &bytes[..bytes.len() - 1], b"{}"] {
            assert!(matches!(
                verify_intent(bad, &hub.public_key()),
                Err(IntentError::Malformed(_))
            ));
        }
    }

    /// Signs an arbitrary payload map as the hub would.
    fn signed_payload(hub: &SigningKey, edit: impl FnOnce(&mut Vec<(Value, Value)>)) -> Vec<u8> {
        let good = sign_intent(hub, &intent(Evidence::Rule("r".into())));
        let sign1 = coset::CoseSign1::from_tagged_slice(&good).unwrap();
        let Value::Map(mut entries) =
            crate::protocol::events::cbor_value_from_slice(sign1.payload.as_ref().unwrap())
                .unwrap()
        else {
            panic!()
        };
        edit(&mut entries);
        crate::protocol::approval::sign1(
            hub,
            b"hub:home",
            crate::protocol::events::cbor_to_vec(&Value::Map(entries)),
            &[],
        )
    }

    fn set(entries: &mut [(Value, Value)], key: &str, value: Value) {
        for e in entries.iter_mut() {
            if e.0.as_text() == Some(key) {
                e.1 = value.clone();
            }
        }
    }

    #[test]
    fn signed_but_malformed_payloads_are_refused() {
        let hub = SigningKey::generate();
        type Edit = Box<dyn FnOnce(&mut Vec<(Value, Value)>)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "extra field",
                Box::new(|e| e.push((Value::Text("household".into()), Value::Text("x".into())))),
            ),
            (
                "missing field",
                Box::new(|e| e.retain(|(k, _)| k.as_text() != Some("iat"))),
            ),
            ("v 2", Box::new(|e| set(e, "v", Value::Integer(2.into())))),
            (
                "packages negative",
                Box::new(|e| set(e, "packages", Value::Integer((-1).into()))),
            ),
            (
                "packages huge",
                Box::new(|e| set(e, "packages", Value::Integer(u64::MAX.into()))),
            ),
            (
                "price NaN",
                Box::new(|e| set(e, "price_ceiling", Value::Float(f64::NAN))),
            ),
            (
                "price text",
                Box::new(|e| set(e, "price_ceiling", Value::Text("1".into()))),
            ),
            (
                "window reversed",
                Box::new(|e| set(e, "deliver_after", Value::Integer(i64::MAX.into()))),
            ),
            (
                "evidence unknown kind",
                Box::new(|e| {
                    set(
                        e,
                        "evidence",
                        Value::Map(vec![(
                            Value::Text("kind".into()),
                            Value::Text("vibes".into()),
                        )]),
                    )
                }),
            ),
            (
                "evidence extra",
                Box::new(|e| {
                    set(
                        e,
                        "evidence",
                        Value::Map(vec![
                            (Value::Text("kind".into()), Value::Text("rule".into())),
                            (Value::Text("rule".into()), Value::Text("r".into())),
                            (Value::Text("member".into()), Value::Text("alice".into())),
                        ]),
                    )
                }),
            ),
            (
                "short digest",
                Box::new(|e| {
                    set(
                        e,
                        "evidence",
                        Value::Map(vec![
                            (Value::Text("kind".into()), Value::Text("members".into())),
                            (
                                Value::Text("digests".into()),
                                Value::Array(vec![Value::Bytes(vec![1; 31])]),
                            ),
                        ]),
                    )
                }),
            ),
            (
                "other hub",
                Box::new(|e| set(e, "hub", Value::Text("cabin".into()))),
            ),
            (
                "tagged id",
                Box::new(|e| set(e, "id", Value::Tag(0, Box::new(Value::Text("x".into()))))),
            ),
        ];
        for (name, edit) in cases {
            let bytes = signed_payload(&hub, edit);
            let got = verify_intent(&bytes, &hub.public_key());
            assert!(
                matches!(got, Err(IntentError::Malformed(_))),
                "{name}: {got:?}"
            );
        }
    }

    #[test]
    fn ack_json_and_cbor_decode() {
        let acks = [
            UpstreamAck {
                intent: "0123456789abcdef0123456789abcdef".into(),
                status: AckStatus::Accepted,
                reason: None,
                quote: Quote::default(),
            },
            UpstreamAck {
                intent: "i2".into(),
                status: AckStatus::Delivered,
                reason: None,
                quote: Quote::default(),
            },
            UpstreamAck {
                intent: "i3".into(),
                status: AckStatus::Rejected,
                reason: Some("price above ceiling ✗".into()),
                quote: Quote::default(),
            },
            UpstreamAck {
                intent: "i4".into(),
                status: AckStatus::Quoted,
                reason: None,
                quote: Quote {
                    total: Some(3.1),
                    currency: Some("EUR".into()),
                    product: Some("acme-oat-1l".into()),
                },
            },
        ];
        for ack in &acks {
            assert_eq!(decode_ack(&encode_ack_json(ack)).as_ref(), Ok(ack));
            assert_eq!(decode_ack(&encode_ack_cbor(ack)).as_ref(), Ok(ack));
        }
        assert_eq!(
            std::str::from_utf8(&encode_ack_json(&acks[2])).unwrap(),
            r#"{"intent":"i3","status":"rejected","reason":"price above ceiling ✗"}"#
        );
        let spaced =
            decode_ack(b"\n  {\"status\":\"delivered\", \"intent\":\"i2\", \"reason\":null}\n")
                .unwrap();
        assert_eq!(spaced, acks[1]);
    }

    #[test]
    fn a_cancellation_round_trips_and_is_told_apart_from_an_intent() {
        let hub = SigningKey::generate();
        let cancel = Cancellation {
            id: "0123456789abcdef0123456789abcdef".into(),
            hub: "home".into(),
            reason: CancelReason::PriceAboveCeiling,
            issued_at: 1_767_225_601,
        };
        let bytes = sign_cancel(&hub, &cancel);
        assert_eq!(
            verify_upstream(&bytes, &hub.public_key()),
            Ok(Upstream::Cancel(cancel.clone()))
        );
        assert!(matches!(
            verify_intent(&bytes, &hub.public_key()),
            Err(IntentError::Malformed(m)) if m.contains("cancellation")
        ));
        let other = SigningKey::generate();
        assert_eq!(
            verify_upstream(&bytes, &other.public_key()),
            Err(IntentError::BadSignature)
        );
        let signed = sign_intent(&hub, &intent(Evidence::Rule("r".into())));
        assert!(matches!(
            verify_upstream(&signed, &hub.public_key()),
            Ok(Upstream::Intent(_))
        ));
    }

    #[test]
    fn quotes_are_checked_field_by_field() {
        for (bytes, needle) in [
            (
                &br#"{"intent":"a","status":"quoted"}"#[..],
                "needs \"total\"",
            ),
            (br#"{"intent":"a","status":"quoted","total":-1}"#, "total"),
            (br#"{"intent":"a","status":"quoted","total":1e12}"#, "total"),
            (
                br#"{"intent":"a","status":"accepted","total":"3"}"#,
                "total",
            ),
            (
                br#"{"intent":"a","status":"accepted","product":""}"#,
                "product",
            ),
            (
                br#"{"intent":"a","status":"accepted","currency":7}"#,
                "currency",
            ),
        ] {
            let err = decode_ack(bytes).expect_err(std::str::from_utf8(bytes).unwrap());
            assert!(err.to_string().contains(needle), "{err}");
        }
        let ack = decode_ack(br#"{"intent":"a","status":"accepted","total":3}"#).unwrap();
        assert_eq!(ack.quote.total, Some(3.0));
    }

    #[test]
    fn hostile_acks_are_refused() {
        let cbor = |entries: Vec<(Value, Value)>| {
            crate::protocol::events::cbor_to_vec(&Value::Map(entries))
        };
        let t = |s: &str| Value::Text(s.into());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("whitespace", b"   ".to_vec()),
            ("not json", b"{nope}".to_vec()),
            (
                "json array",
                b"[{\"intent\":\"a\",\"status\":\"accepted\"}]".to_vec(),
            ),
            ("truncated", b"{\"intent\":\"a\",\"status\":\"acc".to_vec()),
            (
                "trailing",
                b"{\"intent\":\"a\",\"status\":\"accepted\"}}".to_vec(),
            ),
            (
                "unknown status",
                b"{\"intent\":\"a\",\"status\":\"lost\"}".to_vec(),
            ),
            ("status number", b"{\"intent\":\"a\",\"status\":1}".to_vec()),
            ("missing status", b"{\"intent\":\"a\"}".to_vec()),
            ("missing intent", b"{\"status\":\"accepted\"}".to_vec()),
            (
                "empty intent",
                b"{\"intent\":\"\",\"status\":\"accepted\"}".to_vec(),
            ),
            (
                "long intent",
                format!(
                    "{{\"intent\":\"{}\",\"status\":\"accepted\"}}",
                    "a".repeat(65)
                )
                .into_bytes(),
            ),
            (
                "intent number",
                b"{\"intent\":5,\"status\":\"accepted\"}".to_vec(),
            ),
            (
                "long reason",
                format!(
                    "{{\"intent\":\"a\",\"status\":\"rejected\",\"reason\":\"{}\"}}",
                    "r".repeat(513)
                )
                .into_bytes(),
            ),
            (
                "reason object",
                b"{\"intent\":\"a\",\"status\":\"rejected\",\"reason\":{\"x\":1}}".to_vec(),
            ),
            (
                "unknown field",
                b"{\"intent\":\"a\",\"status\":\"accepted\",\"price\":3}".to_vec(),
            ),
            (
                "duplicate field",
                b"{\"intent\":\"a\",\"status\":\"accepted\",\"status\":\"delivered\"}".to_vec(),
            ),
            (
                "invalid utf-8",
                b"{\"intent\":\"\xff\",\"status\":\"accepted\"}".to_vec(),
            ),
            (
                "deep",
                [b"{\"intent\":".to_vec(), vec![b'['; 3000]].concat(),
            ),
            ("cbor garbage", vec![0xff, 0x00]),
            (
                "cbor trailing",
                [
                    cbor(vec![(t("intent"), t("a")), (t("status"), t("accepted"))]),
                    vec![0],
                ]
                .concat(),
            ),
            (
                "cbor int key",
                cbor(vec![(Value::Integer(1.into()), t("a"))]),
            ),
            (
                "cbor tagged",
                [
                    vec![0xc0],
                    cbor(vec![(t("intent"), t("a")), (t("status"), t("accepted"))]),
                ]
                .concat(),
            ),
            (
                "cbor bytes intent",
                cbor(vec![
                    (t("intent"), Value::Bytes(b"a".to_vec())),
                    (t("status"), t("accepted")),
                ]),
            ),
            (
                "cbor extra",
                cbor(vec![
                    (t("intent"), t("a")),
                    (t("status"), t("accepted")),
                    (t("x"), Value::Null),
                ]),
            ),
        ];
        for (name, bytes) in cases {
            let got = decode_ack(&bytes);
            assert!(
                matches!(got, Err(IntentError::Malformed(_))),
                "{name}: {got:?}"
            );
        }
        assert_eq!(
            decode_ack(&vec![b' '; MAX_ACK_BYTES + 1]),
            Err(IntentError::TooLarge(MAX_ACK_BYTES + 1))
        );
        // 64 and 512 characters are still fine (multi-byte characters count once).
        let ok = format!(
            "{{\"intent\":\"{}\",\"status\":\"rejected\",\"reason\":\"{}\"}}",
            "é".repeat(64),
            "ü".repeat(512)
        );
        assert!(decode_ack(ok.as_bytes()).is_ok());
    }
}
