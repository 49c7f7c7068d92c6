//! The household `larder bench` measures: its configuration (`items`
//! items spread over `devices` devices), its topics and events, the live
//! event stream for the broker phases and the deterministic history for
//! the decision phase.

use super::HUB;
use crate::config::Config;
use crate::crypto::keys::{self, SigningKey};
use std::fmt::Write as _;
use std::path::Path;

/// A configuration for a household of `items` items on `devices` devices.
pub(super) fn household_config(
    state_dir: &Path,
    port: u16,
    items: usize,
    devices: usize,
    homeassistant: bool,
) -> String {
    let mut text = format!(
        "[hub]\nid = \"{HUB}\"\nstate-dir = \"{}\"\ntimezone = \"UTC\"\n\n\
         [mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nclient-id = \"larder-{HUB}\"\n\n",
        state_dir.display()
    );
    for d in 0..devices {
        let _ = write!(
            text,
            "[[devices]]\nid = \"d{d}\"\ntopic = \"{}\"\nformat = \"json\"\n\n",
            device_topic(d)
        );
    }
    for i in 0..items {
        let (device, slot) = placement(i, devices);
        // Usage between 1 and 4 units a day; packs last about a week.
        let per_day = 1.0 + (i % 7) as f64 * 0.5;
        let _ = write!(
            text,
            "[[items]]\nid = \"i{i}\"\nname = \"Item {i}\"\nunit = \"pcs\"\n\
             package-size = {pack}\nproduct = \"sku-{i}\"\nprice = 1.50\ncurrency = \"EUR\"\n\
             category = \"pantry\"\ndevice = \"d{device}\"\nslot = \"s{slot}\"\n\
             lead-time-days = 1\nreview-days = 3\n\
             declared-usage = {{ amount = {per_day}, per = \"day\" }}\n\n",
            pack = (per_day * 7.0).round(),
        );
    }
    let owner = keys::to_hex(&SigningKey::generate().public_key());
    let _ = write!(
        text,
        "[[members]]\nname = \"owner\"\npublic-key = \"{owner}\"\n\n\
         [rules]\ncurrency = \"EUR\"\nauto-approve-up-to = 1000\nmonthly-budget = 1000000\n\
         approvals-required = 1\napproval-expires-after-hours = 24\ndefault-category = \"allow\"\n"
    );
    if !homeassistant {
        text.push_str("\n[homeassistant]\nenabled = false\n");
    }
    text
}

pub(super) fn device_topic(device: usize) -> String {
    format!("larder/{HUB}/devices/d{device}/events")
}

/// Which device and slot item `i` sits on.
fn placement(item: usize, devices: usize) -> (usize, usize) {
    (item % devices, item / devices)
}

/// A native JSON level event.
fn level_event(device: usize, seq: u64, slot: usize, amount: f64, ts: Option<i64>) -> Vec<u8> {
    let ts = ts.map_or(String::new(), |t| format!(",\"ts\":{t}"));
    format!(
        "{{\"v\":1,\"device\":\"d{device}\",\"epoch\":1,\"seq\":{seq},\"kind\":\"level\",\
         \"slot\":\"s{slot}\",\"amount\":{amount:.3}{ts}}}"
    )
    .into_bytes()
}

/// Live events for the broker phases: round-robin over items, each
/// device's sequence numbers contiguous.
pub(super) struct EventSource {
    items: usize,
    devices: usize,
    next_item: usize,
    seqs: Vec<u64>,
}

impl EventSource {
    pub(super) fn new(items: usize, devices: usize) -> EventSource {
        EventSource {
            items,
            devices,
            next_item: 0,
            seqs: vec![0; devices],
        }
    }

    pub(super) fn next(&mut self) -> (String, Vec<u8>) {
        let item = self.next_item;
        self.next_item = (self.next_item + 1) % self.items;
        let (device, slot) = placement(item, self.devices);
        self.seqs[device] += 1;
        let seq = self.seqs[device];
        let amount = 20.0 - (seq % 200) as f64 * 0.1;
        (
            device_topic(device),
            level_event(device, seq, slot, amount, None),
        )
    }
}

/// A deterministic household for the history: level readings through
/// the real ingest path, decisions through the real decision path,
/// approved orders delivered the next morning.
pub(super) struct HistoryHousehold {
    devices: usize,
    levels: Vec<f64>,
    per_day: Vec<f64>,
    seqs: Vec<u64>,
    pub(super) deliveries: Vec<(usize, f64)>,
}

impl HistoryHousehold {
    pub(super) fn new(config: &Config, devices: usize) -> HistoryHousehold {
        let pack: Vec<f64> = config.items.iter().map(|i| i.model.package_size).collect();
        HistoryHousehold {
            devices,
            levels: pack.iter().map(|p| p * 2.0).collect(),
            per_day: (0..pack.len())
                .map(|i| 1.0 + (i % 7) as f64 * 0.5)
                .collect(),
            seqs: vec![0; devices],
            deliveries: Vec::new(),
        }
    }

    /// One reading slot: consumption since the last slot, deliveries, and
    /// one level reading per item, as device payloads.
    pub(super) fn readings(
        &mut self,
        day: u32,
        first: bool,
        per_day: u32,
        at: i64,
    ) -> Vec<(String, Vec<u8>)> {
        if first {
            for (item, amount) in self.deliveries.drain(..) {
                self.levels[item] += amount;
            }
        }
        let mut out = Vec::with_capacity(self.levels.len());
        for item in 0..self.levels.len() {
            // A weekly rhythm, so the forecaster has something to learn.
            let weekday = f64::from((day + item as u32) % 7);
            let use_now = self.per_day[item] / f64::from(per_day) * (0.7 + weekday * 0.1);
            self.levels[item] = (self.levels[item] - use_now).max(0.0);
            let (device, slot_no) = placement(item, self.devices);
            self.seqs[device] += 1;
            out.push((
                device_topic(device),
                level_event(
                    device,
                    self.seqs[device],
                    slot_no,
                    self.levels[item],
                    Some(at),
                ),
            ));
        }
        out
    }
}
