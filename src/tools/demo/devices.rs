//! `--devices`: the demo configuration with larder's native devices or
//! with real ones, and the messages the real devices publish: a
//! Zigbee2MQTT smart plug under the washer (power through wash
//! programmes) and a Tasmota HX711 scale under the milk (weights, with the
//! holder sometimes lifted).

use super::DemoDevices;
use super::household::{DemoRng, SimulatedHousehold};
use crate::config::Config;
use anyhow::{Context as _, bail};

/// The embedded household configuration (placeholders filled at start).
const DEMO_CONFIG: &str = include_str!("../../../config/demo.toml");

/// The real devices' tables for `--devices real`.
const DEMO_DEVICES: &str = include_str!("../../../config/demo-devices.toml");

/// The native washer's table in `DEMO_CONFIG`, replaced by `DEMO_DEVICES`.
const NATIVE_WASHER: &str = "[[devices]]\nid = \"washer\"\ntopic = \"larder/demo/devices/washer/events\"\nformat = \"cbor\"\n\n";

/// Z2M plug topic and Tasmota scale topic (as in `DEMO_DEVICES`).
pub(super) const PLUG_TOPIC: &str = "zigbee2mqtt/Washer plug";
pub(super) const SCALE_TOPIC: &str = "tele/fridge-scale/SENSOR";
/// The scale reports every 20 minutes (Tasmota `TelePeriod 1200`).
pub(super) const SCALE_PERIOD: i64 = 1200;

/// What the simulated household's real devices are configured with (read
/// from the parsed configuration, so the simulation and larder agree).
#[derive(Debug, Clone, Copy)]
pub(super) struct DeviceSettings {
    /// The plug's `dose` (ml a wash) and `stop-secs`.
    pub(super) dose_ml: f64,
    pub(super) stop_secs: i64,
    /// The scale's `tare-kg`, `units-per-kg` (litres of milk per kg) and
    /// `median-of`.
    pub(super) tare_kg: f64,
    pub(super) litres_per_kg: f64,
    pub(super) median_of: usize,
}

impl DeviceSettings {
    /// The settings of `washer-plug` and `fridge-scale` in `config`.
    pub(super) fn from_config(config: &Config) -> anyhow::Result<DeviceSettings> {
        let device = |id: &str| {
            config
                .devices
                .iter()
                .find(|d| d.id == id)
                .with_context(|| format!("config/demo-devices.toml has no device {id:?}"))
        };
        let washer = device("washer-plug")?
            .washer
            .as_ref()
            .context("washer-plug has no [devices.washer]")?;
        let scale = device("fridge-scale")?
            .scale
            .as_ref()
            .context("fridge-scale has no [devices.scale]")?;
        Ok(DeviceSettings {
            dose_ml: washer.dose,
            stop_secs: washer.stop_secs,
            tare_kg: scale.tare_kg,
            litres_per_kg: scale.units_per_kg,
            median_of: scale.median_of,
        })
    }
}

/// The demo configuration text for `devices` (placeholders not filled).
pub(super) fn config_text(devices: DemoDevices) -> anyhow::Result<String> {
    let mut text = DEMO_CONFIG.to_owned();
    if devices == DemoDevices::Real {
        let devices_block = format!("{}\n", DEMO_DEVICES.trim_end());
        for (from, to) in [
            (NATIVE_WASHER, devices_block.as_str()),
            (
                "device = \"fridge\"\nslot = \"milk\"",
                "device = \"fridge-scale\"\nslot = \"weight\"",
            ),
            (
                "device = \"washer\"\nslot = \"detergent\"",
                "device = \"washer-plug\"\nslot = \"cycle\"",
            ),
        ] {
            if !text.contains(from) {
                bail!("config/demo.toml no longer has {from:?}; update demo::config_text");
            }
            text = text.replacen(from, to, 1);
        }
    }
    Ok(text)
}

/// One message of a real device, as it will be published.
pub(super) struct DeviceReading {
    pub(super) at: i64,
    pub(super) topic: &'static str,
    pub(super) payload: Vec<u8>,
}

impl SimulatedHousehold {
    /// The next real-device message taken before `until`, if any.
    pub(super) fn next_reading(&mut self, until: i64) -> Option<DeviceReading> {
        let first = self.readings.first_key_value()?.0.0;
        if first >= until {
            return None;
        }
        self.readings.pop_first().map(|(_, r)| r)
    }

    fn schedule(&mut self, at: i64, topic: &'static str, payload: Vec<u8>) {
        self.scheduled += 1;
        self.readings
            .insert((at, self.scheduled), DeviceReading { at, topic, payload });
    }

