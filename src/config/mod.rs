//! Configuration: TOML on disk → validated, typed `Config`.
//!
//! Two stages: raw serde structs (kebab-case, unknown keys refused), then
//! `validate`, which collects *every* problem named by its key path.

mod reading;
pub use reading::{FieldSpec, Quantity, Unit};

use crate::core::forecast::{ItemModel, Measure};
use crate::core::rules::{CategoryPolicy, OrderCap, QuietHours, Rules};
use crate::core::signals::{MAX_MEDIAN_OF, ScaleParams, WasherParams};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// Default location of the configuration file.
pub const DEFAULT_PATH: &str = "/etc/larder/larder.toml";

/// The vendor of items that name none (`items[].vendor`).
pub const DEFAULT_VENDOR: &str = "default";

/// Default state directory (`hub.state-dir`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/larder";

/// Longest client id every MQTT 3.1.1 broker must accept; longer ids only warn.
pub const MQTT_PORTABLE_CLIENT_ID_LEN: usize = 23;

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

/// Default of `homeassistant.discovery-prefix` (Home Assistant's own default).
pub const DEFAULT_HA_DISCOVERY_PREFIX: &str = "homeassistant";

/// Default of `homeassistant.status-topic` (Home Assistant's birth/will topic).
pub const DEFAULT_HA_STATUS_TOPIC: &str = "homeassistant/status";

/// Default of `homeassistant.approver`.
pub const DEFAULT_HA_APPROVER: &str = "home-assistant";

/// Default of `homeassistant.birth-delay-max-ms`.
pub const DEFAULT_HA_BIRTH_DELAY_MAX_MS: u64 = 3000;

/// Home Assistant integration (`[homeassistant]`): MQTT discovery on the
/// local broker, and optionally approve/deny buttons whose presses count
/// as one approver (see `docs/homeassistant.md` for the trust trade-off).
#[derive(Debug, Clone, PartialEq)]
pub struct HomeAssistant {
    /// Publish discovery and state (default true: local only, harmless).
    pub enabled: bool,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: String,
    /// Home Assistant's birth/will topic; `online` there re-publishes discovery.
    pub status_topic: String,
    /// Whether approve/deny buttons exist and their presses count
    /// (default false: anyone who may publish on the button topics at the
    /// broker could approve).
    pub trusted_approvals: bool,
    /// The name a button press is recorded under (one approval per intent).
    pub approver: String,
    /// Upper bound of the random delay before re-publishing after Home
    /// Assistant's `online`, in milliseconds.
    pub birth_delay_max_ms: u64,
}

impl Default for HomeAssistant {
    fn default() -> HomeAssistant {
        HomeAssistant {
            enabled: true,
            discovery_prefix: DEFAULT_HA_DISCOVERY_PREFIX.into(),
            status_topic: DEFAULT_HA_STATUS_TOPIC.into(),
            trusted_approvals: false,
            approver: DEFAULT_HA_APPROVER.into(),
            birth_delay_max_ms: DEFAULT_HA_BIRTH_DELAY_MAX_MS,
        }
    }
}

/// Default of `retention.raw-days`.
pub const DEFAULT_RAW_DAYS: u32 = 90;

/// What larder keeps, and for how long (`[retention]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    /// Raw observations older than this many days are folded into daily
    /// aggregates (per item per day) and deleted, on the daemon's ticker.
    pub raw_days: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            raw_days: DEFAULT_RAW_DAYS,
        }
    }
}

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

/// MQTT broker connection settings.
#[derive(Debug, Clone)]
pub struct Mqtt {
    /// Broker host name or address.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Whether to use TLS (`mqtts://`).
    pub tls: bool,
    /// Fixed client id for the persistent session.
    pub client_id: String,
    /// User name, if the broker requires one.
    pub username: Option<String>,
    /// File holding the password (first line).
    pub password_file: Option<PathBuf>,
    /// CA certificate (PEM) to trust for TLS; `None` = system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for brokers that require one (TLS only;
    /// always together with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Keep-alive in seconds.
    pub keep_alive_secs: u16,
    /// Largest inbound payload accepted before parsing, in bytes.
    pub max_payload_bytes: usize,
}

impl Mqtt {
    /// `host:port` for opening a socket, with an IPv6 address in brackets
    /// (`[::1]:1883`). `host` itself is stored without brackets, as TLS
    /// server-name checks want it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The upstream (shop) side.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Topic signed intents are published to.
    pub topic: String,
    /// Topic the shop acknowledges intents and deliveries on.
    pub ack_topic: String,
    /// Allowed price rise over the configured price, as a fraction (0.10 = 10 %).
    pub price_tolerance: f64,
    /// When one item of a vendor is ordered, items of the same vendor that
    /// would need ordering within this many days are ordered with it
    /// (0 = never top up).
    pub top_up_days: f64,
}

/// The payload format a device speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// larder's native JSON event.
    Json,
    /// larder's native CBOR event (same fields as JSON).
    Cbor,
    /// Zigbee2MQTT JSON state (`zigbee2mqtt/<friendly name>`).
    Zigbee2mqtt,
    /// Tasmota telemetry (`tele/<topic>/SENSOR`: `ENERGY`, `HX711`).
    Tasmota,
    /// Shelly Gen2/Gen3 (`<prefix>/status/switch:N`, `<prefix>/events/rpc`).
    Shelly,
    /// ESPHome plain-text state topic.
    Esphome,
    /// Home Connect events bridged to MQTT (SSE `items` or flattened JSON).
    Homeconnect,
    /// Any JSON with a configured field path, unit and factor.
    JsonPath,
}

impl PayloadFormat {
    /// Every format, in documentation order.
    pub const ALL: [PayloadFormat; 8] = [
        PayloadFormat::Json,
        PayloadFormat::Cbor,
        PayloadFormat::Zigbee2mqtt,
        PayloadFormat::Tasmota,
        PayloadFormat::Shelly,
        PayloadFormat::Esphome,
        PayloadFormat::Homeconnect,
        PayloadFormat::JsonPath,
    ];

    /// The name used in `devices[].format`.
    pub fn name(self) -> &'static str {
        match self {
            PayloadFormat::Json => "json",
            PayloadFormat::Cbor => "cbor",
            PayloadFormat::Zigbee2mqtt => "zigbee2mqtt",
            PayloadFormat::Tasmota => "tasmota",
            PayloadFormat::Shelly => "shelly",
            PayloadFormat::Esphome => "esphome",
            PayloadFormat::Homeconnect => "homeconnect",
            PayloadFormat::JsonPath => "json-path",
        }
    }

    /// The format named `name`, if any.
    pub fn from_name(name: &str) -> Option<PayloadFormat> {
        PayloadFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// larder's own events (`wire.rs`); the others go through `adapters`.
    pub fn is_native(self) -> bool {
        matches!(self, PayloadFormat::Json | PayloadFormat::Cbor)
    }
}

/// One sensor device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Device id; events must carry the same id.
    pub id: String,
    /// Topic its events arrive on (no wildcards); for Shelly the topic
    /// prefix (see [`Device::topics`]).
    pub topic: String,
    /// Payload format.
    pub format: PayloadFormat,
    /// Load-cell processing (`[devices.scale]`): weight → `weight` slot.
    pub scale: Option<ScaleParams>,
    /// Washer cycle detection (`[devices.washer]`): power → `cycle` slot;
    /// for Home Connect only its `dose` is used.
    pub washer: Option<WasherParams>,
    /// Which value to read for `json-path` and `esphome` (`field`, `unit`,
    /// `factor`).
    pub reading: Option<FieldSpec>,
    /// Shelly switch channel (`channel`, default 0): `status/switch:<channel>`.
    pub channel: u8,
}

impl Device {
    /// The exact topics this device's messages arrive on: the topic, or for
    /// Shelly `<prefix>/status/switch:<channel>` and `<prefix>/events/rpc`.
    pub fn topics(&self) -> Vec<String> {
        match self.format {
            PayloadFormat::Shelly => vec![
                format!("{}/status/switch:{}", self.topic, self.channel),
                format!("{}/events/rpc", self.topic),
            ],
            _ => vec![self.topic.clone()],
        }
    }

    /// Whether a message on `topic` is this device's (one of [`Device::topics`]).
    pub fn listens_on(&self, topic: &str) -> bool {
        match self.format {
            PayloadFormat::Shelly => topic
                .strip_prefix(self.topic.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| {
                    rest == "events/rpc"
                        || rest
                            .strip_prefix("status/switch:")
                            .is_some_and(|n| n.parse() == Ok(self.channel))
                }),
            _ => self.topic == topic,
        }
    }

    /// The slots an adapter device can produce observations on; `None` for
    /// native devices (the event names its slot).
    pub fn slots(&self) -> Option<Vec<&'static str>> {
        use crate::core::signals::{SLOT_CYCLE, SLOT_IDOS1, SLOT_IDOS2, SLOT_WEIGHT};
        if self.format.is_native() {
            return None;
        }
        let mut slots = Vec::new();
        if self.scale.is_some() {
            slots.push(SLOT_WEIGHT);
        }
        if self.washer.is_some() {
            slots.push(SLOT_CYCLE);
        }
        if self.format == PayloadFormat::Homeconnect {
            slots.extend([SLOT_IDOS1, SLOT_IDOS2]);
        }
        Some(slots)
    }
}

/// One stocked item.
#[derive(Debug, Clone)]
pub struct Item {
    /// Item id (`[A-Za-z0-9_-]`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unit of amounts (e.g. `l`, `g`, `pcs`).
    pub unit: String,
    /// Product / SKU the shop knows.
    pub product: String,
    /// Price of one package.
    pub price: f64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Category for the approval rules.
    pub category: String,
    /// The item's own order policy (`items[].order`), overriding its
    /// category's.
    pub order: Option<CategoryPolicy>,
    /// Reorder whenever the usable stock falls below this (`min-level`, in
    /// the item's unit), whatever the forecast says.
    pub min_level: Option<f64>,
    /// Orders fill up to at least this (`desired-level`, in the item's unit).
    pub desired_level: Option<f64>,
    /// Who delivers it (`items[].vendor`, default `"default"`): one order
    /// of a vendor tops up its other items that would be needed soon.
    pub vendor: String,
    /// Device that measures it.
    pub device: String,
    /// Slot on that device.
    pub slot: String,
    /// Forecasting parameters.
    pub model: ItemModel,
}

