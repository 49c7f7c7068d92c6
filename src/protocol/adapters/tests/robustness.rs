//! Odd, broken and hostile payloads in every ecosystem: bad values in
//! fields the device does not need, implausible device times, mutated
//! fixtures and bad payloads, refused or read but never a panic.

use super::*;

#[test]
fn a_bad_value_in_a_field_the_device_does_not_need_refuses_nothing() {
    let plug = washer(PayloadFormat::Shelly);
    // Shelly firmware reports `null` temperatures when the sensor has
    // no value; the power is still good.
    let r = decode(
        &plug,
        "s/status/switch:0",
        br#"{"id":0,"output":true,"apower":512.3,"aenergy":{"total":null},"temperature":{"tC":null,"tF":null}}"#,
    )
    .unwrap();
    assert_eq!(r.signals, vec![Signal::Power(512.3), Signal::Relay(true)]);
    check_needed(&plug, "s/status/switch:0", &r).unwrap();
    // Zigbee2MQTT publishes `null` for attributes not reported yet.
    let z2m = washer(PayloadFormat::Zigbee2mqtt);
    let r = decode(
        &z2m,
        "",
        br#"{"power":null,"energy":null,"state":"OFF","temperature":"n/a","contact":null,"linkquality":40}"#,
    )
    .unwrap();
    assert_eq!(r.signals, vec![Signal::Relay(false)]);
    check_needed(&z2m, "", &r).unwrap();
    let r = decode(&z2m, "", br#"{"power":null,"linkquality":40}"#).unwrap();
    assert!(matches!(
        check_needed(&z2m, "", &r),
        Err(AdapterError::Missing { .. })
    ));
    // A raw count out of range beside a good weight.
    let scale = scale(PayloadFormat::Tasmota);
    let r = decode(
        &scale,
        "",
        br#"{"HX711":{"Weight":1.25,"WeightRaw":99999999999,"AbsRaw":"x"},"ENERGY":{"Total":"?"}}"#,
    )
    .unwrap();
    assert_eq!(r.signals, vec![Signal::Weight(1.25)]);
    // A needed field with a bad value is still refused, naming it.
    assert_eq!(
        decode(&z2m, "", br#"{"power":"lots"}"#)
            .unwrap_err()
            .to_string(),
        "invalid field `power`: expected a number, got a string"
    );
}

#[test]
fn an_implausible_device_time_falls_back_to_the_receive_time() {
    // A Shelly without time sync (no internet on the IoT network), a
    // Zigbee2MQTT `last_seen` it cannot parse, a bridge's odd timestamp.
    let plug = washer(PayloadFormat::Shelly);
    for ts in ["null", "12.5", "-5", "\"soon\""] {
        let payload = format!(
            r#"{{"method":"NotifyStatus","params":{{"ts":{ts},"switch:0":{{"apower":1800.5}}}}}}"#
        );
        let r = decode(&plug, "s/events/rpc", payload.as_bytes()).unwrap();
        assert_eq!(r.signals, vec![Signal::Power(1800.5)], "ts {ts}");
        assert_eq!(r.at, None, "ts {ts}");
    }
    let z2m = washer(PayloadFormat::Zigbee2mqtt);
    for seen in ["\"yesterday\"", "null", "3", "true"] {
        let payload = format!(r#"{{"power":3.5,"last_seen":{seen}}}"#);
        let r = decode(&z2m, "", payload.as_bytes()).unwrap();
        assert_eq!(r.signals, vec![Signal::Power(3.5)], "{seen}");
        assert_eq!(r.at, None, "{seen}");
    }
    let hc = washer(PayloadFormat::Homeconnect);
    let r = decode(
        &hc,
        "",
        br#"{"items":[{"key":"BSH.Common.Event.ProgramFinished","value":"BSH.Common.EnumType.EventPresentState.Present","timestamp":"n/a"}]}"#,
    )
    .unwrap();
    assert_eq!(r.signals, vec![Signal::ProgramFinished]);
    assert_eq!(r.at, None);
}

/// Every fixture with bytes flipped, cut and repeated, through every
/// format and the whole pipeline: refused or read, never a panic.
#[test]
fn mutated_fixtures_never_panic_in_any_format() {
    let names = [
        "z2m-plug",
        "tasmota-hx711",
        "shelly-status",
        "shelly-delta",
        "esphome",
        "hc-sse",
        "hc-hcpy",
        "generic",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let interesting: &[&[u8]] = &[
        b"null", b"-1e308", b"1e400", b"[]", b"{}", b"\"\"", b"NaN", b"\xff", b"[[[[", b"0",
    ];
    for format in PayloadFormat::ALL {
        let mut d = washer(format);
        d.scale = Some(ScaleParams::default());
        d.reading = Some(FieldSpec {
            field: "sensors.shelf.0.grams".into(),
            unit: Unit::G,
            factor: 1.0,
        });
        let mut state = DeviceState::default();
        for name in names {
            let original = fixture(name);
            for round in 0..300 {
                let mut bytes = original.to_vec();
                for _ in 0..=(next() % 4) {
                    if bytes.is_empty() {
                        break;
                    }
                    let at = (next() as usize) % bytes.len();
                    match next() % 4 {
                        0 => bytes[at] = next() as u8,
                        1 => bytes.truncate(at),
                        2 => {
                            let with = interesting[(next() as usize) % interesting.len()];
                            bytes.splice(at..at, with.iter().copied());
                        }
                        _ => {
                            let end = (at + 1 + (next() as usize) % 16).min(bytes.len());
                            bytes.drain(at..end);
                        }
                    }
                }
                let topic = if round % 2 == 0 {
                    "s/events/rpc"
                } else {
                    "s/status/switch:0"
                };
                if let Ok(reading) = decode(&d, topic, &bytes) {
                    let _ = check_needed(&d, topic, &reading);
                    let _ = apply(&d, &mut state, &reading, 1_772_445_600 + round);
                    let _ = tick(&d, &mut state, 1_772_445_600 + round);
                }
                let _ = describe(&d, topic, &bytes, 1_772_445_600);
            }
        }
    }
}

#[test]
fn bad_payloads_are_refused_not_panicked_on() {
    for format in PayloadFormat::ALL {
        let d = washer(format);
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            b"{\"power\":\"lots\"}",
            b"{\"power\":1e400}",
            b"{\"ENERGY\":[1]}",
            b"{\"items\":{}}",
            b"{\"method\":\"NotifyStatus\",\"params\":{\"ts\":-5}}",
            &[0xff, 0xfe],
        ] {
            let _ = decode(&d, "x/events/rpc", bad);
        }
        let big = vec![b' '; MAX_ADAPTER_BYTES + 1];
        assert!(matches!(
            decode(&d, "", &big),
            Err(AdapterError::TooLarge { .. })
        ));
    }
}
