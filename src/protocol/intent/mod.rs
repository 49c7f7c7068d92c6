//! The upstream purchase intent (CBOR in a COSE_Sign1 signed by the hub)
//! and the shop's acknowledgements.
//!
//! Architecture invariant: the intent's field list is closed. It carries
//! what a shop needs to deliver and nothing about the household's habits.
//!
//! `upstream` signs and verifies the hub's messages (the intent and its
//! cancellation); `ack` reads and writes the shop's acknowledgements.

mod ack;
mod upstream;

#[cfg(test)]
mod tests;

pub use ack::{
    AckStatus, MAX_ACK_BYTES, Quote, UpstreamAck, decode_ack, encode_ack_cbor, encode_ack_json,
};
pub use upstream::{
    CancelReason, Cancellation, Evidence, Intent, MAX_INTENT_BYTES, Upstream, hub_kid, sign_cancel,
    sign_intent, verify_intent, verify_upstream,
};

/// Longest intent id, hub id or ack intent reference.
const ID_MAX: usize = 64;
/// Longest product, rule name or currency text.
const TEXT_MAX: usize = 256;
/// Longest currency code.
const CURRENCY_MAX: usize = 16;

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
