//! `larder replay`: replays real purchase histories through larder's reorder
//! policy and through the peer baselines, with exactly the rules of the peer
//! script `shared/tools/peer_replay.py` (depletion reading of purchases,
//! 120-day warm-up, FIFO lots, shelf-life expiry, lead time, lost sales and
//! the auto-approve/prompt rule), and writes the peer's per-series and
//! summary CSV files.
//!
//! The larder policy here is the daemon's own pure code: each simulated day
//! becomes the observations a hub would receive (a delivery, expired stock
//! thrown away, the evening load-cell reading), folded in with
//! [`forecast::observe`], and the decision is [`forecast::plan`].

use crate::core::forecast::{self, AutoApprove, DecisionContext, ItemModel, ItemState, Measure};
use crate::core::{DAY, Observation, ObservationKind};
use anyhow::{Context as _, bail};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

/// Days of history before evaluation starts.
pub const WARMUP: usize = 120;
/// The peer's safety factor (about a 95% cycle service target).
pub const Z: f64 = 1.645;
/// Approval rule: orders of at most this many packs are auto-approved ...
pub const AUTO_MAX_PACKS: f64 = 2.0;
/// ... if the previous order of the item was at least this many days ago.
pub const AUTO_MIN_GAP: i64 = 3;

/// Per-item replay parameters (the peer's `ITEM` table).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemParams {
    /// Units in one pack.
    pub pack: f64,
    /// Shelf life in days (`f64::INFINITY` for none).
    pub shelf: f64,
    /// Days from order to delivery.
    pub lead: usize,
}

/// The peer's parameters for an item (unknown items get its default).
pub fn item_params(item: &str) -> ItemParams {
    let (shelf, lead) = match item {
        "milk" => (10.0, 1),
        "eggs" => (28.0, 1),
        "cold_cuts" => (7.0, 1),
        "apples" => (14.0, 1),
        "laundry_detergent" | "fabric_softener" => (f64::INFINITY, 2),
        _ => (f64::INFINITY, 1),
    };
    ItemParams {
        pack: 1.0,
        shelf,
        lead,
    }
}

/// How an order is counted against the household's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptMode {
    /// Every order asks the household (a shopping list).
    Every,
    /// Never asks (a subscription already consented to).
    Never,
    /// The approval rule: auto-approve small, spaced orders; ask otherwise.
    Rule,
}

/// What happened on one simulated day.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayOutcome {
    /// Units delivered this morning.
    pub received: f64,
    /// Units thrown away because they expired.
    pub expired: f64,
    /// Units consumed.
    pub consumed: f64,
    /// Units of demand that could not be met.
    pub lost: f64,
}

/// The peer's `PeerSim`: FIFO lots with expiry, a lead-time pipeline, lost
/// sales and approval prompts.
#[derive(Debug, Clone)]
pub struct PeerSim {
    shelf: f64,
    lead: usize,
    /// `(units, age in days)`, oldest first.
    lots: Vec<(f64, f64)>,
    /// `(arrival day, units)`.
    pipe: Vec<(usize, f64)>,
    /// Days with unmet demand.
    pub stockout_days: u32,
    /// Units of unmet demand.
    pub lost: f64,
    /// Units expired.
    pub waste: f64,
    /// Orders placed.
    pub orders: u32,
    /// Units ordered.
    pub units_ordered: f64,
    /// Orders that needed the household's approval.
    pub prompts: u32,
    /// Sum of end-of-day on-hand units.
    pub inv_sum: f64,
    /// Prompts caused by the size of the order (the rest by its timing).
    pub prompts_large: u32,
    last_order_day: i64,
}

impl PeerSim {
    /// A simulation starting with `init_units` fresh units on hand.
    pub fn new(shelf: f64, lead: usize, init_units: f64) -> PeerSim {
        PeerSim {
            shelf,
            lead,
            lots: if init_units > 0.0 {
                vec![(init_units, 0.0)]
            } else {
                Vec::new()
            },
            pipe: Vec::new(),
            stockout_days: 0,
            lost: 0.0,
            waste: 0.0,
            orders: 0,
            units_ordered: 0.0,
            prompts: 0,
            inv_sum: 0.0,
            prompts_large: 0,
            last_order_day: -1_000_000_000,
        }
    }

    /// Units on hand.
    pub fn on_hand(&self) -> f64 {
        self.lots.iter().map(|l| l.0).sum()
    }

    /// Units ordered and not yet delivered.
    pub fn on_order(&self) -> f64 {
        self.pipe.iter().map(|p| p.1).sum()
    }

    /// On hand plus on order (the peer's inventory position).
    pub fn position(&self) -> f64 {
        self.on_hand() + self.on_order()
    }

