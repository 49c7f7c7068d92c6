//! Replays the committed cargo-fuzz corpus (`fuzz/corpus/<target>/*`)
//! through the same entry points the fuzz targets call
//! (`larder::tools::fuzzing`), on stable, in every `cargo test`. A decoder that
//! panics on any file fails the test and names the file.
//!
//! `LARDER_WRITE_FUZZ_SEEDS=1 cargo test --test integration fuzz_corpus`
//! (re)writes the hand-made seed files the corpus started from.

use std::path::{Path, PathBuf};

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
}

#[test]
fn every_corpus_file_decodes_without_a_panic() {
    if std::env::var_os("LARDER_WRITE_FUZZ_SEEDS").is_some() {
        write_seeds();
    }
    let mut total = 0;
    for (target, entry) in larder::tools::fuzzing::TARGETS {
        let dir = corpus_root().join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "no corpus for fuzz target {target} in {}",
            dir.display()
        );
        for file in &files {
            let data = std::fs::read(file).expect("read corpus file");
            let outcome = std::panic::catch_unwind(|| entry(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target {target} panics on {}",
                file.display()
            );
        }
        total += files.len();
    }
    eprintln!("replayed {total} corpus files");
}

/// The fuzz target directories and `larder::tools::fuzzing::TARGETS` agree, so a
/// new target cannot be left out of the replay.
#[test]
fn every_fuzz_target_has_a_corpus_and_an_entry_point() {
    let sources: Vec<String> =
        std::fs::read_dir(corpus_root().parent().unwrap().join("fuzz_targets"))
            .expect("fuzz/fuzz_targets")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .file_stem()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
    let mut sources = sources;
    sources.sort();
    let mut names: Vec<String> = larder::tools::fuzzing::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    names.sort();
    assert_eq!(sources, names);
}

/// Decoders that panic are caught by the replay (positive control for the
/// harness itself: `catch_unwind` really sees a panic in an entry point).
#[test]
fn the_replay_harness_notices_a_panic() {
    fn boom(_: &[u8]) {
        panic!("deliberate");
    }
    let entry: fn(&[u8]) = boom;
    assert!(std::panic::catch_unwind(|| entry(b"x")).is_err());
}

