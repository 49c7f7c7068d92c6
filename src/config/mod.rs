//! Configuration: TOML on disk → validated, typed `Config`.
//!
//! Two stages: raw serde structs (kebab-case, every key optional), then the
//! checks, which collect *every* problem named by its key path.
//!
//! This file is the index: the `Config` type, its entry points
//! ([`Config::load`], [`Config::parse`], [`Config::parse_device`]) and
//! lookups. The parts:
//! - `raw`: stage one, the file as written;
//! - `check/`: stage two, one file per section, recording every problem;
//! - `error`: [`ConfigError`] and how a problem names its key (`items[2].device`);
//! - the typed model, one file per section: `hub`, `mqtt`, `upstream`,
//!   `devices` (with `reading`), `items`, `members`, `rules`, `retention`,
//!   `homeassistant`;
//! - `warnings`: non-fatal problems worth a log line (risky settings, file
//!   permissions).

mod check;
mod devices;
mod error;
mod homeassistant;
mod hub;
mod items;
mod members;
mod mqtt;
mod raw;
mod reading;
mod retention;
mod rules;
#[cfg(test)]
mod tests;
mod upstream;
mod warnings;

pub use devices::{Device, PayloadFormat};
pub use error::ConfigError;
pub use homeassistant::{
    DEFAULT_HA_APPROVER, DEFAULT_HA_BIRTH_DELAY_MAX_MS, DEFAULT_HA_DISCOVERY_PREFIX,
    DEFAULT_HA_STATUS_TOPIC, HomeAssistant,
};
pub use hub::{DEFAULT_STATE_DIR, Hub};
pub use items::{DEFAULT_VENDOR, Item};
pub use members::Member;
pub use mqtt::{MQTT_PORTABLE_CLIENT_ID_LEN, Mqtt, Protocol as MqttProtocol};
pub use reading::{FieldSpec, Quantity, Unit};
pub use retention::{DEFAULT_RAW_DAYS, Retention};
pub use rules::Approvals;
pub use upstream::Upstream;

use crate::core::rules::Rules;
use check::Check;
use std::path::Path;

/// Default location of the configuration file.
pub const DEFAULT_PATH: &str = "/etc/larder/larder.toml";

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// This hub.
    pub hub: Hub,
    /// Broker connection.
    pub mqtt: Mqtt,
    /// Where approved intents go.
    pub upstream: Upstream,
    /// Sensor devices and their topics.
    pub devices: Vec<Device>,
    /// Items larder keeps stocked.
    pub items: Vec<Item>,
    /// Household members.
    pub members: Vec<Member>,
    /// Approval rules.
    pub rules: Rules,
    /// Approval prompt settings.
    pub approvals: Approvals,
    /// How long raw data is kept.
    pub retention: Retention,
    /// Home Assistant MQTT discovery and trusted approvals (`[homeassistant]`).
    pub homeassistant: HomeAssistant,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is used in messages
    /// and to resolve relative paths.
    ///
    /// TOML syntax and type errors give [`ConfigError::Parse`]; otherwise
    /// every unknown key and every semantic problem is collected into one
    /// [`ConfigError::Invalid`], each as `key.path: problem` with array
    /// entries written `items[2].device`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let (raw, mut check) = Check::start::<raw::Config>(text, path)?;
        let base = path.parent().unwrap_or(Path::new(""));
        let config = check.config(raw, base);
        check.finish(config, path)
    }

    /// Parses one device table (the keys of a `[[devices]]` entry, written
    /// at the top level of `text`), for `larder decode --device-config`.
    /// `id` and `topic` may be left out, and `format` when `default_format`
    /// is given.
    pub fn parse_device(
        text: &str,
        path: &Path,
        default_format: Option<PayloadFormat>,
    ) -> Result<Device, ConfigError> {
        let (mut raw, mut check) = Check::start::<raw::Device>(text, path)?;
        let id = raw.id.take().unwrap_or_else(|| "device".to_owned());
        let topic = raw.topic.take().unwrap_or_default();
        let format = match (raw.format.as_deref(), default_format) {
            (None, Some(format)) => format,
            (name, _) => check.format("format", name),
        };
        let device = check.adapter_device_at("", id, topic, format, raw);
        check.finish(device, path)
    }

    /// The item measured by `device` at `slot`, if any.
    pub fn item_for_slot(&self, device: &str, slot: &str) -> Option<&Item> {
        self.items
            .iter()
            .find(|i| i.device == device && i.slot == slot)
    }

    /// The item with this id.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The member with this name.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }
}