    /// Day `t`: receive, expire, consume `demand` FIFO (unmet demand is lost).
    pub fn step(&mut self, t: usize, demand: f64) -> DayOutcome {
        let mut out = DayOutcome::default();
        if let Some(i) = self.pipe.iter().position(|p| p.0 == t) {
            let (_, units) = self.pipe.remove(i);
            self.lots.push((units, 0.0));
            out.received = units;
        }
        let shelf = self.shelf;
        let mut expired = 0.0;
        self.lots.retain(|&(u, a)| {
            if a >= shelf {
                expired += u;
                false
            } else {
                true
            }
        });
        self.waste += expired;
        out.expired = expired;
        let mut need = demand;
        for lot in &mut self.lots {
            let take = lot.0.min(need);
            lot.0 -= take;
            need -= take;
        }
        self.lots.retain(|l| l.0 > 1e-9);
        for lot in &mut self.lots {
            lot.1 += 1.0;
        }
        if need > 1e-6 {
            self.stockout_days += 1;
            self.lost += need;
            out.lost = need;
        }
        out.consumed = demand - need;
        self.inv_sum += self.on_hand();
        out
    }

    /// Places an order of `qty` units on day `t`, counted per `mode`.
    pub fn order(&mut self, t: usize, qty: f64, pack: f64, mode: PromptMode) {
        if qty <= 0.0 {
            return;
        }
        self.orders += 1;
        self.units_ordered += qty;
        let prompt = match mode {
            PromptMode::Every => true,
            PromptMode::Never => false,
            PromptMode::Rule => {
                qty > AUTO_MAX_PACKS * pack || t as i64 - self.last_order_day < AUTO_MIN_GAP
            }
        };
        if prompt {
            self.prompts += 1;
            if mode == PromptMode::Rule && qty > AUTO_MAX_PACKS * pack {
                self.prompts_large += 1;
            }
        }
        self.last_order_day = t as i64;
        let at = t + self.lead;
        match self.pipe.iter_mut().find(|p| p.0 == at) {
            Some(p) => p.1 += qty,
            None => self.pipe.push((at, qty)),
        }
    }

    /// Days since the last order (`None` before the first).
    pub fn days_since_order(&self, t: usize) -> Option<i64> {
        (self.orders > 0).then(|| t as i64 - self.last_order_day)
    }
}

/// Whole packs covering `x` units, at least one pack.
pub fn packs(x: f64, pack: f64) -> f64 {
    pack.max((x / pack - 1e-9).ceil() * pack)
}

/// Daily demand from purchase days, `depletion` reading: units bought on
/// purchase day `k` are consumed evenly until purchase `k + 1`; the tail
/// after the last purchase is dropped. `purchases` are `(day index, qty)`
/// with distinct days; `n_days` is the length of the calendar.
pub fn daily_demand(purchases: &[(usize, f64)], n_days: usize) -> Vec<f64> {
    let mut s = vec![0.0; n_days];
    for &(day, qty) in purchases {
        if day < n_days {
            s[day] += qty;
        }
    }
    let days: Vec<usize> = (0..n_days).filter(|&i| s[i] > 0.0).collect();
    let mut d = vec![0.0; n_days];
    for w in days.windows(2) {
        let (a, b) = (w[0], w[1]);
        let per = s[a] / (b - a) as f64;
        for x in &mut d[a..b] {
            *x += per;
        }
    }
    d.truncate(days.last().copied().unwrap_or(n_days));
    d
}

/// The policies the replay can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Grocy-style minimum stock (1 pack): buy the missing amount + 1 pack.
    MinStock,
    /// Subscribe-&-Save: a fixed quantity every 7 (30) days.
    Subscription,
    /// Peer (R=1, s, S) driven by statsforecast-equivalent SES(0.1).
    Ses,
    /// Peer (R=1, s, S) driven by statsforecast-equivalent CrostonSBA.
    Sba,
    /// larder's own policy ([`forecast::plan`]).
    Larder,
}

impl Policy {
    /// Every policy, baselines first.
    pub const ALL: [Policy; 5] = [
        Policy::MinStock,
        Policy::Subscription,
        Policy::Ses,
        Policy::Sba,
        Policy::Larder,
    ];

    /// The name used in the CSV files.
    pub fn name(self) -> &'static str {
        match self {
            Policy::MinStock => "minstock",
            Policy::Subscription => "subscription",
            Policy::Ses => "ses",
            Policy::Sba => "sba",
            Policy::Larder => "larder",
        }
    }

    /// The policy with this CSV name.
    pub fn parse(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// One row of the per-series output (the peer's columns).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesResult {
    /// Policy name.
    pub policy: &'static str,
    /// Days evaluated (after the warm-up).
    pub eval_days: usize,
    /// Units demanded in the evaluation.
    pub demand: f64,
    /// Days with lost demand.
    pub stockout_days: u32,
    /// Units of lost demand.
    pub lost: f64,
    /// `1 - lost / demand`.
    pub fill_rate: f64,
    /// Units expired.
    pub wasted: f64,
    /// Orders placed.
    pub orders: u32,
    /// Units ordered.
    pub units_ordered: f64,
    /// Approval prompts.
    pub prompts: u32,
    /// Mean end-of-day on-hand units.
    pub mean_inventory: f64,
    /// Household.
    pub household_id: String,
    /// Item.
    pub item: String,
}

