//! Signed intents and cancellations: round trips, the documented fields,
//! tampering, wrong keys and signed but malformed payloads.

use super::*;
use coset::TaggedCborSerializable;

fn intent(evidence: Evidence) -> Intent {
    Intent {
        id: "0123456789abcdef0123456789abcdef".into(),
        hub: "home".into(),
        product: "acme-milk-1l".into(),
        packages: 2,
        price_ceiling: 2.62,
        currency: "EUR".into(),
        deliver_after: 1_767_225_600,
        deliver_before: 1_767_398_400,
        evidence,
        issued_at: 1_767_225_601,
    }
}

#[test]
fn intent_round_trip_both_evidence_kinds() {
    let hub = SigningKey::generate();
    for evidence in [
        Evidence::Rule("milk-under-5".into()),
        Evidence::Members(vec![[1; 32], [2; 32]]),
        Evidence::Members(vec![]),
    ] {
        let i = intent(evidence);
        let bytes = sign_intent(&hub, &i);
        assert_eq!(bytes.first(), Some(&0xd2));
        assert_eq!(verify_intent(&bytes, &hub.public_key()), Ok(i));
    }
    // Whole-number ceilings stay exact.
    let mut i = intent(Evidence::Rule("r".into()));
    i.price_ceiling = 12.0;
    assert_eq!(
        verify_intent(&sign_intent(&hub, &i), &hub.public_key()),
        Ok(i)
    );
}

#[test]
fn payload_has_exactly_the_documented_fields() {
    let hub = SigningKey::generate();
    let bytes = sign_intent(&hub, &intent(Evidence::Members(vec![[7; 32]])));
    let sign1 = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
    assert_eq!(sign1.protected.header.key_id, b"hub:home");
    assert!(sign1.unprotected.is_empty());
    let tbs = sign1.tbs_data(&[]);
    assert!(crate::crypto::keys::verify(
        &hub.public_key(),
        &tbs,
        &sign1.signature
    ));
    let Value::Map(entries) =
        crate::protocol::cbor::cbor_value_from_slice(sign1.payload.as_ref().unwrap()).unwrap()
    else {
        panic!("payload not a map")
    };
    let keys: Vec<_> = entries.iter().map(|(k, _)| k.as_text().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "v",
            "id",
            "hub",
            "iat",
            "product",
            "currency",
            "evidence",
            "packages",
            "deliver_after",
            "price_ceiling",
            "deliver_before"
        ]
    );
    let price = entries
        .iter()
        .find(|(k, _)| k.as_text() == Some("price_ceiling"))
        .unwrap();
    assert!(matches!(price.1, Value::Float(_)));
}

#[test]
fn tampered_or_wrong_key_fails() {
    let hub = SigningKey::generate();
    let bytes = sign_intent(&hub, &intent(Evidence::Rule("r".into())));
    // Change a payload byte: "acme" -> "bcme".
    let mut tampered = bytes.clone();
    let at = tampered.windows(4).position(|w| w == b"acme").unwrap();
    tampered[at] = b'b';
    assert_eq!(
        verify_intent(&tampered, &hub.public_key()),
        Err(IntentError::BadSignature)
    );
    // Re-encode with a changed payload but the old signature.
    let mut sign1 = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
    let mut p = intent(Evidence::Rule("r".into()));
    p.packages = 200;
    let other = coset::CoseSign1::from_tagged_slice(&sign_intent(&hub, &p)).unwrap();
    sign1.payload = other.payload;
    assert_eq!(
        verify_intent(&sign1.to_tagged_vec().unwrap(), &hub.public_key()),
        Err(IntentError::BadSignature)
    );
    let stranger = SigningKey::generate();
    assert_eq!(
        verify_intent(&bytes, &stranger.public_key()),
        Err(IntentError::BadSignature)
    );
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x80;
    assert_eq!(
        verify_intent(&flipped, &hub.public_key()),
        Err(IntentError::BadSignature)
    );
    assert_eq!(
        verify_intent(&vec![0; MAX_INTENT_BYTES + 1], &hub.public_key()),
        Err(IntentError::TooLarge(MAX_INTENT_BYTES + 1))
    );
    for bad in [&b""[..], b"\xd2", &bytes[..bytes.len() - 1], b"{}"] {
        assert!(matches!(
            verify_intent(bad, &hub.public_key()),
            Err(IntentError::Malformed(_))
        ));
    }
}

