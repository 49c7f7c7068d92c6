//! Unit tests of the configuration, one file per section, sharing the
//! fixtures and helpers below: `ok` (must be valid), `check` (must report
//! problems starting with these), `problems`, `parse_message`, `ConfigTestDir`.

mod devices;
mod hub;
mod items;
mod mqtt;
mod reporting;
mod retention;
mod rules;
mod warnings;
mod whole_files;

use super::{Config, ConfigError};
use std::path::{Path, PathBuf};

const EXAMPLE: &str = include_str!("../../../config/larder.toml");
const INVALID: &str = include_str!("../../../tests/data/invalid.toml");

/// A small valid configuration; tests edit it with `str::replace`.
const MINIMAL: &str = include_str!("../../../tests/fixtures/minimal.toml");

const KEY_B: &str = "44e4d3e02c7c0a26fa5f11bab57fa0fe4829d3c61c511e36f99c6175bcb296ed";

fn path() -> &'static Path {
    Path::new("/etc/larder/larder.toml")
}

fn ok(text: &str) -> Config {
    match Config::parse(text, path()) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got: {e}"),
    }
}

fn problems(text: &str) -> Vec<String> {
    match Config::parse(text, path()) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        Err(e) => panic!("expected ConfigError::Invalid, got: {e}"),
        Ok(_) => panic!("expected problems, the config is valid"),
    }
}

/// Every `expected` entry starts some reported problem.
fn check(text: &str, expected: &[&str]) {
    let got = problems(text);
    for want in expected {
        assert!(
            got.iter().any(|p| p.starts_with(want)),
            "missing problem {want:?}; got:\n  {}",
            got.join("\n  ")
        );
    }
}

fn parse_message(text: &str) -> String {
    match Config::parse(text, path()) {
        Err(ConfigError::Parse { message, .. }) => message,
        Err(e) => panic!("expected ConfigError::Parse, got: {e}"),
        Ok(_) => panic!("expected a parse error, the config is valid"),
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct ConfigTestDir(PathBuf);

impl ConfigTestDir {
    fn new(name: &str) -> ConfigTestDir {
        let dir = std::env::temp_dir().join(format!(
            "larder-config-{name}-{}-{:x}",
            std::process::id(),
            u64::from_le_bytes(crate::crypto::keys::random_bytes::<8>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        ConfigTestDir(dir)
    }
}

impl Drop for ConfigTestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
