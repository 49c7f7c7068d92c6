//! `[[devices]]`: sensor devices, the payload format each speaks, and the
//! topics and slots that follow from it.

use super::FieldSpec;
use crate::core::signals::{ScaleParams, WasherParams};

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