    /// A Zigbee2MQTT plug state (TS011F-like, `last_seen: ISO_8601`).
    pub(super) fn plug_message(&mut self, at: i64, watts: f64, on: bool) {
        let hours = (at - self.plug_at).max(0) as f64 / 3600.0;
        self.plug_energy += self.plug_watts * hours / 1000.0;
        self.plug_watts = watts;
        self.plug_at = at;
        let voltage = (self.rng.normal(231.0, 1.2) * 10.0).round() / 10.0;
        let last_seen = jiff::Timestamp::from_second(at)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string())
            .unwrap_or_default();
        let payload = serde_json::json!({
            "child_lock": "UNLOCK",
            "current": (watts / voltage * 100.0).round() / 100.0,
            "energy": (self.plug_energy * 100.0).round() / 100.0,
            "indicator_mode": "off/on",
            "last_seen": last_seen,
            "linkquality": 96 + (self.rng.next_u64() % 40),
            "power": (watts * 10.0).round() / 10.0,
            "power_outage_memory": "restore",
            "state": if on { "ON" } else { "OFF" },
            "voltage": voltage,
        });
        self.plug_readings += 1;
        self.schedule(at, PLUG_TOPIC, payload.to_string().into_bytes());
    }

    /// A Tasmota `tele/<t>/SENSOR` with the HX711's weight: the milk in
    /// its holder, or (`lifted`) the empty scale while someone pours.
    pub(super) fn scale_message(&mut self, s: DeviceSettings, at: i64, lifted: bool) {
        let contents = if lifted {
            -s.tare_kg
        } else {
            self.total("milk") / s.litres_per_kg
        };
        let kg = (s.tare_kg + contents + self.rng.normal(0.0, 0.003)).max(0.0);
        let kg = (kg * 1000.0).round() / 1000.0;
        let time = jiff::Timestamp::from_second(at)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default();
        let payload = serde_json::json!({
            "Time": time,
            "HX711": { "Weight": kg, "WeightRaw": (kg * 416_250.0).round() as i64 + 8_192 },
        });
        self.scale_readings += 1;
        if lifted {
            self.lifted += 1;
        }
        self.schedule(at, SCALE_TOPIC, payload.to_string().into_bytes());
    }

    /// One wash programme on the plug from `start`, reported on change:
    /// fill, heating, tumbling with drum rests, pauses of minutes between
    /// wash, rinses and spin, then standby. Returns the standby time (the
    /// cycle's end).
    pub(super) fn wash_programme(&mut self, start: i64) -> i64 {
        let mut trace: Vec<(i64, f64)> = Vec::new();
        let mut t = start;
        let rng = &mut self.rng;
        let hot = rng.chance(0.5);
        // Programme selected: display and electronics.
        steady(rng, &mut trace, &mut t, 60, (1.5, 2.5), (30, 50));
        // Water in, drum turning slowly.
        tumble(rng, &mut trace, &mut t, 240, (15.0, 35.0));
        // Heating.
        let heat = if hot { (900, 1200) } else { (420, 600) };
        let secs = rng.int(heat.0, heat.1);
        steady(rng, &mut trace, &mut t, secs, (1950.0, 2150.0), (50, 90));
        // Main wash.
        let secs = rng.int(1500, 2100);
        tumble(rng, &mut trace, &mut t, secs, (120.0, 400.0));
        for (pause, rinse) in [((150, 360), true), ((120, 300), true), ((60, 180), false)] {
            let secs = rng.int(pause.0, pause.1);
            steady(rng, &mut trace, &mut t, secs, (0.5, 3.0), (60, 120));
            if rinse {
                let secs = rng.int(480, 720);
                tumble(rng, &mut trace, &mut t, secs, (100.0, 300.0));
            }
        }
        // Spin.
        let secs = rng.int(360, 600);
        steady(rng, &mut trace, &mut t, secs, (300.0, 600.0), (30, 60));
        // Done: standby.
        let standby = rng.range(0.6, 1.2);
        trace.push((t, standby));
        for (at, watts) in trace {
            self.plug_message(at, watts, true);
        }
        t
    }
}

/// Readings every `step` seconds for `secs` at a level in `watts`.
fn steady(
    rng: &mut DemoRng,
    trace: &mut Vec<(i64, f64)>,
    t: &mut i64,
    secs: i64,
    watts: (f64, f64),
    step: (i64, i64),
) {
    let end = *t + secs;
    while *t < end {
        trace.push((*t, rng.range(watts.0, watts.1)));
        *t += rng.int(step.0, step.1);
    }
}

/// The drum turning (`turning` W, 40–90 s) and resting (pump and
/// electronics, 6–12 W, 15–30 s) for `secs`.
fn tumble(
    rng: &mut DemoRng,
    trace: &mut Vec<(i64, f64)>,
    t: &mut i64,
    secs: i64,
    turning: (f64, f64),
) {
    let end = *t + secs;
    while *t < end {
        trace.push((*t, rng.range(turning.0, turning.1)));
        *t += rng.int(40, 90);
        trace.push((*t, rng.range(6.0, 12.0)));
        *t += rng.int(15, 30);
    }
}
