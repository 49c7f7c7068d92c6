//! The MQTT topics larder uses for the household and upstream, derived
//! from the configuration (Home Assistant's are `homeassistant::HaTopics`).

use crate::config::Config;

/// The MQTT topics larder uses, derived from the configuration.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Retained `online`/`offline`.
    pub status: String,
    /// Signed household control messages (pause, resume, guests, cancel,
    /// forget).
    pub control: String,
    /// Prefix of approval requests: `<prefix><intent>`.
    pub approvals_prefix: String,
    /// Subscription filter for member replies.
    pub replies_filter: String,
    /// Signed intents go here.
    pub upstream: String,
    /// Shop acknowledgements arrive here.
    pub upstream_acks: String,
}

impl Topics {
    /// Topics for a configuration.
    pub fn new(config: &Config) -> Topics {
        let hub = &config.hub.id;
        Topics {
            status: format!("larder/{hub}/status"),
            control: format!("larder/{hub}/control"),
            approvals_prefix: format!("larder/{hub}/approvals/"),
            replies_filter: format!("larder/{hub}/approvals/+/reply"),
            upstream: config.upstream.topic.clone(),
            upstream_acks: config.upstream.ack_topic.clone(),
        }
    }

    /// Where the approval request for an intent is published (retained).
    pub fn approval_request(&self, intent: &str) -> String {
        format!("{}{intent}", self.approvals_prefix)
    }

    /// Where members reply for an intent.
    pub fn approval_reply(&self, intent: &str) -> String {
        format!("{}{intent}/reply", self.approvals_prefix)
    }

    /// The intent id of a reply topic, if `topic` is one.
    pub fn reply_intent<'t>(&self, topic: &'t str) -> Option<&'t str> {
        topic
            .strip_prefix(self.approvals_prefix.as_str())?
            .strip_suffix("/reply")
            .filter(|id| !id.is_empty() && !id.contains('/'))
    }
}
