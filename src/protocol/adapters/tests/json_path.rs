//! The generic JSON adapter: a path in a unit, numbers sent as text.

use super::*;

#[test]
fn the_generic_adapter_reads_a_path_in_a_unit() {
    let scale = Device {
        reading: Some(FieldSpec {
            field: "sensors.shelf.0.grams".into(),
            unit: Unit::G,
            factor: 1.0,
        }),
        ..scale(PayloadFormat::JsonPath)
    };
    assert_eq!(signals(&scale, "", "generic"), vec![Signal::Weight(1.5)]);
    assert_eq!(
        decode(&scale, "", br#"{"sensors":{}}"#)
            .unwrap_err()
            .to_string(),
        "json-path payload has no `sensors.shelf.0.grams` field (needed: devices[].field)"
    );
    assert!(matches!(
        decode(&scale, "", br#"{"sensors":{"shelf":[{"grams":"x"}]}}"#),
        Err(AdapterError::Invalid { .. })
    ));
}

#[test]
fn the_generic_adapter_reads_numbers_sent_as_strings() {
    let plug = Device {
        reading: Some(FieldSpec {
            field: "data.1.power".into(),
            unit: Unit::Kw,
            factor: 1.0,
        }),
        ..washer(PayloadFormat::JsonPath)
    };
    let r = decode(&plug, "", br#"{"data":[{"power":"0"},{"power":" 1.25 "}]}"#).unwrap();
    assert_eq!(r.signals, vec![Signal::Power(1250.0)]);
    for bad in [r#""""#, r#""nan""#, r#""12 W""#, r#""inf""#, "null"] {
        let payload = format!(r#"{{"data":[0,{{"power":{bad}}}]}}"#);
        assert!(
            matches!(
                decode(&plug, "", payload.as_bytes()),
                Err(AdapterError::Invalid { .. })
            ),
            "{bad}"
        );
    }
}
