//! Approval requests (JSON, for apps) and member replies (COSE_Sign1,
//! Ed25519), with the checks that do not need the database.
//!
//! The engine adds the stateful checks: the intent is pending, the nonce is
//! the request's, the request has not expired, the member has not replied.

use crate::crypto::keys::SigningKey;

/// Largest reply accepted, in bytes (checked before parsing).
pub const MAX_REPLY_BYTES: usize = 4096;

/// COSE external AAD prefix binding a reply to larder approvals of one hub.
pub const AAD_PREFIX: &str = "larder-approval-v1:";

/// What a household member is asked (published as JSON, retained).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Protocol version (1).
    pub v: u32,
    /// Hub id.
    pub hub: String,
    /// Intent id the reply must name.
    pub intent: String,
    /// Single-use nonce (32 hex digits) the reply must echo.
    pub nonce: String,
    /// Unix seconds after which replies are refused.
    pub expires_at: i64,
    /// Item id.
    pub item: String,
    /// Item display name.
    pub item_name: String,
    /// Product / SKU.
    pub product: String,
    /// Whole packages.
    pub packages: u32,
    /// Amount in the item's unit.
    pub quantity: f64,
    /// The item's unit.
    pub unit: String,
    /// Price per package.
    pub unit_price: f64,
    /// Most the order may cost.
    pub price_ceiling: f64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Distinct member approvals needed.
    pub approvals_required: u32,
    /// Why larder proposes this and why it asks.
    pub why: Vec<String>,
    /// Topic to publish the signed reply on.
    pub reply_topic: String,
}

/// A member's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberVerdict {
    /// Go ahead.
    Approve,
    /// Do not order.
    Deny,
}

/// The signed content of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyClaims {
    /// Hub id.
    pub hub: String,
    /// Intent id.
    pub intent: String,
    /// The request's nonce (raw bytes).
    pub nonce: Vec<u8>,
    /// The decision.
    pub verdict: MemberVerdict,
    /// Member name (also the COSE `kid`).
    pub member: String,
    /// When the member signed (Unix seconds; informational, clocks may be off).
    pub issued_at: i64,
}

/// Why a reply was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplyError {
    /// Over the size limit.
    #[error("reply of {0} bytes exceeds the {MAX_REPLY_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not a COSE_Sign1 envelope with the expected payload.
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// Not signed with EdDSA.
    #[error("unsupported signature algorithm (EdDSA required)")]
    Algorithm,
    /// The key id names nobody in the household.
    #[error("unknown member {0:?}")]
    UnknownMember(String),
    /// The member exists but may not approve.
    #[error("member {0:?} may not approve")]
    NotApprover(String),
    /// The signature does not verify.
    #[error("bad signature for member {0:?}")]
    BadSignature(String),
}

/// The COSE external AAD for replies to `hub`: `AAD_PREFIX` + hub id.
fn reply_aad(hub: &str) -> Vec<u8> {
    [AAD_PREFIX.as_bytes(), hub.as_bytes()].concat()
}

/// Length of a reply nonce in bytes.
const NONCE_BYTES: usize = 16;
/// Longest intent id, hub id or member name accepted in a reply.
const NAME_MAX_BYTES: usize = 128;

/// Signs a reply as COSE_Sign1 (tagged), kid = member name.
///
/// Protected header `{1: -8 (EdDSA), 4: kid}`, payload the CBOR map
/// `{"hub", "iat", "nonce", "intent", "member", "decision"}` (deterministic
/// key order), external AAD `AAD_PREFIX` + `claims.hub`.
pub fn sign_reply(key: &SigningKey, claims: &ReplyClaims) -> Vec<u8> {
    use ciborium::Value;
    let text = |s: &str| Value::Text(s.to_owned());
    let payload = Value::Map(vec![
        (text("hub"), text(&claims.hub)),
        (text("iat"), Value::Integer(claims.issued_at.into())),
        (text("nonce"), Value::Bytes(claims.nonce.clone())),
        (text("intent"), text(&claims.intent)),
        (text("member"), text(&claims.member)),
        (
            text("decision"),
            text(match claims.verdict {
                MemberVerdict::Approve => "approve",
                MemberVerdict::Deny => "deny",
            }),
        ),
    ]);
    sign1(
        key,
        claims.member.as_bytes(),
        crate::protocol::events::cbor_to_vec(&payload),
        &reply_aad(&claims.hub),
    )
}