/// A household member.
#[derive(Debug, Clone)]
pub struct Member {
    /// Name; also the COSE key id of their replies.
    pub name: String,
    /// Ed25519 public key.
    pub public_key: [u8; 32],
    /// Whether their approval counts.
    pub may_approve: bool,
}

/// Approval prompt settings.
#[derive(Debug, Clone)]
pub struct Approvals {
    /// How long a prompt stays answerable, in seconds.
    pub request_ttl_secs: i64,
    /// How long after an intent is approved a member may still cancel it,
    /// in seconds (`rules.cancel-window-hours`).
    pub cancel_window_secs: i64,
}

/// Everything wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has wrong types.
    #[error("parsing config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said (it names the key).
        message: String,
    },
    /// The file parsed but has problems; each entry is `key.path: problem`.
    #[error("invalid config {path}:\n  {}", problems.join("\n  "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem, named by key path.
        problems: Vec<String>,
    },
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
        let parse_error = |e: toml::de::Error| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        };
        let de = toml::Deserializer::parse(text).map_err(parse_error)?;
        let mut problems = Vec::new();
        let raw: raw::Config = serde_ignored::deserialize(de, |key| {
            problems.push(format!("{}: unknown key", key_path(&key)));
        })
        .map_err(parse_error)?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut check = Check { problems };
        let config = check.config(raw, base);
        if check.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems: check.problems,
            })
        }
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
        let parse_error = |e: toml::de::Error| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        };
        let de = toml::Deserializer::parse(text).map_err(parse_error)?;
        let mut problems = Vec::new();
        let mut raw: raw::Device = serde_ignored::deserialize(de, |key| {
            problems.push(format!("{}: unknown key", key_path(&key)));
        })
        .map_err(parse_error)?;
        let mut check = Check { problems };
        let id = raw.id.take().unwrap_or_else(|| "device".to_owned());
        let topic = raw.topic.take().unwrap_or_default();
        let format = match (raw.format.as_deref(), default_format) {
            (None, Some(format)) => format,
            (name, _) => check.format("format", name),
        };
        let device = check.adapter_device_at("", id, topic, format, raw);
        if check.problems.is_empty() {
            Ok(device)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems: check.problems,
            })
        }
    }

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

    /// The policy the rules apply to `category` (its own or the default).
    pub fn policy_for(&self, category: &str) -> CategoryPolicy {
        self.rules
            .categories
            .get(category)
            .copied()
            .unwrap_or(self.rules.default_policy)
    }

    /// The policy the rules apply to `item`: its own `order`, else its
    /// category's.
    pub fn policy_for_item(&self, item: &Item) -> CategoryPolicy {
        item.order
            .unwrap_or_else(|| self.policy_for(&item.category))
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

/// Stage one: the file as written. Every field is optional so that missing
/// keys become named problems in stage two instead of stopping the parse;
/// enumerations are strings for the same reason. Unknown keys are not
/// refused here but collected by `serde_ignored`, so all of them are named.
mod raw {
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Config {
        pub hub: Hub,
        pub mqtt: Mqtt,
        pub upstream: Upstream,
        pub devices: Vec<Device>,
        pub items: Vec<Item>,
        pub members: Vec<Member>,
        pub rules: Rules,
        pub retention: Retention,
        pub homeassistant: HomeAssistant,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct HomeAssistant {
        pub enabled: Option<bool>,
        pub discovery_prefix: Option<String>,
        pub status_topic: Option<String>,
        pub trusted_approvals: Option<bool>,
        pub approver: Option<String>,
        pub birth_delay_max_ms: Option<i64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Retention {
        pub raw_days: Option<i64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Hub {
        pub id: Option<String>,
        pub state_dir: Option<String>,
        pub key_file: Option<String>,
        pub timezone: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Mqtt {
        pub url: Option<String>,
        pub client_id: Option<String>,
        pub username: Option<String>,
        pub password_file: Option<String>,
        pub ca_file: Option<String>,
        pub client_cert: Option<String>,
        pub client_key: Option<String>,
        pub keep_alive_secs: Option<i64>,
        pub max_payload_bytes: Option<i64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Upstream {
        pub topic: Option<String>,
        pub ack_topic: Option<String>,
        pub price_tolerance_percent: Option<f64>,
        pub top_up_days: Option<f64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Device {
        pub id: Option<String>,
        pub topic: Option<String>,
        pub format: Option<String>,
        pub scale: Option<Scale>,
        pub washer: Option<Washer>,
        pub field: Option<String>,
        pub unit: Option<String>,
        pub factor: Option<f64>,
        pub channel: Option<i64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Scale {
        pub tare_kg: Option<f64>,
        pub calibration: Option<f64>,
        pub offset_kg: Option<f64>,
        pub units_per_kg: Option<f64>,
        pub deadband_kg: Option<f64>,
        pub median_of: Option<i64>,
        pub restock_kg: Option<f64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Washer {
        pub dose: Option<f64>,
        pub start_watts: Option<f64>,
        pub stop_watts: Option<f64>,
        pub start_secs: Option<i64>,
        pub stop_secs: Option<i64>,
        pub min_run_secs: Option<i64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Item {
        pub id: Option<String>,
        pub name: Option<String>,
        pub unit: Option<String>,
        pub package_size: Option<f64>,
        pub product: Option<String>,
        pub price: Option<f64>,
        pub currency: Option<String>,
        pub category: Option<String>,
        pub order: Option<String>,
        pub vendor: Option<String>,
        pub min_level: Option<f64>,
        pub desired_level: Option<f64>,
        pub device: Option<String>,
        pub slot: Option<String>,
        pub measure: Option<String>,
        pub lead_time_days: Option<f64>,
        pub review_days: Option<f64>,
        pub shelf_life_days: Option<f64>,
        pub service_level: Option<f64>,
        pub declared_usage: Option<Usage>,
        pub noise: Option<f64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Usage {
        pub amount: Option<f64>,
        pub per: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Member {
        pub name: Option<String>,
        pub public_key: Option<String>,
        pub may_approve: Option<bool>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Rules {
        pub currency: Option<String>,
        pub auto_approve_up_to: Option<f64>,
        pub monthly_budget: Option<f64>,
        pub approvals_required: Option<i64>,
        pub approval_expires_after_hours: Option<f64>,
        pub cancel_window_hours: Option<f64>,
        pub quiet_hours: Option<Window>,
        pub max_orders_per_item: Option<Cap>,
        pub default_category: Option<String>,
        pub categories: BTreeMap<String, String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Window {
        pub start: Option<String>,
        pub end: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", default)]
    pub(super) struct Cap {
        pub count: Option<i64>,
        pub days: Option<i64>,
    }
}

/// Stage two: turns the raw file into a `Config`, recording every problem.
///
/// Each method returns a usable value even when the input is wrong (a
/// placeholder), so checking continues; the result is discarded if any
/// problem was recorded.
struct Check {
    problems: Vec<String>,
}

impl Check {
    fn problem(&mut self, path: impl Display, message: impl Display) {
        self.problems.push(format!("{path}: {message}"));
    }

    /// A required string; records a problem if missing or blank.
    fn required(&mut self, path: &str, value: Option<String>) -> String {
        match value {
            None => {
                self.problem(path, "required key is missing");
                String::new()
            }
            Some(v) if v.trim().is_empty() => {
                self.problem(path, "must not be empty");
                v
            }
            Some(v) => v,
        }
    }

    /// A required identifier: `[A-Za-z0-9_-]{1,max}`.
    fn ident(&mut self, path: &str, value: Option<String>, max: usize) -> String {
        let v = self.required(path, value);
        if !v.trim().is_empty() && (!is_ident(&v) || v.len() > max) {
            self.problem(
                path,
                format_args!("{v:?} is not a valid id; use 1 to {max} letters, digits, '_' or '-'"),
            );
        }
        v
    }

    /// A finite number within `ok`, or `default` when absent.
    fn number(
        &mut self,
        path: &str,
        value: Option<f64>,
        default: f64,
        ok: impl Fn(f64) -> bool,
        expected: &str,
    ) -> f64 {
        let Some(v) = value else { return default };
        if !v.is_finite() {
            self.problem(path, format_args!("must be a finite number, got {v}"));
        } else if !ok(v) {
            self.problem(path, format_args!("must be {expected}, got {v}"));
        }
        v
    }

    /// An integer within `range`, or `default` when absent.
    fn integer(
        &mut self,
        path: &str,
        value: Option<i64>,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> i64 {
        let Some(v) = value else { return default };
        if !range.contains(&v) {
            self.problem(
                path,
                format_args!(
                    "must be between {} and {}, got {v}",
                    range.start(),
                    range.end()
                ),
            );
            return default;
        }
        v
    }

    /// A path resolved against the configuration file's directory.
    fn path(&mut self, path: &str, value: Option<String>, base: &Path) -> Option<PathBuf> {
        let v = value?;
        if v.trim().is_empty() {
            self.problem(path, "must not be empty");
        }
        Some(base.join(v))
    }

    /// A path that must name an existing file.
    fn existing_file(&mut self, path: &str, file: &Path) {
        match std::fs::metadata(file) {
            Ok(m) if m.is_file() => {}
            Ok(_) => self.problem(path, format_args!("{} is not a file", file.display())),
            Err(e) => self.problem(path, format_args!("{}: {e}", file.display())),
        }
    }

    fn topic(&mut self, path: &str, topic: &str) {
        if let Err(message) = check_topic(topic) {
            self.problem(path, message);
        }
    }

    /// Records `path: duplicate ...` for every id seen before.
    fn unique<'a>(&mut self, what: &str, field: &str, ids: impl Iterator<Item = &'a str>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, id) in ids.enumerate() {
            if id.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(id) {
                self.problem(
                    format_args!("{what}[{i}].{field}"),
                    format_args!("duplicate {field} {id:?} (also {what}[{first}].{field})"),
                );
            } else {
                seen.insert(id, i);
            }
        }
    }

    fn config(&mut self, raw: raw::Config, base: &Path) -> Config {
        let hub = self.hub(raw.hub, base);
        let mqtt = self.mqtt(raw.mqtt, &hub.id, base);
        let upstream = self.upstream(raw.upstream, &hub.id);
        let devices = self.devices(raw.devices, &hub.id, &upstream);
        let currency = self.currency(&raw.rules, !raw.items.is_empty());
        let items = self.items(raw.items, &devices, currency.as_deref());
        let members = self.members(raw.members);
        let (rules, approvals) = self.rules(raw.rules);
        let retention = Retention {
            raw_days: self.integer(
                "retention.raw-days",
                raw.retention.raw_days,
                i64::from(DEFAULT_RAW_DAYS),
                1..=36500,
            ) as u32,
        };
        let homeassistant = self.homeassistant(raw.homeassistant, &members);
        let trusted_ha = homeassistant.enabled && homeassistant.trusted_approvals;
        self.approvers(&items, &members, &rules, trusted_ha);
        Config {
            hub,
            mqtt,
            upstream,
            devices,
            items,
            members,
            rules,
            approvals,
            retention,
            homeassistant,
        }
    }

    /// `[homeassistant]`: defaults, topic and id checks; the approver must
    /// not be a member's name (a press would take that member's one vote).
    fn homeassistant(&mut self, raw: raw::HomeAssistant, members: &[Member]) -> HomeAssistant {
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

    fn hub(&mut self, raw: raw::Hub, base: &Path) -> Hub {
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

    fn mqtt(&mut self, raw: raw::Mqtt, hub_id: &str, base: &Path) -> Mqtt {
        let url = self.required("mqtt.url", raw.url);
        let (host, port, tls) = if url.trim().is_empty() {
            (String::new(), 1883, false)
        } else {
            parse_url(&url).unwrap_or_else(|message| {
                self.problem("mqtt.url", message);
                (String::new(), 1883, false)
            })
        };
        let client_id = match raw.client_id {
            None => format!("larder-{hub_id}"),
            Some(id) => {
                if id.is_empty() || !is_ident(&id) {
                    self.problem(
                        "mqtt.client-id",
                        format_args!("{id:?} is not valid; use letters, digits, '_' or '-'"),
                    );
                }
                id
            }
        };
        if raw.username.as_deref().is_some_and(str::is_empty) {
            self.problem(
                "mqtt.username",
                "must not be empty; leave it out to connect anonymously",
            );
        }
        let password_file = self.path("mqtt.password-file", raw.password_file, base);
        if let Some(file) = &password_file {
            if raw.username.is_none() {
                self.problem("mqtt.password-file", "requires mqtt.username");
            }
            self.existing_file("mqtt.password-file", file);
        }
        let ca_file = self.path("mqtt.ca-file", raw.ca_file, base);
        if let Some(file) = &ca_file {
            if !tls && !host.is_empty() {
                self.problem(
                    "mqtt.ca-file",
                    "only used with TLS; set mqtt.url to mqtts://... or remove it",
                );
            }
            self.existing_file("mqtt.ca-file", file);
        }
        let client_cert = self.path("mqtt.client-cert", raw.client_cert, base);
        let client_key = self.path("mqtt.client-key", raw.client_key, base);
        for (key, file, other, other_key) in [
            (
                "mqtt.client-cert",
                &client_cert,
                &client_key,
                "mqtt.client-key",
            ),
            (
                "mqtt.client-key",
                &client_key,
                &client_cert,
                "mqtt.client-cert",
            ),
        ] {
            if let Some(file) = file {
                if other.is_none() {
                    self.problem(key, format_args!("requires {other_key} as well"));
                }
                if ca_file.is_none() {
                    self.problem(
                        key,
                        "requires mqtt.ca-file (the CA that signed the broker's certificate)",
                    );
                }
                if !tls && !host.is_empty() {
                    self.problem(
                        key,
                        "only used with TLS; set mqtt.url to mqtts://... or remove it",
                    );
                }
                self.existing_file(key, file);
            }
        }
        let keep_alive_secs =
            self.integer("mqtt.keep-alive-secs", raw.keep_alive_secs, 30, 5..=600);
        let max_payload_bytes = self.integer(
            "mqtt.max-payload-bytes",
            raw.max_payload_bytes,
            65536,
            1024..=1_048_576,
        );
        Mqtt {
            host,
            port,
            tls,
            client_id,
            username: raw.username,
            password_file,
            ca_file,
            client_cert,
            client_key,
            keep_alive_secs: u16::try_from(keep_alive_secs).unwrap_or(30),
            max_payload_bytes: usize::try_from(max_payload_bytes).unwrap_or(65536),
        }
    }

    fn upstream(&mut self, raw: raw::Upstream, hub_id: &str) -> Upstream {
        let topic = raw
            .topic
            .unwrap_or_else(|| format!("larder/{hub_id}/upstream/intents"));
        let ack_topic = raw
            .ack_topic
            .unwrap_or_else(|| format!("larder/{hub_id}/upstream/acks"));
        let approvals = approvals_prefix(hub_id);
        for (path, t) in [
            ("upstream.topic", &topic),
            ("upstream.ack-topic", &ack_topic),
        ] {
            self.topic(path, t);
            if t.starts_with(&approvals) {
                self.problem(
                    path,
                    format_args!("{t:?} is inside larder's approval topics ({approvals}/...)"),
                );
            }
        }
        if topic == ack_topic {
            self.problem(
                "upstream.ack-topic",
                "must differ from upstream.topic (larder would read its own intents as acks)",
            );
        }
        let percent = self.number(
            "upstream.price-tolerance-percent",
            raw.price_tolerance_percent,
            10.0,
            |v| (0.0..=100.0).contains(&v),
            "between 0 and 100",
        );
        let top_up_days = self.number(
            "upstream.top-up-days",
            raw.top_up_days,
            2.0,
            |v| (0.0..=30.0).contains(&v),
            "between 0 and 30",
        );
        Upstream {
            topic,
            ack_topic,
            price_tolerance: percent / 100.0,
            top_up_days,
        }
    }

    fn devices(&mut self, raw: Vec<raw::Device>, hub_id: &str, up: &Upstream) -> Vec<Device> {
        let approvals = approvals_prefix(hub_id);
        let mut out = Vec::with_capacity(raw.len());
        for (i, mut d) in raw.into_iter().enumerate() {
            let p = |key: &str| format!("devices[{i}].{key}");
            let id = self.ident(&p("id"), d.id.take(), 64);
            let topic = self.required(&p("topic"), d.topic.take());
            if !topic.trim().is_empty() {
                self.topic(&p("topic"), &topic);
            }
            if topic.starts_with(&approvals) {
                self.problem(
                    p("topic"),
                    format_args!("{topic:?} is inside larder's approval topics ({approvals}/...)"),
                );
            }
            if topic == up.topic || topic == up.ack_topic {
                self.problem(p("topic"), format_args!("{topic:?} is an upstream topic"));
            }
            let format = self.format(&p("format"), d.format.as_deref());
            let device = self.adapter_device_at(&format!("devices[{i}]."), id, topic, format, d);
            out.push(device);
        }
        self.unique("devices", "id", out.iter().map(|d| d.id.as_str()));
        self.unique("devices", "topic", out.iter().map(|d| d.topic.as_str()));
        out
    }

    /// `devices[].format`.
    fn format(&mut self, path: &str, name: Option<&str>) -> PayloadFormat {
        match name {
            None => {
                self.problem(path, "required key is missing");
                PayloadFormat::Json
            }
            Some(name) => match PayloadFormat::from_name(name) {
                Some(format) => format,
                None => {
                    let known: Vec<String> = PayloadFormat::ALL
                        .iter()
                        .map(|f| format!("{:?}", f.name()))
                        .collect();
                    self.problem(
                        path,
                        format_args!(
                            "unknown format {name:?}; expected one of {}",
                            known.join(", ")
                        ),
                    );
                    PayloadFormat::Json
                }
            },
        }
    }

    /// The adapter settings of a device (scale, washer, reading, channel),
    /// checked against its format; key paths start with `prefix`
    /// (`devices[2].`).
    fn adapter_device_at(
        &mut self,
        prefix: &str,
        id: String,
        topic: String,
        format: PayloadFormat,
        d: raw::Device,
    ) -> Device {
        use reading::Quantity;
        let p = |key: &str| format!("{prefix}{key}");
        let name = format.name();
        let scale = d.scale.map(|s| self.scale(&p("scale"), s));
        let washer = d.washer.map(|w| self.washer(&p("washer"), w));
        if format.is_native() {
            for (key, set) in [
                ("scale", scale.is_some()),
                ("washer", washer.is_some()),
                ("field", d.field.is_some()),
                ("unit", d.unit.is_some()),
                ("factor", d.factor.is_some()),
                ("channel", d.channel.is_some()),
            ] {
                if set {
                    self.problem(
                        p(key),
                        format_args!("only for adapter formats; native {name:?} events carry their own slot and amount"),
                    );
                }
            }
            return Device {
                id,
                topic,
                format,
                scale: None,
                washer: None,
                reading: None,
                channel: 0,
            };
        }
        if scale.is_some() && washer.is_some() {
            self.problem(
                p("washer"),
                "a device is either a scale or a washer plug; configure two devices",
            );
        }
        match format {
            PayloadFormat::Homeconnect if scale.is_some() => self.problem(
                p("scale"),
                "Home Connect reports programme events, not weight",
            ),
            PayloadFormat::Zigbee2mqtt if scale.is_some() => self.problem(
                p("scale"),
                "Zigbee2MQTT has no shelf scale larder knows; use format \"json-path\"",
            ),
            PayloadFormat::Shelly if scale.is_some() => {
                self.problem(p("scale"), "Shelly switches report power, not weight")
            }
            PayloadFormat::Homeconnect => {}
            // `larder decode` may look at a device without processing.
            _ if scale.is_none() && washer.is_none() && !prefix.is_empty() => self.problem(
                prefix.trim_end_matches('.'),
                format_args!(
                    "a {name:?} device needs [devices.scale] (weight) or [devices.washer] (power); nothing else is turned into observations"
                ),
            ),
            _ => {}
        }
        let wants = if scale.is_some() {
            Quantity::Weight
        } else {
            Quantity::Power
        };
        let mut reading = None;
        let reads_a_field = matches!(format, PayloadFormat::JsonPath | PayloadFormat::Esphome);
        if reads_a_field {
            let field = match (format, d.field) {
                (PayloadFormat::JsonPath, None) => {
                    self.problem(
                        p("field"),
                        "required key is missing (a dotted path such as \"sensors.scale.kg\")",
                    );
                    String::new()
                }
                (PayloadFormat::JsonPath, Some(f)) => {
                    if f.is_empty() || f.split('.').any(str::is_empty) || f.len() > 200 {
                        self.problem(
                            p("field"),
                            format_args!("{f:?} is not a dotted path such as \"sensors.scale.kg\""),
                        );
                    }
                    f
                }
                (_, Some(_)) => {
                    self.problem(
                        p("field"),
                        "only for format \"json-path\" (ESPHome payloads are the value itself)",
                    );
                    String::new()
                }
                (_, None) => String::new(),
            };
            let unit =
                match d.unit.as_deref() {
                    None if format == PayloadFormat::JsonPath => {
                        self.problem(p("unit"), "required key is missing (kg, g, lb, W or kW)");
                        Unit::for_quantity(wants)
                    }
                    None => Unit::for_quantity(wants),
                    Some(text) => match Unit::from_name(text) {
                        Some(unit) => {
                            if unit.quantity() != wants {
                                self.problem(
                                p("unit"),
                                format_args!(
                                    "{text:?} is a {} unit but the device is configured as a {}",
                                    unit.quantity().name(),
                                    if wants == Quantity::Weight { "scale" } else { "washer plug" }
                                ),
                            );
                            }
                            unit
                        }
                        None => {
                            self.problem(
                                p("unit"),
                                format_args!("unknown unit {text:?}; expected kg, g, lb, W or kW"),
                            );
                            Unit::for_quantity(wants)
                        }
                    },
                };
            let factor = self.number(
                &p("factor"),
                d.factor,
                1.0,
                |v| v != 0.0,
                "a non-zero number",
            );
            reading = Some(FieldSpec {
                field,
                unit,
                factor,
            });
        } else {
            for (key, set) in [
                ("field", d.field.is_some()),
                ("unit", d.unit.is_some()),
                ("factor", d.factor.is_some()),
            ] {
                if set {
                    self.problem(p(key), "only for formats \"json-path\" and \"esphome\"");
                }
            }
        }
        let channel = match d.channel {
            Some(_) if format != PayloadFormat::Shelly => {
                self.problem(p("channel"), "only for format \"shelly\"");
                0
            }
            v => self.integer(&p("channel"), v, 0, 0..=15) as u8,
        };
        if format == PayloadFormat::Shelly && topic.ends_with('/') {
            self.problem(p("topic"), "the Shelly topic prefix must not end with '/'");
        }
        Device {
            id,
            topic,
            format,
            scale,
            washer,
            reading,
            channel,
        }
    }

    fn scale(&mut self, path: &str, raw: raw::Scale) -> ScaleParams {
        let d = ScaleParams::default();
        let p = |key: &str| format!("{path}.{key}");
        let median_of = self.integer(
            &p("median-of"),
            raw.median_of,
            d.median_of as i64,
            1..=MAX_MEDIAN_OF as i64,
        ) as usize;
        ScaleParams {
            tare_kg: self.number(
                &p("tare-kg"),
                raw.tare_kg,
                d.tare_kg,
                |v| (0.0..=500.0).contains(&v),
                "between 0 and 500",
            ),
            calibration: self.number(
                &p("calibration"),
                raw.calibration,
                d.calibration,
                |v| v > 0.0 && v <= 1000.0,
                "greater than 0 and at most 1000",
            ),
            offset_kg: self.number(
                &p("offset-kg"),
                raw.offset_kg,
                d.offset_kg,
                |v| v.abs() <= 500.0,
                "between -500 and 500",
            ),
            units_per_kg: self.number(
                &p("units-per-kg"),
                raw.units_per_kg,
                d.units_per_kg,
                |v| v > 0.0,
                "greater than 0",
            ),
            deadband_kg: self.number(
                &p("deadband-kg"),
                raw.deadband_kg,
                d.deadband_kg,
                |v| (0.0..=10.0).contains(&v),
                "between 0 and 10",
            ),
            median_of,
            restock_kg: self.number(
                &p("restock-kg"),
                raw.restock_kg,
                d.restock_kg,
                |v| v > 0.0,
                "greater than 0",
            ),
        }
    }

    fn washer(&mut self, path: &str, raw: raw::Washer) -> WasherParams {
        let d = WasherParams::default();
        let p = |key: &str| format!("{path}.{key}");
        let dose = match raw.dose {
            None => {
                self.problem(
                    p("dose"),
                    "required key is missing (item units one cycle uses)",
                );
                1.0
            }
            v => self.number(&p("dose"), v, 1.0, |v| v > 0.0, "greater than 0"),
        };
        let start_watts = self.number(
            &p("start-watts"),
            raw.start_watts,
            d.start_watts,
            |v| v > 0.0,
            "greater than 0",
        );
        let stop_watts = self.number(
            &p("stop-watts"),
            raw.stop_watts,
            d.stop_watts,
            |v| v >= 0.0,
            "0 or more",
        );
        if start_watts.is_finite() && stop_watts.is_finite() && stop_watts >= start_watts {
            self.problem(
                p("stop-watts"),
                format_args!("{stop_watts} must be below start-watts {start_watts} (hysteresis)"),
            );
        }
        let day = 86_400;
        WasherParams {
            dose,
            start_watts,
            stop_watts,
            start_secs: self.integer(&p("start-secs"), raw.start_secs, d.start_secs, 0..=3600),
            stop_secs: self.integer(&p("stop-secs"), raw.stop_secs, d.stop_secs, 0..=day),
            min_run_secs: self.integer(
                &p("min-run-secs"),
                raw.min_run_secs,
                d.min_run_secs,
                0..=day,
            ),
        }
    }

    /// `rules.currency`, checked here because items are checked against it.
    fn currency(&mut self, rules: &raw::Rules, have_items: bool) -> Option<String> {
        match &rules.currency {
            None if have_items => {
                self.problem(
                    "rules.currency",
                    "required key is missing (items have prices)",
                );
                None
            }
            None => None,
            Some(c) if !is_currency(c) => {
                self.problem(
                    "rules.currency",
                    format_args!(
                        "{c:?} is not an ISO 4217 code (3 upper-case letters, e.g. \"EUR\")"
                    ),
                );
                None
            }
            Some(c) => Some(c.clone()),
        }
    }

    fn items(
        &mut self,
        raw: Vec<raw::Item>,
        devices: &[Device],
        currency: Option<&str>,
    ) -> Vec<Item> {
        if raw.is_empty() {
            self.problem("items", "at least one [[items]] entry is required");
        }
        let mut out = Vec::with_capacity(raw.len());
        for (i, it) in raw.into_iter().enumerate() {
            let p = |key: &str| format!("items[{i}].{key}");
            let id = self.ident(&p("id"), it.id, 64);
            let name = self.required(&p("name"), it.name);
            let unit = self.required(&p("unit"), it.unit);
            let package_size = match it.package_size {
                None => {
                    self.problem(p("package-size"), "required key is missing");
                    1.0
                }
                v => self.number(&p("package-size"), v, 1.0, |v| v > 0.0, "greater than 0"),
            };
            let product = self.required(&p("product"), it.product);
            let price = match it.price {
                None => {
                    self.problem(p("price"), "required key is missing");
                    0.0
                }
                v => self.number(&p("price"), v, 0.0, |v| v >= 0.0, "0 or more"),
            };
            let item_currency = match it.currency {
                None => currency.unwrap_or_default().to_owned(),
                Some(c) => {
                    if !is_currency(&c) {
                        self.problem(
                            p("currency"),
                            format_args!(
                                "{c:?} is not an ISO 4217 code (3 upper-case letters, e.g. \"EUR\")"
                            ),
                        );
                    } else if let Some(rc) = currency.filter(|rc| *rc != c) {
                        self.problem(
                            p("currency"),
                            format_args!(
                                "{c:?} differs from rules.currency {rc:?}; budgets are kept in one currency"
                            ),
                        );
                    }
                    c
                }
            };
            let category = self.required(&p("category"), it.category);
            let order = it.order.map(|v| self.policy(&p("order"), &v));
            let min_level = it
                .min_level
                .map(|v| self.number(&p("min-level"), Some(v), 0.0, |v| v >= 0.0, "0 or more"));
            let desired_level = it
                .desired_level
                .map(|v| self.number(&p("desired-level"), Some(v), 0.0, |v| v >= 0.0, "0 or more"));
            if let (Some(min), Some(desired)) = (min_level, desired_level) {
                if desired < min {
                    self.problem(
                        p("desired-level"),
                        format_args!("{desired} is below min-level {min}"),
                    );
                }
            }
            let vendor = match it.vendor {
                None => DEFAULT_VENDOR.to_owned(),
                Some(v) => self.ident(&p("vendor"), Some(v), 64),
            };
            let device = self.required(&p("device"), it.device);
            if !device.is_empty() && !devices.iter().any(|d| d.id == device) {
                self.problem(
                    p("device"),
                    format_args!("unknown device {device:?}; configure it under [[devices]]"),
                );
            }
            let slot = self.required(&p("slot"), it.slot);
            if let Some(slots) = devices
                .iter()
                .find(|d| d.id == device)
                .and_then(Device::slots)
            {
                if !slot.is_empty() && !slots.contains(&slot.as_str()) {
                    self.problem(
                        p("slot"),
                        format_args!(
                            "device {device:?} ({}) can never report slot {slot:?}; it reports {}",
                            devices
                                .iter()
                                .find(|d| d.id == device)
                                .map_or("", |d| d.format.name()),
                            if slots.is_empty() {
                                "nothing".to_owned()
                            } else {
                                slots
                                    .iter()
                                    .map(|s| format!("{s:?}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    );
                }
            }
            let measure = match it.measure.as_deref() {
                None | Some("level") => Measure::Level,
                Some("consumption") => Measure::Consumption,
                Some(other) => {
                    self.problem(
                        p("measure"),
                        format_args!(
                            "unknown measure {other:?}; expected \"level\" or \"consumption\""
                        ),
                    );
                    Measure::Level
                }
            };
            let lead_time_days = self.number(
                &p("lead-time-days"),
                it.lead_time_days,
                1.0,
                |v| v >= 0.0,
                "0 or more",
            );
            let review_days = self.number(
                &p("review-days"),
                it.review_days,
                3.0,
                |v| v > 0.0,
                "greater than 0",
            );
            let shelf_life_days = it.shelf_life_days.map(|v| {
                self.number(
                    &p("shelf-life-days"),
                    Some(v),
                    v,
                    |v| v > 0.0,
                    "greater than 0",
                )
            });
            let service_level = self.number(
                &p("service-level"),
                it.service_level,
                0.95,
                |v| (0.5..=0.999).contains(&v),
                "between 0.5 and 0.999",
            );
            let declared_per_day = it
                .declared_usage
                .map(|u| self.usage(&p("declared-usage"), u));
            let noise = self.number(
                &p("noise"),
                it.noise,
                0.02 * package_size,
                |v| v >= 0.0,
                "0 or more",
            );
            if noise.is_finite() && package_size > 0.0 && noise >= package_size {
                self.problem(
                    p("noise"),
                    format_args!(
                        "{noise} must be smaller than package-size {package_size}, or restocks would look like noise"
                    ),
                );
            }
            out.push(Item {
                id,
                name,
                unit,
                product,
                price,
                currency: item_currency,
                category,
                order,
                min_level,
                desired_level,
                vendor,
                device,
                slot,
                model: ItemModel {
                    package_size,
                    lead_time_days,
                    review_days,
                    shelf_life_days,
                    service_level,
                    declared_per_day,
                    measure,
                    noise,
                },
            });
        }
        self.unique("items", "id", out.iter().map(|it| it.id.as_str()));
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        let mut duplicates = Vec::new();
        for (i, it) in out.iter().enumerate() {
            if it.device.is_empty() || it.slot.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(&(it.device.as_str(), it.slot.as_str())) {
                duplicates.push(format!(
                    "items[{i}].slot: slot {:?} of device {:?} is already measured by items[{first}]",
                    it.slot, it.device
                ));
            } else {
                seen.insert((&it.device, &it.slot), i);
            }
        }
        self.problems.extend(duplicates);
        out
    }

    /// `declared-usage` in units per day.
    fn usage(&mut self, path: &str, raw: raw::Usage) -> f64 {
        let amount = match raw.amount {
            None => {
                self.problem(format_args!("{path}.amount"), "required key is missing");
                0.0
            }
            v => self.number(&format!("{path}.amount"), v, 0.0, |v| v >= 0.0, "0 or more"),
        };
        let days = match raw.per.as_deref() {
            Some("day") => 1.0,
            Some("week") => 7.0,
            Some("month") => 30.0,
            None => {
                self.problem(format_args!("{path}.per"), "required key is missing");
                1.0
            }
            Some(other) => {
                self.problem(
                    format_args!("{path}.per"),
                    format_args!(
                        "unknown period {other:?}; expected \"day\", \"week\" or \"month\""
                    ),
                );
                1.0
            }
        };
        amount / days
    }

    fn members(&mut self, raw: Vec<raw::Member>) -> Vec<Member> {
        let mut out = Vec::with_capacity(raw.len());
        for (i, m) in raw.into_iter().enumerate() {
            let path = format!("members[{i}].public-key");
            let name = self.ident(&format!("members[{i}].name"), m.name, 64);
            let public_key = match m.public_key {
                None => {
                    self.problem(&path, "required key is missing");
                    [0; 32]
                }
                Some(hex) => crate::crypto::keys::parse_public_key(&hex).unwrap_or_else(|e| {
                    self.problem(&path, e);
                    [0; 32]
                }),
            };
            out.push(Member {
                name,
                public_key,
                may_approve: m.may_approve.unwrap_or(true),
            });
        }
        self.unique("members", "name", out.iter().map(|m| m.name.as_str()));
        // One key under two names would let one person count as two approvals.
        let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
        for (i, m) in out.iter().enumerate() {
            if m.public_key == [0; 32] {
                continue;
            }
            if let Some(first) = seen.get(&m.public_key) {
                let message = format!(
                    "members[{i}].public-key: same key as members[{first}]; each member needs their own key"
                );
                self.problems.push(message);
            } else {
                seen.insert(m.public_key, i);
            }
        }
        out
    }

    fn rules(&mut self, raw: raw::Rules) -> (Rules, Approvals) {
        let auto_approve_up_to = self.number(
            "rules.auto-approve-up-to",
            raw.auto_approve_up_to,
            0.0,
            |v| v >= 0.0,
            "0 or more",
        );
        let monthly_budget = raw.monthly_budget.map(|v| {
            self.number(
                "rules.monthly-budget",
                Some(v),
                v,
                |v| v >= 0.0,
                "0 or more",
            )
        });
        let approvals_required = self.integer(
            "rules.approvals-required",
            raw.approvals_required,
            1,
            1..=1000,
        );
        let hours = self.number(
            "rules.approval-expires-after-hours",
            raw.approval_expires_after_hours,
            24.0,
            |v| v > 0.0 && v <= 8760.0,
            "greater than 0 and at most 8760 (a year)",
        );
        let request_ttl_secs = if hours.is_finite() {
            ((hours * 3600.0).round() as i64).max(1)
        } else {
            86400
        };
        let cancel_hours = self.number(
            "rules.cancel-window-hours",
            raw.cancel_window_hours,
            2.0,
            |v| (0.0..=720.0).contains(&v),
            "from 0 (no cancelling) to 720 (30 days)",
        );
        let cancel_window_secs = if cancel_hours.is_finite() {
            (cancel_hours * 3600.0).round() as i64
        } else {
            2 * 3600
        };
        let quiet_hours = raw.quiet_hours.map(|w| {
            let start = self.minute("rules.quiet-hours.start", w.start);
            let end = self.minute("rules.quiet-hours.end", w.end);
            if start == end && start != u16::MAX {
                self.problem(
                    "rules.quiet-hours",
                    "start and end are equal; remove quiet-hours for none",
                );
            }
            let valid = |m: u16| if m < 1440 { m } else { 0 };
            QuietHours {
                start_minute: valid(start),
                end_minute: valid(end),
            }
        });
        let max_orders_per_item = raw.max_orders_per_item.map(|cap| {
            let p = "rules.max-orders-per-item";
            let count = match cap.count {
                None => {
                    self.problem(format_args!("{p}.count"), "required key is missing");
                    1
                }
                v => self.integer(&format!("{p}.count"), v, 1, 1..=i64::from(u32::MAX)),
            };
            let days = match cap.days {
                None => {
                    self.problem(format_args!("{p}.days"), "required key is missing");
                    1
                }
                v => self.integer(&format!("{p}.days"), v, 1, 1..=3660),
            };
            OrderCap {
                count: u32::try_from(count).unwrap_or(1),
                period_days: u32::try_from(days).unwrap_or(1),
            }
        });
        let default_policy = match raw.default_category {
            None => CategoryPolicy::Ask,
            Some(v) => self.policy("rules.default-category", &v),
        };
        let mut categories = BTreeMap::new();
        for (name, v) in raw.categories {
            let path = format!("rules.categories.{}", toml_key(&name));
            if name.trim().is_empty() {
                self.problem(&path, "category name must not be empty");
            }
            let policy = self.policy(&path, &v);
            categories.insert(name, policy);
        }
        let rules = Rules {
            auto_approve_up_to,
            monthly_budget,
            categories,
            default_policy,
            quiet_hours,
            max_orders_per_item,
            approvals_required: u32::try_from(approvals_required).unwrap_or(1),
        };
        (
            rules,
            Approvals {
                request_ttl_secs,
                cancel_window_secs,
            },
        )
    }

    fn policy(&mut self, path: &str, value: &str) -> CategoryPolicy {
        match value {
            "allow" | "auto" => CategoryPolicy::Allow,
            "ask" => CategoryPolicy::Ask,
            "deny" | "never" => CategoryPolicy::Deny,
            other => {
                self.problem(
                    path,
                    format_args!(
                        "unknown policy {other:?}; expected \"auto\" (or \"allow\"), \"ask\" or \"never\" (or \"deny\")"
                    ),
                );
                // The safe reading of a typo: ask.
                CategoryPolicy::Ask
            }
        }
    }

    /// `HH:MM` as minutes after midnight; `u16::MAX` when wrong or missing.
    fn minute(&mut self, path: &str, value: Option<String>) -> u16 {
        let Some(text) = value else {
            self.problem(path, "required key is missing");
            return u16::MAX;
        };
        parse_hhmm(&text).unwrap_or_else(|| {
            self.problem(
                path,
                format_args!("{text:?} is not a time; expected HH:MM, 24-hour (e.g. \"22:00\")"),
            );
            u16::MAX
        })
    }

    /// Orders that may be asked need enough members who may approve.
    ///
    /// Only a `deny` category never asks: an `allow` category still asks when
    /// an order exceeds `auto-approve-up-to` (0 by default, i.e. always).
    /// Enough approvers for the items that can need approval: members who
    /// may approve, plus Home Assistant's approver when `trusted_ha`.
    fn approvers(&mut self, items: &[Item], members: &[Member], rules: &Rules, trusted_ha: bool) {
        let askable: Vec<&str> = items
            .iter()
            .filter(|it| {
                it.order.unwrap_or_else(|| {
                    rules
                        .categories
                        .get(&it.category)
                        .copied()
                        .unwrap_or(rules.default_policy)
                }) != CategoryPolicy::Deny
            })
            .map(|it| it.id.as_str())
            .collect();
        if askable.is_empty() {
            return;
        }
        let approvers = members.iter().filter(|m| m.may_approve).count() + usize::from(trusted_ha);
        if approvers == 0 {
            self.problem(
                "members",
                format_args!(
                    "no member may approve, but orders of {} can need approval; \
                     add a [[members]] entry with may-approve = true \
                     (or [homeassistant] trusted-approvals = true)",
                    askable.join(", ")
                ),
            );
        } else if rules.approvals_required as usize > approvers {
            self.problem(
                "rules.approvals-required",
                format_args!(
                    "{} approvals required but only {approvers} member(s) may approve{}",
                    rules.approvals_required,
                    if trusted_ha {
                        " (counting Home Assistant's trusted approver)"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}

/// The prefix of the topics larder uses for approval prompts and replies.
fn approvals_prefix(hub_id: &str) -> String {
    format!("larder/{hub_id}/approvals")
}

/// Whether `s` is non-empty and only `[A-Za-z0-9_-]`.
fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` looks like an ISO 4217 code: three upper-case ASCII letters.
fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// A TOML key as it would be written: bare if possible, else quoted.
fn toml_key(key: &str) -> String {
    if is_ident(key) {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// `serde_ignored`'s path as a config key path: `items[2].device`.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => {
            let parent = key_path(parent);
            if parent.is_empty() {
                toml_key(key)
            } else {
                format!("{parent}.{}", toml_key(key))
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}

/// Checks a topic larder publishes to or subscribes to exactly.
fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        Err("must not be empty".to_owned())
    } else if topic.contains(['+', '#']) {
        Err(format!(
            "{topic:?} contains an MQTT wildcard ('+' or '#'); give the exact topic"
        ))
    } else if topic.contains('\0') {
        Err("must not contain NUL characters".to_owned())
    } else if topic.len() > 65535 {
        Err("is longer than MQTT's 65535-byte limit".to_owned())
    } else {
        Ok(())
    }
}

/// Parses `mqtt://host[:port]` or `mqtts://host[:port]` into
/// `(host, port, tls)`; IPv6 hosts are written `[::1]` and returned bare.
fn parse_url(url: &str) -> Result<(String, u16, bool), String> {
    let (rest, tls) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (rest, true)
    } else if let Some(rest) = url.strip_prefix("mqtt://") {
        (rest, false)
    } else {
        return Err(format!(
            "{url:?} must start with mqtt:// or mqtts:// (e.g. \"mqtt://127.0.0.1:1883\")"
        ));
    };
    let default_port = if tls { 8883 } else { 1883 };
    // A lone trailing '/' is harmless; anything after it is a path.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err(format!(
            "{url:?} has a path or query; give only mqtt(s)://host[:port]"
        ));
    }
    if authority.contains('@') {
        return Err(format!(
            "{url:?} contains credentials; use mqtt.username and mqtt.password-file"
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err(format!("{url:?}: IPv6 address is missing its closing ']'"));
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{url:?}: {addr:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{url:?}: expected ':port' after the IPv6 address"))?,
            ),
        };
        (addr, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let is_name = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !host.contains(':') && !is_name {
        return Err(format!(
            "{url:?}: {host:?} is not a host name or IP address"
        ));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                return Err(format!(
                    "{url:?}: port {p:?} is not a number from 1 to 65535"
                ));
            }
        },
    };
    Ok((host.to_owned(), port, tls))
}

/// `HH:MM` (24-hour, two digits each) as minutes after midnight.
fn parse_hhmm(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
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

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../config/larder.toml");
    const INVALID: &str = include_str!("../../tests/data/invalid.toml");

    /// A small valid configuration; tests edit it with `str::replace`.
    const MINIMAL: &str = include_str!("../../tests/fixtures/minimal.toml");

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

    #[test]
    fn the_example_config_is_valid_and_means_what_it_says() {
        let c = ok(EXAMPLE);
        assert_eq!(c.hub.id, "home");
        assert_eq!(c.hub.state_dir, Path::new("/var/lib/larder"));
        assert_eq!(c.hub.key_file, Path::new("/var/lib/larder/hub.key"));
        assert_eq!(
            c.hub.database_path(),
            Path::new("/var/lib/larder/larder.db")
        );
        assert_eq!(
            (c.mqtt.host.as_str(), c.mqtt.port, c.mqtt.tls),
            ("127.0.0.1", 1883, false)
        );
        assert_eq!(c.mqtt.client_id, "larder-home");
        assert_eq!(c.upstream.topic, "larder/home/upstream/intents");
        assert!((c.upstream.price_tolerance - 0.10).abs() < 1e-12);
        let devices: Vec<_> = c
            .devices
            .iter()
            .map(|d| (d.id.as_str(), d.format))
            .collect();
        assert_eq!(
            devices,
            [
                ("fridge", PayloadFormat::Json),
                ("washer", PayloadFormat::Cbor)
            ]
        );
        let ids: Vec<_> = c.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["milk", "eggs", "cold_cuts", "laundry_detergent"]);
        let milk = c.item("milk").unwrap();
        assert_eq!(milk.model.declared_per_day, Some(2.0 / 7.0));
        assert_eq!(milk.model.shelf_life_days, Some(7.0));
        let ham = c.item_for_slot("fridge", "deli-drawer").unwrap();
        assert!(
            (ham.model.noise - 3.0).abs() < 1e-9,
            "default noise is 2 % of 150 g"
        );
        let detergent = c.item("laundry_detergent").unwrap();
        assert_eq!(detergent.model.measure, Measure::Consumption);
        assert_eq!(detergent.category, "household");
        assert_eq!(c.members.len(), 2);
        assert!(c.member("piotr").is_some_and(|m| m.may_approve));
        assert_eq!(c.rules.auto_approve_up_to, 8.0);
        assert_eq!(c.rules.monthly_budget, Some(150.0));
        assert_eq!(
            c.rules.quiet_hours,
            Some(QuietHours {
                start_minute: 22 * 60,
                end_minute: 7 * 60
            })
        );
        assert_eq!(
            c.rules.max_orders_per_item,
            Some(OrderCap {
                count: 2,
                period_days: 7
            })
        );
        assert_eq!(c.policy_for("dairy"), CategoryPolicy::Allow);
        assert_eq!(c.policy_for("meat"), CategoryPolicy::Ask);
        assert_eq!(c.policy_for("toys"), CategoryPolicy::Ask);
        assert_eq!(c.approvals.request_ttl_secs, 24 * 3600);
        assert_eq!(c.approvals.cancel_window_secs, 2 * 3600);
        assert_eq!(c.warnings(), Vec::<String>::new());
    }

    #[test]
    fn the_cli_test_file_reports_each_documented_problem() {
        check(
            INVALID,
            &[
                "items[0].colour: unknown key",
                "items[0].device: unknown device \"freezer\"",
                "items[1].id: duplicate id \"milk\" (also items[0].id)",
                "items[1].currency: \"usd\" is not an ISO 4217 code",
                "rules.quiet-hours.start: \"10pm\" is not a time",
                "rules.approvals-required: 2 approvals required but only 1",
            ],
        );
    }

    #[test]
    fn adapter_devices_take_processing_tables_with_safe_defaults() {
        let c = ok(&MINIMAL
            .replace(
                r#"format = "json""#,
                "format = \"tasmota\"\n[devices.scale]\ntare-kg = 0.35\n",
            )
            .replace(r#"slot = "milk""#, r#"slot = "weight""#)
            .replace(
                "[[items]]",
                "[[devices]]\nid = \"washer\"\ntopic = \"shelly1\"\nformat = \"shelly\"\n[devices.washer]\ndose = 75\n\n[[items]]",
            ));
        let scale = c.devices[0].scale.as_ref().expect("scale");
        assert_eq!(scale.tare_kg, 0.35);
        assert_eq!(scale.median_of, 3);
        let washer = &c.devices[1];
        let params = washer.washer.as_ref().expect("washer");
        assert_eq!(
            (
                params.dose,
                params.start_watts,
                params.stop_watts,
                params.stop_secs
            ),
            (75.0, 10.0, 5.0, 600)
        );
        assert_eq!(
            washer.topics(),
            vec!["shelly1/status/switch:0", "shelly1/events/rpc"]
        );
        assert!(washer.listens_on("shelly1/events/rpc"));
        assert!(washer.listens_on("shelly1/status/switch:0"));
        assert!(!washer.listens_on("shelly1/status/switch:1"));
        assert!(!washer.listens_on("shelly1/status/sys"));
    }

    #[test]
    fn adapter_device_problems_are_named_by_key_path() {
        check(
            &MINIMAL.replace(
                r#"format = "json""#,
                "format = \"zigbee2mqtt\"\n[devices.washer]\nstop-watts = 20\nbogus = 1\n",
            ),
            &[
                "devices[0].washer.bogus: unknown key",
                "devices[0].washer.dose: required key is missing",
                "devices[0].washer.stop-watts: 20 must be below start-watts 10 (hysteresis)",
                "items[0].slot: device \"fridge\" (zigbee2mqtt) can never report slot \"milk\"; it reports \"cycle\"",
            ],
        );
        check(
            &MINIMAL.replace(
                r#"format = "json""#,
                "format = \"json-path\"\nunit = \"W\"\n[devices.scale]\nmedian-of = 99\n",
            ),
            &[
                "devices[0].field: required key is missing",
                "devices[0].unit: \"W\" is a power unit but the device is configured as a scale",
                "devices[0].scale.median-of: must be between 1 and 15, got 99",
            ],
        );
        check(
            &MINIMAL.replace(r#"format = "json""#, "format = \"esphome\""),
            &[
                "devices[0]: a \"esphome\" device needs [devices.scale] (weight) or [devices.washer] (power)",
            ],
        );
        check(
            &MINIMAL.replace(r#"format = "json""#, "format = \"json\"\nchannel = 1"),
            &["devices[0].channel: only for adapter formats"],
        );
        check(
            &MINIMAL.replace(r#"format = "json""#, "format = \"zigbee\""),
            &[
                "devices[0].format: unknown format \"zigbee\"; expected one of \"json\", \"cbor\", \"zigbee2mqtt\"",
            ],
        );
    }

    #[test]
    fn defaults_are_applied() {
        let c = ok(MINIMAL);
        assert_eq!(c.hub.state_dir, Path::new(DEFAULT_STATE_DIR));
        assert_eq!(c.hub.key_file, Path::new("/var/lib/larder/hub.key"));
        assert_eq!(c.hub.timezone, None);
        assert_eq!((c.mqtt.port, c.mqtt.tls), (1883, false));
        assert_eq!(c.mqtt.client_id, "larder-home");
        assert_eq!(
            (c.mqtt.username.as_ref(), c.mqtt.password_file.as_ref()),
            (None, None)
        );
        assert_eq!(c.mqtt.keep_alive_secs, 30);
        assert_eq!(c.mqtt.max_payload_bytes, 65536);
        assert_eq!(c.upstream.topic, "larder/home/upstream/intents");
        assert_eq!(c.upstream.ack_topic, "larder/home/upstream/acks");
        assert!((c.upstream.price_tolerance - 0.10).abs() < 1e-12);
        let milk = &c.items[0];
        assert_eq!(
            milk.currency, "EUR",
            "item currency defaults to rules.currency"
        );
        let expected = ItemModel {
            package_size: 1.0,
            lead_time_days: 1.0,
            review_days: 3.0,
            shelf_life_days: None,
            service_level: 0.95,
            declared_per_day: None,
            measure: Measure::Level,
            noise: 0.02,
        };
        assert_eq!(milk.model, expected);
        assert!(c.members[0].may_approve);
        let rules = Rules {
            auto_approve_up_to: 0.0,
            monthly_budget: None,
            categories: BTreeMap::new(),
            default_policy: CategoryPolicy::Ask,
            quiet_hours: None,
            max_orders_per_item: None,
            approvals_required: 1,
        };
        assert_eq!(c.rules, rules);
        assert_eq!(c.approvals.request_ttl_secs, 86400);
    }

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
    fn unknown_keys_are_all_named_by_path() {
        let text = format!(
            "colour = 1\n{}",
            MINIMAL.replace("[mqtt]", "[mqtt]\nport = 1883").replace(
                r#"slot = "milk""#,
                r#"slot = "milk"
declared-usage = { amount = 1, per = "day", every = 2 }"#
            ) + r#"
[[items]]
id = "eggs"
name = "Eggs"
unit = "pcs"
package-size = 10
product = "sku-2"
price = 3
category = "dairy"
device = "fridge"
slot = "eggs"
colour = "brown"

[bogus]
x = 1
"#
        );
        let got = problems(&text);
        for want in [
            "colour: unknown key",
            "mqtt.port: unknown key",
            "items[0].declared-usage.every: unknown key",
            "items[1].colour: unknown key",
            "bogus: unknown key",
        ] {
            assert!(
                got.iter().any(|p| p == want),
                "missing {want:?} in {got:#?}"
            );
        }
        assert_eq!(got.len(), 5, "{got:#?}");
    }

    #[test]
    fn unknown_keys_and_semantic_problems_are_reported_together() {
        check(
            &MINIMAL
                .replace("[hub]", "[hub]\nname = \"x\"")
                .replace(r#"device = "fridge""#, r#"device = "freezer""#),
            &[
                "hub.name: unknown key",
                "items[0].device: unknown device \"freezer\"",
            ],
        );
    }

    #[test]
    fn quoted_unknown_keys_are_written_as_toml_would() {
        check(
            &MINIMAL.replace("[hub]", "[hub]\n\"a.b\" = 1"),
            &["hub.\"a.b\": unknown key"],
        );
    }

    #[test]
    fn type_errors_are_parse_errors_naming_the_line() {
        let message = parse_message(&MINIMAL.replace("[mqtt]", "[mqtt]\nkeep-alive-secs = \"30\""));
        assert!(message.contains("keep-alive-secs"), "{message}");
        assert!(message.contains("line"), "{message}");
        let message = parse_message(&MINIMAL.replace("price = 1.10", "price = \"cheap\""));
        assert!(message.contains("price"), "{message}");
    }

    #[test]
    fn syntax_errors_are_parse_errors() {
        let message = parse_message("[hub\nid = 1");
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn missing_required_keys_are_named() {
        check(
            "",
            &[
                "hub.id: required key is missing",
                "mqtt.url: required key is missing",
                "items: at least one [[items]] entry is required",
            ],
        );
        check(
            "[hub]\nid = \"h\"\n[mqtt]\nurl = \"mqtt://x\"\n[[items]]\n",
            &[
                "items[0].id: required key is missing",
                "items[0].name: required key is missing",
                "items[0].package-size: required key is missing",
                "items[0].price: required key is missing",
                "items[0].device: required key is missing",
                "rules.currency: required key is missing",
            ],
        );
    }

    #[test]
    fn duplicates_are_named_with_both_indices() {
        let text = MINIMAL.to_owned()
            + r#"
[[devices]]
id = "fridge"
topic = "larder/home/devices/fridge/events"
format = "cbor"

[[items]]
id = "milk"
name = "Milk again"
unit = "l"
package-size = 1.0
product = "sku-1"
price = 1.10
category = "dairy"
device = "fridge"
slot = "milk"

[[members]]
name = "anna"
public-key = "3517338e374dbf7c24667cb632b465d0b22fe3dfc6eeb9d7d3726a9e9d1dd3c6"
"#;
        check(
            &text,
            &[
                "devices[1].id: duplicate id \"fridge\" (also devices[0].id)",
                "devices[1].topic: duplicate topic",
                "items[1].id: duplicate id \"milk\" (also items[0].id)",
                "items[1].slot: slot \"milk\" of device \"fridge\" is already measured by items[0]",
                "members[1].name: duplicate name \"anna\" (also members[0].name)",
                "members[1].public-key: same key as members[0]",
            ],
        );
    }

    #[test]
    fn ids_must_be_plain() {
        check(
            &MINIMAL.replace(r#"id = "home""#, r#"id = "my home""#),
            &["hub.id: \"my home\" is not a valid id"],
        );
        check(
            &MINIMAL.replace(r#"id = "milk""#, r#"id = "milk/1""#),
            &["items[0].id: \"milk/1\" is not a valid id"],
        );
        check(
            &MINIMAL.replace(r#"id = "home""#, &format!("id = {:?}", "h".repeat(65))),
            &["hub.id:"],
        );
    }

    #[test]
    fn currencies_must_be_iso_codes_and_agree() {
        check(
            &MINIMAL.replace(r#"currency = "EUR""#, r#"currency = "euro""#),
            &["rules.currency: \"euro\" is not an ISO 4217 code"],
        );
        check(
            &MINIMAL.replace(r#"slot = "milk""#, "slot = \"milk\"\ncurrency = \"USD\""),
            &["items[0].currency: \"USD\" differs from rules.currency \"EUR\""],
        );
        check(
            &MINIMAL.replace(r#"slot = "milk""#, "slot = \"milk\"\ncurrency = \"eu\""),
            &["items[0].currency: \"eu\" is not an ISO 4217 code"],
        );
    }

    #[test]
    fn quiet_hours_must_be_hh_mm() {
        for bad in ["7:00", "24:00", "22:60", "2200", "22:00:00", "ten"] {
            let text = format!("{MINIMAL}quiet-hours = {{ start = {bad:?}, end = \"07:00\" }}\n");
            check(
                &text,
                &[&format!("rules.quiet-hours.start: {bad:?} is not a time")],
            );
        }
        check(
            &format!("{MINIMAL}quiet-hours = {{ start = \"07:00\" }}\n"),
            &["rules.quiet-hours.end: required key is missing"],
        );
        check(
            &format!("{MINIMAL}quiet-hours = {{ start = \"07:00\", end = \"07:00\" }}\n"),
            &["rules.quiet-hours: start and end are equal"],
        );
        let c = ok(&format!(
            "{MINIMAL}quiet-hours = {{ start = \"00:00\", end = \"23:59\" }}\n"
        ));
        assert_eq!(
            c.rules.quiet_hours,
            Some(QuietHours {
                start_minute: 0,
                end_minute: 1439
            })
        );
    }

    #[test]
    fn asked_orders_need_enough_approvers() {
        check(
            &format!("{MINIMAL}approvals-required = 2\n"),
            &["rules.approvals-required: 2 approvals required but only 1 member(s) may approve"],
        );
        check(
            &MINIMAL.replace("[rules]", "may-approve = false\n[rules]"),
            &["members: no member may approve, but orders of milk can need approval"],
        );
        // An allow-listed category still asks above auto-approve-up-to.
        check(
            &format!("{MINIMAL}auto-approve-up-to = 5\n[rules.categories]\ndairy = \"allow\"\n")
                .replace("[rules]", "may-approve = false\n[rules]"),
            &["members: no member may approve"],
        );
        // Nothing can be asked when every category is denied.
        ok(
            &format!("{MINIMAL}approvals-required = 3\ndefault-category = \"deny\"\n")
                .replace("[rules]", "may-approve = false\n[rules]"),
        );
        let two = MINIMAL.to_owned()
            + &format!(
                "approvals-required = 2\n[[members]]\nname = \"piotr\"\npublic-key = \"{KEY_B}\"\n"
            );
        assert_eq!(ok(&two).rules.approvals_required, 2);
        // Home Assistant's trusted approver counts as one.
        let trusted = "\n[homeassistant]\ntrusted-approvals = true\n";
        ok(&format!("{MINIMAL}approvals-required = 2\n{trusted}"));
        ok(&(MINIMAL.replace("[rules]", "may-approve = false\n[rules]") + trusted));
        check(
            &format!("{MINIMAL}approvals-required = 3\n{trusted}"),
            &[
                "rules.approvals-required: 3 approvals required but only 2 member(s) may approve (counting Home Assistant's trusted approver)",
            ],
        );
        check(
            &format!("{MINIMAL}approvals-required = 0\n"),
            &["rules.approvals-required: must be between 1"],
        );
    }

    #[test]
    fn retention_defaults_to_90_days_and_is_checked_by_key_path() {
        assert_eq!(ok(MINIMAL).retention.raw_days, DEFAULT_RAW_DAYS);
        let text = format!("{MINIMAL}\n[retention]\nraw-days = 30\n");
        assert_eq!(ok(&text).retention.raw_days, 30);
        check(
            &format!("{MINIMAL}\n[retention]\nraw-days = 0\n"),
            &["retention.raw-days: must be between 1 and 36500, got 0"],
        );
        check(
            &format!("{MINIMAL}\n[retention]\nraw-day = 30\n"),
            &["retention.raw-day: unknown key"],
        );
    }

    #[test]
    fn many_problems_are_reported_at_once() {
        let text = MINIMAL
            .replace(r#"url = "mqtt://127.0.0.1""#, r#"url = "http://127.0.0.1""#)
            .replace(r#"format = "json""#, r#"format = "xml""#)
            .replace("package-size = 1.0", "package-size = 0")
            .replace("price = 1.10", "price = -1")
            .replace(
                "3517338e374dbf7c24667cb632b465d0b22fe3dfc6eeb9d7d3726a9e9d1dd3c6",
                "abc",
            )
            + "default-category = \"maybe\"\n";
        let got = problems(&text);
        let expected = [
            "mqtt.url: \"http://127.0.0.1\" must start with mqtt:// or mqtts://",
            "devices[0].format: unknown format \"xml\"",
            "items[0].package-size: must be greater than 0, got 0",
            "items[0].price: must be 0 or more, got -1",
            "members[0].public-key: public key must be 64 hex digits",
            "rules.default-category: unknown policy \"maybe\"",
        ];
        for want in expected {
            assert!(
                got.iter().any(|p| p.starts_with(want)),
                "missing {want:?} in {got:#?}"
            );
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
    }

    #[test]
    fn numbers_must_be_finite_and_in_range() {
        let cases = [
            (
                "price = 1.10",
                "price = nan",
                "items[0].price: must be a finite number",
            ),
            (
                "price = 1.10",
                "price = 1.10\nnoise = 1.0",
                "items[0].noise: 1 must be smaller than package-size",
            ),
            (
                "price = 1.10",
                "price = 1.10\nservice-level = 1.0",
                "items[0].service-level: must be between 0.5 and 0.999",
            ),
            (
                "price = 1.10",
                "price = 1.10\nreview-days = 0",
                "items[0].review-days: must be greater than 0",
            ),
            (
                "price = 1.10",
                "price = 1.10\nlead-time-days = -1",
                "items[0].lead-time-days: must be 0 or more",
            ),
            (
                "price = 1.10",
                "price = 1.10\nshelf-life-days = inf",
                "items[0].shelf-life-days: must be a finite number",
            ),
            (
                "price = 1.10",
                "price = 1.10\nmeasure = \"weight\"",
                "items[0].measure: unknown measure \"weight\"",
            ),
            (
                "price = 1.10",
                "price = 1.10\ndeclared-usage = { amount = 1, per = \"year\" }",
                "items[0].declared-usage.per: unknown period \"year\"",
            ),
            (
                "[mqtt]",
                "[mqtt]\nkeep-alive-secs = 4",
                "mqtt.keep-alive-secs: must be between 5 and 600, got 4",
            ),
            (
                "[mqtt]",
                "[mqtt]\nmax-payload-bytes = 2000000",
                "mqtt.max-payload-bytes: must be between 1024 and 1048576",
            ),
            (
                "[rules]",
                "[upstream]\nprice-tolerance-percent = 101\n[rules]",
                "upstream.price-tolerance-percent: must be between 0 and 100",
            ),
            (
                "[rules]",
                "[rules]\nmonthly-budget = -inf",
                "rules.monthly-budget: must be a finite number",
            ),
            (
                "[rules]",
                "[rules]\napproval-expires-after-hours = 0",
                "rules.approval-expires-after-hours: must be greater than 0",
            ),
            (
                "[rules]",
                "[rules]\nmax-orders-per-item = { count = 0, days = 7 }",
                "rules.max-orders-per-item.count: must be between 1",
            ),
        ];
        for (from, to, want) in cases {
            check(&MINIMAL.replace(from, to), &[want]);
        }
    }

    #[test]
    fn declared_usage_is_converted_to_units_per_day() {
        for (amount, per, per_day) in [(3.0, "day", 3.0), (7.0, "week", 1.0), (15.0, "month", 0.5)]
        {
            let c = ok(&MINIMAL.replace(
                r#"slot = "milk""#,
                &format!(
                    "slot = \"milk\"\ndeclared-usage = {{ amount = {amount}, per = \"{per}\" }}"
                ),
            ));
            assert_eq!(c.items[0].model.declared_per_day, Some(per_day), "{per}");
        }
    }

    #[test]
    fn broker_urls() {
        let good = [
            ("mqtt://127.0.0.1", ("127.0.0.1", 1883, false)),
            (
                "mqtts://broker.example.net",
                ("broker.example.net", 8883, true),
            ),
            ("mqtt://localhost:1884/", ("localhost", 1884, false)),
            ("mqtts://[::1]:8884", ("::1", 8884, true)),
            ("mqtt://[fe80::1]", ("fe80::1", 1883, false)),
        ];
        for (url, (host, port, tls)) in good {
            assert_eq!(parse_url(url), Ok((host.to_owned(), port, tls)), "{url}");
        }
        let bad = [
            "tcp://host",
            "mqtt://",
            "mqtt://host:0",
            "mqtt://host:99999",
            "mqtt://host:x",
            "mqtt://host/path",
            "mqtt://user:pw@host",
            "mqtt://[::1",
            "mqtt://[zz]:1883",
            "mqtt://bad host",
        ];
        for url in bad {
            assert!(parse_url(url).is_err(), "{url} should be refused");
        }
        let c = ok(&MINIMAL.replace("mqtt://127.0.0.1", "mqtts://[::1]"));
        assert_eq!(c.mqtt.authority(), "[::1]:8883");
        check(
            &MINIMAL.replace("mqtt://127.0.0.1", "mqtt://host/x"),
            &["mqtt.url: \"mqtt://host/x\" has a path"],
        );
    }

    #[test]
    fn topics_are_exact_and_do_not_collide() {
        check(
            &MINIMAL.replace("fridge/events", "+/events"),
            &["devices[0].topic: \"larder/home/devices/+/events\" contains an MQTT wildcard"],
        );
        check(
            &MINIMAL.replace(
                "larder/home/devices/fridge/events",
                "larder/home/approvals/x",
            ),
            &["devices[0].topic: \"larder/home/approvals/x\" is inside larder's approval topics"],
        );
        check(
            &MINIMAL.replace(
                "larder/home/devices/fridge/events",
                "larder/home/upstream/acks",
            ),
            &["devices[0].topic: \"larder/home/upstream/acks\" is an upstream topic"],
        );
        check(
            &MINIMAL.replace("larder/home/devices/fridge/events", ""),
            &["devices[0].topic: must not be empty"],
        );
        check(
            &MINIMAL.replace(
                "[rules]",
                "[upstream]\nack-topic = \"larder/home/upstream/intents\"\n[rules]",
            ),
            &["upstream.ack-topic: must differ from upstream.topic"],
        );
    }

    #[test]
    fn categories_policies_are_checked() {
        check(
            &format!("{MINIMAL}[rules.categories]\ndairy = \"yes\"\n"),
            &["rules.categories.dairy: unknown policy \"yes\""],
        );
        let c = ok(&format!(
            "{MINIMAL}default-category = \"allow\"\n[rules.categories]\ndairy = \"deny\"\n"
        ));
        assert_eq!(c.rules.default_policy, CategoryPolicy::Allow);
        assert_eq!(c.policy_for("dairy"), CategoryPolicy::Deny);
    }

    #[test]
    fn an_items_own_order_policy_overrides_its_category() {
        let text = MINIMAL.replace(
            "category = \"dairy\"\n",
            "category = \"dairy\"\norder = \"never\"\n",
        );
        let c = ok(&format!("{text}[rules.categories]\ndairy = \"auto\"\n"));
        assert_eq!(c.policy_for("dairy"), CategoryPolicy::Allow);
        assert_eq!(c.items[0].order, Some(CategoryPolicy::Deny));
        assert_eq!(c.policy_for_item(&c.items[0]), CategoryPolicy::Deny);
        check(
            &MINIMAL.replace(
                "category = \"dairy\"\n",
                "category = \"dairy\"\norder = \"sometimes\"\n",
            ),
            &["items[0].order: unknown policy \"sometimes\""],
        );
    }

    #[test]
    fn min_and_desired_levels_are_checked() {
        let with = |extra: &str| {
            MINIMAL.replace(
                "category = \"dairy\"\n",
                &format!("category = \"dairy\"\n{extra}"),
            )
        };
        let c = ok(&with("min-level = 1.5\ndesired-level = 4\n"));
        assert_eq!(c.items[0].min_level, Some(1.5));
        assert_eq!(c.items[0].desired_level, Some(4.0));
        check(
            &with("min-level = 3\ndesired-level = 2\n"),
            &["items[0].desired-level: 2 is below min-level 3"],
        );
        check(&with("min-level = -1\n"), &["items[0].min-level"]);
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

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "larder-config-{name}-{}-{:x}",
                std::process::id(),
                u64::from_le_bytes(crate::crypto::keys::random_bytes::<8>())
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn relative_paths_resolve_against_the_config_directory() {
        let dir = TempDir::new("relative");
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

    #[test]
    fn broker_credential_files_must_exist_and_fit() {
        check(
            &MINIMAL.replace(
                "[[devices]]",
                "password-file = \"/nonexistent/larder/pw\"\n[[devices]]",
            ),
            &[
                "mqtt.password-file: requires mqtt.username",
                "mqtt.password-file: /nonexistent/larder/pw:",
            ],
        );
        check(
            &MINIMAL.replace(
                "[[devices]]",
                "ca-file = \"/nonexistent/larder/ca.pem\"\n[[devices]]",
            ),
            &[
                "mqtt.ca-file: only used with TLS",
                "mqtt.ca-file: /nonexistent/larder/ca.pem:",
            ],
        );
        check(
            &MINIMAL.replace("[[devices]]", "client-id = \"larder home\"\n[[devices]]"),
            &["mqtt.client-id: \"larder home\" is not valid"],
        );
    }

    #[test]
    fn a_client_certificate_needs_its_key_a_ca_and_tls() {
        check(
            &MINIMAL.replace(
                "[[devices]]",
                "client-cert = \"/nonexistent/larder/client.pem\"\n[[devices]]",
            ),
            &[
                "mqtt.client-cert: requires mqtt.client-key as well",
                "mqtt.client-cert: requires mqtt.ca-file",
                "mqtt.client-cert: only used with TLS",
                "mqtt.client-cert: /nonexistent/larder/client.pem:",
            ],
        );
        check(
            &MINIMAL
                .replace("mqtt://127.0.0.1", "mqtts://127.0.0.1")
                .replace(
                    "[[devices]]",
                    "client-key = \"/nonexistent/larder/client.key\"\n[[devices]]",
                ),
            &[
                "mqtt.client-key: requires mqtt.client-cert as well",
                "mqtt.client-key: /nonexistent/larder/client.key:",
            ],
        );
        let dir = TempDir::new("client-cert");
        for name in ["ca.pem", "client.pem", "client.key"] {
            std::fs::write(dir.0.join(name), "-----BEGIN X-----\n").unwrap();
        }
        let text = MINIMAL
            .replace("mqtt://127.0.0.1", "mqtts://127.0.0.1")
            .replace(
                "[[devices]]",
                "ca-file = \"ca.pem\"\nclient-cert = \"client.pem\"\nclient-key = \"client.key\"\n[[devices]]",
            );
        let c = match Config::parse(&text, &dir.0.join("larder.toml")) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.mqtt.client_cert, Some(dir.0.join("client.pem")));
        assert_eq!(c.mqtt.client_key, Some(dir.0.join("client.key")));
    }

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
        let dir = TempDir::new("mode");
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

    #[test]
    fn load_reads_the_file_and_reports_io_errors_by_path() {
        let dir = TempDir::new("load");
        let file = dir.0.join("larder.toml");
        std::fs::write(&file, EXAMPLE).unwrap();
        assert_eq!(Config::load(&file).unwrap().items.len(), 4);
        let missing = dir.0.join("missing.toml");
        let e = Config::load(&missing).unwrap_err();
        assert!(
            matches!(e, ConfigError::Io { ref path, .. } if path == &missing),
            "{e}"
        );
    }

    #[test]
    fn invalid_error_display_lists_every_problem_on_its_own_line() {
        let e = Config::parse(INVALID, path()).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("invalid config /etc/larder/larder.toml:\n  "),
            "{text}"
        );
        assert!(text.contains("\n  items[0].colour: unknown key"), "{text}");
    }
}
