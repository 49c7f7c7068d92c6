//! Home Assistant MQTT discovery: what larder announces and publishes so it
//! shows up in Home Assistant without any YAML.
//!
//! One device-based discovery document (`<prefix>/device/larder_<hub>/config`,
//! retained) carries every component: per item a level sensor, a days-left
//! sensor and the next planned order; a pending-approvals sensor with the
//! list as attributes; an event entity for order events; and, only with
//! `homeassistant.trusted-approvals`, an approve and a deny button per
//! pending request. Availability is larder's own retained status topic
//! (`larder/<hub>/status`, set by the last will).
//!
//! Everything here is pure (configuration + a [`Snapshot`] + time in,
//! messages out) except [`read_snapshot`], which only reads the store. The
//! Everything here is pure (configuration + a [`Snapshot`] + time in,
//! messages out) except [`read_snapshot`], which only reads the store. The
//! network side is `daemon::ha_link`. Facts about Home Assistant's schema
//! are from `/work/shared/notes/ecosystem.md` §1 (HA 2026.2.3), and the
//! unit tests check every payload against a port of those rules.
//!
//! - `topics`: [`HaTopics`], the integration's topics, and button presses;
//! - `views`: [`Snapshot`] and its item, request and order-event views,
//!   built purely from rows;
//! - `snapshot`: [`read_snapshot`], the module's only store access;
//! - `discovery`: the components, the discovery document and its bytes,
//!   removed-component stubs;
//! - `state`: the retained state and order-event payloads;
//! - `publisher`: [`DiscoveryPublisher`], what to send when;
//! - [`schema`]: a port of Home Assistant's discovery rules, for tests.

mod discovery;
mod publisher;
pub mod schema;
mod snapshot;
mod state;
mod topics;
mod views;

pub use discovery::{
    components, discovery_bytes, discovery_document, discovery_messages, level_class,
};
pub use publisher::{DiscoveryPublisher, MAX_READ_BACK_COMPONENTS, MAX_REMOVAL_STUBS, Occasion};
pub use snapshot::{MAX_LEDGER_SCAN, read_snapshot};
pub use state::{event_message, state_messages};
pub use topics::{HaTopics, PRESS_PAYLOAD, Press, node_id};
pub use views::{
    ItemView, MAX_RECENT_EVENTS, NextOrder, ORDER_EVENT_TYPES, OrderEvent, PendingView, Snapshot,
    item_view, order_event, pending_view,
};

/// An MQTT message to publish (QoS 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Retain flag.
    pub retain: bool,
}

#[cfg(test)]
mod tests;
