//! The per-device pipeline: redelivered copies and the identity of a
//! derived observation.

use super::*;
use crate::core::ObservationKind;
use crate::core::signals::{Derived, SLOT_CYCLE};

#[test]
fn only_a_flagged_copy_of_a_recent_payload_is_a_redelivery() {
    let digest = payload_digest("homeconnect/washer", fixture("hc-hcpy"));
    let mut state = DeviceState::default();
    remember_payload(&mut state, digest.clone());
    // The broker's copies: DUP after a reconnect, retain on subscribe.
    assert!(is_redelivery(&state, &digest, true, false));
    assert!(is_redelivery(&state, &digest, false, true));
    // A fresh publication with the same bytes is a new reading.
    assert!(!is_redelivery(&state, &digest, false, false));
    // A flagged copy of something larder never took is new too.
    assert!(!is_redelivery(&state, "0011223344556677", true, false));
    // The last RECENT_PAYLOADS are kept; older ones are forgotten.
    for i in 0..RECENT_PAYLOADS {
        remember_payload(&mut state, format!("{i:016x}"));
    }
    assert_eq!(state.recent_payloads.len(), RECENT_PAYLOADS);
    assert!(!is_redelivery(&state, &digest, true, false));
    assert!(is_redelivery(&state, &format!("{:016x}", 0), true, false));
    // Remembering one again moves it to the newest place, no doubles.
    remember_payload(&mut state, format!("{:016x}", 0));
    assert_eq!(state.recent_payloads.len(), RECENT_PAYLOADS);
    assert_eq!(
        state.recent_payloads.last().unwrap(),
        &format!("{:016x}", 0)
    );
}

#[test]
fn a_redelivered_program_finished_is_one_dose_by_identity() {
    let hc = washer(PayloadFormat::Homeconnect);
    let r = decode(&hc, "", fixture("hc-finished")).unwrap();
    let mut state = DeviceState::default();
    let at = r.at.unwrap();
    let a = apply(&hc, &mut state, &r, at);
    // With the state lost (a restart before it was saved), the same
    // event derives the same observation identity: stored once.
    let b = apply(&hc, &mut DeviceState::default(), &r, at);
    assert_eq!(a.derived.len(), 1);
    assert_eq!(a, b, "same payload, same observation identity");
    let seq = |d: &Derived| derived_seq(d.slot, d.kind, d.at);
    assert_eq!(seq(&a.derived[0]), seq(&b.derived[0]));
    // With the state kept, the same event again uses nothing at all.
    let again = apply(&hc, &mut state, &r, at);
    assert!(again.derived.is_empty(), "{again:?}");
    assert_eq!(again.counters, ["washer_finished_repeated"]);
    assert_ne!(
        seq(&a.derived[0]),
        derived_seq(SLOT_CYCLE, ObservationKind::Consumed, at + 1)
    );
    assert!(seq(&a.derived[0]) < 1 << 63);
    assert_ne!(payload_digest("a", b"x"), payload_digest("b", b"x"));
}
