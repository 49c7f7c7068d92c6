//! `[homeassistant]`: MQTT discovery for Home Assistant, and its optional
//! trusted approve/deny buttons.

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
