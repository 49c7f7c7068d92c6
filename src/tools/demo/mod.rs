//! `larder demo`: a whole simulated household, end to end, with nothing
//! installed. An embedded broker (rumqttd) on a free loopback port, the
//! real daemon (`daemon::start`) on a simulated clock, and three simulated
//! parties on one MQTT connection: the household's sensors (fridge load
//! cells, washer doses), a member's phone app (signs approvals with an
//! Ed25519 key), and a shop (verifies the hub's signature, delivers).
//!
//! Time only moves when the demo says so: each simulated hour it sets the
//! clock, publishes that hour's events, waits until the daemon has committed
//! them and everything it sent has been answered, then prints the timeline.
//! The story is a pure function of `--seed`.
//!
//! With `--devices real` the washer is a Zigbee2MQTT smart plug reporting
//! power through wash programmes, and the milk stands on a Tasmota HX711
//! load cell (`config/demo-devices.toml`): the sensor messages are what
//! those devices publish, and cycles and levels come out of the daemon's
//! adapters (`adapters`, `core::signals`). The clock then also moves inside
//! an hour, to each reading's time, as the devices report.
//!
//! The parts:
//! - `world`: `DemoWorld`, the MQTT connection around the daemon on its
//!   manual clock, and the hour-by-hour loop;
//! - `household`: `SimulatedHousehold`, its stock, habits and native
//!   sensor events;
//! - `devices`: the demo configuration for `--devices`, and the real
//!   devices' messages (Zigbee2MQTT plug, Tasmota scale);
//! - `phone`: alex's app, which signs approvals;
//! - `shop`: the shop, which verifies the hub's intents and delivers;
//! - `timeline`: what is printed as the story goes, and the summary;
//! - `sandbox`: the private directory, free port and embedded broker.

mod devices;
mod household;
mod phone;
mod sandbox;
mod shop;
mod timeline;
mod world;

use crate::clock::ManualClock;
use crate::config::Config;
use crate::crypto::keys::{self, SigningKey};
use crate::daemon;
use crate::tools::harness::broker::free_port;
use anyhow::Context as _;
use devices::{DeviceSettings, PLUG_TOPIC, SCALE_TOPIC, config_text};
use household::SimulatedHousehold;
use sandbox::{DemoDir, start_broker, wait_for_port};
use std::sync::Arc;
use world::DemoWorld;

pub use crate::tools::DemoDevices;

/// One simulated hour, in seconds: the demo's step.
const HOUR: i64 = 3600;

/// Runs the demo for `days` simulated days with `seed`, the sensors from
/// `devices`.
pub async fn run(days: u32, seed: u64, devices: DemoDevices) -> anyhow::Result<()> {
    let dir = DemoDir::new()?;
    let port = free_port()?;
    start_broker(port)?;
    wait_for_port(port).await?;

    let alex = SigningKey::create(&dir.path.join("alex.key"))?;
    let text = config_text(devices)?
        .replace("{STATE_DIR}", &dir.path.join("state").display().to_string())
        .replace("{PORT}", &port.to_string())
        .replace("{ALEX_KEY}", &keys::to_hex(&alex.public_key()));
    let config = Config::parse(&text, &dir.path.join("larder.toml"))
        .context("the embedded demo configuration is invalid")?;

    // Monday 2026-03-02 06:00 UTC.
    let start: i64 = 1_772_431_200;
    let clock = Arc::new(ManualClock::new(start));
    let running = daemon::start(
        config.clone(),
        clock.clone(),
        daemon::Options {
            tick_every: None,
            // Decisions on the hourly tick only: the story must not depend
            // on how the household's messages were batched.
            decide_per_batch: false,
        },
    )
    .await?;
    let hub_public = SigningKey::load(&config.hub.key_file)?.public_key();

    println!("larder demo: {days} simulated days, seed {seed}");
    println!(
        "  embedded broker on 127.0.0.1:{port}; state in {}",
        dir.path.display()
    );
    println!(
        "  hub key {}…; member alex key {}…",
        &keys::to_hex(&hub_public)[..16],
        &keys::to_hex(&alex.public_key())[..16]
    );
    println!("  auto-approve up to 8.00 EUR for dairy and deli; detergent always asks alex");
    let settings = match devices {
        DemoDevices::Native => None,
        DemoDevices::Real => Some(DeviceSettings::from_config(&config)?),
    };
    if let Some(s) = settings {
        println!(
            "  devices: washer on a Zigbee2MQTT plug ({PLUG_TOPIC:?}, power → cycles, {} ml a wash);",
            s.dose_ml
        );
        println!(
            "           milk on a Tasmota HX711 scale ({SCALE_TOPIC:?}, kg → litres, tare {} kg, median of {})",
            s.tare_kg, s.median_of
        );
        println!(
            "           the plug counts doses, not the bottle: the detergent level stays unknown (no refill is recorded)"
        );
    }
    println!();

    let house = SimulatedHousehold::new(seed, start, settings);
    let mut sim =
        DemoWorld::connect(&config, port, running, clock, alex, hub_public, house).await?;
    let result = sim.play(start, days).await;
    let summary = sim.summary();
    sim.running.stop().await?;
    result?;
    print!("{summary}");
    Ok(())
}
