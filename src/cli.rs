//! The command line: parsing (clap) and one function per subcommand.
//! Errors are returned with context; `main` prints them once and picks the
//! exit status (78 for configuration problems, as in sysexits).

use crate::approval::{self, ApprovalRequest, ReplyClaims};
use crate::clock::{Clock, SystemClock};
use crate::config::{self, Config};
use crate::engine::Topics;
use crate::keys::{self, SigningKey};
use crate::mqtt;
use crate::store::{IntentState, Store};
use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// larder: a privacy-first restocking agent for smart-home hubs.
#[derive(Debug, Parser)]
#[command(name = "larder", version, about)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, short = 'c', global = true, default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (what the systemd service starts).
    Run,
    /// Run a whole simulated household end to end, with an embedded broker.
    Demo {
        /// Simulated days.
        #[arg(long, default_value_t = 60)]
        days: u32,
        /// Random seed (same seed, same story).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Show items, levels, days left, open intents and counters.
    Status,
    /// Configuration commands.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Make an Ed25519 key (a member's or the hub's) and print its public key.
    Keygen {
        /// Where to write the private key (PKCS#8, mode 0600; never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Member name to print a `[[members]]` snippet for.
        #[arg(long)]
        name: Option<String>,
    },
    /// Approve a pending intent (sign and publish the reply).
    Approve(Reply),
    /// Deny a pending intent (sign and publish the reply).
    Deny(Reply),
    /// Measure footprint and speed on this machine (needs mosquitto); prints a table.
    Bench(crate::bench::Options),
}

/// Configuration subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate a configuration file; every problem is named by key path.
    Check {
        /// The file (default: the global `--config`).
        path: Option<PathBuf>,
    },
}

/// Arguments of `approve` and `deny`.
#[derive(Debug, clap::Args)]
pub struct Reply {
    /// Intent id (from the approval request or `larder status`).
    pub intent: String,
    /// The member's private key (from `larder keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// Member name (default: the member whose public key matches `--key`).
    #[arg(long)]
    pub member: Option<String>,
    /// Seconds to wait for the request and the broker.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// A configuration problem (exit status 78).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ConfigProblem(#[from] pub config::ConfigError);

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run => {
            let config = load_config(&cli.config)?;
            runtime()?.block_on(crate::daemon::run(
                config,
                Arc::new(SystemClock),
                shutdown_signal(),
            ))
        }
        Command::Demo { days, seed } => runtime()?.block_on(crate::demo::run(days, seed)),
        Command::Status => status(&load_config(&cli.config)?),
        Command::Config {
            action: ConfigAction::Check { path },
        } => config_check(path.as_deref().unwrap_or(&cli.config)),
        Command::Keygen { out, name } => keygen(&out, name.as_deref()),
        Command::Approve(reply) => {
            let config = load_config(&cli.config)?;
            runtime()?.block_on(send_reply(&config, &reply, approval::Verdict::Approve))
        }
        Command::Deny(reply) => {
            let config = load_config(&cli.config)?;
            runtime()?.block_on(send_reply(&config, &reply, approval::Verdict::Deny))
        }
        Command::Bench(options) => crate::bench::run(&options),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    let config = Config::load(path).map_err(ConfigProblem)?;
    for warning in Config::file_warnings(path)
        .into_iter()
        .chain(config.warnings())
    {
        tracing::warn!(config = %path.display(), "{warning}");
    }
    Ok(config)
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn config_check(path: &Path) -> anyhow::Result<()> {
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

fn keygen(out: &Path, name: Option<&str>) -> anyhow::Result<()> {
    let key = SigningKey::create(out)?;
    let public = keys::to_hex(&key.public_key());
    println!("private key written to {} (mode 0600)", out.display());
    println!("public key: {public}");
    if let Some(name) = name {
        println!();
        println!("# add to larder.toml:");
        println!("[[members]]");
        println!("name = {name:?}");
        println!("public-key = {public:?}");
        println!("may-approve = true");
    }
    Ok(())
}

/// `larder approve|deny`: fetch the retained request (for its nonce), sign
/// the reply with the member's key, publish it and wait for the PUBACK.
async fn send_reply(
    config: &Config,
    reply: &Reply,
    verdict: approval::Verdict,
) -> anyhow::Result<()> {
    let key = SigningKey::load(&reply.key)?;
    let member = match &reply.member {
        Some(name) => name.clone(),
        None => config
            .members
            .iter()
            .find(|m| m.public_key == key.public_key())
            .map(|m| m.name.clone())
            .with_context(|| {
                format!(
                    "no member in {} has the public key of {}; pass --member",
                    "the configuration",
                    reply.key.display()
                )
            })?,
    };
    let topics = Topics::new(config);
    let timeout = Duration::from_secs(reply.timeout);
    let client_id = format!("larder-cli-{}", keys::to_hex(&keys::random_bytes::<6>()));
    let opts = mqtt::options(&config.mqtt, &client_id, false, None)?;
    let request_topic = topics.approval_request(&reply.intent);
    let bytes = mqtt::fetch_retained(opts.clone(), &request_topic, timeout)
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("reading the approval request on {request_topic}"))?
        .with_context(|| {
            format!(
                "no pending approval request for intent {} (on {request_topic}); it may be decided, expired or not yet published",
                reply.intent
            )
        })?;
    let request: ApprovalRequest = serde_json::from_slice(&bytes)
        .with_context(|| format!("decoding the approval request on {request_topic}"))?;
    if request.intent != reply.intent || request.hub != config.hub.id {
        bail!(
            "the request on {request_topic} is for hub {:?} intent {:?}, not ours",
            request.hub,
            request.intent
        );
    }
    let nonce = keys::from_hex(&request.nonce).context("the request's nonce is not hex")?;
    let now = SystemClock.now();
    if now > request.expires_at {
        bail!(
            "the request for intent {} expired at {}",
            request.intent,
            format_time(request.expires_at)
        );
    }
    println!(
        "{} {} × {} ({}), up to {:.2} {}",
        match verdict {
            approval::Verdict::Approve => "approving",
            approval::Verdict::Deny => "denying",
        },
        request.packages,
        request.item_name,
        request.product,
        request.price_ceiling,
        request.currency
    );
    for why in &request.why {
        println!("  because: {why}");
    }
    let envelope = approval::sign_reply(
        &key,
        &ReplyClaims {
            hub: config.hub.id.clone(),
            intent: request.intent.clone(),
            nonce,
            verdict,
            member: member.clone(),
            issued_at: now,
        },
    );
    mqtt::publish_once(opts, &request.reply_topic, envelope, false, timeout)
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("publishing the reply on {}", request.reply_topic))?;
    println!(
        "signed reply from {member} published on {}",
        request.reply_topic
    );
    Ok(())
}

