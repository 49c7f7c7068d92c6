//! The policies the replay compares, the per-series result with the
//! peer's columns, and the harness: one policy over one daily demand
//! series from the peer's initial stock, and every policy over every
//! eligible series.

use super::WARMUP;
use super::baselines::{np_sum, run_min_stock, run_ses_or_sba, run_subscription};
use super::larder_policy::{LarderRun, run_larder};
use super::peer_sim::{ItemParams, PeerSim, item_params};
use super::purchases::{Series, daily_demand};

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
    /// larder's own policy ([`forecast::plan`](crate::core::forecast::plan)).
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
    let (shelf, lead) = (p.shelf, p.lead);
    let cover = if shelf.is_finite() {
        (shelf / 2.0).min(7.0)
    } else {
        30.0
    };
    let init = (mu0 * cover).ceil();
    let mut sim = PeerSim::new(shelf, lead, init);
    match policy {
        Policy::MinStock => run_min_stock(&mut sim, d, p.pack),
        Policy::Subscription => run_subscription(&mut sim, d, p, mu0),
        Policy::Ses | Policy::Sba => run_ses_or_sba(policy, &mut sim, d, p, mu0, cover),
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
