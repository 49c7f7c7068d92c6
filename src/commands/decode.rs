//! `larder decode`: one device payload through its adapter, printing the
//! signals and observations it yields, or why it yields none.

use super::support::ConfigProblem;
use crate::clock::{Clock, SystemClock};
use crate::config::{self, Config};
use anyhow::{Context as _, bail};
use std::path::Path;

/// `larder decode`: decodes `payload_file` as `format` would, with the
/// device table in `device_config` (if any).
pub(super) fn run(
    format: &str,
    topic: &str,
    device_config: Option<&Path>,
    payload_file: &Path,
) -> anyhow::Result<()> {
    let Some(parsed) = config::PayloadFormat::from_name(format) else {
        bail!("unknown format {format:?}; see docs/devices.md");
    };
    if parsed.is_native() {
        bail!(
            "{format:?} is larder's native event format (docs/protocol.md), not a device adapter"
        );
    }
    let text = match device_config {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading device config {}", path.display()))?,
        None => String::new(),
    };
    let config_path = device_config.unwrap_or(Path::new("--format"));
    let device = Config::parse_device(&text, config_path, Some(parsed)).map_err(ConfigProblem)?;
    if device.format != parsed {
        bail!(
            "--format {format:?} but {} says format {:?}",
            config_path.display(),
            device.format.name()
        );
    }
    let payload = std::fs::read(payload_file)
        .with_context(|| format!("reading payload {}", payload_file.display()))?;
    let now = SystemClock.now();
    match crate::protocol::adapters::describe(&device, topic, &payload, now) {
        Ok(text) => {
            print!("{text}");
            Ok(())
        }
        Err(refusal) => bail!(
            "{}: refused (larder dead-letters it): {refusal}",
            payload_file.display()
        ),
    }
}
