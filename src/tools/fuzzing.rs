//! Entry points for the cargo-fuzz targets in `fuzz/` and for the corpus
//! replay test (`tests/fuzz_corpus.rs`), so both drive exactly the same
//! code. One function per decoder that takes outside bytes; each must
//! return (never panic) for any input, and checks what it can besides:
//! a decoded event or shop ack re-encodes to something that decodes to the
//! same value; a device payload's observations are finite and not negative.
//!
//! Not part of the product's API: nothing in the daemon calls these.

use crate::config::PayloadFormat;
use std::sync::OnceLock;

/// One fuzz entry point.
pub type Entry = fn(&[u8]);

/// The fuzz targets by name (the directory names under `fuzz/corpus/`).
pub const TARGETS: &[(&str, Entry)] = &[
    ("event_json", event_json),
    ("event_cbor", event_cbor),
    ("approval_reply", approval_reply),
    ("control", control),
    ("upstream_ack", upstream_ack),
    ("config", config),
    ("adapters", adapters),
];

/// Hub id the member-signed targets use.
const HUB: &str = "fuzzhub";
/// The one member the member-signed targets know.
const MEMBER: &str = "alex";

/// A fixed member key, made once per process.
fn member_key() -> &'static crate::crypto::keys::SigningKey {
    static KEY: OnceLock<crate::crypto::keys::SigningKey> = OnceLock::new();
    KEY.get_or_init(crate::crypto::keys::SigningKey::generate)
}

fn lookup(kid: &str) -> Option<([u8; 32], bool)> {
    (kid == MEMBER).then(|| (member_key().public_key(), true))
}

fn event(format: PayloadFormat, data: &[u8]) {
    if let Ok(event) = crate::protocol::events::decode_event(format, data) {
        let again = crate::protocol::events::encode_event(format, &event);
        assert_eq!(
            crate::protocol::events::decode_event(format, &again),
            Ok(event),
            "a decoded event must survive encode → decode"
        );
    }
}

/// A native JSON device event (`events::decode_event`, JSON).
pub fn event_json(data: &[u8]) {
    event(PayloadFormat::Json, data);
}

/// A native CBOR device event (`events::decode_event`, CBOR).
pub fn event_cbor(data: &[u8]) {
    event(PayloadFormat::Cbor, data);
}

/// The first byte picks what the rest is: 0 → a raw reply envelope for
/// `approval::open_reply`; 1 → a reply *payload*, signed by the known
/// member, so the claims decoder behind the signature check is reached; 2 →
/// an approval request as the reference app reads it (JSON).
pub fn approval_reply(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let _ = crate::protocol::approval::open_reply(rest, HUB, lookup);
        }
        1 => {
            let aad = format!("{}{HUB}", crate::protocol::approval::AAD_PREFIX);
            let signed = crate::protocol::approval::sign1(
                member_key(),
                MEMBER.as_bytes(),
                rest.to_vec(),
                aad.as_bytes(),
            );
            let _ = crate::protocol::approval::open_reply(&signed, HUB, lookup);
        }
        _ => {
            let _ = serde_json::from_slice::<crate::protocol::approval::ApprovalRequest>(rest);
        }
    }
}

/// Household control messages: first byte 0 → raw envelope for
/// `control::open_control`; otherwise the rest is a payload signed by the
/// known member.
pub fn control(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let _ = crate::protocol::control::open_control(rest, HUB, lookup);
    } else {
        let aad = format!("{}{HUB}", crate::protocol::control::AAD_PREFIX);
        let signed = crate::protocol::approval::sign1(
            member_key(),
            MEMBER.as_bytes(),
            rest.to_vec(),
            aad.as_bytes(),
        );
        let _ = crate::protocol::control::open_control(&signed, HUB, lookup);
    }
}

/// A shop acknowledgement (`intent::decode_ack`, JSON or CBOR); a decoded
/// ack must survive both encoders. The same bytes also go through
/// `intent::verify_intent` (what a shop-side verifier of larder's intents
/// runs).
pub fn upstream_ack(data: &[u8]) {
    if let Ok(ack) = crate::protocol::intent::decode_ack(data) {
        for again in [
            crate::protocol::intent::encode_ack_json(&ack),
            crate::protocol::intent::encode_ack_cbor(&ack),
        ] {
            assert_eq!(
                crate::protocol::intent::decode_ack(&again).as_ref(),
                Ok(&ack),
                "a decoded ack must survive encode → decode"
            );
        }
    }
    let _ = crate::protocol::intent::verify_intent(data, &member_key().public_key());
}

