//! Approval requests (JSON, for apps) and member replies (COSE_Sign1,
//! Ed25519), with the checks that do not need the database.
//!
//! The engine adds the stateful checks: the intent is pending, the nonce is
//! the request's, the request has not expired, the member has not replied.
//!
//! The COSE envelope itself is `protocol::cose`; the payload map helpers
//! are `protocol::cbor`.

use crate::crypto::keys::SigningKey;
use crate::protocol::cbor::{CborFields, cbor_i64, cbor_text};
use crate::protocol::cose::{EnvelopeError, open_envelope};
// Kept at this path for `tools::fuzzing`, which signs hostile replies.
pub(crate) use crate::protocol::cose::sign1;

#[cfg(test)]
mod tests;

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
        crate::protocol::cbor::cbor_to_vec(&payload),
        &reply_aad(&claims.hub),
    )
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
        return Err(ReplyError::UnknownMember(crate::protocol::cbor::clip(kid)));
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
