//! What the demo prints: one timeline line per happening (larder's
//! proposals and decisions, what it derived from the real devices, the
//! daily forecast), and the summary at the end with its counts.

use super::DemoDevices;
use super::world::DemoWorld;
use crate::store::{IntentRow, IntentState};
use std::collections::BTreeMap;

/// Counts for the summary.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) readings: u64,
    pub(super) auto_approved: u64,
    pub(super) member_approved: u64,
    pub(super) denied: u64,
    pub(super) expired: u64,
    pub(super) refused: u64,
    pub(super) delivered: u64,
    pub(super) signatures_verified: u64,
    pub(super) out_of_stock_hours: BTreeMap<String, u64>,
    pub(super) orders: BTreeMap<String, u64>,
    /// `--devices real`: what larder derived from the plug and the scale.
    pub(super) devices: DeviceTally,
}

/// What larder made of the real devices' messages (`--devices real`).
#[derive(Default)]
pub(super) struct DeviceTally {
    /// Washer cycles larder detected from the plug's power.
    pub(super) cycles: u64,
    /// Detergent those cycles consumed, ml.
    pub(super) cycle_ml: f64,
    /// Milk levels larder derived from the scale's weights.
    pub(super) levels: u64,
    /// Restocks larder detected as weight jumps.
    pub(super) restocks: u64,
    /// Levels derived since the last daily line.
    pub(super) day_levels: Vec<f64>,
    /// Weight readings published since the last daily line.
    pub(super) day_readings: u64,
}