/// Builds a tagged COSE_Sign1 with protected `{alg: EdDSA, kid}`.
pub(crate) fn sign1(key: &SigningKey, kid: &[u8], payload: Vec<u8>, aad: &[u8]) -> Vec<u8> {
    use coset::TaggedCborSerializable;
    let protected = coset::HeaderBuilder::new()
        .algorithm(coset::iana::Algorithm::EdDSA)
        .key_id(kid.to_vec())
        .build();
    coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(aad, |tbs| key.sign(tbs).to_vec())
        .build()
        .to_tagged_vec()
        .expect("a freshly built COSE_Sign1 always serializes")
}

/// Why a COSE_Sign1 envelope was refused before any key was looked up.
#[derive(Debug)]
pub(crate) enum EnvelopeError {
    /// Not a well-formed envelope.
    Malformed(String),
    /// The protected algorithm is not EdDSA.
    Algorithm,
}

/// A parsed COSE_Sign1 whose protected algorithm is EdDSA.
pub(crate) struct Envelope {
    /// The parsed structure (protected header bytes kept as received).
    pub(crate) sign1: coset::CoseSign1,
    /// The key id (protected, else unprotected), non-empty.
    pub(crate) kid: Vec<u8>,
    /// The attached payload.
    pub(crate) payload: Vec<u8>,
}

impl Envelope {
    /// Whether the signature verifies under `public_key` with `aad`.
    pub(crate) fn verify(&self, public_key: &[u8; 32], aad: &[u8]) -> bool {
        self.sign1
            .verify_signature(aad, |signature, tbs| {
                if crate::crypto::keys::verify(public_key, tbs, signature) {
                    Ok(())
                } else {
                    Err(())
                }
            })
            .is_ok()
    }
}

/// Parses a tagged (18) or untagged COSE_Sign1 and checks the envelope:
/// protected alg EdDSA, no critical headers, no label in both buckets, a kid,
/// an attached payload. The caller checks the size first.
pub(crate) fn open_envelope(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    use coset::AsCborValue;
    let malformed = |m: &str| EnvelopeError::Malformed(m.to_owned());

    let value = crate::protocol::events::cbor_value_from_slice(bytes)
        .map_err(|e| EnvelopeError::Malformed(format!("not CBOR: {e}")))?;
    let value = match value {
        ciborium::Value::Tag(tag, inner) if tag == coset::iana::CborTag::CoseSign1 as u64 => *inner,
        ciborium::Value::Tag(tag, _) => {
            return Err(EnvelopeError::Malformed(format!(
                "CBOR tag {tag} is not COSE_Sign1 (18)"
            )));
        }
        other => other,
    };
    let sign1 = coset::CoseSign1::from_cbor_value(value)
        .map_err(|e| EnvelopeError::Malformed(format!("not a COSE_Sign1: {e}")))?;
    let protected = &sign1.protected.header;
    let unprotected = &sign1.unprotected;

    let eddsa = coset::Algorithm::Assigned(coset::iana::Algorithm::EdDSA);
    if protected.alg.as_ref() != Some(&eddsa) {
        return Err(EnvelopeError::Algorithm);
    }
    if unprotected.alg.is_some() {
        return Err(malformed("alg must appear in the protected header only"));
    }
    if !protected.crit.is_empty() || !unprotected.crit.is_empty() {
        return Err(malformed("critical header parameters are not supported"));
    }
    let kid = match (protected.key_id.is_empty(), unprotected.key_id.is_empty()) {
        (false, true) => protected.key_id.clone(),
        (true, false) => unprotected.key_id.clone(),
        (true, true) => return Err(malformed("missing key id (kid)")),
        (false, false) => return Err(malformed("kid appears in both headers")),
    };
    let Some(payload) = sign1.payload.clone() else {
        return Err(malformed("detached payloads are not supported"));
    };
    if sign1.signature.len() != 64 {
        return Err(malformed("an Ed25519 signature is 64 bytes"));
    }
    Ok(Envelope {
        sign1,
        kid,
        payload,
    })
}

