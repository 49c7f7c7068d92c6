//! The Home Assistant integration's MQTT topics ([`HaTopics`]) and the
//! approve/deny button presses that arrive on them.

use crate::config::Config;

/// The payload of a button press (Home Assistant's default `payload_press`).
pub const PRESS_PAYLOAD: &str = "PRESS";

/// Which button was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// The approve button of a request.
    Approve,
    /// The deny button of a request.
    Deny,
}

impl Press {
    /// The topic segment and component key prefix (`approve`, `deny`).
    pub fn as_str(self) -> &'static str {
        match self {
            Press::Approve => "approve",
            Press::Deny => "deny",
        }
    }
}

/// The topics of the Home Assistant integration, derived from the
/// configuration.
#[derive(Debug, Clone)]
pub struct HaTopics {
    /// The device discovery topic (retained document).
    pub discovery: String,
    /// Home Assistant's birth/will topic (`online`/`offline`).
    pub birth: String,
    /// larder's retained `online`/`offline` status (availability).
    pub availability: String,
    base: String,
}

impl HaTopics {
    /// Topics for a configuration.
    pub fn new(config: &Config) -> HaTopics {
        let hub = &config.hub.id;
        let ha = &config.homeassistant;
        HaTopics {
            discovery: format!("{}/device/{}/config", ha.discovery_prefix, node_id(config)),
            birth: ha.status_topic.clone(),
            availability: format!("larder/{hub}/status"),
            base: format!("larder/{hub}/ha"),
        }
    }

    /// An item's state (retained JSON: level, days left, next order).
    pub fn item_state(&self, item: &str) -> String {
        format!("{}/items/{item}", self.base)
    }

    /// The number of pending approval requests (retained).
    pub fn pending(&self) -> String {
        format!("{}/pending", self.base)
    }

    /// The pending requests as attributes (retained JSON object).
    pub fn pending_attributes(&self) -> String {
        format!("{}/pending/attributes", self.base)
    }

    /// Order events (not retained: Home Assistant's event entity ignores
    /// retained messages).
    pub fn events(&self) -> String {
        format!("{}/events", self.base)
    }

    /// A button's command topic.
    pub fn press(&self, press: Press, intent: &str) -> String {
        format!("{}/{}/{intent}", self.base, press.as_str())
    }

    /// Subscription filters for button presses.
    pub fn press_filters(&self) -> Vec<String> {
        [Press::Approve, Press::Deny]
            .iter()
            .map(|p| format!("{}/{}/+", self.base, p.as_str()))
            .collect()
    }

    /// The button and intent id of a press topic, if `topic` is one.
    pub fn parse_press<'t>(&self, topic: &'t str) -> Option<(Press, &'t str)> {
        let rest = topic.strip_prefix(self.base.as_str())?.strip_prefix('/')?;
        let (kind, intent) = rest.split_once('/')?;
        let press = match kind {
            "approve" => Press::Approve,
            "deny" => Press::Deny,
            _ => return None,
        };
        (!intent.is_empty() && !intent.contains('/')).then_some((press, intent))
    }
}

/// The discovery node id: `larder_<hub>` (`[a-zA-Z0-9_-]`, as the hub id).
pub fn node_id(config: &Config) -> String {
    format!("larder_{}", config.hub.id)
}