/// statsforecast's `_ses_forecast`: the one-step SES forecast.
pub fn ses_forecast(x: &[f64], alpha: f64) -> f64 {
    let Some(&first) = x.first() else {
        return 0.0;
    };
    let mut fitted = first;
    for &xi in &x[..x.len() - 1] {
        fitted = alpha * xi + (1.0 - alpha) * fitted;
    }
    alpha * x[x.len() - 1] + (1.0 - alpha) * fitted
}

/// statsforecast's `CrostonSBA` one-step forecast (alpha 0.1, factor 0.95).
pub fn sba_forecast(y: &[f64]) -> f64 {
    let mut sizes = Vec::new();
    let mut intervals = Vec::new();
    let mut prev = 0usize;
    for (i, &v) in y.iter().enumerate() {
        if v != 0.0 {
            sizes.push(v);
            intervals.push((i + 1 - prev) as f64);
            prev = i + 1;
        }
    }
    if sizes.is_empty() {
        return 0.0;
    }
    let size = ses_forecast(&sizes, 0.1);
    let interval = ses_forecast(&intervals, 0.1);
    let mean = if interval != 0.0 {
        size / interval
    } else {
        size
    };
    0.95 * mean
}

/// numpy's pairwise summation (`np.sum` / `np.mean` of a float array), so
/// that warm-up means match the peer to the last bit (an initial stock of
/// `ceil(mu0 * cover)` is sensitive to it).
pub fn np_sum(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 8 {
        x.iter().fold(0.0, |a, &v| a + v)
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&x[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk += x[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &x[i..] {
            res += v;
        }
        res
    } else {
        let n2 = (n / 2) - (n / 2) % 8;
        np_sum(&x[..n2]) + np_sum(&x[n2..])
    }
}

/// Population standard deviation (numpy's `np.std`).
fn std_dev(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// How larder's sensor sees the item during a replay or simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sensor {
    /// A load cell read every evening, exact (`noise_sd` 0) or noisy.
    LoadCell {
        /// Standard deviation of the reading error, in units.
        noise_sd: f64,
    },
    /// The device reports consumed amounts (washer doses).
    Doses,
}

/// The item model larder uses in the replay: the peer's item parameters,
/// the daily decision of the replay and larder's defaults.
///
/// Timeline: the decision is taken at 23:00 of day `t`, after the evening
/// reading, and an order placed then is delivered at 00:00 of day
/// `t + lead`, so the lead time seen by the daemon is `lead - 1` days
/// and one hour.
pub fn larder_model(p: &ItemParams, sensor: Sensor) -> ItemModel {
    let (measure, noise) = match sensor {
        Sensor::LoadCell { noise_sd } => (Measure::Level, (2.0 * noise_sd).max(1e-6)),
        Sensor::Doses => (Measure::Consumption, 0.0),
    };
    ItemModel {
        package_size: p.pack,
        lead_time_days: p.lead as f64 - 1.0 + 1.0 / 24.0,
        review_days: forecast::DEFAULT_REVIEW_DAYS,
        shelf_life_days: p.shelf.is_finite().then_some(p.shelf),
        service_level: forecast::DEFAULT_SERVICE_TARGET,
        declared_per_day: None,
        measure,
        noise,
    }
}

/// Second of the evening decision on day `t`.
const EVENING: i64 = 23 * 3_600;
/// An arbitrary epoch for day 0 of the replay (2017-01-01T00:00:00Z).
pub const EPOCH: i64 = 1_483_228_800;

fn at(t: usize, secs: i64) -> i64 {
    EPOCH + t as i64 * DAY + secs
}

/// A tiny deterministic PRNG (SplitMix64) for sensor noise.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Options of a larder run inside the replay harness.
#[derive(Debug, Clone, PartialEq)]
pub struct LarderRun {
    /// How the sensor sees the item.
    pub sensor: Sensor,
    /// Seed for the sensor noise.
    pub seed: u64,
    /// Day ranges `[from, to)` on which the household is away: larder is
    /// told (paused at `from`, resumed at `to`); the demand series should
    /// be zero there.
    pub away: Vec<(usize, usize)>,
}

impl Default for LarderRun {
    fn default() -> Self {
        LarderRun {
            sensor: Sensor::LoadCell { noise_sd: 0.0 },
            seed: 0,
            away: Vec::new(),
        }
    }
}

/// Runs one policy over one daily demand series with the peer's rules.
/// `mu0` is the warm-up mean rate.
pub fn run_policy(
    policy: Policy,
    d: &[f64],
    p: &ItemParams,
    mu0: f64,
    larder: &LarderRun,
) -> SeriesResult {
    let n = d.len();
    let (pack, shelf, lead) = (p.pack, p.shelf, p.lead);
    let cover = if shelf.is_finite() {
        (shelf / 2.0).min(7.0)
    } else {
        30.0
    };
    let init = (mu0 * cover).ceil();
    let mut sim = PeerSim::new(shelf, lead, init);
    match policy {
        Policy::MinStock => {
            let smin = pack;
            for (t, &dt) in d.iter().enumerate().skip(WARMUP) {
                sim.step(t, dt);
                if sim.position() < smin {
                    let q = packs(smin - sim.position() + pack, pack);
                    sim.order(t, q, pack, PromptMode::Every);
                }
            }
        }
        Policy::Subscription => {
            let period = if shelf.is_finite() { 7 } else { 30 };
            let q = packs(mu0 * period as f64, pack);
            sim.prompts += 1;
            for (t, &dt) in d.iter().enumerate().skip(WARMUP) {
                sim.step(t, dt);
                if (t - WARMUP) % period == 0 {
                    sim.order(t, q, pack, PromptMode::Never);
                }
            }
        }
        Policy::Ses | Policy::Sba => {
            let mut mu = mu0;
            let mut sig = if WARMUP > 1 {
                std_dev(&d[..WARMUP])
            } else {
                mu0
            };
            for t in WARMUP..n {
                if (t - WARMUP) % 7 == 0 {
                    let y = &d[..t];
                    mu = match policy {
                        Policy::Ses => ses_forecast(y, 0.1),
                        _ => sba_forecast(y),
                    }
                    .max(0.0);
                    sig = std_dev(&y[y.len().saturating_sub(90)..]);
                }
                sim.step(t, d[t]);
                let l1 = (lead + 1) as f64;
                let s = mu * l1 + Z * sig * l1.sqrt();
                let big_s = s + mu * cover;
                if sim.position() < s {
                    let q = packs(big_s - sim.position(), pack);
                    sim.order(t, q, pack, PromptMode::Rule);
                }
            }
        }
        Policy::Larder => run_larder(&mut sim, d, p, larder),
    }
    let m = n - WARMUP;
    let demand = np_sum(&d[WARMUP..]);
    SeriesResult {
        policy: policy.name(),
        eval_days: m,
        demand,
        stockout_days: sim.stockout_days,
        lost: sim.lost,
        fill_rate: if demand > 0.0 {
            1.0 - sim.lost / demand
        } else {
            f64::NAN
        },
        wasted: sim.waste,
        orders: sim.orders,
        units_ordered: sim.units_ordered,
        prompts: sim.prompts,
        mean_inventory: sim.inv_sum / m as f64,
        household_id: String::new(),
        item: String::new(),
    }
}

/// larder in the loop: the warm-up is observed as consumption; then every
/// day the delivery, the expired stock and the evening reading are
/// observed, and `forecast::plan` decides.
fn run_larder(sim: &mut PeerSim, d: &[f64], p: &ItemParams, run: &LarderRun) {
    let model = larder_model(p, run.sensor);
    let mut state = ItemState::default();
    let mut rng = Rng(run.seed ^ 0x5eed);
    let consumed = |state: &mut ItemState, t: usize, x: f64| {
        let obs = Observation {
            at: at(t, 12 * 3_600),
            kind: ObservationKind::Consumed,
            amount: x,
        };
        forecast::observe(&model, state, &obs);
    };
    for (t, &x) in d.iter().enumerate().take(WARMUP) {
        consumed(&mut state, t, x);
    }
    // The stock found when the sensor is installed.
    let start = Observation {
        at: at(WARMUP, 0),
        kind: ObservationKind::Added,
        amount: sim.on_hand(),
    };
    forecast::observe(&model, &mut state, &start);
    let auto = AutoApprove {
        max_packages: AUTO_MAX_PACKS as u32,
        min_gap_days: AUTO_MIN_GAP as f64,
    };
    for (t, &dt) in d.iter().enumerate().skip(WARMUP) {
        let away = run.away.iter().any(|&(a, b)| (a..b).contains(&t));
        if run.away.iter().any(|&(_, b)| b == t) {
            forecast::resume(&model, &mut state, at(t, 0));
        }
        if run.away.iter().any(|&(a, _)| a == t) {
            forecast::pause(&model, &mut state, at(t, 0));
        }
        let out = sim.step(t, if away { 0.0 } else { dt });
        if out.received > 0.0 {
            let obs = Observation {
                at: at(t, 60),
                kind: ObservationKind::Added,
                amount: out.received,
            };
            forecast::observe(&model, &mut state, &obs);
        }
        if out.expired > 0.0 {
            let obs = Observation {
                at: at(t, 120),
                kind: ObservationKind::Removed,
                amount: out.expired,
            };
            forecast::observe(&model, &mut state, &obs);
        }
        match run.sensor {
            Sensor::LoadCell { noise_sd } => {
                let noise = if noise_sd > 0.0 {
                    noise_sd * rng.normal()
                } else {
                    0.0
                };
                let obs = Observation {
                    at: at(t, EVENING),
                    kind: ObservationKind::Level,
                    amount: (sim.on_hand() + noise).max(0.0),
                };
                forecast::observe(&model, &mut state, &obs);
            }
            Sensor::Doses => {
                if out.consumed > 0.0 {
                    consumed(&mut state, t, out.consumed);
                }
            }
        }
        let ctx = DecisionContext {
            on_order: sim.on_order(),
            days_since_last_order: sim.days_since_order(t).map(|x| x as f64),
            auto_approve: Some(auto),
            ..DecisionContext::default()
        };
        // The daemon keeps at most one open intent per item.
        if ctx.on_order > 0.0 {
            continue;
        }
        let plan = forecast::plan(&model, &state, at(t, EVENING), &ctx);
        if std::env::var_os("LARDER_TRACE").is_some() {
            eprintln!(
                "t={t} d={dt:.3} oh={:.3} usable={:.3} rate={:.3} p={:.3} lots={:?} order={:?}",
                sim.on_hand(),
                plan.usable,
                plan.forecast.rate_per_day,
                plan.forecast.stockout_probability,
                state
                    .lots
                    .iter()
                    .map(|l| ((l.at - EPOCH) / DAY, (l.amount * 100.0).round() / 100.0))
                    .collect::<Vec<_>>(),
                plan.proposal.as_ref().map(|p| p.packages)
            );
        }
        if let Some(proposal) = plan.proposal {
            sim.order(
                t,
                f64::from(proposal.packages) * p.pack,
                p.pack,
                PromptMode::Rule,
            );
        }
    }
}

/// One household × item series read from the events file.
#[derive(Debug, Clone)]
pub struct Series {
    /// Household id as written in the file.
    pub household_id: String,
    /// Item name.
    pub item: String,
    /// `(day index, qty)` purchases, one per day.
    pub purchases: Vec<(usize, f64)>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let d = it.next()?.get(..2)?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| days_from_civil(y, m, d))
}

/// Parses `household_id,item,date,qty` text into series (in order of first
/// appearance) and the calendar length in days (first to last date).
pub fn parse_events(text: &str) -> anyhow::Result<(Vec<Series>, usize)> {
    let mut rows = Vec::new();
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        bail!("empty events file");
    };
    let cols: Vec<&str> = header.trim().split(',').map(str::trim).collect();
    let find = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .with_context(|| format!("the header has no `{name}` column: {header:?}"))
    };
    let (hi, ii, di, qi) = (
        find("household_id")?,
        find("item")?,
        find("date")?,
        find("qty")?,
    );
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.trim().split(',').collect();
        let get = |i: usize| {
            f.get(i)
                .copied()
                .with_context(|| format!("line {}: too few fields", n + 1))
        };
        let date = parse_date(get(di)?).with_context(|| format!("line {}: bad date", n + 1))?;
        let qty: f64 = get(qi)?
            .trim()
            .parse()
            .with_context(|| format!("line {}: bad qty", n + 1))?;
        rows.push((get(hi)?.to_owned(), get(ii)?.to_owned(), date, qty));
    }
    let Some(start) = rows.iter().map(|r| r.2).min() else {
        bail!("no events");
    };
    let end = rows.iter().map(|r| r.2).max().unwrap_or(start);
    let n_days = (end - start + 1) as usize;
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    for (hh, item, date, qty) in rows {
        let day = (date - start) as usize;
        let i = *index.entry((hh.clone(), item.clone())).or_insert_with(|| {
            series.push(Series {
                household_id: hh,
                item,
                purchases: Vec::new(),
            });
            series.len() - 1
        });
        let p = &mut series[i].purchases;
        match p.iter_mut().find(|x| x.0 == day) {
            Some(x) => x.1 += qty,
            None => p.push((day, qty)),
        }
    }
    Ok((series, n_days))
}

