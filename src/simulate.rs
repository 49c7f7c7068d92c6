//! `larder simulate`: seeded synthetic households (placeholder).

/// Runs the synthetic households.
pub fn run(seed: u64, households: usize, days: usize) -> anyhow::Result<()> {
    let _ = (seed, households, days);
    Ok(())
}
