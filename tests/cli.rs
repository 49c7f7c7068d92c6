//! Command-line behaviour that needs no broker.

use crate::support::{LARDER, temp_dir};
use std::process::Command;

#[test]
fn the_annotated_example_config_passes_config_check() {
    let out = Command::new(LARDER)
        .args(["config", "check", "config/larder.toml"])
        .output()
        .expect("run larder");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("config OK"), "{stdout}");
}

#[test]
fn a_broken_config_exits_78_and_names_every_bad_key() {
    let out = Command::new(LARDER)
        .args(["config", "check", "tests/data/invalid.toml"])
        .output()
        .expect("run larder");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "stderr: {stderr}");
    assert!(stderr.contains("items[0].colour"), "{stderr}");
    assert!(stderr.contains("unknown key"), "{stderr}");
    assert!(stderr.contains("device"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_named() {
    let out = Command::new(LARDER)
        .args(["--config", "/nonexistent/larder.toml", "status"])
        .output()
        .expect("run larder");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/nonexistent/larder.toml"), "{stderr}");
}

#[test]
fn keygen_writes_a_private_key_and_prints_the_public_one() {
    let dir = temp_dir("keygen");
    let key = dir.join("alex.key");
    let out = Command::new(LARDER)
        .args(["keygen", "--name", "alex", "--out"])
        .arg(&key)
        .output()
        .expect("run larder");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let loaded = larder::crypto::keys::SigningKey::load(&key).expect("load key");
    assert!(stdout.contains(&larder::crypto::keys::to_hex(&loaded.public_key())));
    assert!(stdout.contains("[[members]]"));
    // Never overwrite a key.
    let again = Command::new(LARDER)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .expect("run larder");
    assert!(!again.status.success());
}
