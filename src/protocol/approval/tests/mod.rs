//! Unit tests of member replies: round trips, the documented wire
//! structure, forged, foreign and mutated replies; the shared household
//! and signing helpers live here.

use super::*;
use crate::protocol::cbor::CborFields;
use coset::{CborSerializable, TaggedCborSerializable};

mod envelope;

struct TestHousehold {
    alice: SigningKey,
    bob: SigningKey,
    kid: SigningKey,
}

impl TestHousehold {
    fn new() -> TestHousehold {
        TestHousehold {
            alice: SigningKey::generate(),
            bob: SigningKey::generate(),
            kid: SigningKey::generate(),
        }
    }
    fn lookup(&self) -> impl Fn(&str) -> Option<([u8; 32], bool)> + '_ {
        |name| match name {
            "alice" => Some((self.alice.public_key(), true)),
            "bob" => Some((self.bob.public_key(), true)),
            "kid" => Some((self.kid.public_key(), false)),
            _ => None,
        }
    }
}

fn claims(member: &str) -> ReplyClaims {
    ReplyClaims {
        hub: "home".into(),
        intent: "0123456789abcdef0123456789abcdef".into(),
        nonce: (0u8..16).collect(),
        verdict: MemberVerdict::Approve,
        member: member.into(),
        issued_at: 1_767_225_600,
    }
}

/// Signs arbitrary headers and payload (for hostile variants).
fn custom(
    key: &SigningKey,
    protected: coset::Header,
    unprotected: coset::Header,
    payload: Vec<u8>,
    aad: &[u8],
) -> Vec<u8> {
    coset::CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .payload(payload)
        .create_signature(aad, |tbs| key.sign(tbs).to_vec())
        .build()
        .to_tagged_vec()
        .unwrap()
}

fn eddsa() -> coset::HeaderBuilder {
    coset::HeaderBuilder::new().algorithm(coset::iana::Algorithm::EdDSA)
}

fn payload(extra: Option<(&str, ciborium::Value)>, drop: Option<&str>) -> Vec<u8> {
    use ciborium::Value;
    let mut entries = vec![
        ("hub", Value::Text("home".into())),
        ("iat", Value::Integer(1.into())),
        ("nonce", Value::Bytes(vec![9; 16])),
        ("intent", Value::Text("i1".into())),
        ("member", Value::Text("alice".into())),
        ("decision", Value::Text("deny".into())),
    ];
    entries.retain(|(k, _)| Some(*k) != drop);
    entries.extend(extra);
    crate::protocol::cbor::cbor_to_vec(&Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.into()), v))
            .collect(),
    ))
}

fn aad() -> Vec<u8> {
    b"larder-approval-v1:home".to_vec()
}

#[test]
fn round_trip() {
    let h = TestHousehold::new();
    for verdict in [MemberVerdict::Approve, MemberVerdict::Deny] {
        let mut c = claims("alice");
        c.verdict = verdict;
        let bytes = sign_reply(&h.alice, &c);
        assert_eq!(bytes.first(), Some(&0xd2), "tagged COSE_Sign1");
        assert!(bytes.len() < MAX_REPLY_BYTES);
        assert_eq!(open_reply(&bytes, "home", h.lookup()), Ok(c));
    }
    // Untagged is accepted too.
    let bytes = sign_reply(&h.bob, &claims("bob"));
    let untagged = coset::CoseSign1::from_tagged_slice(&bytes)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(open_reply(&untagged, "home", h.lookup()), Ok(claims("bob")));
}

#[test]
fn wire_structure_is_as_documented() {
    let h = TestHousehold::new();
    let bytes = sign_reply(&h.alice, &claims("alice"));
    let sign1 = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
    // Protected header is exactly {1: -8, 4: h'616c696365'}.
    assert_eq!(
        sign1.protected.original_data.as_deref(),
        Some(&[0xa2, 0x01, 0x27, 0x04, 0x45, b'a', b'l', b'i', b'c', b'e'][..])
    );
    assert!(sign1.unprotected.is_empty());
    // The signature is Ed25519 over Sig_structure with the hub AAD.
    let tbs = sign1.tbs_data(&aad());
    assert!(crate::crypto::keys::verify(
        &h.alice.public_key(),
        &tbs,
        &sign1.signature
    ));
    let fields = CborFields::decode(sign1.payload.as_ref().unwrap()).unwrap();
    let keys: Vec<_> = fields.0.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["hub", "iat", "nonce", "intent", "member", "decision"]
    );
}

