//! Shop acknowledgements: JSON and CBOR, quotes checked field by field,
//! hostile acks refused.

use super::*;

#[test]
fn ack_json_and_cbor_decode() {
    let acks = [
        UpstreamAck {
            intent: "0123456789abcdef0123456789abcdef".into(),
            status: AckStatus::Accepted,
            reason: None,
            quote: Quote::default(),
        },
        UpstreamAck {
            intent: "i2".into(),
            status: AckStatus::Delivered,
            reason: None,
            quote: Quote::default(),
        },
        UpstreamAck {
            intent: "i3".into(),
            status: AckStatus::Rejected,
            reason: Some("price above ceiling ✗".into()),
            quote: Quote::default(),
        },
        UpstreamAck {
            intent: "i4".into(),
            status: AckStatus::Quoted,
            reason: None,
            quote: Quote {
                total: Some(3.1),
                currency: Some("EUR".into()),
                product: Some("acme-oat-1l".into()),
            },
        },
    ];
    for ack in &acks {
        assert_eq!(decode_ack(&encode_ack_json(ack)).as_ref(), Ok(ack));
        assert_eq!(decode_ack(&encode_ack_cbor(ack)).as_ref(), Ok(ack));
    }
    assert_eq!(
        std::str::from_utf8(&encode_ack_json(&acks[2])).unwrap(),
        r#"{"intent":"i3","status":"rejected","reason":"price above ceiling ✗"}"#
    );
    let spaced =
        decode_ack(b"\n  {\"status\":\"delivered\", \"intent\":\"i2\", \"reason\":null}\n")
            .unwrap();
    assert_eq!(spaced, acks[1]);
}

#[test]
fn quotes_are_checked_field_by_field() {
    for (bytes, needle) in [
        (
            &br#"{"intent":"a","status":"quoted"}"#[..],
            "needs \"total\"",
        ),
        (br#"{"intent":"a","status":"quoted","total":-1}"#, "total"),
        (br#"{"intent":"a","status":"quoted","total":1e12}"#, "total"),
        (
            br#"{"intent":"a","status":"accepted","total":"3"}"#,
            "total",
        ),
        (
            br#"{"intent":"a","status":"accepted","product":""}"#,
            "product",
        ),
        (
            br#"{"intent":"a","status":"accepted","currency":7}"#,
            "currency",
        ),
    ] {
        let err = decode_ack(bytes).expect_err(std::str::from_utf8(bytes).unwrap());
        assert!(err.to_string().contains(needle), "{err}");
    }
    let ack = decode_ack(br#"{"intent":"a","status":"accepted","total":3}"#).unwrap();
    assert_eq!(ack.quote.total, Some(3.0));
}

#[test]
fn hostile_acks_are_refused() {
    let cbor =
        |entries: Vec<(Value, Value)>| crate::protocol::cbor::cbor_to_vec(&Value::Map(entries));
    let t = |s: &str| Value::Text(s.into());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("whitespace", b"   ".to_vec()),
        ("not json", b"{nope}".to_vec()),
        (
            "json array",
            b"[{\"intent\":\"a\",\"status\":\"accepted\"}]".to_vec(),
        ),
        ("truncated", b"{\"intent\":\"a\",\"status\":\"acc".to_vec()),
        (
            "trailing",
            b"{\"intent\":\"a\",\"status\":\"accepted\"}}".to_vec(),
        ),
        (
            "unknown status",
            b"{\"intent\":\"a\",\"status\":\"lost\"}".to_vec(),
        ),
        ("status number", b"{\"intent\":\"a\",\"status\":1}".to_vec()),
        ("missing status", b"{\"intent\":\"a\"}".to_vec()),
        ("missing intent", b"{\"status\":\"accepted\"}".to_vec()),
        (
            "empty intent",
            b"{\"intent\":\"\",\"status\":\"accepted\"}".to_vec(),
        ),
        (
            "long intent",
            format!(
                "{{\"intent\":\"{}\",\"status\":\"accepted\"}}",
                "a".repeat(65)
            )
            .into_bytes(),
        ),
        (
            "intent number",
            b"{\"intent\":5,\"status\":\"accepted\"}".to_vec(),
        ),
        (
            "long reason",
            format!(
                "{{\"intent\":\"a\",\"status\":\"rejected\",\"reason\":\"{}\"}}",
                "r".repeat(513)
            )
            .into_bytes(),
        ),
        (
            "reason object",
            b"{\"intent\":\"a\",\"status\":\"rejected\",\"reason\":{\"x\":1}}".to_vec(),
        ),
        (
            "unknown field",
            b"{\"intent\":\"a\",\"status\":\"accepted\",\"price\":3}".to_vec(),
        ),
        (
            "duplicate field",
            b"{\"intent\":\"a\",\"status\":\"accepted\",\"status\":\"delivered\"}".to_vec(),
        ),
        (
            "invalid utf-8",
            b"{\"intent\":\"\xff\",\"status\":\"accepted\"}".to_vec(),
        ),
        (
            "deep",
            [b"{\"intent\":".to_vec(), vec![b'['; 3000]].concat(),
        ),
        ("cbor garbage", vec![0xff, 0x00]),
        (
            "cbor trailing",
            [
                cbor(vec![(t("intent"), t("a")), (t("status"), t("accepted"))]),
                vec![0],
            ]
            .concat(),
        ),
        (
            "cbor int key",
            cbor(vec![(Value::Integer(1.into()), t("a"))]),
        ),
        (
            "cbor tagged",
            [
                vec![0xc0],
                cbor(vec![(t("intent"), t("a")), (t("status"), t("accepted"))]),
            ]
            .concat(),
        ),
        (
            "cbor bytes intent",
            cbor(vec![
                (t("intent"), Value::Bytes(b"a".to_vec())),
                (t("status"), t("accepted")),
            ]),
        ),
        (
            "cbor extra",
            cbor(vec![
                (t("intent"), t("a")),
                (t("status"), t("accepted")),
                (t("x"), Value::Null),
            ]),
        ),
    ];
    for (name, bytes) in cases {
        let got = decode_ack(&bytes);
        assert!(
            matches!(got, Err(IntentError::Malformed(_))),
            "{name}: {got:?}"
        );
    }
    assert_eq!(
        decode_ack(&vec![b' '; MAX_ACK_BYTES + 1]),
        Err(IntentError::TooLarge(MAX_ACK_BYTES + 1))
    );
    // 64 and 512 characters are still fine (multi-byte characters count once).
    let ok = format!(
        "{{\"intent\":\"{}\",\"status\":\"rejected\",\"reason\":\"{}\"}}",
        "é".repeat(64),
        "ü".repeat(512)
    );
    assert!(decode_ack(ok.as_bytes()).is_ok());
}
