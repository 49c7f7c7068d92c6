//! Home Connect SSE and flattened events, both i-Dos spellings.

use super::*;

#[test]
fn home_connect_sse_and_flattened_with_both_idos_spellings() {
    let hc = washer(PayloadFormat::Homeconnect);
    let r = decode(&hc, "", fixture("hc-sse")).unwrap();
    assert_eq!(r.signals, vec![Signal::IdosFillLevelPoor(1, true)]);
    assert_eq!(r.at, Some(1_741_701_234));
    check_needed(&hc, "", &r).unwrap();
    let r = decode(&hc, "", fixture("hc-finished")).unwrap();
    assert!(r.signals.contains(&Signal::ProgramFinished), "{r:?}");
    assert!(r.signals.contains(&Signal::IdosActive(1, true)), "{r:?}");
    let flat = signals(&hc, "", "hc-hcpy");
    assert!(flat.contains(&Signal::ProgramFinished), "{flat:?}");
    assert!(flat.contains(&Signal::IdosActive(1, true)), "{flat:?}");
    assert!(flat.contains(&Signal::IdosActive(2, false)), "{flat:?}");
    assert!(
        flat.contains(&Signal::IdosFillLevelPoor(2, false)),
        "{flat:?}"
    );
    // Confirmed is not "present": not needed.
    let r = decode(
        &hc,
        "",
        br#"{"LaundryCare.Washer.Event.IDos1FillLevelPoor":"BSH.Common.EnumType.EventPresentState.Confirmed"}"#,
    )
    .unwrap();
    assert!(matches!(
        check_needed(&hc, "", &r),
        Err(AdapterError::NotNeeded { .. })
    ));
}