/// The fields of a CBOR payload map: text keys, no duplicates, no tags.
pub(crate) struct CborFields(Vec<(String, ciborium::Value)>);

impl CborFields {
    /// Decodes a payload that must be one CBOR map.
    pub(crate) fn decode(bytes: &[u8]) -> Result<CborFields, String> {
        let value = crate::protocol::events::cbor_value_from_slice(bytes)?;
        CborFields::from_value(value)
    }

    /// Checks a value is a map with unique text keys and no tags inside.
    pub(crate) fn from_value(value: ciborium::Value) -> Result<CborFields, String> {
        let ciborium::Value::Map(entries) = value else {
            return Err("payload is not a CBOR map".to_owned());
        };
        let mut fields: Vec<(String, ciborium::Value)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let ciborium::Value::Text(key) = key else {
                return Err("payload keys must be text".to_owned());
            };
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(format!(
                    "duplicate field {:?}",
                    crate::protocol::events::clip(&key)
                ));
            }
            if contains_tag(&value) {
                return Err(format!(
                    "field {:?} contains a CBOR tag",
                    crate::protocol::events::clip(&key)
                ));
            }
            fields.push((key, value));
        }
        Ok(CborFields(fields))
    }

    /// Removes a required field.
    pub(crate) fn take(&mut self, name: &str) -> Result<ciborium::Value, String> {
        let index = self
            .0
            .iter()
            .position(|(key, _)| key == name)
            .ok_or_else(|| format!("missing field {name:?}"))?;
        Ok(self.0.swap_remove(index).1)
    }

    /// Fails if a field was not taken.
    pub(crate) fn finish(self) -> Result<(), String> {
        match self.0.first() {
            None => Ok(()),
            Some((key, _)) => Err(format!(
                "unknown field {:?}",
                crate::protocol::events::clip(key)
            )),
        }
    }
}

fn contains_tag(value: &ciborium::Value) -> bool {
    match value {
        ciborium::Value::Tag(..) => true,
        ciborium::Value::Array(items) => items.iter().any(contains_tag),
        ciborium::Value::Map(entries) => entries
            .iter()
            .any(|(k, v)| contains_tag(k) || contains_tag(v)),
        _ => false,
    }
}

/// A text field of at most `max` bytes (non-empty).
pub(crate) fn cbor_text(name: &str, value: ciborium::Value, max: usize) -> Result<String, String> {
    match value {
        ciborium::Value::Text(text) if !text.is_empty() && text.len() <= max => Ok(text),
        ciborium::Value::Text(_) => Err(format!("field {name:?} must be 1 to {max} bytes")),
        _ => Err(format!("field {name:?} must be text")),
    }
}

/// An integer field within `i64`.
pub(crate) fn cbor_i64(name: &str, value: ciborium::Value) -> Result<i64, String> {
    match value {
        ciborium::Value::Integer(n) => {
            i64::try_from(n).map_err(|_| format!("field {name:?} is out of range"))
        }
        _ => Err(format!("field {name:?} must be an integer")),
    }
}

/// Decodes a reply and verifies its signature against the member found by
/// `kid` through `member_key` (which returns the key and may-approve flag).
///
/// Checks, in order: size, COSE_Sign1 structure, protected alg EdDSA, kid
/// (UTF-8; protected or unprotected header — the signature binds the key
/// and the signed `member` must equal it), member known and an approver,
/// signature with AAD `AAD_PREFIX` + `hub`, then the payload: exactly the
/// six fields, `member` = kid, `hub` = `hub`, a 16-byte nonce.
/// Replay, expiry and nonce matching are the engine's job.
pub fn open_reply(
    bytes: &[u8],
    hub: &str,
    member_key: impl Fn(&str) -> Option<([u8; 32], bool)>,
) -> Result<ReplyClaims, ReplyError> {
    let (kid, payload) = open_member_signed(bytes, MAX_REPLY_BYTES, &reply_aad(hub), member_key)?;
    let claims = decode_claims(&payload).map_err(ReplyError::Malformed)?;
    if claims.member != kid {
        return Err(ReplyError::Malformed(
            "member does not match key id".to_owned(),
        ));
    }
    if claims.hub != hub {
        return Err(ReplyError::Malformed(format!(
            "reply is for hub {:?}, not {hub:?}",
            claims.hub
        )));
    }
    Ok(claims)
}

