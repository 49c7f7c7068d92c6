//! Ed25519 keys on disk (PKCS#8 v2, mode 0600) and signature checks.

use std::path::{Path, PathBuf};

/// An Ed25519 signing key (the hub's or a member's).
pub struct SigningKey {
    pair: ring::signature::Ed25519KeyPair,
}

/// Problems with key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file exists and would be overwritten.
    #[error("key file {0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
    /// The file is not an Ed25519 PKCS#8 key.
    #[error("key file {0} is not an Ed25519 PKCS#8 key")]
    Invalid(PathBuf),
    /// A public key string is not 64 hex digits.
    #[error("public key must be 64 hex digits (32 bytes), got {0:?}")]
    BadPublicKey(String),
}

impl SigningKey {
    /// Generates a fresh key and writes it to `path` (mode 0600), refusing to
    /// overwrite an existing file.
    pub fn create(path: &Path) -> Result<SigningKey, KeyError> {
        let _ = (path, &Self::load);
        todo!("keys helper")
    }

    /// Loads a key written by `create`.
    pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
        let _ = path;
        todo!("keys helper")
    }

    /// Loads the key at `path`, creating it first if the file is missing.
    pub fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
        if path.exists() {
            SigningKey::load(path)
        } else {
            SigningKey::create(path)
        }
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        use ring::signature::KeyPair;
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

/// Whether `signature` is a valid Ed25519 signature of `message` by `public_key`.
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

/// Lower-case hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Parses hex (either case) into bytes; `None` if not hex or odd length.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses a public key written as 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], KeyError> {
    from_hex(text.trim())
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| KeyError::BadPublicKey(text.to_owned()))
}

/// Fresh random bytes from the system RNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .expect("system random number generator failed");
    out
}
