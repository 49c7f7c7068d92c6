//! Encryption at rest for what identifies household behaviour: observation
//! amounts and times, the forecaster's per-item state and the daily
//! aggregates that replace old observations.
//!
//! Every item has its own random 256-bit key (table `item_keys`); so does
//! every adapter device for its processing state (table `device_keys`). A row is
//! sealed with CHACHA20_POLY1305 (`ring::aead`) under its item's key, with a
//! fresh random 96-bit nonce per write and the row's identity as associated
//! data, so a sealed value cannot be moved to another row or item unnoticed.
//! Stored form: `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`.
//!
//! Forgetting an item deletes its key. Flash storage remaps blocks, so an
//! old copy of a page may survive on the card after SQLite overwrote it;
//! without the key such a copy of a sealed row is unreadable (crypto-
//! shredding). What this cannot promise is in `docs/privacy.md`.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// Length of an item key in bytes.
pub const KEY_LEN: usize = 32;

/// Version tag at the start of every associated-data string.
const DOMAIN: &str = "larder-seal/1";

/// A fresh random item key.
pub fn new_key() -> [u8; KEY_LEN] {
    crate::crypto::keys::random_bytes::<KEY_LEN>()
}

fn aead_key(key: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(&CHACHA20_POLY1305, key)
        .ok()
        .map(LessSafeKey::new)
}

/// Seals `plaintext` under `key`, bound to `aad`. `None` only if the key has
/// the wrong length (a corrupt `item_keys` row).
pub fn seal(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Option<Vec<u8>> {
    let key = aead_key(key)?;
    let nonce = crate::crypto::keys::random_bytes::<NONCE_LEN>();
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .ok()?;
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Some(out)
}

/// Opens a sealed value; `None` if the key, the associated data or the bytes
/// do not match (tampered, moved, or sealed under another key).
pub fn open(key: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let key = aead_key(key)?;
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = body.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    Some(plain.to_vec())
}

/// Associated data of an observation row: its identity.
pub fn observation_aad(item: &str, device: &str, epoch: u64, seq: u64) -> Vec<u8> {
    format!("{DOMAIN}\0observation\0{item}\0{device}\0{epoch}\0{seq}").into_bytes()
}

/// Associated data of an item's forecaster state.
pub fn item_state_aad(item: &str) -> Vec<u8> {
    format!("{DOMAIN}\0item_state\0{item}").into_bytes()
}

/// Associated data of an adapter device's processing state (sealed under
/// the device's own key, table `device_keys`).
pub fn device_state_aad(device: &str) -> Vec<u8> {
    format!("{DOMAIN}\0device_state\0{device}").into_bytes()
}

/// Associated data of a daily aggregate row.
pub fn day_aad(item: &str, row: i64) -> Vec<u8> {
    format!("{DOMAIN}\0observation_day\0{item}\0{row}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_identity() {
        let key = new_key();
        let aad = observation_aad("milk", "fridge", 1, 2);
        let sealed = seal(&key, &aad, b"1.23456").expect("seal");
        assert!(!sealed.windows(7).any(|w| w == b"1.23456"));
        assert_eq!(open(&key, &aad, &sealed).as_deref(), Some(&b"1.23456"[..]));
        // Another key, another row, a flipped bit: all refused.
        assert_eq!(open(&new_key(), &aad, &sealed), None);
        assert_eq!(
            open(&key, &observation_aad("milk", "fridge", 1, 3), &sealed),
            None
        );
        let mut bent = sealed.clone();
        bent[20] ^= 1;
        assert_eq!(open(&key, &aad, &bent), None);
        assert_eq!(open(&key, &aad, &sealed[..5]), None);
        // A fresh nonce each time: the same value never seals the same.
        assert_ne!(seal(&key, &aad, b"1.23456").expect("seal"), sealed);
        assert_eq!(seal(&key[..5], &aad, b"x"), None);
    }
}
