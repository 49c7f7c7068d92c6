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
    /// Generates a fresh key in memory only (never written anywhere); for
    /// the demo's simulated members and for tests.
    pub fn generate() -> SigningKey {
        use ring::signature::Ed25519KeyPair;
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&rng).expect("system random number generator failed");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .expect("ring parses the PKCS#8 document it just generated");
        SigningKey { pair }
    }

    /// Generates a fresh key and writes it to `path` (mode 0600), refusing to
    /// overwrite an existing file.
    pub fn create(path: &Path) -> Result<SigningKey, KeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;

        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| {
            io(std::io::Error::other(
                "system random number generator failed",
            ))
        })?;
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| KeyError::Invalid(path.to_owned()))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    KeyError::Exists(path.to_owned())
                } else {
                    io(e)
                }
            })?;
        if let Err(e) = file
            .write_all(pkcs8.as_ref())
            .and_then(|()| file.sync_all())
        {
            // Do not leave a truncated key behind for the next start to trip on.
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(io(e));
        }
        // Make the new directory entry durable too (best effort: some
        // filesystems refuse to fsync a directory).
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(dir) = std::fs::File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(SigningKey { pair })
    }

    /// Loads a key written by `create` (PKCS#8 v2; v1 without the public key
    /// is accepted too).
    pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
        use ring::signature::Ed25519KeyPair;

        // A PKCS#8 Ed25519 key is 83-85 bytes; refuse to read anything huge.
        const MAX_KEY_FILE_BYTES: u64 = 1024;
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() || meta.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::Invalid(path.to_owned()));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let pair = Ed25519KeyPair::from_pkcs8(&bytes)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(&bytes))
            .map_err(|_| KeyError::Invalid(path.to_owned()))?;
        Ok(SigningKey { pair })
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
    // `from_str_radix` alone would accept a sign ("+1"), so check digits first.
    if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "larder-keys-{name}-{}-{}",
            std::process::id(),
            to_hex(&random_bytes::<6>())
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn create_then_load_round_trips() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("nested/hub.key");
        let created = SigningKey::create(&path).unwrap();
        let loaded = SigningKey::load(&path).unwrap();
        assert_eq!(created.public_key(), loaded.public_key());
        let again = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(created.public_key(), again.public_key());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sign_and_verify() {
        let dir = temp_dir("sign");
        let key = SigningKey::create(&dir.join("k")).unwrap();
        let other = SigningKey::create(&dir.join("other")).unwrap();
        let sig = key.sign(b"hello");
        assert!(verify(&key.public_key(), b"hello", &sig));
        assert!(!verify(&key.public_key(), b"hellO", &sig));
        assert!(!verify(&other.public_key(), b"hello", &sig));
        assert!(!verify(&key.public_key(), b"hello", &sig[..63]));
        assert!(!verify(&key.public_key(), b"hello", &[]));
        let mut flipped = sig;
        flipped[10] ^= 1;
        assert!(!verify(&key.public_key(), b"hello", &flipped));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = temp_dir("overwrite");
        let path = dir.join("k");
        let first = SigningKey::create(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(SigningKey::create(&path), Err(KeyError::Exists(p)) if p == path));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(
            SigningKey::load(&path).unwrap().public_key(),
            first.public_key()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_file_mode_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("mode");
        let path = dir.join("k");
        SigningKey::create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_and_missing_files() {
        let dir = temp_dir("garbage");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, content) in [
            ("empty", Vec::new()),
            ("text", b"not a key\n".to_vec()),
            ("big", vec![0x30; 5000]),
            ("almost", {
                // A real key with its last byte changed.
                let p = dir.join("real");
                SigningKey::create(&p).unwrap();
                let mut v = std::fs::read(&p).unwrap();
                if let Some(b) = v.last_mut() {
                    *b ^= 0xff;
                }
                v
            }),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            assert!(
                matches!(SigningKey::load(&path), Err(KeyError::Invalid(_))),
                "{name}"
            );
        }
        assert!(matches!(
            SigningKey::load(&dir.join("missing")),
            Err(KeyError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hex_helpers() {
        assert_eq!(to_hex(&[0x00, 0xab, 0x10, 0xff]), "00ab10ff");
        assert_eq!(to_hex(&[]), "");
        assert_eq!(from_hex("00AB10ff"), Some(vec![0x00, 0xab, 0x10, 0xff]));
        assert_eq!(from_hex(""), Some(vec![]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("+1"), None);
        assert_eq!(from_hex("é1"), None);
        let pk = [7u8; 32];
        assert_eq!(
            parse_public_key(&format!(" {}\n", to_hex(&pk))).unwrap(),
            pk
        );
        for bad in ["", "00", &"0".repeat(63), &"0".repeat(66), &"g".repeat(64)] {
            assert!(matches!(
                parse_public_key(bad),
                Err(KeyError::BadPublicKey(_))
            ));
        }
        let a = random_bytes::<16>();
        let b = random_bytes::<16>();
        assert_ne!(a, b);
    }
}
