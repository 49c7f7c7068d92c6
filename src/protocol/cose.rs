//! COSE_Sign1 envelopes (Ed25519): signing with a protected `{alg: EdDSA,
//! kid}` header, and opening one received from outside with the checks
//! that need no key (approval replies, control messages and the hub's
//! upstream messages all use these).

use crate::crypto::keys::SigningKey;

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

    let value = crate::protocol::cbor::cbor_value_from_slice(bytes)
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