/// Runs `policies` over every eligible series (the peer's filter: at least
/// `WARMUP + 60` days and some warm-up demand), reporting progress through
/// `progress(done, total)`.
pub fn replay_all(
    series: &[Series],
    n_days: usize,
    policies: &[Policy],
    mut progress: impl FnMut(usize, usize),
) -> Vec<SeriesResult> {
    let mut rows = Vec::new();
    for (k, s) in series.iter().enumerate() {
        progress(k, series.len());
        let d = daily_demand(&s.purchases, n_days);
        if d.len() < WARMUP + 60 || d[..WARMUP].iter().sum::<f64>() <= 0.0 {
            continue;
        }
        let p = item_params(&s.item);
        let mu0 = np_sum(&d[..WARMUP]) / WARMUP as f64;
        for &policy in policies {
            let mut r = run_policy(policy, &d, &p, mu0, &LarderRun::default());
            r.household_id.clone_from(&s.household_id);
            r.item.clone_from(&s.item);
            rows.push(r);
        }
    }
    progress(series.len(), series.len());
    rows
}

/// One item × policy line of the summary (the peer's columns).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Item.
    pub item: String,
    /// Policy.
    pub policy: String,
    /// Series (households).
    pub series: usize,
    /// Stockout days per 100 evaluated days.
    pub stockout_days_per_100d: f64,
    /// Units served / units demanded.
    pub fill_rate: f64,
    /// Expired units as a percentage of demand.
    pub waste_pct_of_demand: f64,
    /// Orders per 30 days.
    pub orders_per_30d: f64,
    /// Approval prompts per 30 days.
    pub prompts_per_30d: f64,
    /// Median over series of mean on-hand inventory in days of demand.
    pub mean_inv_days: f64,
}

