//! larder's own policy in the replay: each simulated day becomes the
//! observations a hub would receive (a delivery, expired stock thrown away,
//! the evening load-cell reading or the washer's doses, trips away as
//! pauses), and the order is `forecast::plan`'s decision at 23:00.

use super::WARMUP;
use super::peer_sim::{AUTO_MAX_PACKS, AUTO_MIN_GAP, ItemParams, PeerSim, PromptMode};
use crate::core::forecast::{self, AutoApprove, DecisionContext, ItemModel, ItemState, Measure};
use crate::core::{DAY, Observation, ObservationKind};

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

/// larder in the loop: the warm-up is observed as consumption; then every
/// day the delivery, the expired stock and the evening reading are
/// observed, and `forecast::plan` decides.
pub(super) fn run_larder(sim: &mut PeerSim, d: &[f64], p: &ItemParams, run: &LarderRun) {
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
