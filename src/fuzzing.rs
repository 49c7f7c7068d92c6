//! Entry points for the cargo-fuzz targets in `fuzz/` and for the corpus
//! replay test (`tests/fuzz_corpus.rs`), so both drive exactly the same
//! code. One function per decoder that takes outside bytes; each must
//! return (never panic) for any input, and checks what it can besides:
//! a decoded event or shop ack re-encodes to something that decodes to the
//! same value.
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
];

/// Hub id the member-signed targets use.
const HUB: &str = "fuzzhub";
/// The one member the member-signed targets know.
const MEMBER: &str = "alex";

/// A fixed member key, made once per process.
fn member_key() -> &'static crate::keys::SigningKey {
    static KEY: OnceLock<crate::keys::SigningKey> = OnceLock::new();
    KEY.get_or_init(crate::keys::SigningKey::generate)
}

fn lookup(kid: &str) -> Option<([u8; 32], bool)> {
    (kid == MEMBER).then(|| (member_key().public_key(), true))
}

fn event(format: PayloadFormat, data: &[u8]) {
    if let Ok(event) = crate::wire::decode_event(format, data) {
        let again = crate::wire::encode_event(format, &event);
        assert_eq!(
            crate::wire::decode_event(format, &again),
            Ok(event),
            "a decoded event must survive encode → decode"
        );
    }
}

/// A native JSON device event (`wire::decode_event`, JSON).
pub fn event_json(data: &[u8]) {
    event(PayloadFormat::Json, data);
}

/// A native CBOR device event (`wire::decode_event`, CBOR).
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
            let _ = crate::approval::open_reply(rest, HUB, lookup);
        }
        1 => {
            let aad = format!("{}{HUB}", crate::approval::AAD_PREFIX);
            let signed = crate::approval::sign1(
                member_key(),
                MEMBER.as_bytes(),
                rest.to_vec(),
                aad.as_bytes(),
            );
            let _ = crate::approval::open_reply(&signed, HUB, lookup);
        }
        _ => {
            let _ = serde_json::from_slice::<crate::approval::ApprovalRequest>(rest);
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
        let _ = crate::control::open_control(rest, HUB, lookup);
    } else {
        let aad = format!("{}{HUB}", crate::control::AAD_PREFIX);
        let signed = crate::approval::sign1(
            member_key(),
            MEMBER.as_bytes(),
            rest.to_vec(),
            aad.as_bytes(),
        );
        let _ = crate::control::open_control(&signed, HUB, lookup);
    }
}

/// A shop acknowledgement (`intent::decode_ack`, JSON or CBOR); a decoded
/// ack must survive both encoders. The same bytes also go through
/// `intent::verify_intent` (what a shop-side verifier of larder's intents
/// runs).
pub fn upstream_ack(data: &[u8]) {
    if let Ok(ack) = crate::intent::decode_ack(data) {
        for again in [
            crate::intent::encode_ack_json(&ack),
            crate::intent::encode_ack_cbor(&ack),
        ] {
            assert_eq!(
                crate::intent::decode_ack(&again).as_ref(),
                Ok(&ack),
                "a decoded ack must survive encode → decode"
            );
        }
    }
    let _ = crate::intent::verify_intent(data, &member_key().public_key());
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