/// The item × policy summary, sorted by item then policy.
pub fn summarize(rows: &[SeriesResult]) -> Vec<SummaryRow> {
    let mut groups: Vec<((String, String), Vec<&SeriesResult>)> = Vec::new();
    for r in rows {
        let key = (r.item.clone(), r.policy.to_owned());
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
        .into_iter()
        .map(|((item, policy), g)| {
            let sum = |f: &dyn Fn(&SeriesResult) -> f64| g.iter().map(|r| f(r)).sum::<f64>();
            let days = sum(&|r| r.eval_days as f64);
            let demand = sum(&|r| r.demand);
            let mut inv: Vec<f64> = g
                .iter()
                .map(|r| r.mean_inventory / (r.demand / r.eval_days as f64))
                .collect();
            inv.sort_by(f64::total_cmp);
            let median = match inv.len() {
                0 => f64::NAN,
                n if n % 2 == 1 => inv[n / 2],
                n => 0.5 * (inv[n / 2 - 1] + inv[n / 2]),
            };
            let mut hh: Vec<&str> = g.iter().map(|r| r.household_id.as_str()).collect();
            hh.sort_unstable();
            hh.dedup();
            SummaryRow {
                item,
                policy,
                series: hh.len(),
                stockout_days_per_100d: 100.0 * sum(&|r| f64::from(r.stockout_days)) / days,
                fill_rate: 1.0 - sum(&|r| r.lost) / demand,
                waste_pct_of_demand: 100.0 * sum(&|r| r.wasted) / demand,
                orders_per_30d: 30.0 * sum(&|r| f64::from(r.orders)) / days,
                prompts_per_30d: 30.0 * sum(&|r| f64::from(r.prompts)) / days,
                mean_inv_days: median,
            }
        })
        .collect()
}

/// A float as pandas writes it (`1.0`, `0.25`, `23.214285714285708`).
fn py(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{x:?}")
    }
}

