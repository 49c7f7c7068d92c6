//! Warnings: risky but valid settings, and a configuration file other users
//! may write.

use super::{ConfigTestDir, MINIMAL, ok};
use crate::config::Config;

#[test]
fn warnings_name_risky_but_valid_settings() {
    let text = MINIMAL.replace(
        "[[devices]]",
        "client-id = \"larder-home-kitchen-hub-01\"\n[[devices]]",
    ) + "auto-approve-up-to = 5\n[rules.categories]\ndiary = \"allow\"\n\n[[devices]]\nid = \"washer\"\ntopic = \"t/washer\"\nformat = \"cbor\"\n";
    let warnings = ok(&text).warnings();
    for want in [
        "mqtt.client-id: \"larder-home-kitchen-hub-01\" is 26 characters",
        "devices[1]: no item uses device \"washer\"",
        "rules.categories.diary: no item has category \"diary\"",
        "rules.auto-approve-up-to: orders are auto-approved but there is no monthly-budget",
    ] {
        assert!(
            warnings.iter().any(|w| w.starts_with(want)),
            "missing {want:?} in {warnings:#?}"
        );
    }
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
}

#[cfg(unix)]
#[test]
fn a_config_file_writable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = ConfigTestDir::new("mode");
    let file = dir.0.join("larder.toml");
    std::fs::write(&file, MINIMAL).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(Config::file_warnings(&file), Vec::<String>::new());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let warnings = Config::file_warnings(&file);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("writable by other users (mode 666)"),
        "{warnings:?}"
    );
    assert_eq!(
        Config::file_warnings(&dir.0.join("missing.toml")),
        Vec::<String>::new()
    );
}
