//! What several subcommands share: loading the configuration (warnings
//! logged, problems typed for exit status 78), the async runtime, the
//! read-only database, the member who signs, and duration arguments.

use crate::config::{self, Config};
use crate::crypto::keys::SigningKey;
use crate::store::Store;
use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

/// The member who signs a reply or a control message.
#[derive(Debug, clap::Args)]
pub struct Signer {
    /// The member's private key (from `larder keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// Member name (default: the member whose public key matches `--key`).
    #[arg(long)]
    pub member: Option<String>,
    /// Seconds to wait for the broker.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

impl Signer {
    /// Loads the key and works out the member name.
    pub(super) fn load(&self, config: &Config) -> anyhow::Result<(SigningKey, String)> {
        let key = SigningKey::load(&self.key)?;
        let member = match &self.member {
            Some(name) => name.clone(),
            None => config
                .members
                .iter()
                .find(|m| m.public_key == key.public_key())
                .map(|m| m.name.clone())
                .with_context(|| {
                    format!(
                        "no member in the configuration has the public key of {}; pass --member",
                        self.key.display()
                    )
                })?,
        };
        Ok((key, member))
    }
}

/// A configuration problem (exit status 78).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ConfigProblem(#[from] pub config::ConfigError);

/// Loads the configuration at `path` and logs its warnings; a problem is
/// a [`ConfigProblem`].
pub(super) fn load_config(path: &Path) -> anyhow::Result<Config> {
    let config = Config::load(path).map_err(ConfigProblem)?;
    for warning in Config::file_warnings(path)
        .into_iter()
        .chain(config.warnings())
    {
        tracing::warn!(config = %path.display(), "{warning}");
    }
    Ok(config)
}

/// A multi-threaded runtime for the subcommands that talk to the broker.
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Opens the configured database read-only, or says why there is none.
pub fn open_database(config: &Config) -> anyhow::Result<Store> {
    let path = config.hub.database_path();
    if !path.exists() {
        bail!(
            "no database at {} yet: has `larder run` started with this configuration?",
            path.display()
        );
    }
    Store::open_readonly(&path).with_context(|| format!("opening {} read-only", path.display()))
}

/// Parses `30m`, `12h`, `3d`, `2w` into seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let per = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("duration {text:?} needs a unit: m, h, d or w (e.g. 3d)"),
    };
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0 && *n <= 3650)
        .with_context(|| {
            format!("duration {text:?} must be a whole number from 1 to 3650 and a unit")
        })?;
    Ok(n * per)
}
