//! The upstream purchase intent (CBOR in a COSE_Sign1 signed by the hub)
//! and the shop's acknowledgements.
//!
//! Architecture invariant: the intent's field list is closed. It carries
//! what a shop needs to deliver and nothing about the household's habits.

use crate::keys::SigningKey;

/// Largest upstream ack accepted, in bytes.
pub const MAX_ACK_BYTES: usize = 4096;

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
    /// The order was placed.
    Accepted,
    /// The goods were delivered.
    Delivered,
    /// The shop refused the intent.
    Rejected,
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

/// Encodes and signs an intent with the hub key (COSE_Sign1, tagged).
pub fn sign_intent(key: &SigningKey, intent: &Intent) -> Vec<u8> {
    let _ = (key, intent);
    todo!("intent helper")
}

/// Verifies a signed intent against the hub's public key and decodes it.
pub fn verify_intent(bytes: &[u8], hub_public_key: &[u8; 32]) -> Result<Intent, IntentError> {
    let _ = (bytes, hub_public_key);
    todo!("intent helper")
}

/// Decodes a shop acknowledgement (JSON if it starts with `{`, else CBOR).
pub fn decode_ack(bytes: &[u8]) -> Result<UpstreamAck, IntentError> {
    let _ = bytes;
    todo!("intent helper")
}

/// Encodes an acknowledgement as JSON (used by the demo's shop and tests).
pub fn encode_ack_json(ack: &UpstreamAck) -> Vec<u8> {
    let _ = ack;
    todo!("intent helper")
}
