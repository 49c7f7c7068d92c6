//! `[[members]]`: the household members whose signed replies approve orders.

/// A household member.
#[derive(Debug, Clone)]
pub struct Member {
    /// Name; also the COSE key id of their replies.
    pub name: String,
    /// Ed25519 public key.
    pub public_key: [u8; 32],
    /// Whether their approval counts.
    pub may_approve: bool,
}
