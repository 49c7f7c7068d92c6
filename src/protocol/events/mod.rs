//! Native device events on the wire (JSON and CBOR, same fields), decoded
//! and validated into `DeviceEvent`. Everything here takes outside bytes:
//! size-checked before parsing, no panics, every failure a `WireError`.
//!
//! `decode` reads and validates events, `encode` writes them, and
//! `field_map` reads the flat JSON/CBOR map both events and shop acks are.

mod decode;
mod encode;
pub(super) mod field_map;

#[cfg(test)]
mod tests;

pub use decode::decode_event;
pub use encode::encode_event;

/// Largest native event accepted, in bytes (checked before parsing).
pub const MAX_EVENT_BYTES: usize = 4096;

/// A validated device event.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvent {
    /// Device id (must match the device configured for the topic).
    pub device: String,
    /// Per-boot epoch chosen by the device.
    pub epoch: u64,
    /// Sequence number within the epoch.
    pub seq: u64,
    /// Device timestamp (Unix seconds), if it has a clock.
    pub ts: Option<i64>,
    /// Slot on the device (which item).
    pub slot: String,
    /// What happened.
    pub kind: EventKind,
    /// Amount in the item's unit (level, delta, or washer dose).
    pub amount: f64,
}

/// An event's identity: its device, the device's boot epoch and its
/// sequence number within the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId {
    /// Device id.
    pub device: String,
    /// Per-boot epoch chosen by the device.
    pub epoch: u64,
    /// Sequence number within the epoch.
    pub seq: u64,
}

/// Native event kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Absolute level reading (`"level"`, field `amount`).
    Level,
    /// Amount used (`"consumed"`, field `amount`).
    Consumed,
    /// Amount put in (`"added"`, field `amount`).
    Added,
    /// Amount taken out unused (`"removed"`, field `amount`).
    Removed,
    /// Washer cycle finished (`"washer_cycle"`, field `dose`).
    WasherCycle,
}

impl EventKind {
    /// The wire name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Level => "level",
            EventKind::Consumed => "consumed",
            EventKind::Added => "added",
            EventKind::Removed => "removed",
            EventKind::WasherCycle => "washer_cycle",
        }
    }
}

/// Why bytes were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// Over the size limit.
    #[error("payload of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not decodable in the expected format.
    #[error("cannot decode {format}: {detail}")]
    Decode {
        /// `json` or `cbor`.
        format: &'static str,
        /// Decoder message.
        detail: String,
    },
    /// A kind of event devices send that no larder feature needs (a fridge
    /// door, a temperature): not an error; the engine counts and drops it
    /// without storing anything (`events_not_needed`), but records its
    /// place in the device's sequence, so that it is not taken for a lost
    /// event.
    #[error("event kind {kind} is not needed by any larder feature; dropped unstored")]
    NotNeeded {
        /// The kind, from [`NOT_NEEDED_KINDS`].
        kind: &'static str,
        /// Its place in the device's sequence, when it carries a valid
        /// `device`, `epoch` and `seq` (nothing else of it is read).
        id: Option<EventId>,
    },
    /// Decoded but a field is missing or out of range.
    #[error("invalid field `{field}`: {detail}")]
    Invalid {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// Event kinds devices send that no larder feature needs (door contacts,
/// climate, battery, liveness). Data minimisation: they are never stored.
pub const NOT_NEEDED_KINDS: &[&str] = &[
    "door_open",
    "door_closed",
    "door",
    "temperature",
    "humidity",
    "battery",
    "heartbeat",
];