/// `larder status`: read-only view of the database.
fn status(config: &Config) -> anyhow::Result<()> {
    let path = config.hub.database_path();
    if !path.exists() {
        bail!(
            "no database at {} yet: has `larder run` started with this configuration?",
            path.display()
        );
    }
    let store = Store::open_readonly(&path)?;
    let now = SystemClock.now();
    print!("{}", render_status(config, &store, now)?);
    Ok(())
}

/// The status report as text (shared with the demo's summary).
pub fn render_status(config: &Config, store: &Store, now: i64) -> anyhow::Result<String> {
    use std::fmt::Write;
    let engine_view = forecasts(config, store, now)?;
    let read = store.read();
    let mut out = String::new();
    writeln!(
        out,
        "{:<20} {:>10} {:>16} {:>10}  open intent",
        "item", "level", "use/day", "days left"
    )?;
    for (item, fc) in engine_view {
        let (level, rate, days) = match &fc {
            Some(fc) => (
                fc.level
                    .map_or("?".into(), |l| format!("{l:.2} {}", item.unit)),
                format!("{:.2}±{:.2}", fc.rate_per_day, fc.rate_sd_per_day),
                fc.days_left.map_or("-".into(), |d| format!("{d:.1}")),
            ),
            None => ("?".into(), "-".into(), "-".into()),
        };
        let open = read.open_intent(&item.id)?.map_or(String::new(), |i| {
            format!("{} {} × {}", short(&i.id), i.state.as_str(), i.packages)
        });
        writeln!(
            out,
            "{:<20} {:>10} {:>16} {:>10}  {open}",
            item.id, level, rate, days
        )?;
    }
    let pending = read.intents_in_state(IntentState::AwaitingApproval)?;
    if !pending.is_empty() {
        writeln!(out, "\nwaiting for approval:")?;
        for i in pending {
            writeln!(
                out,
                "  {}  {} × {}  up to {:.2} {}  expires {}",
                i.id,
                i.packages,
                i.item,
                i.price_ceiling,
                i.currency,
                i.expires_at.map_or("-".into(), format_time)
            )?;
        }
    }
    let counters = read.counters()?;
    if !counters.is_empty() {
        writeln!(out, "\ncounters:")?;
        for (name, value) in counters {
            writeln!(out, "  {name:<22} {value}")?;
        }
    }
    Ok(out)
}

/// Every item with its current forecast (`None` before any observation).
pub fn forecasts(
    config: &Config,
    store: &Store,
    now: i64,
) -> anyhow::Result<Vec<(config::Item, Option<crate::core::forecast::Forecast>)>> {
    let read = store.read();
    config
        .items
        .iter()
        .map(|item| {
            let fc = read
                .item_state(&item.id)?
                .map(|s| crate::core::forecast::forecast(&item.model, &s, now));
            Ok((item.clone(), fc))
        })
        .collect()
}

/// The first 8 characters of an id, for tables.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A Unix time as `YYYY-MM-DD HH:MM` UTC.
pub fn format_time(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| t.to_string())
}
