//! `[hub]`: the id in default topics, the time zone, and paths resolved
//! against the configuration file's directory.

use super::{ConfigTestDir, MINIMAL, check, ok};
use crate::config::{Config, DEFAULT_STATE_DIR};
use std::path::Path;

#[test]
fn the_hub_id_is_used_in_default_topics_and_client_id() {
    let c = ok(&MINIMAL
        .replace(r#"id = "home""#, r#"id = "flat-7""#)
        .replace("larder/home/devices", "larder/flat-7/devices"));
    assert_eq!(c.mqtt.client_id, "larder-flat-7");
    assert_eq!(c.upstream.topic, "larder/flat-7/upstream/intents");
    assert_eq!(c.upstream.ack_topic, "larder/flat-7/upstream/acks");
}

#[test]
fn time_zones_are_validated() {
    let c = ok(&MINIMAL.replace("[mqtt]", "timezone = \"UTC\"\n[mqtt]"));
    assert_eq!(c.hub.timezone.as_deref(), Some("UTC"));
    for bad in ["Mars/Olympus_Mons", "Etc/Unknown", ""] {
        check(
            &MINIMAL.replace("[mqtt]", &format!("timezone = {bad:?}\n[mqtt]")),
            &[&format!(
                "hub.timezone: {bad:?} is not a known IANA time zone"
            )],
        );
    }
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let dir = ConfigTestDir::new("relative");
    std::fs::write(dir.0.join("mqtt.password"), "secret\n").unwrap();
    std::fs::write(dir.0.join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
    let text = MINIMAL
        .replace("[mqtt]", "state-dir = \"state\"\n[mqtt]")
        .replace("mqtt://127.0.0.1", "mqtts://127.0.0.1")
        .replace(
            "[[devices]]",
            "username = \"larder\"\npassword-file = \"mqtt.password\"\nca-file = \"./ca.pem\"\n[[devices]]",
        );
    let config_path = dir.0.join("larder.toml");
    let c = match Config::parse(&text, &config_path) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.hub.state_dir, dir.0.join("state"));
    assert_eq!(c.hub.key_file, dir.0.join("state").join("hub.key"));
    assert_eq!(c.mqtt.password_file, Some(dir.0.join("mqtt.password")));
    assert_eq!(c.mqtt.ca_file, Some(dir.0.join("./ca.pem")));

    let c = ok(&MINIMAL.replace("[mqtt]", "key-file = \"keys/hub.key\"\n[mqtt]"));
    assert_eq!(c.hub.key_file, Path::new("/etc/larder/keys/hub.key"));
    assert_eq!(c.hub.state_dir, Path::new(DEFAULT_STATE_DIR));
}
