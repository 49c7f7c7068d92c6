//! The simulated household: real stock in lots with expiry dates, daily
//! habits (breakfast, weekend brunch, the evening wash), and the native
//! sensor events that watch them; its seeded random generator.

use super::devices::{DeviceReading, DeviceSettings, SCALE_PERIOD};
use super::{DemoDevices, HOUR};
use crate::config::PayloadFormat;
use crate::core::DAY;
use crate::protocol::events::{DeviceEvent, EventKind};
use std::collections::BTreeMap;

/// The household: real stock, habits, and the sensors that watch them.
pub(super) struct SimulatedHousehold {
    pub(super) rng: DemoRng,
    /// Per item, lots of (amount, expires at) oldest first.
    stock: BTreeMap<&'static str, Vec<(f64, i64)>>,
    /// Per item, amount thrown away because it expired.
    pub(super) wasted: BTreeMap<&'static str, f64>,
    seq: BTreeMap<&'static str, u64>,
    /// Where the sensor messages come from.
    pub(super) devices: DemoDevices,
    /// The real devices' settings (`--devices real`).
    settings: Option<DeviceSettings>,
    /// `--devices real`: device messages not yet published, by (time, order).
    pub(super) readings: BTreeMap<(i64, u64), DeviceReading>,
    /// The plug: energy counter (kWh), last power (W) and when.
    pub(super) plug_energy: f64,
    pub(super) plug_watts: f64,
    pub(super) plug_at: i64,
    /// Counts for the summary: plug and scale messages, washes run, scale
    /// readings taken with the bottle holder lifted.
    pub(super) plug_readings: u64,
    pub(super) scale_readings: u64,
    pub(super) washes: u64,
    pub(super) lifted: u64,
    /// Messages scheduled so far (orders readings of the same second).
    pub(super) scheduled: u64,
}

/// Items the household keeps, with their shelf life in days (`None`: keeps).
const ITEMS: [(&str, Option<i64>); 4] = [
    ("milk", Some(7)),
    ("eggs", Some(28)),
    ("cold_cuts", Some(6)),
    ("detergent", None),
];

impl SimulatedHousehold {
    /// The household; `settings` given: with the real devices.
    pub(super) fn new(
        seed: u64,
        start: i64,
        settings: Option<DeviceSettings>,
    ) -> SimulatedHousehold {
        let initial = [1.5, 8.0, 150.0, 1500.0];
        let stock = ITEMS
            .iter()
            .zip(initial)
            .map(|((item, shelf), amount)| {
                let expires = shelf.map_or(i64::MAX, |d| start + d * DAY / 2);
                (*item, vec![(amount, expires)])
            })
            .collect();
        SimulatedHousehold {
            rng: DemoRng::new(seed),
            stock,
            wasted: BTreeMap::new(),
            seq: BTreeMap::new(),
            devices: settings.map_or(DemoDevices::Native, |_| DemoDevices::Real),
            settings,
            readings: BTreeMap::new(),
            plug_energy: 48.31,
            plug_watts: 0.0,
            plug_at: start,
            plug_readings: 0,
            scale_readings: 0,
            washes: 0,
            lifted: 0,
            scheduled: 0,
        }
    }

    pub(super) fn event(
        &mut self,
        device: &'static str,
        slot: &str,
        kind: EventKind,
        amount: f64,
        ts: i64,
    ) -> DeviceEvent {
        let seq = self.seq.entry(device).or_insert(0);
        *seq += 1;
        DeviceEvent {
            device: device.into(),
            epoch: 1,
            seq: *seq,
            ts: Some(ts),
            slot: slot.into(),
            kind,
            amount: (amount * 1000.0).round() / 1000.0,
        }
    }

    pub(super) fn total(&self, item: &str) -> f64 {
        self.stock
            .get(item)
            .map_or(0.0, |lots| lots.iter().map(|l| l.0).sum())
    }

    /// Uses up to `amount`, oldest lot first; returns what was used.
    fn consume(&mut self, item: &'static str, amount: f64) -> f64 {
        let mut left = amount.max(0.0);
        let lots = self.stock.entry(item).or_default();
        for lot in lots.iter_mut() {
            let take = left.min(lot.0);
            lot.0 -= take;
            left -= take;
        }
        lots.retain(|l| l.0 > 1e-9);
        amount.max(0.0) - left
    }

    pub(super) fn restock(&mut self, item: &str, quantity: f64, now: i64) {
        if let Some((name, shelf)) = ITEMS.iter().find(|(name, _)| *name == item) {
            let expires = shelf.map_or(i64::MAX, |d| now + d * DAY);
            self.stock
                .entry(name)
                .or_default()
                .push((quantity, expires));
        }
    }

    /// Throws away what expired; returns (item, amount) per item.
    fn discard_expired(&mut self, now: i64) -> Vec<(&'static str, f64)> {
        let mut thrown = Vec::new();
        for (item, lots) in &mut self.stock {
            let gone: f64 = lots.iter().filter(|l| l.1 <= now).map(|l| l.0).sum();
            lots.retain(|l| l.1 > now);
            if gone > 1e-9 {
                *self.wasted.entry(item).or_default() += gone;
                thrown.push((*item, gone));
            }
        }
        thrown
    }

