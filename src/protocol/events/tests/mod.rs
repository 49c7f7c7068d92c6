//! Unit tests of native events: the documented examples, round trips in
//! both formats, kinds no feature needs, and exact JSON amounts.

use super::decode::{TS_END, TS_MIN};
use super::*;
use crate::config::PayloadFormat;
use crate::protocol::cbor::{cbor_to_vec, cbor_value_from_slice};
use ciborium::Value;

mod hostile;

fn event(kind: EventKind, amount: f64, ts: Option<i64>) -> DeviceEvent {
    DeviceEvent {
        device: "fridge-1".into(),
        epoch: 7,
        seq: 42,
        ts,
        slot: "milk_2".into(),
        kind,
        amount,
    }
}

const KINDS: [EventKind; 5] = [
    EventKind::Level,
    EventKind::Consumed,
    EventKind::Added,
    EventKind::Removed,
    EventKind::WasherCycle,
];

fn cbor(entries: Vec<(&str, Value)>) -> Vec<u8> {
    cbor_to_vec(&Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.into()), v))
            .collect(),
    ))
}

fn good_cbor_entries() -> Vec<(&'static str, Value)> {
    vec![
        ("v", Value::Integer(1.into())),
        ("device", Value::Text("fridge".into())),
        ("epoch", Value::Integer(7.into())),
        ("seq", Value::Integer(42.into())),
        ("kind", Value::Text("level".into())),
        ("slot", Value::Text("milk".into())),
        ("amount", Value::Float(1.42)),
    ]
}

#[test]
fn documented_examples_decode() {
    let e = decode_event(
        PayloadFormat::Json,
        br#"{"v":1,"device":"fridge","epoch":7,"seq":42,"ts":1767225600,"kind":"level","slot":"milk","amount":1.42}"#,
    )
    .unwrap();
    assert_eq!(
        e,
        DeviceEvent {
            device: "fridge".into(),
            epoch: 7,
            seq: 42,
            ts: Some(1_767_225_600),
            slot: "milk".into(),
            kind: EventKind::Level,
            amount: 1.42,
        }
    );
    let w = decode_event(
        PayloadFormat::Json,
        b" {\"v\":1,\"device\":\"washer\",\"epoch\":3,\"seq\":9,\"kind\":\"washer_cycle\",\"slot\":\"detergent\",\"dose\":75}\n",
    )
    .unwrap();
    assert_eq!(w.kind, EventKind::WasherCycle);
    assert_eq!(w.amount, 75.0);
    assert_eq!(w.ts, None);
    // `ts: null` means "no clock".
    let n = decode_event(
        PayloadFormat::Json,
        br#"{"v":1,"device":"d","epoch":0,"seq":0,"ts":null,"kind":"added","slot":"s","amount":0}"#,
    )
    .unwrap();
    assert_eq!(n.ts, None);
    // CBOR: integer or float amounts, any key order.
    let mut entries = good_cbor_entries();
    entries.reverse();
    entries[0] = ("amount", Value::Integer(3.into()));
    for entry in entries.iter_mut().filter(|(k, _)| *k == "seq") {
        entry.1 = Value::Integer(u64::MAX.into());
    }
    let c = decode_event(PayloadFormat::Cbor, &cbor(entries)).unwrap();
    assert_eq!(c.amount, 3.0);
    assert_eq!(c.seq, u64::MAX);
    assert_eq!(c.device, "fridge");
}

