//! Keys and encryption at rest: Ed25519 keys on disk, hex helpers, system
//! randomness (`keys`), and per-item sealing of stored rows (`seal`).

pub mod keys;
pub mod seal;