    pub(super) fn out_of_stock(&self) -> Vec<(String, bool)> {
        let smallest = |item: &str| match item {
            "milk" => 0.1,
            "eggs" => 1.0,
            "cold_cuts" => 20.0,
            _ => 60.0,
        };
        ITEMS
            .iter()
            .map(|(k, _)| (k.to_string(), self.total(k) < smallest(k)))
            .collect()
    }

    /// One hour of life: consumption, then sensor messages.
    pub(super) fn hour(&mut self, now: i64) -> Vec<(PayloadFormat, DeviceEvent)> {
        let hour = now.rem_euclid(DAY) / HOUR;
        // 1970-01-01 was a Thursday: day 0 → Thu.
        let weekday = (now.div_euclid(DAY) + 3).rem_euclid(7); // 0 = Mon
        let weekend = weekday >= 5;
        let mut events = Vec::new();
        // Spoiled food goes in the bin; the household says so in the app.
        for (item, amount) in self.discard_expired(now) {
            // Milk on the scale: the scale sees it go.
            let weighed = item == "milk" && self.devices == DemoDevices::Real;
            if item != "detergent" && !weighed {
                let e = self.event("fridge", item, EventKind::Removed, amount, now);
                events.push((PayloadFormat::Json, e));
            }
        }
        // Someone pours milk at the top of the hour: the holder is off the
        // scale for that reading (`--devices real`).
        let mut pouring = false;
        match hour {
            7 => {
                let milk = self.rng.normal(0.2, 0.05).max(0.05);
                self.consume("milk", milk);
                pouring = true;
                if !weekend && self.rng.chance(0.8) {
                    let ham = self.rng.normal(45.0, 10.0).max(10.0);
                    self.consume("cold_cuts", ham);
                }
                if !weekend && self.rng.chance(0.25) {
                    self.consume("eggs", 2.0);
                }
            }
            10 if weekend => {
                let eggs = if self.rng.chance(0.5) { 3.0 } else { 4.0 };
                self.consume("eggs", eggs);
            }
            13 if weekend => {
                let ham = self.rng.normal(70.0, 15.0).max(10.0);
                self.consume("cold_cuts", ham);
            }
            19 if self.rng.chance(0.6) => {
                let milk = self.rng.normal(0.15, 0.05).max(0.05);
                self.consume("milk", milk);
                pouring = true;
            }
            18 if let Some(s) = self.settings => {
                let washes = if weekend { 0.9 } else { 0.45 };
                if self.rng.chance(washes) && self.total("detergent") >= s.dose_ml {
                    // The machine doses it; the plug sees only power.
                    self.consume("detergent", s.dose_ml);
                    self.washes += 1;
                    let start = now + self.rng.int(120, 1500);
                    if self.plug_watts == 0.0 {
                        // Switched off after the last wash: on again.
                        self.plug_message(start - 30, 0.0, true);
                    }
                    let end = self.wash_programme(start);
                    // Some switch the plug off when they empty the drum;
                    // sometimes before larder's stop hold has passed.
                    if self.rng.chance(0.4) {
                        let off = end + self.rng.int(s.stop_secs / 2, 3 * s.stop_secs);
                        self.plug_message(off, 0.0, false);
                    }
                }
            }
            18 => {
                let washes = if weekend { 0.9 } else { 0.45 };
                if self.rng.chance(washes) {
                    let dose = self.rng.normal(75.0, 4.0).clamp(60.0, 90.0).round();
                    let used = self.consume("detergent", dose);
                    if used > 0.0 {
                        let e =
                            self.event("washer", "detergent", EventKind::WasherCycle, used, now);
                        events.push((PayloadFormat::Cbor, e));
                    }
                }
            }
            _ => {}
        }
        if let Some(s) = self.settings {
            let lifted = pouring && self.rng.chance(0.5);
            for k in 0..HOUR / SCALE_PERIOD {
                self.scale_message(s, now + k * SCALE_PERIOD, lifted && k == 0);
            }
        }
        if hour % 2 == 0 {
            for (slot, noise) in [("milk", 0.01), ("eggs", 0.05), ("cold_cuts", 2.0)] {
                if slot == "milk" && self.devices == DemoDevices::Real {
                    continue;
                }
                let level = (self.total(slot) + self.rng.normal(0.0, noise)).max(0.0);
                let e = self.event("fridge", slot, EventKind::Level, level, now);
                events.push((PayloadFormat::Json, e));
            }
        }
        events
    }
}

/// SplitMix64: a tiny seeded generator, so the story depends only on the seed.
pub(super) struct DemoRng(u64);

impl DemoRng {
    fn new(seed: u64) -> DemoRng {
        DemoRng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..hi`.
    pub(super) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `lo..=hi`.
    pub(super) fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    pub(super) fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1 = self.uniform().max(1e-12);
        let u2 = self.uniform();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}