/// Configuration text (`Config::parse`); not UTF-8 is refused before,
/// by `Config::load`'s `read_to_string`. Relative paths resolve under a
/// directory that does not exist.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::Config::parse(
            text,
            std::path::Path::new("/nonexistent-larder-fuzz/larder.toml"),
        );
    }
}

/// The adapter formats, in the order [`adapter_device`] picks them.
const ADAPTER_FORMATS: [PayloadFormat; 6] = [
    PayloadFormat::Zigbee2mqtt,
    PayloadFormat::Tasmota,
    PayloadFormat::Shelly,
    PayloadFormat::Esphome,
    PayloadFormat::Homeconnect,
    PayloadFormat::JsonPath,
];

/// The device and topic a foreign payload is read as, from the mode byte:
/// `mode % 6` the format (`ADAPTER_FORMATS`), `mode / 6 % 2` a scale (0) or
/// a washer (1), `mode / 12 % 2` Shelly's status topic (0) or its
/// `events/rpc` (1).
pub fn adapter_device(mode: u8) -> (crate::config::Device, &'static str) {
    use crate::config::{FieldSpec, Unit};
    use crate::core::signals::{ScaleParams, WasherParams};
    let format = ADAPTER_FORMATS[usize::from(mode) % ADAPTER_FORMATS.len()];
    let washer = mode / 6 % 2 == 1;
    let reading = match format {
        PayloadFormat::Esphome => Some(FieldSpec {
            field: String::new(),
            unit: if washer { Unit::W } else { Unit::G },
            factor: 1.0,
        }),
        PayloadFormat::JsonPath => Some(FieldSpec {
            field: if washer {
                "power".into()
            } else {
                "sensors.shelf.0.grams".into()
            },
            unit: if washer { Unit::W } else { Unit::G },
            factor: 1.0,
        }),
        _ => None,
    };
    let device = crate::config::Device {
        id: "fuzz-device".into(),
        topic: "fuzz".into(),
        format,
        scale: (!washer).then(|| ScaleParams {
            tare_kg: 0.1,
            units_per_kg: 1000.0,
            ..ScaleParams::default()
        }),
        washer: washer.then(|| WasherParams {
            dose: 75.0,
            ..WasherParams::default()
        }),
        reading,
        channel: 0,
    };
    let topic = if mode / 12 % 2 == 1 {
        "fuzz/events/rpc"
    } else {
        "fuzz/status/switch:0"
    };
    (device, topic)
}

/// A foreign device payload (`adapters::decode`, `check_needed`, the
/// scale and washer state machines, `larder decode`'s text). The first
/// byte picks the device ([`adapter_device`]); the rest is the payload. A
/// decoded reading is applied three times over 40 minutes of simulated
/// time with a tick after, as the daemon would; every observation must be
/// finite and not negative, and the device state must survive the JSON
/// round trip the store puts it through.
pub fn adapters(data: &[u8]) {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let (device, topic) = adapter_device(mode);
    const T: i64 = 1_800_000_000;
    let _ = crate::protocol::adapters::describe(&device, topic, payload, T);
    let Ok(reading) = crate::protocol::adapters::decode(&device, topic, payload) else {
        return;
    };
    if crate::protocol::adapters::check_needed(&device, topic, &reading).is_err() {
        return;
    }
    let mut state = crate::protocol::adapters::DeviceState::default();
    let mut derived = Vec::new();
    for at in [T, T + 700, T + 2400] {
        let at = reading.at.map_or(at, |own| own.max(at));
        derived.extend(crate::protocol::adapters::apply(&device, &mut state, &reading, at).derived);
        let json = serde_json::to_string(&state).expect("device state serializes");
        let back: crate::protocol::adapters::DeviceState =
            serde_json::from_str(&json).expect("device state deserializes");
        assert_eq!(back, state, "device state must survive its JSON round trip");
    }
    if let Some(applied) = crate::protocol::adapters::tick(&device, &mut state, T + 7200) {
        derived.extend(applied.derived);
    }
    for d in &derived {
        assert!(
            d.amount.is_finite() && d.amount >= 0.0,
            "observation amount {} on slot {}",
            d.amount,
            d.slot
        );
    }
}