#[test]
fn forged_signature_is_refused() {
    let h = TestHousehold::new();
    let mut bytes = sign_reply(&h.alice, &claims("alice"));
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    assert_eq!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::BadSignature("alice".into()))
    );
    // A payload byte changed (the intent id) also breaks the signature.
    let mut bytes = sign_reply(&h.alice, &claims("alice"));
    let at = bytes.windows(4).position(|w| w == b"0123").unwrap();
    bytes[at] = b'9';
    assert_eq!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::BadSignature("alice".into()))
    );
}

#[test]
fn wrong_key_unknown_member_and_not_approver() {
    let h = TestHousehold::new();
    // Bob signs but claims to be alice (kid and member both "alice").
    let bytes = sign_reply(&h.bob, &claims("alice"));
    assert_eq!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::BadSignature("alice".into()))
    );
    let bytes = sign_reply(&SigningKey::generate(), &claims("mallory"));
    assert_eq!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::UnknownMember("mallory".into()))
    );
    let bytes = sign_reply(&h.kid, &claims("kid"));
    assert_eq!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::NotApprover("kid".into()))
    );
    let long = "x".repeat(500);
    let bytes = sign_reply(&h.alice, &claims(&long));
    assert!(matches!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::UnknownMember(_))
    ));
}

#[test]
fn reply_for_another_hub_is_refused() {
    let h = TestHousehold::new();
    let bytes = sign_reply(&h.alice, &claims("alice"));
    // The AAD binds the hub, so the signature fails before the payload is read.
    assert_eq!(
        open_reply(&bytes, "cabin", h.lookup()),
        Err(ReplyError::BadSignature("alice".into()))
    );
    // Signed with the right AAD but a payload naming another hub.
    let mut c = claims("alice");
    c.hub = "cabin".into();
    let p = payload(None, None);
    let p = {
        let mut v = crate::protocol::cbor::cbor_value_from_slice(&p).unwrap();
        if let ciborium::Value::Map(m) = &mut v {
            m[0].1 = ciborium::Value::Text("cabin".into());
        }
        crate::protocol::cbor::cbor_to_vec(&v)
    };
    let bytes = custom(
        &h.alice,
        eddsa().key_id(b"alice".to_vec()).build(),
        coset::Header::default(),
        p,
        &aad(),
    );
    assert!(matches!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::Malformed(m)) if m.contains("cabin")
    ));
}

#[test]
fn random_and_mutated_replies_never_panic() {
    let h = TestHousehold::new();
    let good = sign_reply(&h.alice, &claims("alice"));
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for cut in 0..good.len() {
        assert!(open_reply(&good[..cut], "home", h.lookup()).is_err());
    }
    for _ in 0..2000 {
        let mut bytes = good.clone();
        let i = (next() as usize) % bytes.len();
        bytes[i] = next() as u8;
        if bytes != good {
            assert!(open_reply(&bytes, "home", h.lookup()).is_err());
        }
    }
    for _ in 0..300 {
        let len = (next() as usize) % 300;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        assert!(open_reply(&bytes, "home", h.lookup()).is_err());
    }
}

#[test]
fn digest_is_sha256() {
    assert_eq!(
        crate::crypto::keys::to_hex(&reply_digest(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn approval_request_json_round_trip() {
    let request = ApprovalRequest {
        v: 1,
        hub: "home".into(),
        intent: "0123456789abcdef0123456789abcdef".into(),
        nonce: "00112233445566778899aabbccddeeff".into(),
        expires_at: 1_767_229_200,
        item: "milk".into(),
        item_name: "Milk".into(),
        product: "acme-milk-1l".into(),
        packages: 2,
        quantity: 2.0,
        unit: "l".into(),
        unit_price: 1.19,
        price_ceiling: 2.62,
        currency: "EUR".into(),
        approvals_required: 1,
        why: vec!["runs out in about 2 days".into()],
        reply_topic: "larder/home/approvals/0123456789abcdef0123456789abcdef/reply".into(),
    };
    let json = serde_json::to_string(&request).unwrap();
    assert_eq!(
        serde_json::from_str::<ApprovalRequest>(&json).unwrap(),
        request
    );
    let extra = json.replacen('{', "{\"extra\":1,", 1);
    assert!(serde_json::from_str::<ApprovalRequest>(&extra).is_err());
}