/// The checks every member-signed message shares (approval replies and
/// control messages): size, COSE_Sign1 envelope with protected EdDSA, a
/// UTF-8 kid naming a member who may approve, and the signature under
/// `aad`. Returns the kid and the still-undecoded payload.
pub(crate) fn open_member_signed(
    bytes: &[u8],
    max_bytes: usize,
    aad: &[u8],
    member_key: impl Fn(&str) -> Option<([u8; 32], bool)>,
) -> Result<(String, Vec<u8>), ReplyError> {
    if bytes.len() > max_bytes {
        return Err(ReplyError::TooLarge(bytes.len()));
    }
    let envelope = open_envelope(bytes).map_err(|e| match e {
        EnvelopeError::Malformed(m) => ReplyError::Malformed(m),
        EnvelopeError::Algorithm => ReplyError::Algorithm,
    })?;
    let kid = std::str::from_utf8(&envelope.kid)
        .map_err(|_| ReplyError::Malformed("key id is not UTF-8".to_owned()))?;
    if kid.len() > NAME_MAX_BYTES {
        // Far longer than any member name; do not even look it up.
        return Err(ReplyError::UnknownMember(crate::protocol::events::clip(
            kid,
        )));
    }
    let kid = kid.to_owned();
    let (public_key, may_approve) =
        member_key(&kid).ok_or_else(|| ReplyError::UnknownMember(kid.clone()))?;
    if !may_approve {
        return Err(ReplyError::NotApprover(kid));
    }
    if !envelope.verify(&public_key, aad) {
        return Err(ReplyError::BadSignature(kid));
    }
    Ok((kid, envelope.payload))
}

/// SHA-256 of a reply envelope (approval evidence and ledger reference).
pub fn reply_digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

