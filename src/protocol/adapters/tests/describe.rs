//! What `larder decode` prints.

use super::*;

#[test]
fn describe_shows_signals_observations_or_the_refusal() {
    let hc = washer(PayloadFormat::Homeconnect);
    let text = describe(&hc, "", fixture("hc-finished"), 0).unwrap();
    assert!(text.contains("programme finished"), "{text}");
    assert!(
        text.contains("slot \"cycle\": consumed 75 at 1772452800 (2026-03-02T12:00:00Z)"),
        "{text}"
    );
    let plug = washer(PayloadFormat::Zigbee2mqtt);
    let text = describe(&plug, "", fixture("z2m-plug"), 0).unwrap();
    assert!(text.contains("power 427 W"), "{text}");
    assert!(text.contains("starting"), "{text}");
    let text = describe(&plug, "", fixture("z2m-temperature"), 0).unwrap_err();
    assert_eq!(
        text.to_string(),
        "zigbee2mqtt payload has no `power` field (needed: [devices.washer])"
    );
    let bare = device(PayloadFormat::Zigbee2mqtt);
    let text = describe(&bare, "", fixture("z2m-contact"), 0).unwrap();
    assert!(text.contains("contact closed"), "{text}");
    assert!(text.contains("none: nothing here is needed"), "{text}");
}
