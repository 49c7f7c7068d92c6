//! The command line, shaped like mini-redis's `cmd/`: this file holds the
//! clap types ([`Cli`], [`CliCommand`] and its sub-enums) and [`run`], the
//! dispatcher, with one arm per subcommand calling into its own file.
//! Errors are returned with context; `main` prints them once and picks the
//! exit status (78 for configuration problems, as in sysexits).
//!
//! - `run_daemon`: `larder run` (runtime, signal handlers, the daemon);
//! - `status`: `larder status` and the status report;
//! - `decode`, `config_check`, `keygen`, `discovery`, `replay`: one each;
//! - `approve`: `approve`, `deny` (signed replies) and `pending`;
//! - `control`: `pause`, `resume`, `guests`, `cancel` (signed control messages);
//! - `forget`: `larder forget`, directly or through the running larder;
//! - [`ledger`], [`explain`], [`export`]: the reports over the database;
//! - `support`: what several subcommands share (configuration loading, the
//!   runtime, the read-only database, the signing member, durations).

mod approve;
mod config_check;
mod control;
mod decode;
mod discovery;
pub mod explain;
pub mod export;
mod forget;
mod keygen;
pub mod ledger;
mod replay;
mod run_daemon;
mod status;
mod support;

pub use status::render_status;
pub use support::{ConfigProblem, Signer, open_database, parse_duration};

use crate::clock::{Clock, SystemClock};
use crate::config;
use crate::protocol::approval;
use crate::protocol::control::ForgetScope;
use crate::tools::DemoDevices;
use anyhow::bail;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use support::{load_config, runtime};