fn write_seeds() {
    use larder::config::PayloadFormat;
    use larder::protocol::approval::{MemberVerdict, ReplyClaims};
    use larder::protocol::events::{DeviceEvent, EventKind};
    let root = corpus_root();
    let put = |target: &str, name: &str, data: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(format!("seed-{name}")), data).expect("write seed");
    };
    let events = [
        (EventKind::Level, "milk", 0.6, Some(1_800_000_000)),
        (EventKind::Consumed, "milk", 0.25, None),
        (EventKind::Added, "detergent", 1500.0, None),
        (EventKind::Removed, "milk", 1.0, None),
        (
            EventKind::WasherCycle,
            "detergent",
            75.0,
            Some(1_800_000_123),
        ),
    ];
    for (i, (kind, slot, amount, ts)) in events.into_iter().enumerate() {
        let e = DeviceEvent {
            device: "fridge".into(),
            epoch: 3,
            seq: 42 + i as u64,
            ts,
            slot: slot.into(),
            kind,
            amount,
        };
        let name = kind.as_str();
        put(
            "event_json",
            name,
            &larder::protocol::events::encode_event(PayloadFormat::Json, &e),
        );
        put(
            "event_cbor",
            name,
            &larder::protocol::events::encode_event(PayloadFormat::Cbor, &e),
        );
    }
    let key = larder::crypto::keys::SigningKey::generate();
    for (name, verdict) in [
        ("approve", MemberVerdict::Approve),
        ("deny", MemberVerdict::Deny),
    ] {
        let claims = ReplyClaims {
            hub: "fuzzhub".into(),
            intent: "0123456789abcdef0123456789abcdef".into(),
            nonce: vec![7; 16],
            verdict,
            member: "alex".into(),
            issued_at: 1_800_000_000,
        };
        let envelope = larder::protocol::approval::sign_reply(&key, &claims);
        put(
            "approval_reply",
            &format!("envelope-{name}"),
            &[&[0u8][..], &envelope].concat(),
        );
        // The payload alone (the target signs it): strip the COSE layers
        // by decoding the envelope.
        let payload = cose_payload(&envelope);
        put(
            "approval_reply",
            &format!("payload-{name}"),
            &[&[1u8][..], &payload].concat(),
        );
    }
    let request = br#"{"v":1,"hub":"fuzzhub","intent":"0123456789abcdef0123456789abcdef","nonce":"07070707070707070707070707070707","expires_at":1800003600,"item":"detergent","item_name":"Detergent 1.5 L","product":"sku-detergent","packages":1,"quantity":1500.0,"unit":"ml","unit_price":20.0,"price_ceiling":20.0,"currency":"EUR","approvals_required":1,"why":["low"],"reply_topic":"larder/fuzzhub/approvals/0123456789abcdef0123456789abcdef/reply"}"#;
    put(
        "approval_reply",
        "request",
        &[&[2u8][..], &request[..]].concat(),
    );
    for (name, command) in [
        (
            "pause",
            larder::protocol::control::ControlCommand::Pause {
                until: Some(1_800_100_000),
            },
        ),
        ("resume", larder::protocol::control::ControlCommand::Resume),
        (
            "guests",
            larder::protocol::control::ControlCommand::Guests {
                factor: 1.5,
                until: 1_800_200_000,
            },
        ),
        (
            "cancel",
            larder::protocol::control::ControlCommand::Cancel {
                intent: "0123456789abcdef0123456789abcdef".into(),
            },
        ),
        (
            "forget-item",
            larder::protocol::control::ControlCommand::Forget(
                larder::protocol::control::ForgetScope::Item("milk".into()),
            ),
        ),
        (
            "forget-household",
            larder::protocol::control::ControlCommand::Forget(
                larder::protocol::control::ForgetScope::Household,
            ),
        ),
    ] {
        let claims = larder::protocol::control::ControlClaims {
            hub: "fuzzhub".into(),
            member: "alex".into(),
            command,
            issued_at: 1_800_000_000_000,
        };
        let envelope = larder::protocol::control::sign_control(&key, &claims);
        put(
            "control",
            &format!("envelope-{name}"),
            &[&[0u8][..], &envelope].concat(),
        );
        put(
            "control",
            &format!("payload-{name}"),
            &[&[1u8][..], &cose_payload(&envelope)].concat(),
        );
    }
    for (name, status, reason) in [
        (
            "accepted",
            larder::protocol::intent::AckStatus::Accepted,
            None,
        ),
        ("quoted", larder::protocol::intent::AckStatus::Quoted, None),
        (
            "delivered",
            larder::protocol::intent::AckStatus::Delivered,
            None,
        ),
        (
            "rejected",
            larder::protocol::intent::AckStatus::Rejected,
            Some("price over ceiling".to_string()),
        ),
    ] {
        let quote = if status == larder::protocol::intent::AckStatus::Accepted {
            larder::protocol::intent::Quote {
                total: Some(2.49),
                currency: Some("EUR".into()),
                product: Some("sku-milk".into()),
            }
        } else {
            larder::protocol::intent::Quote::default()
        };
        let ack = larder::protocol::intent::UpstreamAck {
            intent: "0123456789abcdef0123456789abcdef".into(),
            status,
            reason,
            quote,
        };
        put(
            "upstream_ack",
            &format!("{name}.json"),
            &larder::protocol::intent::encode_ack_json(&ack),
        );
        put(
            "upstream_ack",
            &format!("{name}.cbor"),
            &larder::protocol::intent::encode_ack_cbor(&ack),
        );
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["larder.toml", "demo.toml"] {
        let text = std::fs::read(manifest.join("config").join(name)).expect("example config");
        put("config", name, &text);
    }
    // Device payloads: every fixture, behind the mode byte that reads it as
    // its ecosystem's device (`larder::tools::fuzzing::adapter_device`).
    let devices = manifest.join("tests").join("data").join("devices");
    for entry in std::fs::read_dir(&devices).expect("tests/data/devices") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        // Format index, washer, Shelly events topic (see adapter_device).
        let (format, washer, rpc) = match name.split('-').next() {
            Some("z2m") => (0, true, false),
            Some("tasmota") => (1, !name.contains("hx711"), false),
            Some("shelly") => (2, true, name.contains("notifystatus")),
            Some("esphome") => (3, false, false),
            Some("homeconnect") => (4, true, false),
            Some("generic") => (5, false, false),
            _ => continue, // power traces are CSV, not payloads
        };
        let mode = format + 6 * u8::from(washer) + 12 * u8::from(rpc);
        let payload = std::fs::read(&path).expect("fixture");
        put("adapters", &name, &[&[mode][..], &payload].concat());
    }
}

/// The payload bytes of a COSE_Sign1 envelope.
fn cose_payload(envelope: &[u8]) -> Vec<u8> {
    let value: ciborium::Value = ciborium::from_reader(envelope).expect("cbor");
    let ciborium::Value::Tag(_, inner) = value else {
        panic!("tagged COSE_Sign1 expected");
    };
    let ciborium::Value::Array(parts) = *inner else {
        panic!("COSE_Sign1 array expected");
    };
    match &parts[2] {
        ciborium::Value::Bytes(b) => b.clone(),
        other => panic!("payload: {other:?}"),
    }
}
