//! `[hub]`: the hub's identity, where it keeps its state, its time zone.

use std::path::PathBuf;

/// Default state directory (`hub.state-dir`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/larder";

/// Hub identity and storage.
#[derive(Debug, Clone)]
pub struct Hub {
    /// Hub id, used in topics (`larder/<id>/...`); `[A-Za-z0-9_-]`.
    pub id: String,
    /// Directory holding the database and keys.
    pub state_dir: PathBuf,
    /// The hub's Ed25519 signing key (PKCS#8); created on first run.
    pub key_file: PathBuf,
    /// IANA time zone for quiet hours and budgets; `None` = the system's.
    pub timezone: Option<String>,
}

impl Hub {
    /// Path of the SQLite database inside the state directory.
    pub fn database_path(&self) -> PathBuf {
        self.state_dir.join("larder.db")
    }

    /// The hub's time zone: the configured one (validated at load), else
    /// the system's.
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        self.timezone
            .as_deref()
            .and_then(|name| jiff::tz::TimeZone::get(name).ok())
            .unwrap_or_else(jiff::tz::TimeZone::system)
    }
}
