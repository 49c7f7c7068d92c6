//! Tools around the product: `larder demo`, `larder bench`, `larder replay`,
//! `larder simulate`, the fuzzing entry points, and the harness `larder
//! bench` shares with the integration tests. Nothing in the daemon depends
//! on them.

pub mod bench;
#[cfg(feature = "demo-broker")]
pub mod demo;
#[doc(hidden)]
pub mod fuzzing;
pub mod harness;
pub mod replay;
pub mod simulate;

/// Where the simulated household's sensor messages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DemoDevices {
    /// larder's own device events (JSON and CBOR, `docs/protocol.md`).
    #[default]
    Native,
    /// A Zigbee2MQTT smart plug on the washer and a Tasmota HX711 scale
    /// under the milk (`docs/devices.md`); eggs and cold cuts stay native.
    Real,
}