/// larder: a privacy-first restocking agent for smart-home hubs.
#[derive(Debug, Parser)]
#[command(name = "larder", version, about)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, short = 'c', global = true, default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
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
        /// Sensors: larder's own events (`native`), or a Zigbee2MQTT plug
        /// on the washer and a Tasmota HX711 scale under the milk (`real`).
        #[arg(long, value_enum, default_value_t = DemoDevices::Native)]
        devices: DemoDevices,
    },
    /// Show items, levels, days left, open intents and counters.
    Status,
    /// Decode one device payload: print its signals and the observations it
    /// yields, or why it yields none (formats: docs/devices.md).
    Decode {
        /// Payload format (zigbee2mqtt, tasmota, shelly, esphome,
        /// homeconnect, json-path).
        #[arg(long)]
        format: String,
        /// Topic it arrived on (Shelly: `<prefix>/status/switch:N` or
        /// `<prefix>/events/rpc`).
        #[arg(long, default_value = "")]
        topic: String,
        /// TOML file with one device table (the keys of a `[[devices]]`
        /// entry: `[scale]`, `[washer]`, `field`, `unit`, ...).
        #[arg(long)]
        device_config: Option<PathBuf>,
        /// The payload, as received.
        payload_file: PathBuf,
    },
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
    /// The household is away: stop learning and ordering (signed by a member).
    Pause {
        /// Resume automatically after this long (e.g. `3d`, `12h`, `2w`).
        #[arg(long = "for")]
        duration: Option<String>,
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
    },
    /// The household is back (signed by a member).
    Resume {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
    },
    /// Declare guests: expect FACTOR times the usual use for a while.
    Guests {
        /// Consumption multiplier, e.g. 1.5 for half as many people again.
        #[arg(long)]
        factor: f64,
        /// How long they stay (e.g. `3d`).
        #[arg(long = "for")]
        duration: String,
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
    },
    /// Deny a pending intent (sign and publish the reply).
    Deny(Reply),
    /// Cancel an approved intent inside the cancellation window (signed by
    /// a member); a signed cancellation with the same id goes to the shop.
    Cancel(Reply),
    /// List the approval requests waiting for the household (read from the
    /// broker's retained messages, so it works from any machine).
    Pending {
        /// Seconds to wait for the broker.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Measure footprint and speed on this machine (needs mosquitto); prints a table.
    Bench(crate::tools::bench::BenchOptions),
    /// Replay purchase histories (`household_id,item,date,qty`) through
    /// larder's reorder policy and the peer baselines; writes
    /// `PREFIX_per_series.csv` and `PREFIX_summary.csv`.
    Replay {
        /// The events CSV.
        events: PathBuf,
        /// Output prefix.
        #[arg(long, default_value = "replay")]
        out: String,
        /// Policies to run (comma-separated): larder, sba, ses, minstock, subscription.
        #[arg(
            long,
            default_value = "larder,sba,minstock,subscription",
            value_delimiter = ','
        )]
        policies: Vec<String>,
        /// At most this many series per item, a seeded random sample (0 = all).
        #[arg(long, default_value_t = 0)]
        max_series: usize,
        /// Seed of the `--max-series` sample.
        #[arg(long, default_value_t = 1)]
        sample_seed: u64,
    },
    /// Run seeded synthetic households for a year through every policy.
    Simulate {
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Households per profile.
        #[arg(long, default_value_t = 20)]
        households: usize,
        /// Simulated days.
        #[arg(long, default_value_t = 365)]
        days: usize,
    },
    /// Explain an item's forecast or an intent's decision, with the evidence.
    Explain {
        /// Item id, intent id, or a unique intent id prefix (6+ hex digits).
        target: String,
    },
    /// Write everything held about the household as one JSON document.
    Export {
        /// Write to this new file (mode 0600) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase everything held about an item (`--item ID`) or the whole
    /// household (`--all`), irreversibly. If larder is running it does the
    /// erasing (pass a member's `--key`); otherwise this command does.
    Forget {
        /// The item id to forget.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        item: Option<String>,
        /// Forget the whole household.
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// A member's private key: needed when larder is running, which
        /// then executes the signed forget.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Member name (default: the member whose public key matches `--key`).
        #[arg(long)]
        member: Option<String>,
        /// Seconds to wait for the broker and for the running larder.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Print every Home Assistant discovery message (topic, then the JSON
    /// payload) larder would publish for the configuration; needs no broker.
    Discovery {
        /// One JSON object per line, `{"topic", "retain", "payload"}`, for
        /// tools (`.ci/ha-schema-check` reads this).
        #[arg(long)]
        jsonl: bool,
    },
    /// The tamper-evident ledger of every message sent and every decision.
    Ledger {
        /// What to do with the ledger.
        #[command(subcommand)]
        action: LedgerAction,
    },
}

/// Ledger subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// List the newest entries.
    Show {
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Recompute the hash chain; exit non-zero naming the first bad entry.
    Verify {
        /// A head printed by an earlier verify, kept elsewhere: it must still
        /// be in the chain (detects a rewritten or truncated tail).
        #[arg(long)]
        head: Option<String>,
    },
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
    /// Who signs.
    #[command(flatten)]
    pub signer: Signer,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        CliCommand::Run => run_daemon::run(&cli.config),
        #[cfg(feature = "demo-broker")]
        CliCommand::Demo {
            days,
            seed,
            devices,
        } => runtime()?.block_on(crate::tools::demo::run(days, seed, devices)),
        #[cfg(not(feature = "demo-broker"))]
        CliCommand::Demo { .. } => anyhow::bail!(
            "this larder was built without the embedded demo broker (the hub package leaves it \
             out to fit the hub's size budget); run the demo from a default build: cargo run -- demo"
        ),
        CliCommand::Status => status::run(&load_config(&cli.config)?),
        CliCommand::Decode {
            format,
            topic,
            device_config,
            payload_file,
        } => decode::run(&format, &topic, device_config.as_deref(), &payload_file),
        CliCommand::Config {
            action: ConfigAction::Check { path },
        } => config_check::run(path.as_deref().unwrap_or(&cli.config)),
        CliCommand::Keygen { out, name } => keygen::run(&out, name.as_deref()),
        CliCommand::Approve(reply) => {
            let config = load_config(&cli.config)?;
            runtime()?.block_on(approve::send_reply(
                &config,
                &reply,
                approval::MemberVerdict::Approve,
            ))
        }
        CliCommand::Replay {
            events,
            out,
            policies,
            max_series,
            sample_seed,
        } => replay::run(&events, &out, &policies, max_series, sample_seed),
        CliCommand::Simulate {
            seed,
            households,
            days,
        } => crate::tools::simulate::run(seed, households, days),
        CliCommand::Pause { duration, signer } => {
            control::pause(&load_config(&cli.config)?, duration.as_deref(), &signer)
        }
        CliCommand::Resume { signer } => control::resume(&load_config(&cli.config)?, &signer),
        CliCommand::Guests {
            factor,
            duration,
            signer,
        } => control::guests(&load_config(&cli.config)?, factor, &duration, &signer),
        CliCommand::Deny(reply) => {
            let config = load_config(&cli.config)?;
            runtime()?.block_on(approve::send_reply(
                &config,
                &reply,
                approval::MemberVerdict::Deny,
            ))
        }
        CliCommand::Cancel(reply) => control::cancel(&load_config(&cli.config)?, &reply),
        CliCommand::Pending { timeout } => {
            let config = load_config(&cli.config)?;
            let text =
                runtime()?.block_on(approve::pending(&config, Duration::from_secs(timeout)))?;
            print!("{text}");
            Ok(())
        }
        CliCommand::Explain { target } => {
            let config = load_config(&cli.config)?;
            let store = open_database(&config)?;
            let text = explain::run(&config, &store, &target, SystemClock.now())?;
            print!("{text}");
            Ok(())
        }
        CliCommand::Export { out } => {
            let config = load_config(&cli.config)?;
            let store = open_database(&config)?;
            export::run(&config, &store, out.as_deref(), SystemClock.now())
        }
        CliCommand::Forget {
            item,
            all,
            yes,
            key,
            member,
            timeout,
        } => {
            let config = load_config(&cli.config)?;
            let scope = match (item, all) {
                (Some(item), false) => ForgetScope::Item(item),
                (None, true) => ForgetScope::Household,
                _ => bail!("pass exactly one of --item ID or --all"),
            };
            let signer = key.map(|key| Signer {
                key,
                member,
                timeout,
            });
            forget::run(&config, scope, yes, signer, Duration::from_secs(timeout))
        }
        CliCommand::Ledger { action } => {
            let config = load_config(&cli.config)?;
            ledger::run(&open_database(&config)?, action)
        }
        CliCommand::Bench(options) => crate::tools::bench::run(&options),
        CliCommand::Discovery { jsonl } => discovery::run(&load_config(&cli.config)?, jsonl),
    }
}
