//! Zigbee2MQTT plugs, contact sensors and thermometers.

use super::*;

#[test]
fn zigbee2mqtt_plugs_contacts_and_thermometers() {
    let plug = washer(PayloadFormat::Zigbee2mqtt);
    let r = decode(&plug, "zigbee2mqtt/washer", fixture("z2m-plug")).unwrap();
    assert_eq!(
        r.signals,
        vec![
            Signal::Energy(12.87),
            Signal::Power(427.0),
            Signal::Relay(true)
        ]
    );
    assert_eq!(r.at, Some(1_772_445_600), "last_seen ISO 8601 with offset");
    check_needed(&plug, "", &r).unwrap();
    assert!(signals(&plug, "", "z2m-plug-off").contains(&Signal::Relay(false)));
    let contact = signals(&plug, "", "z2m-contact");
    assert!(contact.contains(&Signal::Contact(true)), "{contact:?}");
    let r = decode(&plug, "", fixture("z2m-contact")).unwrap();
    assert_eq!(
        check_needed(&plug, "", &r),
        Err(AdapterError::Missing {
            format: "zigbee2mqtt",
            field: "power".into(),
            why: "[devices.washer]"
        })
    );
    let thermo = device(PayloadFormat::Zigbee2mqtt);
    let r = decode(&thermo, "", fixture("z2m-temperature")).unwrap();
    assert!(r.signals.contains(&Signal::Temperature(6.75)));
    assert!(matches!(
        check_needed(&thermo, "", &r),
        Err(AdapterError::NotNeeded { .. })
    ));
}