impl DemoWorld {
    /// Prints what larder derived from the real devices since last time:
    /// washer cycles from the plug's power, restocks from the scale (levels
    /// are summed up in the daily line).
    pub(super) fn print_derived(&mut self, now: i64) -> anyhow::Result<()> {
        if self.house.devices != DemoDevices::Real {
            return Ok(());
        }
        for (item, device) in [("detergent", "washer-plug"), ("milk", "fridge-scale")] {
            let mut rows = self.reader.read().recent_observations(item, 64)?;
            rows.retain(|r| r.device == device);
            rows.reverse(); // oldest first
            for row in rows {
                if !self
                    .derived_seen
                    .insert((item, row.kind.clone(), row.observed_at))
                {
                    continue;
                }
                let t = &mut self.tally.devices;
                match (item, row.kind.as_str()) {
                    ("detergent", "consumed") => {
                        t.cycles += 1;
                        t.cycle_ml += row.amount;
                        line(
                            now,
                            "washer plug",
                            &format!(
                                "cycle finished {} ({} ml used)",
                                clock_time(row.observed_at),
                                row.amount
                            ),
                        );
                    }
                    ("milk", "added") => {
                        t.restocks += 1;
                        line(
                            now,
                            "fridge scale",
                            &format!(
                                "weight jump at {}: restock of {:.2} l detected",
                                clock_time(row.observed_at),
                                row.amount
                            ),
                        );
                    }
                    ("milk", "level") => {
                        t.levels += 1;
                        t.day_levels.push(row.amount);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The display number of an intent (in order of first sight).
    pub(super) fn number(&mut self, id: &str) -> usize {
        let next = self.seen.len() + 1;
        self.seen.entry(id.to_owned()).or_insert((next, None)).0
    }

    /// Prints proposals and state changes larder recorded since last time.
    pub(super) fn print_intents(&mut self, now: i64) -> anyhow::Result<()> {
        let mut rows = self.reader.read().intents(10_000)?;
        rows.reverse();
        for row in rows {
            let n = self.number(&row.id);
            let previous = self.seen.get(&row.id).and_then(|(_, s)| *s);
            if previous == Some(row.state) {
                continue;
            }
            if previous.is_none() {
                self.print_proposal(now, n, &row);
            }
            self.print_transition(now, n, &row, previous);
            if let Some(entry) = self.seen.get_mut(&row.id) {
                entry.1 = Some(row.state);
            }
        }
        Ok(())
    }

    fn print_proposal(&self, now: i64, n: usize, row: &IntentRow) {
        let name = self
            .config
            .item(&row.item)
            .map_or(row.item.as_str(), |i| i.name.as_str());
        line(
            now,
            "larder",
            &format!(
                "proposes #{n}: {} × {name}, up to {:.2} {}",
                row.packages, row.price_ceiling, row.currency
            ),
        );
        for why in &row.why {
            line(now, "", &format!("  why: {why}"));
        }
    }

    fn print_transition(
        &mut self,
        now: i64,
        n: usize,
        row: &IntentRow,
        previous: Option<IntentState>,
    ) {
        use IntentState::*;
        let by = row.decided_by.clone().unwrap_or_default();
        let ordered = matches!(row.state, Approved | Sent | Accepted | Delivered);
        let text = match (previous, row.state) {
            (None, _) if ordered => {
                self.tally.auto_approved += 1;
                *self.tally.orders.entry(row.item.clone()).or_default() += 1;
                format!("#{n} auto-approved ({by}); signed intent queued for the shop")
            }
            (Some(AwaitingApproval), _) if ordered => {
                self.tally.member_approved += 1;
                *self.tally.orders.entry(row.item.clone()).or_default() += 1;
                format!("#{n} approved by alex's signed reply; signed intent queued for the shop")
            }
            (_, AwaitingApproval) => match row.prompt_at {
                Some(at) if at > now => format!(
                    "#{n} needs a member's approval; quiet hours, will ask at {}",
                    short_time(at)
                ),
                _ => format!("#{n} needs a member's approval; request published"),
            },
            (_, Denied) => {
                self.tally.denied += 1;
                format!("#{n} denied ({by})")
            }
            (_, Expired) => {
                self.tally.expired += 1;
                format!("#{n} expired unanswered")
            }
            (_, Refused) => {
                self.tally.refused += 1;
                format!("#{n} refused by the rules ({by})")
            }
            (_, Delivered) => format!("#{n} closed: delivered"),
            (_, Rejected) => format!("#{n} rejected by the shop"),
            _ => return,
        };
        line(now, "larder", &text);
    }

    /// Once a day: what larder believes about each item.
    pub(super) fn print_day(&mut self, now: i64) -> anyhow::Result<()> {
        if self.house.devices == DemoDevices::Real {
            let t = &mut self.tally.devices;
            let levels = std::mem::take(&mut t.day_levels);
            let lifted = self.reader.read().counter("scale_lifted")?;
            line(
                now,
                "fridge scale",
                &format!(
                    "{} weight readings since the last report → {} milk levels{}; holder lifted {lifted}× so far (ignored)",
                    std::mem::take(&mut t.day_readings),
                    levels.len(),
                    match (levels.iter().copied().reduce(f64::max), levels.last()) {
                        (Some(high), Some(last)) =>
                            format!(" (high {high:.2} l, last {last:.2} l)"),
                        _ => String::new(),
                    }
                ),
            );
        }
        let mut parts = Vec::new();
        for (item, fc) in crate::engine::forecasts(&self.config, &self.reader, now)? {
            let Some(fc) = fc else { continue };
            let level = fc
                .level
                .map_or("?".into(), |l| format!("{l:.1} {}", item.unit));
            let days = fc.days_left.map_or("-".into(), |d| format!("{d:.1} d"));
            parts.push(format!(
                "{} {level} (~{:.2}/day, {days})",
                item.id, fc.rate_per_day
            ));
        }
        line(now, "forecast", &parts.join(" · "));
        Ok(())
    }

    pub(super) fn summary(&self) -> String {
        use std::fmt::Write;
        let t = &self.tally;
        let read = self.reader.read();
        let mut out = String::new();
        let _ = writeln!(out, "\nsummary");
        let _ = writeln!(
            out,
            "  messages sent to larder {} (sensor events, signed replies, shop acks); level readings {}; stored observations {}",
            self.published,
            t.readings,
            read.observation_count().unwrap_or(0)
        );
        let _ = writeln!(
            out,
            "  intents: {} auto-approved, {} member-approved, {} denied, {} expired, {} refused; {} delivered",
            t.auto_approved, t.member_approved, t.denied, t.expired, t.refused, t.delivered
        );
        let _ = writeln!(
            out,
            "  hub signatures verified by the shop: {}; dead letters: {}",
            t.signatures_verified,
            read.counter("dead_letters").unwrap_or(0)
        );
        if self.house.devices == DemoDevices::Real {
            let d = &t.devices;
            let counter = |name: &str| read.counter(name).unwrap_or(0);
            let _ = writeln!(
                out,
                "  washer plug (zigbee2mqtt): {} power readings, {} washes run → {} cycles detected ({} ml detergent), {} too short, {} aborted",
                self.house.plug_readings,
                self.house.washes,
                d.cycles,
                d.cycle_ml,
                counter("washer_cycles_too_short"),
                counter("washer_cycles_aborted"),
            );
            let _ = writeln!(
                out,
                "  fridge scale (tasmota HX711): {} weight readings, {} with the holder lifted → {} milk levels, {} restocks detected; {} ignored as lifted",
                self.house.scale_readings,
                self.house.lifted,
                d.levels,
                d.restocks,
                counter("scale_lifted"),
            );
            let _ = writeln!(out, "  eggs, cold cuts: larder's own fridge events (json)");
        }
        for item in &self.config.items {
            let _ = writeln!(
                out,
                "  {:<10} orders {:>2}   hours out of stock {:>3}   thrown away {:>7.1} {}",
                item.id,
                t.orders.get(&item.id).copied().unwrap_or(0),
                t.out_of_stock_hours.get(&item.id).copied().unwrap_or(0),
                self.house
                    .wasted
                    .get(item.id.as_str())
                    .copied()
                    .unwrap_or(0.0),
                item.unit
            );
        }
        out
    }
}

/// Prints one timeline line: `d03 Wed 08:00  who  text`.
pub(super) fn line(now: i64, who: &str, text: &str) {
    println!("{}  {who:<12}  {text}", short_time(now));
}

/// `18:07`: the time of day.
fn clock_time(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// `d03 Wed 08:00` relative to the demo's first day.
pub(super) fn short_time(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%m-%d %a %H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}
