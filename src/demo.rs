//! `larder demo` (being written).

/// Runs the demo.
pub async fn run(days: u32, seed: u64) -> anyhow::Result<()> {
    let _ = (days, seed);
    anyhow::bail!("not yet")
}
