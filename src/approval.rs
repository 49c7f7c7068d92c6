//! Approval requests (JSON, for apps) and member replies (COSE_Sign1,
//! Ed25519), with the checks that do not need the database.
//!
//! The engine adds the stateful checks: the intent is pending, the nonce is
//! the request's, the request has not expired, the member has not replied.

use crate::keys::SigningKey;

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
pub enum Verdict {
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
    pub verdict: Verdict,
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

/// Signs a reply as COSE_Sign1 (tagged), kid = member name.
pub fn sign_reply(key: &SigningKey, claims: &ReplyClaims) -> Vec<u8> {
    let _ = (key, claims);
    todo!("approval helper")
}

/// Decodes a reply and verifies its signature against the member found by
/// `kid` through `member_key` (which returns the key and may-approve flag).
pub fn open_reply(
    bytes: &[u8],
    hub: &str,
    member_key: impl Fn(&str) -> Option<([u8; 32], bool)>,
) -> Result<ReplyClaims, ReplyError> {
    let _ = (bytes, hub, member_key);
    todo!("approval helper")
}

/// SHA-256 of a reply envelope (approval evidence and ledger reference).
pub fn reply_digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}
