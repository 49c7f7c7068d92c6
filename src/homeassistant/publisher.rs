//! What to publish when: [`DiscoveryPublisher`] remembers what was
//! announced and published, so discovery goes out only when components
//! change, state only when it changed, each order event once, and what is
//! no longer announced is removed.

use super::Message;
use super::discovery::{components, discovery_bytes, is_own_component, item_of_key};
use super::state::{event_message, state_messages};
use super::topics::HaTopics;
use super::views::Snapshot;
use crate::config::Config;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Most removal stubs kept in the discovery document (and most removed
/// items whose retained state is cleared at once).
pub const MAX_REMOVAL_STUBS: usize = 256;

/// Most components taken from the retained document read back at start
/// (three per item and two per pending request: far above a real
/// household; a forged document cannot make larder work through more).
pub const MAX_READ_BACK_COMPONENTS: usize = 8192;

/// Why the publisher is asked for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// (Re)connected to the broker: everything, discovery first.
    Connected,
    /// Home Assistant announced `online`: everything again, discovery first.
    HomeAssistantOnline,
    /// larder's state changed: what changed.
    Update,
}

/// The publisher's memory: what was announced and published, so it sends
/// discovery only when the components change, state only when it changed,
/// each event once, and removes what is no longer announced.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryPublisher {
    /// Component key → platform, as in the last document sent.
    announced: BTreeMap<String, String>,
    /// Removed components still carried as `{"p": …}` stubs.
    removed: BTreeMap<String, String>,
    last_document: Option<Vec<u8>>,
    /// What the last document was built from, beyond the configuration:
    /// the pending requests' buttons ([`component_inputs`]).
    last_inputs: Option<Vec<String>>,
    last_state: HashMap<String, Vec<u8>>,
    last_event_seq: i64,
}

impl DiscoveryPublisher {
    /// A publisher that knows the document retained at the broker from
    /// before (`previous`, if any): components in it that are not
    /// announced now will be removed, and its stubs are kept.
    pub fn new(previous: Option<&[u8]>) -> DiscoveryPublisher {
        let mut publisher = DiscoveryPublisher::default();
        let Some(document) = previous.and_then(|p| serde_json::from_slice::<Value>(p).ok()) else {
            return publisher;
        };
        let Some(cmps) = document.get("cmps").and_then(Value::as_object) else {
            return publisher;
        };
        let own = cmps.iter().filter_map(|(key, component)| {
            let platform = component.get("p").and_then(Value::as_str)?;
            is_own_component(key, platform).then_some((key, component, platform))
        });
        for (key, component, platform) in own.take(MAX_READ_BACK_COMPONENTS) {
            let stub = component.as_object().is_some_and(|o| o.len() == 1);
            let into = if stub {
                &mut publisher.removed
            } else {
                &mut publisher.announced
            };
            into.insert(key.clone(), platform.to_owned());
        }
        publisher
    }

    /// Components removed and still carried as stubs (key → platform).
    pub fn removed(&self) -> &BTreeMap<String, String> {
        &self.removed
    }

    /// The messages to publish now, in order: discovery (if due), then
    /// state (retained; all of it on `Connected`/`HomeAssistantOnline`,
    /// otherwise what changed), then order events not sent yet.
    pub fn messages(
        &mut self,
        config: &Config,
        snapshot: &Snapshot,
        occasion: Occasion,
    ) -> Vec<Message> {
        let topics = HaTopics::new(config);
        let everything = occasion != Occasion::Update;
        let mut out = Vec::new();
        if !config.homeassistant.enabled {
            // Disabled: remove a document announced earlier, once.
            if !self.announced.is_empty() || !self.removed.is_empty() {
                self.announced.clear();
                self.removed.clear();
                out.push(Message {
                    topic: topics.discovery,
                    payload: Vec::new(),
                    retain: true,
                });
            }
            return out;
        }
        // The document only changes with the requests' buttons: unless
        // they changed (or everything is due), skip building it (for 200
        // items that is 600 components, every second under load).
        let inputs = component_inputs(config, snapshot);
        let unchanged = self.last_document.is_some() && self.last_inputs.as_ref() == Some(&inputs);
        if everything || !unchanged {
            self.announce(config, snapshot, everything, occasion, &mut out);
            // After Home Assistant came online the stubs are dropped: the
            // next update rebuilds once to retain a document without them.
            self.last_inputs = (occasion != Occasion::HomeAssistantOnline).then_some(inputs);
        }
        for message in state_messages(config, snapshot) {
            if everything || self.last_state.get(&message.topic) != Some(&message.payload) {
                self.last_state
                    .insert(message.topic.clone(), message.payload.clone());
                out.push(message);
            }
        }
        for event in &snapshot.events {
            if event.seq > self.last_event_seq {
                self.last_event_seq = event.seq;
                out.push(event_message(config, event));
            }
        }
        out
    }

    /// The discovery document (when it differs from the last one sent, or
    /// `everything`), and the retained state of removed items cleared.
    fn announce(
        &mut self,
        config: &Config,
        snapshot: &Snapshot,
        everything: bool,
        occasion: Occasion,
        out: &mut Vec<Message>,
    ) {
        let topics = HaTopics::new(config);
        let current = components(config, snapshot);
        let mut cleared_items = std::collections::BTreeSet::new();
        for (key, platform) in &self.announced {
            if !current.contains_key(key) {
                self.removed.insert(key.clone(), platform.clone());
                if let Some(item) = item_of_key(key) {
                    if config.item(item).is_none() && cleared_items.len() < MAX_REMOVAL_STUBS {
                        cleared_items.insert(item.to_owned());
                    }
                }
            }
        }
        self.removed.retain(|key, _| !current.contains_key(key));
        if self.removed.len() > MAX_REMOVAL_STUBS {
            let keep = self.removed.split_off(
                &self
                    .removed
                    .keys()
                    .nth(self.removed.len() - MAX_REMOVAL_STUBS)
                    .cloned()
                    .unwrap_or_default(),
            );
            self.removed = keep;
        }
        let document = discovery_bytes(config, &current, &self.removed);
        if everything || self.last_document.as_ref() != Some(&document) {
            out.push(Message {
                topic: topics.discovery.clone(),
                payload: document.clone(),
                retain: true,
            });
            self.last_document = Some(document);
        }
        self.announced = current
            .iter()
            .map(|(key, c)| {
                let platform = c.get("p").and_then(Value::as_str).unwrap_or_default();
                (key.clone(), platform.to_owned())
            })
            .collect();
        if occasion == Occasion::HomeAssistantOnline {
            // Home Assistant is listening now and has seen the stubs above.
            self.removed.clear();
        }
        for item in cleared_items {
            let topic = topics.item_state(&item);
            self.last_state.remove(&topic);
            out.push(Message {
                topic,
                payload: Vec::new(),
                retain: true,
            });
        }
    }
}

/// What [`components`] takes from a snapshot: each pending request's
/// button text and topic inputs, when buttons are announced at all.
fn component_inputs(config: &Config, snapshot: &Snapshot) -> Vec<String> {
    if !config.homeassistant.trusted_approvals {
        return Vec::new();
    }
    snapshot
        .pending
        .iter()
        .map(|r| format!("{} {} {}", r.intent, r.packages, r.item_name))
        .collect()
}
