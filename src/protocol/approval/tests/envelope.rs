//! Replies whose COSE envelope or payload is wrong: the algorithm, where
//! the kid is, malformed structures and deep nesting.

use super::*;

#[test]
fn algorithm_must_be_protected_eddsa() {
    let h = TestHousehold::new();
    let kid = || b"alice".to_vec();
    let cases = [
        (
            coset::HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::ES256)
                .key_id(kid())
                .build(),
            coset::Header::default(),
        ),
        (
            coset::HeaderBuilder::new().key_id(kid()).build(),
            coset::Header::default(),
        ),
        (
            coset::HeaderBuilder::new().key_id(kid()).build(),
            eddsa().build(),
        ),
        (
            coset::HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::EdDSA)
                .algorithm_label(coset::RegisteredLabelWithPrivate::PrivateUse(-70000))
                .key_id(kid())
                .build(),
            coset::Header::default(),
        ),
    ];
    for (protected, unprotected) in cases {
        let bytes = custom(
            &h.alice,
            protected,
            unprotected,
            payload(None, None),
            &aad(),
        );
        assert_eq!(
            open_reply(&bytes, "home", h.lookup()),
            Err(ReplyError::Algorithm)
        );
    }
    // EdDSA protected plus a second alg in the unprotected bucket.
    let bytes = custom(
        &h.alice,
        eddsa().key_id(kid()).build(),
        coset::HeaderBuilder::new()
            .algorithm(coset::iana::Algorithm::ES256)
            .build(),
        payload(None, None),
        &aad(),
    );
    assert!(matches!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::Malformed(_))
    ));
}

#[test]
fn kid_in_unprotected_header_is_accepted() {
    let h = TestHousehold::new();
    let bytes = custom(
        &h.alice,
        eddsa().build(),
        coset::HeaderBuilder::new()
            .key_id(b"alice".to_vec())
            .build(),
        payload(None, None),
        &aad(),
    );
    let c = open_reply(&bytes, "home", h.lookup()).unwrap();
    assert_eq!(c.member, "alice");
    assert_eq!(c.verdict, MemberVerdict::Deny);
    // Swapping the unprotected kid to bob does not let bob's key "own" it.
    let sign1 = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
    let mut swapped = sign1.clone();
    swapped.unprotected.key_id = b"bob".to_vec();
    assert_eq!(
        open_reply(&swapped.to_tagged_vec().unwrap(), "home", h.lookup()),
        Err(ReplyError::BadSignature("bob".into()))
    );
}