/// Rounded to 3 decimals, as the peer's summary.
fn r3(x: f64) -> String {
    py((x * 1000.0).round() / 1000.0)
}

/// The per-series CSV text (the peer's columns and order).
pub fn per_series_csv(rows: &[SeriesResult]) -> String {
    let mut out = String::from(
        "policy,eval_days,demand,stockout_days,lost,fill_rate,wasted,orders,units_ordered,prompts,mean_inventory,household_id,item\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.policy,
            r.eval_days,
            py(r.demand),
            r.stockout_days,
            py(r.lost),
            py(r.fill_rate),
            py(r.wasted),
            r.orders,
            r.units_ordered,
            r.prompts,
            py(r.mean_inventory),
            r.household_id,
            r.item
        );
    }
    out
}

/// The summary CSV text (the peer's columns).
pub fn summary_csv(rows: &[SummaryRow]) -> String {
    let mut out = String::from(
        "item,policy,series,stockout_days_per_100d,fill_rate,waste_pct_of_demand,orders_per_30d,prompts_per_30d,mean_inv_days\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            r.item,
            r.policy,
            r.series,
            r3(r.stockout_days_per_100d),
            r3(r.fill_rate),
            r3(r.waste_pct_of_demand),
            r3(r.orders_per_30d),
            r3(r.prompts_per_30d),
            r3(r.mean_inv_days)
        );
    }
    out
}

/// The summary as an aligned text table.
pub fn summary_table(rows: &[SummaryRow]) -> String {
    let mut out = format!(
        "{:<18} {:<13} {:>6} {:>8} {:>6} {:>8} {:>7} {:>8} {:>8}\n",
        "item", "policy", "series", "SO/100d", "fill", "waste%", "ord/30d", "ask/30d", "inv_days"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<18} {:<13} {:>6} {:>8.3} {:>6.3} {:>8.3} {:>7.3} {:>8.3} {:>8.3}",
            r.item,
            r.policy,
            r.series,
            r.stockout_days_per_100d,
            r.fill_rate,
            r.waste_pct_of_demand,
            r.orders_per_30d,
            r.prompts_per_30d,
            r.mean_inv_days
        );
    }
    out
}

