//! Shelly switch status and `NotifyStatus` deltas.

use super::*;

#[test]
fn shelly_status_and_notifystatus_deltas() {
    let plug = washer(PayloadFormat::Shelly);
    let s = signals(&plug, "shelly/status/switch:0", "shelly-status");
    assert_eq!(s[..2], [Signal::Power(512.3), Signal::Relay(true)]);
    assert!(matches!(s[2], Signal::Energy(kwh) if (kwh - 25.302_612).abs() < 1e-9));
    assert_eq!(s[3], Signal::Temperature(41.2));
    let r = decode(&plug, "shelly/events/rpc", fixture("shelly-delta")).unwrap();
    assert_eq!(r.signals, vec![Signal::Power(2.1)]);
    assert_eq!(r.at, Some(1_772_449_200));
    let r = decode(&plug, "shelly/events/rpc", fixture("shelly-delta-energy")).unwrap();
    assert!(matches!(
        check_needed(&plug, "shelly/events/rpc", &r),
        Err(AdapterError::NotNeeded { .. })
    ));
    // Another channel's delta says nothing about ours.
    let ch1 = Device {
        channel: 1,
        ..washer(PayloadFormat::Shelly)
    };
    let r = decode(&ch1, "shelly/events/rpc", fixture("shelly-delta")).unwrap();
    assert!(r.signals.is_empty());
}
