//! Hostile native events: each refused with the right error, and
//! truncated or mutated bytes never panic.

use super::*;

enum Want {
    TooLarge,
    Decode,
    Invalid(&'static str),
}

#[test]
fn hostile_payloads_are_refused_with_the_right_error() {
    use PayloadFormat::{Cbor, Json};
    use Want::*;
    let j = |s: &str| s.as_bytes().to_vec();
    let base = |replace: &str, with: &str| {
        let good = r#"{"v":1,"device":"fridge","epoch":7,"seq":42,"ts":1767225600,"kind":"level","slot":"milk","amount":1.42}"#;
        assert!(good.contains(replace), "{replace}");
        good.replacen(replace, with, 1).into_bytes()
    };
    let with_cbor = |key: &'static str, value: Option<Value>| {
        let mut entries: Vec<_> = good_cbor_entries()
            .into_iter()
            .filter(|(k, _)| *k != key)
            .collect();
        if let Some(v) = value {
            entries.push((key, v));
        }
        cbor(entries)
    };
    let good_cbor = cbor(good_cbor_entries());
    let mut trailing = good_cbor.clone();
    trailing.extend_from_slice(&[0x00, 0xff]);
    let mut tag_soup = vec![0xc6; 300];
    tag_soup.extend_from_slice(&good_cbor);
    let mut tagged_value = with_cbor("seq", None);
    // Re-add seq as tag 1 (epoch time) wrapping an integer.
    tagged_value = {
        let mut v = cbor_value_from_slice(&tagged_value).unwrap();
        if let Value::Map(m) = &mut v {
            m.push((
                Value::Text("seq".into()),
                Value::Tag(1, Box::new(Value::Integer(42.into()))),
            ));
        }
        cbor_to_vec(&v)
    };
    let mut deep_cbor = vec![0x81; 500];
    deep_cbor.push(0x01);
    let deep_in_field = {
        let mut v = good_cbor.clone();
        // Replace the map header 0xa7 (7 entries) with 0xa8 and add "x": [[[...]]].
        v[0] = 0xa8;
        v.extend_from_slice(&[0x61, b'x']);
        v.extend_from_slice(&[0x81; 200]);
        v.push(0x01);
        v
    };
    let cases: Vec<(&str, PayloadFormat, Vec<u8>, Want)> = vec![
        ("empty json", Json, vec![], Decode),
        ("empty cbor", Cbor, vec![], Decode),
        ("whitespace", Json, j("  \n "), Decode),
        ("not json", Json, j("fridge says hi"), Decode),
        ("json array", Json, j("[1,2,3]"), Decode),
        ("json string", Json, j("\"level\""), Decode),
        ("json null", Json, j("null"), Decode),
        (
            "deep array",
            Json,
            j(&format!("{}{}", "[".repeat(2000), "]".repeat(2000))),
            Decode,
        ),
        (
            "deep in field",
            Json,
            base(
                "\"milk\"",
                &format!("{}1{}", "[".repeat(1000), "]".repeat(1000)),
            ),
            Invalid("slot"),
        ),
        (
            "shallow object in field",
            Json,
            base("\"milk\"", "{\"a\":1}"),
            Invalid("slot"),
        ),
        ("huge float", Json, base("1.42", "1e400"), Decode),
        (
            "huge integer seq",
            Json,
            base("42", "123456789012345678901234567890"),
            Invalid("seq"),
        ),
        (
            "seq 2^64",
            Json,
            base("42", "18446744073709551616"),
            Invalid("seq"),
        ),
        (
            "NaN string",
            Json,
            base("1.42", "\"NaN\""),
            Invalid("amount"),
        ),
        ("bare NaN", Json, base("1.42", "NaN"), Decode),
        ("Infinity", Json, base("1.42", "Infinity"), Decode),
        ("negative seq", Json, base("42", "-1"), Invalid("seq")),
        ("negative epoch", Json, base("7", "-7"), Invalid("epoch")),
        ("float epoch", Json, base("7", "7.5"), Invalid("epoch")),
        ("seq as string", Json, base("42", "\"42\""), Invalid("seq")),
        (
            "device as number",
            Json,
            base("\"fridge\"", "12"),
            Invalid("device"),
        ),
        (
            "device empty",
            Json,
            base("\"fridge\"", "\"\""),
            Invalid("device"),
        ),
        (
            "device with slash",
            Json,
            base("\"fridge\"", "\"a/b\""),
            Invalid("device"),
        ),
        (
            "device with wildcard",
            Json,
            base("\"fridge\"", "\"#\""),
            Invalid("device"),
        ),
        (
            "device unicode",
            Json,
            base("\"fridge\"", "\"kühl\""),
            Invalid("device"),
        ),
        (
            "slot too long",
            Json,
            base("\"milk\"", &format!("\"{}\"", "m".repeat(65))),
            Invalid("slot"),
        ),
        (
            "unknown field",
            Json,
            base("\"v\":1,", "\"v\":1,\"colour\":\"red\","),
            Decode,
        ),
        (
            "duplicate field",
            Json,
            base("\"v\":1,", "\"v\":1,\"seq\":1,"),
            Decode,
        ),
        (
            "missing slot",
            Json,
            base(",\"slot\":\"milk\"", ""),
            Invalid("slot"),
        ),
        ("null slot", Json, base("\"milk\"", "null"), Invalid("slot")),
        (
            "missing device",
            Json,
            base("\"device\":\"fridge\",", ""),
            Invalid("device"),
        ),
        (
            "missing amount",
            Json,
            base(",\"amount\":1.42", ""),
            Invalid("amount"),
        ),
        (
            "dose on level",
            Json,
            base("\"amount\"", "\"dose\""),
            Invalid("dose"),
        ),
        (
            "amount on washer_cycle",
            Json,
            base("\"level\"", "\"washer_cycle\""),
            Invalid("amount"),
        ),
        (
            "both amount and dose",
            Json,
            base("\"v\":1,", "\"v\":1,\"dose\":1,"),
            Invalid("dose"),
        ),
        (
            "unknown kind",
            Json,
            base("\"level\"", "\"teleport\""),
            Invalid("kind"),
        ),
        (
            "kind as number",
            Json,
            base("\"level\"", "3"),
            Invalid("kind"),
        ),
        (
            "negative amount",
            Json,
            base("1.42", "-0.5"),
            Invalid("amount"),
        ),
        (
            "amount too big",
            Json,
            base("1.42", "10000000.5"),
            Invalid("amount"),
        ),
        (
            "amount boolean",
            Json,
            base("1.42", "true"),
            Invalid("amount"),
        ),
        ("wrong v", Json, base("\"v\":1", "\"v\":2"), Invalid("v")),
        (
            "v as string",
            Json,
            base("\"v\":1", "\"v\":\"1\""),
            Invalid("v"),
        ),
        ("missing v", Json, base("\"v\":1,", ""), Invalid("v")),
        (
            "ts too early",
            Json,
            base("1767225600", "123"),
            Invalid("ts"),
        ),
        (
            "ts too late",
            Json,
            base("1767225600", "4102444800"),
            Invalid("ts"),
        ),
        (
            "ts float",
            Json,
            base("1767225600", "1767225600.5"),
            Invalid("ts"),
        ),
        (
            "ts in ms",
            Json,
            base("1767225600", "1767225600000"),
            Invalid("ts"),
        ),
        (
            "5000 bytes",
            Json,
            base("\"milk\"", &format!("\"{}\"", "m".repeat(4900))),
            TooLarge,
        ),
        ("5000 bytes cbor", Cbor, vec![0xa0; 5000], TooLarge),
        (
            "invalid utf-8",
            Json,
            base("milk", "mi\u{fffd}k")
                .iter()
                .map(|&b| if b == 0xef { 0xff } else { b })
                .collect(),
            Decode,
        ),
        (
            "trailing json",
            Json,
            [base("", ""), j(" x")].concat(),
            Decode,
        ),
        (
            "two json objects",
            Json,
            [base("", ""), base("", "")].concat(),
            Decode,
        ),
        ("truncated json", Json, base("", "")[..40].to_vec(), Decode),
        ("cbor trailing garbage", Cbor, trailing, Decode),
        ("cbor tag soup", Cbor, tag_soup, Decode),
        ("cbor tagged value", Cbor, tagged_value, Decode),
        ("cbor deep array", Cbor, deep_cbor, Decode),
        ("cbor deep in field", Cbor, deep_in_field, Decode),
        (
            "cbor truncated",
            Cbor,
            good_cbor[..good_cbor.len() - 3].to_vec(),
            Decode,
        ),
        (
            "cbor integer key",
            Cbor,
            cbor_to_vec(&Value::Map(vec![(
                Value::Integer(1.into()),
                Value::Integer(1.into()),
            )])),
            Decode,
        ),
        (
            "cbor array",
            Cbor,
            cbor_to_vec(&Value::Array(vec![Value::Integer(1.into())])),
            Decode,
        ),
        (
            "cbor huge text length",
            Cbor,
            vec![0xa1, 0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            Decode,
        ),
        ("cbor break byte", Cbor, vec![0xff], Decode),
        (
            "cbor NaN amount",
            Cbor,
            with_cbor("amount", Some(Value::Float(f64::NAN))),
            Invalid("amount"),
        ),
        (
            "cbor infinite amount",
            Cbor,
            with_cbor("amount", Some(Value::Float(f64::INFINITY))),
            Invalid("amount"),
        ),
        (
            "cbor bytes slot",
            Cbor,
            with_cbor("slot", Some(Value::Bytes(b"milk".to_vec()))),
            Invalid("slot"),
        ),
        (
            "cbor bignum seq",
            Cbor,
            with_cbor(
                "seq",
                Some(Value::Tag(
                    2,
                    Box::new(Value::Bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 0])),
                )),
            ),
            Invalid("seq"),
        ),
        (
            "cbor negative seq",
            Cbor,
            with_cbor("seq", Some(Value::Integer((-1).into()))),
            Invalid("seq"),
        ),
        (
            "cbor very negative seq",
            Cbor,
            with_cbor(
                "seq",
                Some(Value::Integer(
                    ciborium::value::Integer::try_from(-(1i128 << 64)).unwrap(),
                )),
            ),
            Invalid("seq"),
        ),
        (
            "cbor missing slot",
            Cbor,
            with_cbor("slot", None),
            Invalid("slot"),
        ),
    ];
    assert!(cases.len() >= 25);
    for (name, format, bytes, want) in cases {
        let got = decode_event(format, &bytes);
        let ok = match (&want, &got) {
            (TooLarge, Err(WireError::TooLarge { .. })) => true,
            (Decode, Err(WireError::Decode { .. })) => true,
            (Invalid(f), Err(WireError::Invalid { field, .. })) => f == field,
            _ => false,
        };
        assert!(ok, "{name}: got {got:?}");
        if let Err(e) = got {
            // Messages stay short even for long hostile input.
            assert!(e.to_string().len() < 400, "{name}: {e}");
        }
    }
}

/// A tiny deterministic generator so the fuzz-style tests need no crate.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn truncations_and_mutations_never_panic() {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    for format in [PayloadFormat::Json, PayloadFormat::Cbor] {
        for kind in KINDS {
            let good = encode_event(format, &event(kind, 2.5, Some(1_767_225_600)));
            for cut in 0..good.len() {
                assert!(decode_event(format, &good[..cut]).is_err());
            }
            for _ in 0..400 {
                let mut bytes = good.clone();
                for _ in 0..=(xorshift(&mut rng) % 4) {
                    let i = (xorshift(&mut rng) as usize) % bytes.len();
                    bytes[i] = xorshift(&mut rng) as u8;
                }
                let _ = decode_event(format, &bytes);
            }
        }
        for len in [1usize, 2, 3, 8, 64, 512, 4096] {
            for _ in 0..50 {
                let bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut rng) as u8).collect();
                let _ = decode_event(format, &bytes);
            }
        }
    }
}