/// Signs an arbitrary payload map as the hub would.
fn signed_payload(hub: &SigningKey, edit: impl FnOnce(&mut Vec<(Value, Value)>)) -> Vec<u8> {
    let good = sign_intent(hub, &intent(Evidence::Rule("r".into())));
    let sign1 = coset::CoseSign1::from_tagged_slice(&good).unwrap();
    let Value::Map(mut entries) =
        crate::protocol::cbor::cbor_value_from_slice(sign1.payload.as_ref().unwrap()).unwrap()
    else {
        panic!()
    };
    edit(&mut entries);
    crate::protocol::cose::sign1(
        hub,
        b"hub:home",
        crate::protocol::cbor::cbor_to_vec(&Value::Map(entries)),
        &[],
    )
}

fn set(entries: &mut [(Value, Value)], key: &str, value: Value) {
    for e in entries.iter_mut() {
        if e.0.as_text() == Some(key) {
            e.1 = value.clone();
        }
    }
}

#[test]
fn signed_but_malformed_payloads_are_refused() {
    let hub = SigningKey::generate();
    type Edit = Box<dyn FnOnce(&mut Vec<(Value, Value)>)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "extra field",
            Box::new(|e| e.push((Value::Text("household".into()), Value::Text("x".into())))),
        ),
        (
            "missing field",
            Box::new(|e| e.retain(|(k, _)| k.as_text() != Some("iat"))),
        ),
        ("v 2", Box::new(|e| set(e, "v", Value::Integer(2.into())))),
        (
            "packages negative",
            Box::new(|e| set(e, "packages", Value::Integer((-1).into()))),
        ),
        (
            "packages huge",
            Box::new(|e| set(e, "packages", Value::Integer(u64::MAX.into()))),
        ),
        (
            "price NaN",
            Box::new(|e| set(e, "price_ceiling", Value::Float(f64::NAN))),
        ),
        (
            "price text",
            Box::new(|e| set(e, "price_ceiling", Value::Text("1".into()))),
        ),
        (
            "window reversed",
            Box::new(|e| set(e, "deliver_after", Value::Integer(i64::MAX.into()))),
        ),
        (
            "evidence unknown kind",
            Box::new(|e| {
                set(
                    e,
                    "evidence",
                    Value::Map(vec![(
                        Value::Text("kind".into()),
                        Value::Text("vibes".into()),
                    )]),
                )
            }),
        ),
        (
            "evidence extra",
            Box::new(|e| {
                set(
                    e,
                    "evidence",
                    Value::Map(vec![
                        (Value::Text("kind".into()), Value::Text("rule".into())),
                        (Value::Text("rule".into()), Value::Text("r".into())),
                        (Value::Text("member".into()), Value::Text("alice".into())),
                    ]),
                )
            }),
        ),
        (
            "short digest",
            Box::new(|e| {
                set(
                    e,
                    "evidence",
                    Value::Map(vec![
                        (Value::Text("kind".into()), Value::Text("members".into())),
                        (
                            Value::Text("digests".into()),
                            Value::Array(vec![Value::Bytes(vec![1; 31])]),
                        ),
                    ]),
                )
            }),
        ),
        (
            "other hub",
            Box::new(|e| set(e, "hub", Value::Text("cabin".into()))),
        ),
        (
            "tagged id",
            Box::new(|e| set(e, "id", Value::Tag(0, Box::new(Value::Text("x".into()))))),
        ),
    ];
    for (name, edit) in cases {
        let bytes = signed_payload(&hub, edit);
        let got = verify_intent(&bytes, &hub.public_key());
        assert!(
            matches!(got, Err(IntentError::Malformed(_))),
            "{name}: {got:?}"
        );
    }
}

#[test]
fn a_cancellation_round_trips_and_is_told_apart_from_an_intent() {
    let hub = SigningKey::generate();
    let cancel = Cancellation {
        id: "0123456789abcdef0123456789abcdef".into(),
        hub: "home".into(),
        reason: CancelReason::PriceAboveCeiling,
        issued_at: 1_767_225_601,
    };
    let bytes = sign_cancel(&hub, &cancel);
    assert_eq!(
        verify_upstream(&bytes, &hub.public_key()),
        Ok(Upstream::Cancel(cancel.clone()))
    );
    assert!(matches!(
        verify_intent(&bytes, &hub.public_key()),
        Err(IntentError::Malformed(m)) if m.contains("cancellation")
    ));
    let other = SigningKey::generate();
    assert_eq!(
        verify_upstream(&bytes, &other.public_key()),
        Err(IntentError::BadSignature)
    );
    let signed = sign_intent(&hub, &intent(Evidence::Rule("r".into())));
    assert!(matches!(
        verify_upstream(&signed, &hub.public_key()),
        Ok(Upstream::Intent(_))
    ));
}
