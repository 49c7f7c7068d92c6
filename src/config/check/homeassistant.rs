//! Checks of `[homeassistant]`: defaults, topic prefixes, and an approver
//! name of its own.

use super::{Check, check_topic};
use crate::config::{DEFAULT_HA_BIRTH_DELAY_MAX_MS, HomeAssistant, Member, raw};

impl Check {
    /// `[homeassistant]`: defaults, topic and id checks; the approver must
    /// not be a member's name (a press would take that member's one vote).
    pub(super) fn homeassistant(
        &mut self,
        raw: raw::HomeAssistant,
        members: &[Member],
    ) -> HomeAssistant {
        let defaults = HomeAssistant::default();
        let mut prefix = |key: &str, value: Option<String>, default: String| match value {
            None => default,
            Some(v) => {
                if let Err(message) = check_topic(&v) {
                    self.problem(key, message);
                } else if v.starts_with('/') || v.ends_with('/') {
                    self.problem(key, format_args!("{v:?} must not start or end with '/'"));
                }
                v
            }
        };
        let discovery_prefix = prefix(
            "homeassistant.discovery-prefix",
            raw.discovery_prefix,
            defaults.discovery_prefix,
        );
        let status_topic = prefix(
            "homeassistant.status-topic",
            raw.status_topic,
            defaults.status_topic,
        );
        let approver = match raw.approver {
            None => defaults.approver,
            Some(name) => self.ident("homeassistant.approver", Some(name), 64),
        };
        if members.iter().any(|m| m.name == approver) {
            self.problem(
                "homeassistant.approver",
                format_args!(
                    "{approver:?} is also a member's name; Home Assistant presses need a name of their own"
                ),
            );
        }
        let birth_delay_max_ms = self.integer(
            "homeassistant.birth-delay-max-ms",
            raw.birth_delay_max_ms,
            DEFAULT_HA_BIRTH_DELAY_MAX_MS as i64,
            0..=60_000,
        ) as u64;
        HomeAssistant {
            enabled: raw.enabled.unwrap_or(defaults.enabled),
            discovery_prefix,
            status_topic,
            trusted_approvals: raw.trusted_approvals.unwrap_or(defaults.trusted_approvals),
            approver,
            birth_delay_max_ms,
        }
    }
}