#[test]
fn envelope_and_payload_problems_are_malformed() {
    let h = TestHousehold::new();
    let good = sign_reply(&h.alice, &claims("alice"));
    let signed = |p: Vec<u8>| {
        custom(
            &h.alice,
            eddsa().key_id(b"alice".to_vec()).build(),
            coset::Header::default(),
            p,
            &aad(),
        )
    };
    let mut wrong_tag = good.clone();
    wrong_tag[0] = 0xd1; // tag 17 = COSE_Mac0
    let detached = {
        let mut s = coset::CoseSign1::from_tagged_slice(&good).unwrap();
        s.payload = None;
        s.to_tagged_vec().unwrap()
    };
    let no_kid = custom(
        &h.alice,
        eddsa().build(),
        coset::Header::default(),
        payload(None, None),
        &aad(),
    );
    let both_kids = custom(
        &h.alice,
        eddsa().key_id(b"alice".to_vec()).build(),
        coset::HeaderBuilder::new()
            .key_id(b"alice".to_vec())
            .build(),
        payload(None, None),
        &aad(),
    );
    let bad_utf8_kid = custom(
        &h.alice,
        eddsa().key_id(vec![0xff, 0xfe]).build(),
        coset::Header::default(),
        payload(None, None),
        &aad(),
    );
    let critical = custom(
        &h.alice,
        eddsa()
            .key_id(b"alice".to_vec())
            .add_critical(coset::iana::HeaderParameter::ContentType)
            .content_format(coset::iana::CoapContentFormat::Cbor)
            .build(),
        coset::Header::default(),
        payload(None, None),
        &aad(),
    );
    let mut trailing = good.clone();
    trailing.push(0x00);
    let short_sig = {
        let mut s = coset::CoseSign1::from_tagged_slice(&good).unwrap();
        s.signature.truncate(63);
        s.to_tagged_vec().unwrap()
    };
    let mut deep = vec![0xd2, 0x84, 0x41, 0xa0, 0xa0, 0x41, 0xa0];
    deep.extend_from_slice(&[0x81; 100]);
    deep.push(0x00);
    let tagged_nonce = {
        let mut v = crate::protocol::cbor::cbor_value_from_slice(&payload(None, None)).unwrap();
        if let ciborium::Value::Map(m) = &mut v {
            m[2].1 = ciborium::Value::Tag(64, Box::new(ciborium::Value::Bytes(vec![9; 16])));
        }
        crate::protocol::cbor::cbor_to_vec(&v)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty bytes", vec![]),
        ("random bytes", b"\x13\x37not cose at all".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("truncated by one", good[..good.len() - 1].to_vec()),
        ("trailing byte", trailing),
        ("wrong tag", wrong_tag),
        ("array of 3", vec![0x83, 0x40, 0xa0, 0x40]),
        ("detached payload", detached),
        ("no kid", no_kid),
        ("kid in both headers", both_kids),
        ("kid not utf-8", bad_utf8_kid),
        ("critical header", critical),
        ("short signature", short_sig),
        ("deep nesting", deep),
        ("empty payload", signed(vec![])),
        ("payload not a map", signed(vec![0x01])),
        (
            "payload trailing",
            signed([payload(None, None), vec![0]].concat()),
        ),
        (
            "extra field",
            signed(payload(
                Some(("counter", ciborium::Value::Integer(1.into()))),
                None,
            )),
        ),
        ("missing nonce", signed(payload(None, Some("nonce")))),
        ("missing iat", signed(payload(None, Some("iat")))),
        (
            "duplicate field",
            signed(payload(
                Some(("hub", ciborium::Value::Text("home".into()))),
                None,
            )),
        ),
        (
            "short nonce",
            signed(payload(
                Some(("nonce", ciborium::Value::Bytes(vec![1; 15]))),
                Some("nonce"),
            )),
        ),
        (
            "nonce as text",
            signed(payload(
                Some(("nonce", ciborium::Value::Text("0".repeat(32)))),
                Some("nonce"),
            )),
        ),
        ("tagged nonce", signed(tagged_nonce)),
        (
            "bad decision",
            signed(payload(
                Some(("decision", ciborium::Value::Text("maybe".into()))),
                Some("decision"),
            )),
        ),
        (
            "iat float",
            signed(payload(
                Some(("iat", ciborium::Value::Float(1.5))),
                Some("iat"),
            )),
        ),
        (
            "member is bob",
            signed(payload(
                Some(("member", ciborium::Value::Text("bob".into()))),
                Some("member"),
            )),
        ),
        (
            "empty intent",
            signed(payload(
                Some(("intent", ciborium::Value::Text(String::new()))),
                Some("intent"),
            )),
        ),
    ];
    for (name, bytes) in cases {
        let got = open_reply(&bytes, "home", h.lookup());
        assert!(
            matches!(got, Err(ReplyError::Malformed(_))),
            "{name}: {got:?}"
        );
    }
    assert!(matches!(
        open_reply(&signed(payload(Some(("member", ciborium::Value::Text("bob".into()))), Some("member"))), "home", h.lookup()),
        Err(ReplyError::Malformed(m)) if m == "member does not match key id"
    ));
    assert_eq!(
        open_reply(&vec![0u8; MAX_REPLY_BYTES + 1], "home", h.lookup()),
        Err(ReplyError::TooLarge(MAX_REPLY_BYTES + 1))
    );
}

#[test]
fn deeply_nested_protected_header_does_not_overflow() {
    // A protected bstr holding {5: [[[[...]]]]} nested ~1000 deep.
    let mut inner = vec![0xa1, 0x05];
    inner.extend_from_slice(&[0x81; 1000]);
    inner.push(0x00);
    let mut bytes = vec![0xd2, 0x84, 0x59];
    bytes.extend_from_slice(&u16::try_from(inner.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(&inner);
    bytes.extend_from_slice(&[0xa0, 0x40, 0x40]);
    let h = TestHousehold::new();
    assert!(matches!(
        open_reply(&bytes, "home", h.lookup()),
        Err(ReplyError::Malformed(_))
    ));
}
