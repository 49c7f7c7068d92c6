//! `larder replay`: purchase histories through larder's reorder policy and
//! the peer baselines (the work is `tools::replay`).

use anyhow::Context as _;
use std::path::Path;

/// `larder replay`: parses the policy names, then replays.
pub(super) fn run(
    events: &Path,
    out: &str,
    policies: &[String],
    max_series: usize,
    sample_seed: u64,
) -> anyhow::Result<()> {
    crate::tools::replay::run(
        events,
        out,
        &parse_policies(policies)?,
        max_series,
        sample_seed,
    )
}

fn parse_policies(names: &[String]) -> anyhow::Result<Vec<crate::tools::replay::Policy>> {
    names
        .iter()
        .map(|n| {
            crate::tools::replay::Policy::parse(n.trim()).with_context(|| {
                format!("unknown policy {n:?} (larder, sba, ses, minstock, subscription)")
            })
        })
        .collect()
}
