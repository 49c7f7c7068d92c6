//! Checks of `[hub]`: a plain id, paths resolved against the configuration
//! file's directory, a real IANA time zone.

use super::Check;
use crate::config::{DEFAULT_STATE_DIR, Hub, raw};
use std::path::{Path, PathBuf};

impl Check {
    /// `[hub]`.
    pub(super) fn hub(&mut self, raw: raw::Hub, base: &Path) -> Hub {
        let id = self.ident("hub.id", raw.id, 64);
        let state_dir = self
            .path("hub.state-dir", raw.state_dir, base)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let key_file = self
            .path("hub.key-file", raw.key_file, base)
            .unwrap_or_else(|| state_dir.join("hub.key"));
        if let Some(name) = &raw.timezone {
            // jiff answers `Etc/Unknown` with its "unknown" zone; that is no choice.
            let found = jiff::tz::TimeZone::get(name)
                .map_err(|e| e.to_string())
                .and_then(|tz| {
                    if tz.is_unknown() {
                        Err("not a real time zone".to_owned())
                    } else {
                        Ok(())
                    }
                });
            if let Err(e) = found {
                self.problem(
                    "hub.timezone",
                    format_args!(
                        "{name:?} is not a known IANA time zone ({e}); e.g. \"Europe/Warsaw\""
                    ),
                );
            }
        }
        Hub {
            id,
            state_dir,
            key_file,
            timezone: raw.timezone,
        }
    }
}
