//! ESPHome plain-text states.

use super::*;

#[test]
fn esphome_plain_text_states() {
    let scale = Device {
        reading: Some(FieldSpec {
            field: String::new(),
            unit: Unit::G,
            factor: 1.0,
        }),
        ..scale(PayloadFormat::Esphome)
    };
    assert_eq!(signals(&scale, "", "esphome"), vec![Signal::Weight(0.8125)]);
    assert!(matches!(
        decode(&scale, "", b"nan"),
        Err(AdapterError::Invalid { .. })
    ));
    assert!(matches!(
        decode(&scale, "", b"heavy"),
        Err(AdapterError::Decode { .. })
    ));
    assert_eq!(
        decode(&scale, "", b"OFF").unwrap().signals,
        vec![Signal::Relay(false)]
    );
}