#[test]
fn every_kind_round_trips_in_both_formats() {
    for format in [PayloadFormat::Json, PayloadFormat::Cbor] {
        for kind in KINDS {
            for (amount, ts) in [
                (1.42, Some(1_767_225_600)),
                (0.0, None),
                (75.0, Some(TS_MIN)),
                (1e7, Some(TS_END - 1)),
                (0.1 + 0.2, None),
            ] {
                let e = event(kind, amount, ts);
                let bytes = encode_event(format, &e);
                assert!(bytes.len() <= MAX_EVENT_BYTES);
                assert_eq!(decode_event(format, &bytes), Ok(e.clone()), "{format:?}");
                // Canonical: re-encoding the decoded event gives the same bytes.
                assert_eq!(
                    encode_event(format, &decode_event(format, &bytes).unwrap()),
                    bytes
                );
            }
        }
    }
    let json = encode_event(
        PayloadFormat::Json,
        &event(EventKind::WasherCycle, 75.0, None),
    );
    assert_eq!(
        std::str::from_utf8(&json).unwrap(),
        r#"{"v":1,"device":"fridge-1","epoch":7,"seq":42,"kind":"washer_cycle","slot":"milk_2","dose":75.0}"#
    );
    // CBOR keys in deterministic order: v, ts, seq, kind, slot, epoch, amount, device.
    let bytes = encode_event(
        PayloadFormat::Cbor,
        &event(EventKind::Level, 1.5, Some(TS_MIN)),
    );
    let Value::Map(entries) = cbor_value_from_slice(&bytes).unwrap() else {
        panic!("not a map")
    };
    let keys: Vec<_> = entries
        .iter()
        .map(|(k, _)| k.as_text().unwrap().to_owned())
        .collect();
    assert_eq!(
        keys,
        [
            "v", "ts", "seq", "kind", "slot", "epoch", "amount", "device"
        ]
    );
}

#[test]
fn door_and_climate_events_are_named_not_needed_not_invalid() {
    use PayloadFormat::*;
    let door = br#"{"v":1,"device":"fridge","epoch":1,"seq":5,"kind":"door_open","open":true}"#;
    assert_eq!(
        decode_event(Json, door),
        Err(WireError::NotNeeded {
            kind: "door_open",
            id: Some(EventId {
                device: "fridge".into(),
                epoch: 1,
                seq: 5
            })
        })
    );
    let mut cbor = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Map(vec![
            (
                ciborium::Value::Text("v".into()),
                ciborium::Value::Integer(1.into()),
            ),
            (
                ciborium::Value::Text("kind".into()),
                ciborium::Value::Text("temperature".into()),
            ),
            (
                ciborium::Value::Text("celsius".into()),
                ciborium::Value::Float(4.5),
            ),
        ]),
        &mut cbor,
    )
    .expect("cbor");
    assert_eq!(
        decode_event(Cbor, &cbor),
        Err(WireError::NotNeeded {
            kind: "temperature",
            id: None
        })
    );
    // Without a valid place in a sequence it is still not needed.
    let unnumbered = br#"{"v":1,"device":"fridge","epoch":1,"seq":-1,"kind":"door_closed"}"#;
    assert_eq!(
        decode_event(Json, unnumbered),
        Err(WireError::NotNeeded {
            kind: "door_closed",
            id: None
        })
    );
    // An unknown kind is still refused as invalid (dead-lettered).
    let odd =
        br#"{"v":1,"device":"fridge","epoch":1,"seq":5,"kind":"doors","slot":"milk","amount":1}"#;
    assert!(matches!(
        decode_event(Json, odd),
        Err(WireError::Invalid { field: "kind", .. })
    ));
}

/// Found by cargo-fuzz (`event_json`, 8 M runs): serde_json's default
/// float parser is not correctly rounded, so a long decimal amount came
/// out one ULP off (…663 instead of …665), and even the shortest
/// representation larder itself writes did not decode to the same
/// value. Fixed by serde_json's `float_roundtrip` feature.
#[test]
fn json_amounts_are_parsed_exactly_and_survive_a_round_trip() {
    let literal = "1.666666666666666666666666666660";
    let bytes = format!(
        r#"{{"v":1,"device":"fridge","epoch":3,"seq":45,"kind":"removed","slot":"milk","amount":{literal}}}"#
    );
    let event = decode_event(PayloadFormat::Json, bytes.as_bytes()).unwrap();
    assert_eq!(event.amount, literal.parse::<f64>().unwrap());
    let again = encode_event(PayloadFormat::Json, &event);
    assert_eq!(decode_event(PayloadFormat::Json, &again), Ok(event));
    for amount in [1.6666666666666665, 0.1 + 0.2, 1e7 - 1e-9, 5e-324] {
        let json = serde_json::to_string(&amount).unwrap();
        assert_eq!(
            serde_json::from_str::<f64>(&json).unwrap(),
            amount,
            "{json}"
        );
    }
}
