//! The peer's baselines: Grocy-style minimum stock, a fixed-interval
//! subscription, and the (R=1, s, S) policy driven by SES or CrostonSBA,
//! with the statsforecast and numpy equivalents they need so that the
//! replay reproduces the peer's figures exactly.

use super::WARMUP;
use super::peer_sim::{ItemParams, PeerSim, PromptMode, packs};
use super::policy::Policy;

/// The peer's safety factor (about a 95% cycle service target).
pub const Z: f64 = 1.645;

/// Grocy-style minimum stock (1 pack): when the position falls below a
/// pack, buy the missing amount and one pack more; every order asks.
pub(super) fn run_min_stock(sim: &mut PeerSim, d: &[f64], pack: f64) {
    let smin = pack;
    for (t, &dt) in d.iter().enumerate().skip(WARMUP) {
        sim.step(t, dt);
        if sim.position() < smin {
            let q = packs(smin - sim.position() + pack, pack);
            sim.order(t, q, pack, PromptMode::Every);
        }
    }
}

/// Subscribe-&-Save: a fixed quantity every 7 days (30 for items that
/// keep), consented to once.
pub(super) fn run_subscription(sim: &mut PeerSim, d: &[f64], p: &ItemParams, mu0: f64) {
    let (pack, shelf) = (p.pack, p.shelf);
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

/// The peer's (R=1, s, S): the rate is forecast weekly by SES(0.1) or
/// CrostonSBA (`policy`); the reorder point `s` is the use over the lead
/// time plus a day with safety stock at `Z`, and an order fills up to `s`
/// plus `cover` days of use.
pub(super) fn run_ses_or_sba(
    policy: Policy,
    sim: &mut PeerSim,
    d: &[f64],
    p: &ItemParams,
    mu0: f64,
    cover: f64,
) {
    let n = d.len();
    let (pack, lead) = (p.pack, p.lead);
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