/// A seeded random sample of at most `n` series per item, in file order:
/// each series gets a pseudo-random key from (seed, household, item) and
/// the `n` smallest keys of each item are kept. The same seed keeps the
/// same series; every series is equally likely to be kept. `n = 0` keeps
/// all.
pub fn sample_per_item(series: Vec<Series>, n: usize, seed: u64) -> Vec<Series> {
    if n == 0 {
        return series;
    }
    let key = |s: &Series| {
        // FNV-1a over the seed and the series' identity.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let bytes = seed
            .to_le_bytes()
            .into_iter()
            .chain(s.household_id.bytes())
            .chain([0xff])
            .chain(s.item.bytes());
        for b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // A final avalanche so that similar ids do not sort together.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    };
    let mut keys: HashMap<&str, Vec<u64>> = HashMap::new();
    for s in &series {
        keys.entry(&s.item).or_default().push(key(s));
    }
    let cutoff: HashMap<String, u64> = keys
        .into_iter()
        .map(|(item, mut k)| {
            k.sort_unstable();
            (item.to_owned(), k[(n.min(k.len())) - 1])
        })
        .collect();
    series
        .into_iter()
        .filter(|s| cutoff.get(&s.item).is_some_and(|c| key(s) <= *c))
        .collect()
}

/// `larder replay`: reads `events`, runs `policies`, writes
/// `PREFIX_per_series.csv` and `PREFIX_summary.csv`, prints the summary.
pub fn run(
    events: &Path,
    out: &str,
    policies: &[Policy],
    max_series: usize,
    sample_seed: u64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let text =
        std::fs::read_to_string(events).with_context(|| format!("reading {}", events.display()))?;
    let (mut series, n_days) = parse_events(&text)?;
    if max_series > 0 {
        series = sample_per_item(series, max_series, sample_seed);
    }
    let mut last = Instant::now();
    let rows = replay_all(&series, n_days, policies, |done, total| {
        if done == total || last.elapsed().as_millis() >= 1000 {
            last = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            eprint!("\rreplay: {done}/{total} series, {secs:.1}s");
            if done == total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
    });
    let summary = summarize(&rows);
    let write = |path: String, text: String| {
        std::fs::write(&path, text).with_context(|| format!("writing {path}"))
    };
    write(format!("{out}_per_series.csv"), per_series_csv(&rows))?;
    write(format!("{out}_summary.csv"), summary_csv(&summary))?;
    print!("{}", summary_table(&summary));
    eprintln!(
        "{} series, {} rows, {:.2}s",
        rows.iter()
            .map(|r| (&r.household_id, &r.item))
            .collect::<std::collections::HashSet<_>>()
            .len(),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_series_samples_evenly_and_repeatably() {
        let series: Vec<Series> = (0..200)
            .flat_map(|h| {
                ["milk", "eggs"].map(|item| Series {
                    household_id: h.to_string(),
                    item: item.to_owned(),
                    purchases: Vec::new(),
                })
            })
            .collect();
        let picked = sample_per_item(series.clone(), 20, 1);
        for item in ["milk", "eggs"] {
            assert_eq!(picked.iter().filter(|s| s.item == item).count(), 20);
        }
        // Not simply the first 20 households: spread across the file.
        let ids: Vec<usize> = picked
            .iter()
            .filter(|s| s.item == "milk")
            .map(|s| s.household_id.parse().unwrap())
            .collect();
        assert!(ids.iter().any(|&h| h >= 100), "{ids:?}");
        assert!(ids.iter().any(|&h| h < 100), "{ids:?}");
        let again = sample_per_item(series.clone(), 20, 1);
        let key = |v: &[Series]| -> Vec<(String, String)> {
            v.iter()
                .map(|s| (s.household_id.clone(), s.item.clone()))
                .collect()
        };
        assert_eq!(key(&picked), key(&again), "same seed, same sample");
        let other = sample_per_item(series.clone(), 20, 2);
        assert_ne!(key(&picked), key(&other), "another seed, another sample");
        assert_eq!(
            sample_per_item(series, 1000, 1).len(),
            400,
            "n above the count keeps all"
        );
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn depletion_spreads_each_purchase_until_the_next_and_drops_the_tail() {
        // 2 units on day 1, 3 on day 3, 1 on day 6; 10-day calendar.
        let d = daily_demand(&[(1, 2.0), (3, 3.0), (6, 1.0)], 10);
        let want = [0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(d.len(), 6);
        assert!(d.iter().zip(want).all(|(a, b)| close(*a, b)), "{d:?}");
    }

    #[test]
    fn fifo_lots_are_consumed_oldest_first_and_expire_at_shelf_life() {
        // Shelf life 3 days; 1 unit at start, 1 more arrives on day 1.
        let mut sim = PeerSim::new(3.0, 1, 1.0);
        sim.order(0, 1.0, 1.0, PromptMode::Never);
        let day0 = sim.step(0, 0.25); // first lot 1.0 → 0.75, age 1
        assert!(close(day0.consumed, 0.25) && close(sim.on_hand(), 0.75));
        let day1 = sim.step(1, 0.5); // receive 1; old lot 0.75 → 0.25 (FIFO)
        assert!(close(day1.received, 1.0));
        assert_eq!(sim.lots, vec![(0.25, 2.0), (1.0, 1.0)]);
        sim.step(2, 0.0); // ages 3 and 2
        let day3 = sim.step(3, 0.0); // the old lot is 3 days old: expires
        assert!(close(day3.expired, 0.25) && close(sim.waste, 0.25));
        assert_eq!(sim.lots, vec![(1.0, 3.0)]);
        let day4 = sim.step(4, 0.0);
        assert!(close(day4.expired, 1.0) && close(sim.on_hand(), 0.0));
    }

    #[test]
    fn orders_arrive_after_the_lead_time_and_unmet_demand_is_lost() {
        let mut sim = PeerSim::new(f64::INFINITY, 2, 0.0);
        sim.order(0, 2.0, 1.0, PromptMode::Never);
        assert!(close(sim.position(), 2.0) && close(sim.on_hand(), 0.0));
        let d0 = sim.step(0, 0.5);
        let d1 = sim.step(1, 0.5);
        assert!(close(d0.lost, 0.5) && close(d1.lost, 0.5));
        let d2 = sim.step(2, 0.5); // delivered this morning
        assert!(close(d2.received, 2.0) && close(d2.lost, 0.0));
        assert_eq!(sim.stockout_days, 2);
        assert!(close(sim.lost, 1.0) && close(sim.on_hand(), 1.5));
        // Sum of end-of-day stock: 0 + 0 + 1.5.
        assert!(close(sim.inv_sum, 1.5));
    }

    #[test]
    fn prompts_follow_the_approval_rule() {
        let mut sim = PeerSim::new(f64::INFINITY, 1, 0.0);
        // (day, qty, prompted?)
        let cases = [
            (10, 2.0, false), // small, first order
            (12, 1.0, true),  // only 2 days after the last
            (15, 1.0, false), // 3 days after
            (20, 3.0, true),  // more than 2 packs
            (30, 2.0, false),
        ];
        let mut prompts = 0;
        for (t, q, prompted) in cases {
            sim.order(t, q, 1.0, PromptMode::Rule);
            prompts += u32::from(prompted);
            assert_eq!(sim.prompts, prompts, "day {t}");
        }
        let mut every = PeerSim::new(1.0, 1, 0.0);
        every.order(0, 1.0, 1.0, PromptMode::Every);
        every.order(9, 1.0, 1.0, PromptMode::Never);
        assert_eq!(every.prompts, 1);
        assert_eq!(every.orders, 2);
        // Whole packs, at least one.
        assert!(close(packs(0.0, 1.0), 1.0) && close(packs(2.0000000001, 1.0), 2.0));
        assert!(close(packs(2.1, 1.0), 3.0) && close(packs(1.1, 0.5), 1.5));
    }

    #[test]
    fn statsforecast_equivalents_match_hand_values() {
        // SES(0.5) on [1, 3]: fitted 1, forecast 0.5*3 + 0.5*1 = 2.
        assert!(close(ses_forecast(&[1.0, 3.0], 0.5), 2.0));
        // Croston on [0, 2, 0, 0, 4]: sizes [2, 4], intervals [2, 3].
        // SES(0.1): sizes 0.1*4 + 0.9*2 = 2.2; intervals 0.1*3 + 0.9*2 = 2.1.
        assert!(close(
            sba_forecast(&[0.0, 2.0, 0.0, 0.0, 4.0]),
            0.95 * 2.2 / 2.1
        ));
        // numpy's pairwise sum equals the plain sum on exact values.
        let x: Vec<f64> = (0..300).map(f64::from).collect();
        assert!(close(np_sum(&x), 44_850.0));
    }

    #[test]
    fn events_parse_into_series_in_order_of_appearance() {
        let text = "household_id,item,date,qty\n7,milk,2017-01-01,1\n7,eggs,2017-01-03,2\n7,milk,2017-01-05,1\n7,milk,2017-01-05,2\n";
        let (series, n_days) = parse_events(text).unwrap();
        assert_eq!(n_days, 5);
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].item, "milk");
        assert_eq!(series[0].purchases, vec![(0, 1.0), (4, 3.0)]);
        assert_eq!(series[1].purchases, vec![(2, 2.0)]);
        assert!(parse_events("household_id,item,qty\n").is_err());
        assert_eq!(days_from_civil(2017, 1, 1) * DAY, EPOCH);
    }

    /// A steady user: larder (driven through observe/plan) keeps the
    /// item in stock with no prompts and no waste beyond what the pack
    /// size forces.
    #[test]
    fn larder_in_the_loop_keeps_a_steady_household_stocked() {
        let d = vec![0.2; 300];
        let p = item_params("milk");
        let r = run_policy(Policy::Larder, &d, &p, 0.2, &LarderRun::default());
        assert!(r.fill_rate > 0.995, "{r:?}");
        assert_eq!(r.prompts, 0, "{r:?}");
        assert!(r.wasted < 0.05 * r.demand, "{r:?}");
        // Orders are spaced by about a pack's life (5 days).
        assert!((30..=45).contains(&r.orders), "{r:?}");
    }

    #[test]
    fn larder_orders_nothing_while_the_household_is_away() {
        let d = vec![0.3; 300];
        let p = item_params("milk");
        let away = LarderRun {
            away: vec![(150, 200)],
            ..LarderRun::default()
        };
        let home = run_policy(Policy::Larder, &d, &p, 0.3, &LarderRun::default());
        let mut d_away = d.clone();
        d_away[150..200].fill(0.0);
        let r = run_policy(Policy::Larder, &d_away, &p, 0.3, &away);
        assert!(
            r.orders + 8 < home.orders,
            "{} vs {}",
            r.orders,
            home.orders
        );
    }
}
