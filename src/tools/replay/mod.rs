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
//!
//! [`forecast::observe`]: crate::core::forecast::observe
//! [`forecast::plan`]: crate::core::forecast::plan
//!
//! The parts:
//! - `purchases`: the events file read into series, the depletion reading
//!   of purchases into daily demand, the seeded `--max-series` sample;
//! - `peer_sim`: the peer's replay rules (`PeerSim`: FIFO lots, expiry,
//!   lead time, lost sales, the prompt rule) and its item parameters;
//! - `policy`: the policies and the harness that runs one over a series;
//! - `baselines`: the peer's baselines (min-stock, subscription, SES and
//!   CrostonSBA) with the statsforecast and numpy equivalents they need;
//! - `larder_policy`: larder's own decision in the loop (`forecast::plan`
//!   fed with the observations a hub would receive);
//! - `report`: the item × policy summary, the CSV files and the table.

mod baselines;
mod larder_policy;
mod peer_sim;
mod policy;
mod purchases;
mod report;
#[cfg(test)]
mod tests;

pub use baselines::{Z, np_sum, sba_forecast, ses_forecast};
pub use larder_policy::{EPOCH, LarderRun, Rng, Sensor, larder_model};
pub use peer_sim::{
    AUTO_MAX_PACKS, AUTO_MIN_GAP, DayOutcome, ItemParams, PeerSim, PromptMode, item_params, packs,
};
pub use policy::{Policy, SeriesResult, replay_all, run_policy};
pub use purchases::{Series, daily_demand, days_from_civil, parse_events, sample_per_item};
pub use report::{SummaryRow, per_series_csv, summarize, summary_csv, summary_table};

use anyhow::Context as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

/// Days of history before evaluation starts.
pub const WARMUP: usize = 120;

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
