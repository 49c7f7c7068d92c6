//! `larder config check`: validate a configuration file and print its
//! warnings, or every problem by key path.

use super::support::ConfigProblem;
use crate::config::Config;
use std::path::Path;

/// `larder config check`: "config OK" with a summary, after the warnings.
pub(super) fn run(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path).map_err(ConfigProblem)?;
    for warning in Config::file_warnings(path)
        .into_iter()
        .chain(config.warnings())
    {
        println!("warning: {warning}");
    }
    println!(
        "config OK: {} (hub {:?}, {} devices, {} items, {} members)",
        path.display(),
        config.hub.id,
        config.devices.len(),
        config.items.len(),
        config.members.len()
    );
    Ok(())
}
