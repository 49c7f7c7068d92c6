//! The engine: what the single writer does with each inbound message and on
//! each tick. It routes by topic, decodes, calls the pure core, and writes
//! the results (state, intents, outbox rows, dead letters) in one
//! transaction per batch. It does no network IO: the daemon acks after the
//! commit and the relay publishes the outbox.
//!
//! One file per kind of inbound message, plus deciding and the outbox:
//! - `route`: the subscriptions, a batch's transaction, and the dispatch of
//!   each message by topic to its handler (refusals become dead letters);
//! - `handled`: what a handler says about one message (`Handled`, `Refusal`);
//! - `devices`: native events and adapter payloads, sequence tracking,
//!   `Engine::tick_devices`;
//! - `control`: signed household control (pause, resume, guests, cancel,
//!   forget) and presence;
//! - `forget`: erasing an item or the household, in the writer's transaction;
//! - `approvals`: answers to a pending request, from a member's signed reply
//!   or a trusted Home Assistant press, and the quorum;
//! - `shop_acks`: shop acknowledgements, the pure `price_guard` and the hold;
//! - `decide`: expiry, deciding each item, the household's rules;
//! - `outbox`: signed intents and cancellations, approval requests and their
//!   clears, PUBACK marks;
//! - `record`: the ledger entry next to every intent transition;
//! - `item_state`: writes to an item's learned state;
//! - `report`: `forecasts`, the read-only view for reports.

mod approvals;
mod control;
mod decide;
mod devices;
pub mod forget;
mod handled;
mod item_state;
mod outbox;
mod record;
mod report;
mod route;
mod shop_acks;
#[cfg(test)]
mod tests;

pub use decide::COOLDOWN_SECS;
pub use handled::Refusal;
pub use report::forecasts;

use crate::config::Config;
use crate::crypto::keys::SigningKey;
use crate::homeassistant::HaTopics;
use crate::protocol::topics::Topics;

/// One inbound message as the engine sees it.
#[derive(Debug, Clone)]
pub struct Inbound<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Payload bytes: the whole payload, or only its first bytes when it
    /// was over `mqtt.max-payload-bytes` (the daemon lets the rest go as it
    /// arrives; see `size`).
    pub payload: &'a [u8],
    /// The payload's size as received (more than `payload.len()` when only
    /// its first bytes were kept).
    pub size: usize,
    /// The retain flag.
    pub retain: bool,
    /// MQTT's DUP flag: the broker sends this message again (it was not
    /// acknowledged before a reconnect).
    pub dup: bool,
}

/// A message a batch refused (counted and dead-lettered in it).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The topic it came on.
    pub topic: String,
    /// Its size as received, in bytes.
    pub size: usize,
    /// The counter it went under, and why.
    pub refusal: Refusal,
}

/// What a batch did, for logs and the caller's follow-up.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    /// Observations stored.
    pub stored: u64,
    /// Duplicates ignored.
    pub duplicates: u64,
    /// Messages dead-lettered.
    pub refused: u64,
    /// What was refused, for the daemon's log (`daemon::refusal_log`).
    pub refusals: Vec<Refused>,
    /// Items whose state changed (decide for these).
    pub touched: Vec<String>,
    /// A forget was committed: run `Store::scrub` before anything else.
    pub scrub: bool,
}

/// The engine: configuration, hub key and topics. Stateless between calls;
/// all state lives in the database.
pub struct Engine {
    config: Config,
    hub_key: SigningKey,
    topics: Topics,
    tz: jiff::tz::TimeZone,
    /// Home Assistant button topics (`[homeassistant]`).
    ha_topics: HaTopics,
}

impl Engine {
    /// An engine for a configuration and hub key.
    pub fn new(config: Config, hub_key: SigningKey) -> Engine {
        let tz = config.hub.time_zone();
        let topics = Topics::new(&config);
        let ha_topics = HaTopics::new(&config);
        Engine {
            config,
            hub_key,
            topics,
            tz,
            ha_topics,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }
}
