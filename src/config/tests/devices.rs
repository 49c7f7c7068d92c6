//! `[[devices]]`: adapter formats and their processing tables, and exact
//! topics that collide neither with each other nor with larder's own.

use super::{MINIMAL, check, ok};

#[test]
fn adapter_devices_take_processing_tables_with_safe_defaults() {
    let c = ok(&MINIMAL
        .replace(
            r#"format = "json""#,
            "format = \"tasmota\"\n[devices.scale]\ntare-kg = 0.35\n",
        )
        .replace(r#"slot = "milk""#, r#"slot = "weight""#)
        .replace(
            "[[items]]",
            "[[devices]]\nid = \"washer\"\ntopic = \"shelly1\"\nformat = \"shelly\"\n[devices.washer]\ndose = 75\n\n[[items]]",
        ));
    let scale = c.devices[0].scale.as_ref().expect("scale");
    assert_eq!(scale.tare_kg, 0.35);
    assert_eq!(scale.median_of, 3);
    let washer = &c.devices[1];
    let params = washer.washer.as_ref().expect("washer");
    assert_eq!(
        (
            params.dose,
            params.start_watts,
            params.stop_watts,
            params.stop_secs
        ),
        (75.0, 10.0, 5.0, 600)
    );
    assert_eq!(
        washer.topics(),
        vec!["shelly1/status/switch:0", "shelly1/events/rpc"]
    );
    assert!(washer.listens_on("shelly1/events/rpc"));
    assert!(washer.listens_on("shelly1/status/switch:0"));
    assert!(!washer.listens_on("shelly1/status/switch:1"));
    assert!(!washer.listens_on("shelly1/status/sys"));
}

#[test]
fn adapter_device_problems_are_named_by_key_path() {
    check(
        &MINIMAL.replace(
            r#"format = "json""#,
            "format = \"zigbee2mqtt\"\n[devices.washer]\nstop-watts = 20\nbogus = 1\n",
        ),
        &[
            "devices[0].washer.bogus: unknown key",
            "devices[0].washer.dose: required key is missing",
            "devices[0].washer.stop-watts: 20 must be below start-watts 10 (hysteresis)",
            "items[0].slot: device \"fridge\" (zigbee2mqtt) can never report slot \"milk\"; it reports \"cycle\"",
        ],
    );
    check(
        &MINIMAL.replace(
            r#"format = "json""#,
            "format = \"json-path\"\nunit = \"W\"\n[devices.scale]\nmedian-of = 99\n",
        ),
        &[
            "devices[0].field: required key is missing",
            "devices[0].unit: \"W\" is a power unit but the device is configured as a scale",
            "devices[0].scale.median-of: must be between 1 and 15, got 99",
        ],
    );
    check(
        &MINIMAL.replace(r#"format = "json""#, "format = \"esphome\""),
        &[
            "devices[0]: a \"esphome\" device needs [devices.scale] (weight) or [devices.washer] (power)",
        ],
    );
    check(
        &MINIMAL.replace(r#"format = "json""#, "format = \"json\"\nchannel = 1"),
        &["devices[0].channel: only for adapter formats"],
    );
    check(
        &MINIMAL.replace(r#"format = "json""#, "format = \"zigbee\""),
        &[
            "devices[0].format: unknown format \"zigbee\"; expected one of \"json\", \"cbor\", \"zigbee2mqtt\"",
        ],
    );
}

#[test]
fn topics_are_exact_and_do_not_collide() {
    check(
        &MINIMAL.replace("fridge/events", "+/events"),
        &["devices[0].topic: \"larder/home/devices/+/events\" contains an MQTT wildcard"],
    );
    check(
        &MINIMAL.replace(
            "larder/home/devices/fridge/events",
            "larder/home/approvals/x",
        ),
        &["devices[0].topic: \"larder/home/approvals/x\" is inside larder's approval topics"],
    );
    check(
        &MINIMAL.replace(
            "larder/home/devices/fridge/events",
            "larder/home/upstream/acks",
        ),
        &["devices[0].topic: \"larder/home/upstream/acks\" is an upstream topic"],
    );
    check(
        &MINIMAL.replace("larder/home/devices/fridge/events", ""),
        &["devices[0].topic: must not be empty"],
    );
    check(
        &MINIMAL.replace(
            "[rules]",
            "[upstream]\nack-topic = \"larder/home/upstream/intents\"\n[rules]",
        ),
        &["upstream.ack-topic: must differ from upstream.topic"],
    );
}
