//! Non-fatal problems worth a log line at startup: risky but valid settings,
//! and files other users may read or write.

use super::error::toml_key;
use super::{Config, MQTT_PORTABLE_CLIENT_ID_LEN};
use crate::core::rules::CategoryPolicy;
use std::path::Path;

impl Config {
    /// Non-fatal problems worth a log line at startup, each `key.path: text`.
    ///
    /// Looks at the password file's permissions (IO); everything else is
    /// judged from the configuration alone. See also [`Config::file_warnings`].
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let id = &self.mqtt.client_id;
        if id.chars().count() > MQTT_PORTABLE_CLIENT_ID_LEN {
            out.push(format!(
                "mqtt.client-id: {id:?} is {} characters; MQTT 3.1.1 brokers need only \
                 accept 1 to {MQTT_PORTABLE_CLIENT_ID_LEN} and some refuse longer ids",
                id.chars().count()
            ));
        }
        if let Some(file) = &self.mqtt.password_file {
            if !self.mqtt.tls && !is_loopback(&self.mqtt.host) {
                out.push(format!(
                    "mqtt.url: the broker {} is not local and the connection is not TLS; \
                     the password is sent in clear text (use mqtts://)",
                    self.mqtt.host
                ));
            }
            if let Some(mode) = unix_mode(file) {
                // Group read is how a root-owned file is shared with the daemon.
                if mode & 0o004 != 0 {
                    out.push(format!(
                        "mqtt.password-file: {} is readable by every user (mode {:03o}); \
                         run chmod o-r on it",
                        file.display(),
                        mode & 0o777
                    ));
                }
            }
        }
        for (i, device) in self.devices.iter().enumerate() {
            if !self.items.iter().any(|item| item.device == device.id) {
                out.push(format!(
                    "devices[{i}]: no item uses device {:?}; its events will be ignored",
                    device.id
                ));
            }
        }
        for category in self.rules.categories.keys() {
            if !self.items.iter().any(|item| &item.category == category) {
                out.push(format!(
                    "rules.categories.{}: no item has category {category:?} (a typo?)",
                    toml_key(category)
                ));
            }
        }
        for (i, item) in self.items.iter().enumerate() {
            if item.order == Some(CategoryPolicy::Allow)
                && self.policy_for(&item.category) == CategoryPolicy::Deny
            {
                out.push(format!(
                    "items[{i}].order: \"auto\" overrides category {:?}, which is never ordered; {:?} will be ordered",
                    item.category, item.id
                ));
            }
        }
        for (i, item) in self.items.iter().enumerate() {
            if self.policy_for_item(item) == CategoryPolicy::Deny {
                out.push(match item.order {
                    Some(_) => format!(
                        "items[{i}].order: \"never\"; larder will never order {:?}",
                        item.id
                    ),
                    None => format!(
                        "items[{i}]: category {:?} is denied; larder will never order {:?}",
                        item.category, item.id
                    ),
                });
            }
        }
        if self.rules.auto_approve_up_to > 0.0 && self.rules.monthly_budget.is_none() {
            out.push(
                "rules.auto-approve-up-to: orders are auto-approved but there is no \
                 monthly-budget; spending is only capped per order"
                    .to_owned(),
            );
        }
        out
    }

    /// Non-fatal problems with the configuration file itself: on Unix, a
    /// file writable by other users (anyone on the hub could change who
    /// approves purchases). Empty when the file cannot be inspected.
    pub fn file_warnings(path: &Path) -> Vec<String> {
        match unix_mode(path) {
            Some(mode) if mode & 0o002 != 0 => vec![format!(
                "{}: config file is writable by other users (mode {:03o}); run chmod o-w on it",
                path.display(),
                mode & 0o777
            )],
            _ => Vec::new(),
        }
    }
}

/// Whether a broker host is this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The Unix permission bits of a file; `None` if unknown or not Unix.
fn unix_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).ok().map(|m| m.permissions().mode())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}
