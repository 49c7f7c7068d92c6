//! Tasmota energy monitoring and HX711 load cells.

use super::*;

#[test]
fn tasmota_energy_and_hx711_with_and_without_absraw() {
    let plug = washer(PayloadFormat::Tasmota);
    let s = signals(&plug, "", "tasmota-energy");
    assert_eq!(s, vec![Signal::Power(1987.0), Signal::Energy(423.118)]);
    let scale = scale(PayloadFormat::Tasmota);
    for name in ["tasmota-hx711", "tasmota-hx711-old"] {
        let r = decode(&scale, "", fixture(name)).unwrap();
        assert!(r.signals.contains(&Signal::Weight(1.236)), "{name}: {r:?}");
        assert!(r.signals.contains(&Signal::WeightRaw(412_345)), "{name}");
        assert_eq!(r.at, None, "Tasmota's Time has no offset");
        check_needed(&scale, "", &r).unwrap();
    }
    let r = decode(&scale, "", fixture("tasmota-energy")).unwrap();
    assert_eq!(
        check_needed(&scale, "", &r).unwrap_err().to_string(),
        "tasmota payload has no `HX711.Weight` field (needed: [devices.scale])"
    );
}