fn decode_claims(payload: &[u8]) -> Result<ReplyClaims, String> {
    let mut fields = CborFields::decode(payload)?;
    let hub = cbor_text("hub", fields.take("hub")?, NAME_MAX_BYTES)?;
    let intent = cbor_text("intent", fields.take("intent")?, NAME_MAX_BYTES)?;
    let member = cbor_text("member", fields.take("member")?, NAME_MAX_BYTES)?;
    let nonce = match fields.take("nonce")? {
        ciborium::Value::Bytes(b) if b.len() == NONCE_BYTES => b,
        _ => return Err(format!("field \"nonce\" must be {NONCE_BYTES} bytes")),
    };
    let verdict = match fields.take("decision")? {
        ciborium::Value::Text(t) if t == "approve" => MemberVerdict::Approve,
        ciborium::Value::Text(t) if t == "deny" => MemberVerdict::Deny,
        _ => return Err("field \"decision\" must be \"approve\" or \"deny\"".to_owned()),
    };
    let issued_at = cbor_i64("iat", fields.take("iat")?)?;
    fields.finish()?;
    Ok(ReplyClaims {
        hub,
        intent,
        nonce,
        verdict,
        member,
        issued_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use coset::{CborSerializable, TaggedCborSerializable};

    struct TestHousehold {
        alice: SigningKey,
        bob: SigningKey,
        kid: SigningKey,
    }

    impl TestHousehold {
        fn new() -> TestHousehold {
            TestHousehold {
                alice: SigningKey::generate(),
                bob: SigningKey::generate(),
                kid: SigningKey::generate(),
            }
        }
        fn lookup(&self) -> impl Fn(&str) -> Option<([u8; 32], bool)> + '_ {
            |name| match name {
                "alice" => Some((self.alice.public_key(), true)),
                "bob" => Some((self.bob.public_key(), true)),
                "kid" => Some((self.kid.public_key(), false)),
                _ => None,
            }
        }
    }

    fn claims(member: &str) -> ReplyClaims {
        ReplyClaims {
            hub: "home".into(),
            intent: "0123456789abcdef0123456789abcdef".into(),
            nonce: (0u8..16).collect(),
            verdict: MemberVerdict::Approve,
            member: member.into(),
            issued_at: 1_767_225_600,
        }
    }

    /// Signs arbitrary headers and payload (for hostile variants).
    fn custom(
        key: &SigningKey,
        protected: coset::Header,
        unprotected: coset::Header,
        payload: Vec<u8>,
        aad: &[u8],
    ) -> Vec<u8> {
        coset::CoseSign1Builder::new()
            .protected(protected)
            .unprotected(unprotected)
            .payload(payload)
            .create_signature(aad, |tbs| key.sign(tbs).to_vec())
            .build()
            .to_tagged_vec()
            .unwrap()
    }

    fn eddsa() -> coset::HeaderBuilder {
        coset::HeaderBuilder::new().algorithm(coset::iana::Algorithm::EdDSA)
    }

    fn payload(extra: Option<(&str, ciborium::Value)>, drop: Option<&str>) -> Vec<u8> {
        use ciborium::Value;
        let mut entries = vec![
            ("hub", Value::Text("home".into())),
            ("iat", Value::Integer(1.into())),
            ("nonce", Value::Bytes(vec![9; 16])),
            ("intent", Value::Text("i1".into())),
            ("member", Value::Text("alice".into())),
            ("decision", Value::Text("deny".into())),
        ];
        entries.retain(|(k, _)| Some(*k) != drop);
        entries.extend(extra);
        crate::protocol::events::cbor_to_vec(&Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Text(k.into()), v))
                .collect(),
        ))
    }

    fn aad() -> Vec<u8> {
        b"larder-approval-v1:home".to_vec()
    }

    #[test]
    fn round_trip() {
        let h = TestHousehold::new();
        for verdict in [MemberVerdict::Approve, MemberVerdict::Deny] {
            let mut c = claims("alice");
            c.verdict = verdict;
            let bytes = sign_reply(&h.alice, &c);
            assert_eq!(bytes.first(), Some(&0xd2), "tagged COSE_Sign1");
            assert!(bytes.len() < MAX_REPLY_BYTES);
            assert_eq!(open_reply(&bytes, "home", h.lookup()), Ok(c));
        }
        // Untagged is accepted too.
        let bytes = sign_reply(&h.bob, &claims("bob"));
        let untagged = coset::CoseSign1::from_tagged_slice(&bytes)
            .unwrap()
            .to_vec()
            .unwrap();
        assert_eq!(open_reply(&untagged, "home", h.lookup()), Ok(claims("bob")));
    }

    #[test]
    fn wire_structure_is_as_documented() {
        let h = TestHousehold::new();
        let bytes = sign_reply(&h.alice, &claims("alice"));
        let sign1 = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
        // Protected header is exactly {1: -8, 4: h'616c696365'}.
        assert_eq!(
            sign1.protected.original_data.as_deref(),
            Some(&[0xa2, 0x01, 0x27, 0x04, 0x45, b'a', b'l', b'i', b'c', b'e'][..])
        );
        assert!(sign1.unprotected.is_empty());
        // The signature is Ed25519 over Sig_structure with the hub AAD.
        let tbs = sign1.tbs_data(&aad());
        assert!(crate::crypto::keys::verify(
            &h.alice.public_key(),
            &tbs,
            &sign1.signature
        ));
        let fields = CborFields::decode(sign1.payload.as_ref().unwrap()).unwrap();
        let keys: Vec<_> = fields.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["hub", "iat", "nonce", "intent", "member", "decision"]
        );
    }

    #[test]
    fn forged_signature_is_refused() {
        let h = TestHousehold::new();
        let mut bytes = sign_reply(&h.alice, &claims("alice"));
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        assert_eq!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::BadSignature("alice".into()))
        );
        // A payload byte changed (the intent id) also breaks the signature.
        let mut bytes = sign_reply(&h.alice, &claims("alice"));
        let at = bytes.windows(4).position(|w| w == b"0123").unwrap();
        bytes[at] = b'9';
        assert_eq!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::BadSignature("alice".into()))
        );
    }

    #[test]
    fn wrong_key_unknown_member_and_not_approver() {
        let h = TestHousehold::new();
        // Bob signs but claims to be alice (kid and member both "alice").
        let bytes = sign_reply(&h.bob, &claims("alice"));
        assert_eq!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::BadSignature("alice".into()))
        );
        let bytes = sign_reply(&SigningKey::generate(), &claims("mallory"));
        assert_eq!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::UnknownMember("mallory".into()))
        );
        let bytes = sign_reply(&h.kid, &claims("kid"));
        assert_eq!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::NotApprover("kid".into()))
        );
        let long = "x".repeat(500);
        let bytes = sign_reply(&h.alice, &claims(&long));
        assert!(matches!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::UnknownMember(_))
        ));
    }

    #[test]
    fn reply_for_another_hub_is_refused() {
        let h = TestHousehold::new();
        let bytes = sign_reply(&h.alice, &claims("alice"));
        // The AAD binds the hub, so the signature fails before the payload is read.
        assert_eq!(
            open_reply(&bytes, "cabin", h.lookup()),
            Err(ReplyError::BadSignature("alice".into()))
        );
        // Signed with the right AAD but a payload naming another hub.
        let mut c = claims("alice");
        c.hub = "cabin".into();
        let p = payload(None, None);
        let p = {
            let mut v = crate::protocol::events::cbor_value_from_slice(&p).unwrap();
            if let ciborium::Value::Map(m) = &mut v {
                m[0].1 = ciborium::Value::Text("cabin".into());
            }
            crate::protocol::events::cbor_to_vec(&v)
        };
        let bytes = custom(
            &h.alice,
            eddsa().key_id(b"alice".to_vec()).build(),
            coset::Header::default(),
            p,
            &aad(),
        );
        assert!(matches!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::Malformed(m)) if m.contains("cabin")
        ));
    }

    #[test]
    fn algorithm_must_be_protected_eddsa() {
        let h = TestHousehold::new();
        let kid = || b"alice".to_vec();
        let cases = [
            (
                coset::HeaderBuilder::new()
                    .algorithm(coset::iana::Algorithm::ES256)
                    .key_id(kid())
                    .build(),
                coset::Header::default(),
            ),
            (
                coset::HeaderBuilder::new().key_id(kid()).build(),
                coset::Header::default(),
            ),
            (
                coset::HeaderBuilder::new().key_id(kid()).build(),
                eddsa().build(),
            ),
            (
                coset::HeaderBuilder::new()
                    .algorithm(coset::iana::Algorithm::EdDSA)
                    .algorithm_label(coset::RegisteredLabelWithPrivate::PrivateUse(-70000))
                    .key_id(kid())
                    .build(),
                coset::Header::default(),
            ),
        ];
        for (protected, unprotected) in cases {
            let bytes = custom(
                &h.alice,
                protected,
                unprotected,
                payload(None, None),
                &aad(),
            );
            assert_eq!(
                open_reply(&bytes, "home", h.lookup()),
                Err(ReplyError::Algorithm)
            );
        }
        // EdDSA protected plus a second alg in the unprotected bucket.
        let bytes = custom(
            &h.alice,
            eddsa().key_id(kid()).build(),
            coset::HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::ES256)
                .build(),
            payload(None, None),
            &aad(),
        );
        assert!(matches!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::Malformed(_))
        ));
    }

    #[test]
    fn kid_in_unprotected_header_is_accepted() {
        let h = TestHousehold::new();
        let bytes = custom(
            &h.alice,
            eddsa().build(),
            coset::HeaderBuilder::new()
                .key_id(b"alice".to_vec())
                .build(),
            payload(None, None),
            &aad(),
        );
        let c = open_reply(&bytes, "home", h.lookup()).unwrap();
        assert_eq!(c.member, "alice");
        assert_eq!(c.verdict, MemberVerdict::Deny);
        // Swapping the unprotected kid to bob does not let bob's key "own" it.
        let sign1 = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
        let mut swapped = sign1.clone();
        swapped.unprotected.key_id = b"bob".to_vec();
        assert_eq!(
            open_reply(&swapped.to_tagged_vec().unwrap(), "home", h.lookup()),
            Err(ReplyError::BadSignature("bob".into()))
        );
    }

    #[test]
    fn envelope_and_payload_problems_are_malformed() {
        let h = TestHousehold::new();
        let good = sign_reply(&h.alice, &claims("alice"));
        let signed = |p: Vec<u8>| {
            custom(
                &h.alice,
                eddsa().key_id(b"alice".to_vec()).build(),
                coset::Header::default(),
                p,
                &aad(),
            )
        };
        let mut wrong_tag = good.clone();
        wrong_tag[0] = 0xd1; // tag 17 = COSE_Mac0
        let detached = {
            let mut s = coset::CoseSign1::from_tagged_slice(&good).unwrap();
            s.payload = None;
            s.to_tagged_vec().unwrap()
        };
        let no_kid = custom(
            &h.alice,
            eddsa().build(),
            coset::Header::default(),
            payload(None, None),
            &aad(),
        );
        let both_kids = custom(
            &h.alice,
            eddsa().key_id(b"alice".to_vec()).build(),
            coset::HeaderBuilder::new()
                .key_id(b"alice".to_vec())
                .build(),
            payload(None, None),
            &aad(),
        );
        let bad_utf8_kid = custom(
            &h.alice,
            eddsa().key_id(vec![0xff, 0xfe]).build(),
            coset::Header::default(),
            payload(None, None),
            &aad(),
        );
        let critical = custom(
            &h.alice,
            eddsa()
                .key_id(b"alice".to_vec())
                .add_critical(coset::iana::HeaderParameter::ContentType)
                .content_format(coset::iana::CoapContentFormat::Cbor)
                .build(),
            coset::Header::default(),
            payload(None, None),
            &aad(),
        );
        let mut trailing = good.clone();
        trailing.push(0x00);
        let short_sig = {
            let mut s = coset::CoseSign1::from_tagged_slice(&good).unwrap();
            s.signature.truncate(63);
            s.to_tagged_vec().unwrap()
        };
        let mut deep = vec![0xd2, 0x84, 0x41, 0xa0, 0xa0, 0x41, 0xa0];
        deep.extend_from_slice(&[0x81; 100]);
        deep.push(0x00);
        let tagged_nonce = {
            let mut v =
                crate::protocol::events::cbor_value_from_slice(&payload(None, None)).unwrap();
            if let ciborium::Value::Map(m) = &mut v {
                m[2].1 = ciborium::Value::Tag(64, Box::new(ciborium::Value::Bytes(vec![9; 16])));
            }
            crate::protocol::events::cbor_to_vec(&v)
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty bytes", vec![]),
            ("random bytes", b"\x13\x37not cose at all".to_vec()),
            ("truncated", good[..good.len() / 2].to_vec()),
            ("truncated by one", good[..good.len() - 1].to_vec()),
            ("trailing byte", trailing),
            ("wrong tag", wrong_tag),
            ("array of 3", vec![0x83, 0x40, 0xa0, 0x40]),
            ("detached payload", detached),
            ("no kid", no_kid),
            ("kid in both headers", both_kids),
            ("kid not utf-8", bad_utf8_kid),
            ("critical header", critical),
            ("short signature", short_sig),
            ("deep nesting", deep),
            ("empty payload", signed(vec![])),
            ("payload not a map", signed(vec![0x01])),
            (
                "payload trailing",
                signed([payload(None, None), vec![0]].concat()),
            ),
            (
                "extra field",
                signed(payload(
                    Some(("counter", ciborium::Value::Integer(1.into()))),
                    None,
                )),
            ),
            ("missing nonce", signed(payload(None, Some("nonce")))),
            ("missing iat", signed(payload(None, Some("iat")))),
            (
                "duplicate field",
                signed(payload(
                    Some(("hub", ciborium::Value::Text("home".into()))),
                    None,
                )),
            ),
            (
                "short nonce",
                signed(payload(
                    Some(("nonce", ciborium::Value::Bytes(vec![1; 15]))),
                    Some("nonce"),
                )),
            ),
            (
                "nonce as text",
                signed(payload(
                    Some(("nonce", ciborium::Value::Text("0".repeat(32)))),
                    Some("nonce"),
                )),
            ),
            ("tagged nonce", signed(tagged_nonce)),
            (
                "bad decision",
                signed(payload(
                    Some(("decision", ciborium::Value::Text("maybe".into()))),
                    Some("decision"),
                )),
            ),
            (
                "iat float",
                signed(payload(
                    Some(("iat", ciborium::Value::Float(1.5))),
                    Some("iat"),
                )),
            ),
            (
                "member is bob",
                signed(payload(
                    Some(("member", ciborium::Value::Text("bob".into()))),
                    Some("member"),
                )),
            ),
            (
                "empty intent",
                signed(payload(
                    Some(("intent", ciborium::Value::Text(String::new()))),
                    Some("intent"),
                )),
            ),
        ];
        for (name, bytes) in cases {
            let got = open_reply(&bytes, "home", h.lookup());
            assert!(
                matches!(got, Err(ReplyError::Malformed(_))),
                "{name}: {got:?}"
            );
        }
        assert!(matches!(
            open_reply(&signed(payload(Some(("member", ciborium::Value::Text("bob".into()))), Some("member"))), "home", h.lookup()),
            Err(ReplyError::Malformed(m)) if m == "member does not match key id"
        ));
        assert_eq!(
            open_reply(&vec![0u8; MAX_REPLY_BYTES + 1], "home", h.lookup()),
            Err(ReplyError::TooLarge(MAX_REPLY_BYTES + 1))
        );
    }

    #[test]
    fn deeply_nested_protected_header_does_not_overflow() {
        // A protected bstr holding {5: [[[[...]]]]} nested ~1000 deep.
        let mut inner = vec![0xa1, 0x05];
        inner.extend_from_slice(&[0x81; 1000]);
        inner.push(0x00);
        let mut bytes = vec![0xd2, 0x84, 0x59];
        bytes.extend_from_slice(&u16::try_from(inner.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(&inner);
        bytes.extend_from_slice(&[0xa0, 0x40, 0x40]);
        let h = TestHousehold::new();
        assert!(matches!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::Malformed(_))
        ));
    }

    #[test]
    fn random_and_mutated_replies_never_panic() {
        let h = TestHousehold::new();
        let good = sign_reply(&h.alice, &claims("alice"));
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for cut in 0..good.len() {
            assert!(open_reply(&good[..cut], "home", h.lookup()).is_err());
        }
        for _ in 0..2000 {
            let mut bytes = good.clone();
            let i = (next() as usize) % bytes.len();
            bytes[i] = next() as u8;
            if bytes != good {
                assert!(open_reply(&bytes, "home", h.lookup()).is_err());
            }
        }
        for _ in 0..300 {
            let len = (next() as usize) % 300;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            assert!(open_reply(&bytes, "home", h.lookup()).is_err());
        }
    }

    #[test]
    fn digest_is_sha256() {
        assert_eq!(
            crate::crypto::keys::to_hex(&reply_digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn approval_request_json_round_trip() {
        let request = ApprovalRequest {
            v: 1,
            hub: "home".into(),
            intent: "0123456789abcdef0123456789abcdef".into(),
            nonce: "00112233445566778899aabbccddeeff".into(),
            expires_at: 1_767_229_200,
            item: "milk".into(),
            item_name: "Milk".into(),
            product: "acme-milk-1l".into(),
            packages: 2,
            quantity: 2.0,
            unit: "l".into(),
            unit_price: 1.19,
            price_ceiling: 2.62,
            currency: "EUR".into(),
            approvals_required: 1,
            why: vec!["runs out in about 2 days".into()],
            reply_topic: "larder/home/approvals/0123456789abcdef0123456789abcdef/reply".into(),
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(
            serde_json::from_str::<ApprovalRequest>(&json).unwrap(),
            request
        );
        let extra = json.replacen('{', "{\"extra\":1,", 1);
        assert!(serde_json::from_str::<ApprovalRequest>(&extra).is_err());
    }
}
