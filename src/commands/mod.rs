//! The command line: parsing (clap) and one function per subcommand.
//! Errors are returned with context; `main` prints them once and picks the
//! exit status (78 for configuration problems, as in sysexits).

pub mod explain;
pub mod export;
pub mod ledger;

use crate::clock::{Clock, SystemClock};
use crate::config::{self, Config};
use crate::crypto::keys::{self, SigningKey};
use crate::daemon::mqtt;
use crate::protocol::approval::{self, ApprovalRequest, ReplyClaims};
use crate::protocol::control::{self, ControlCommand, ForgetScope};
use crate::protocol::topics::Topics;
use crate::store::{IntentState, Store};
use crate::text::{format_time, short};
use crate::tools::DemoDevices;
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
    Bench(crate::tools::bench::Options),
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
    fn load(&self, config: &Config) -> anyhow::Result<(SigningKey, String)> {
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

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        CliCommand::Run => {
            let config = load_config(&cli.config)?;
            // One thread for the network tasks (the writer has its own):
            // every extra worker costs the hub a malloc arena (~1.4 MB
            // resident, docs/performance.md) and buys nothing at hub rates.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            // Handlers are installed before anything else happens: a SIGTERM
            // that arrives while larder is still connecting stops it
            // gracefully instead of killing it.
            let shutdown = {
                let _context = runtime.enter();
                shutdown_signal().context("installing the SIGTERM/SIGINT handlers")?
            };
            runtime.block_on(crate::daemon::run(config, Arc::new(SystemClock), shutdown))
        }
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
        CliCommand::Status => status(&load_config(&cli.config)?),
        CliCommand::Decode {
            format,
            topic,
            device_config,
            payload_file,
        } => decode(&format, &topic, device_config.as_deref(), &payload_file),
        CliCommand::Config {
            action: ConfigAction::Check { path },
        } => config_check(path.as_deref().unwrap_or(&cli.config)),
        CliCommand::Keygen { out, name } => keygen(&out, name.as_deref()),
        CliCommand::Approve(reply) => {
            let config = load_config(&cli.config)?;
            runtime()?.block_on(send_reply(
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
        } => crate::tools::replay::run(
            &events,
            &out,
            &parse_policies(&policies)?,
            max_series,
            sample_seed,
        ),
        CliCommand::Simulate {
            seed,
            households,
            days,
        } => crate::tools::simulate::run(seed, households, days),
        CliCommand::Pause { duration, signer } => {
            let config = load_config(&cli.config)?;
            let now = SystemClock.now();
            let until = duration
                .as_deref()
                .map(parse_duration)
                .transpose()?
                .map(|secs| now + secs);
            runtime()?.block_on(send_control(
                &config,
                &signer,
                ControlCommand::Pause { until },
            ))
        }
        CliCommand::Resume { signer } => {
            let config = load_config(&cli.config)?;
            runtime()?.block_on(send_control(&config, &signer, ControlCommand::Resume))
        }
        CliCommand::Guests {
            factor,
            duration,
            signer,
        } => {
            let config = load_config(&cli.config)?;
            let until = SystemClock.now() + parse_duration(&duration)?;
            runtime()?.block_on(send_control(
                &config,
                &signer,
                ControlCommand::Guests { factor, until },
            ))
        }
        CliCommand::Deny(reply) => {
            let config = load_config(&cli.config)?;
            runtime()?.block_on(send_reply(&config, &reply, approval::MemberVerdict::Deny))
        }
        CliCommand::Cancel(reply) => {
            let config = load_config(&cli.config)?;
            let intent = reply.intent.to_ascii_lowercase();
            if intent.len() != 32 || !intent.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "intent id {:?} must be 32 hex digits (as in the approval request or `larder status`)",
                    reply.intent
                );
            }
            runtime()?.block_on(send_control(
                &config,
                &reply.signer,
                ControlCommand::Cancel { intent },
            ))
        }
        CliCommand::Pending { timeout } => {
            let config = load_config(&cli.config)?;
            let text = runtime()?.block_on(pending(&config, Duration::from_secs(timeout)))?;
            print!("{text}");
            Ok(())
        }
        CliCommand::Explain { target } => {
            let config = load_config(&cli.config)?;
            let store = open_database(&config)?;
            let text = crate::commands::explain::run(&config, &store, &target, SystemClock.now())?;
            print!("{text}");
            Ok(())
        }
        CliCommand::Export { out } => {
            let config = load_config(&cli.config)?;
            let store = open_database(&config)?;
            crate::commands::export::run(&config, &store, out.as_deref(), SystemClock.now())
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
            forget(&config, scope, yes, signer, Duration::from_secs(timeout))
        }
        CliCommand::Ledger { action } => {
            let config = load_config(&cli.config)?;
            ledger(&open_database(&config)?, action)
        }
        CliCommand::Bench(options) => crate::tools::bench::run(&options),
        CliCommand::Discovery { jsonl } => {
            let config = load_config(&cli.config)?;
            if jsonl {
                print!("{}", discovery_jsonl(&config));
            } else {
                print!("{}", discovery(&config));
            }
            Ok(())
        }
    }
}

/// `larder discovery`: each discovery message as `topic (retained)` then
/// its payload as indented JSON, separated by blank lines.
fn discovery(config: &Config) -> String {
    let messages = crate::homeassistant::discovery_messages(config);
    if messages.is_empty() {
        return "# Home Assistant discovery is off ([homeassistant] enabled = false): nothing is published\n".into();
    }
    let mut out = String::new();
    for message in messages {
        let pretty = serde_json::from_slice::<serde_json::Value>(&message.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&message.payload).into_owned());
        let retained = if message.retain { " (retained)" } else { "" };
        out.push_str(&format!("{}{retained}\n{pretty}\n\n", message.topic));
    }
    if config.homeassistant.trusted_approvals {
        out.push_str("# trusted-approvals: an approve and a deny button are added per pending request while it is pending\n");
    }
    out
}

/// `larder discovery --jsonl`: one `{"topic", "retain", "payload"}` object
/// per line (the payload as JSON, or as text when it is not JSON).
fn discovery_jsonl(config: &Config) -> String {
    crate::homeassistant::discovery_messages(config)
        .into_iter()
        .map(|message| {
            let payload = serde_json::from_slice::<serde_json::Value>(&message.payload)
                .unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&message.payload).into())
                });
            let line = serde_json::json!({
                "topic": message.topic,
                "retain": message.retain,
                "payload": payload,
            });
            format!("{line}\n")
        })
        .collect()
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

/// `larder ledger show|verify`.
fn ledger(store: &Store, action: LedgerAction) -> anyhow::Result<()> {
    let read = store.read();
    if !read.has_ledger()? {
        bail!(
            "{} has no ledger yet (schema older than version 2): start `larder run` once to migrate it",
            store.path().display()
        );
    }
    match action {
        LedgerAction::Show { limit } => {
            print!("{}", ledger::show(&read, limit)?);
            Ok(())
        }
        LedgerAction::Verify { head } => {
            let anchor = head
                .map(|h| {
                    keys::from_hex(&h)
                        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                        .with_context(|| format!("--head {h:?} is not 64 hex digits"))
                })
                .transpose()?;
            match read.verify_ledger(anchor)? {
                Ok(ok) if anchor.is_some() && !ok.anchor_found => bail!(
                    "ledger does not contain the expected head: its tail was rewritten or truncated \
                     ({} entries now, head {})",
                    ok.entries,
                    keys::to_hex(&ok.head)
                ),
                Ok(ok) => {
                    println!(
                        "ledger OK: {} entries, head {}{}",
                        ok.entries,
                        keys::to_hex(&ok.head),
                        if ok.redacted > 0 {
                            format!(" ({} bodies erased by recorded forgets)", ok.redacted)
                        } else {
                            String::new()
                        }
                    );
                    Ok(())
                }
                Err(broken) => bail!(
                    "ledger verification failed at entry {}: {}",
                    broken.seq,
                    broken.problem
                ),
            }
        }
    }
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

/// Installs the SIGTERM and SIGINT handlers now (inside a runtime
/// context) and returns a future that completes on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

fn decode(
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
    verdict: approval::MemberVerdict,
) -> anyhow::Result<()> {
    let (key, member) = reply.signer.load(config)?;
    let topics = Topics::new(config);
    let timeout = Duration::from_secs(reply.signer.timeout);
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
            approval::MemberVerdict::Approve => "approving",
            approval::MemberVerdict::Deny => "denying",
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

/// `larder pause|resume|guests`: sign a control message and publish it.
async fn send_control(
    config: &Config,
    signer: &Signer,
    command: ControlCommand,
) -> anyhow::Result<()> {
    let (key, member) = signer.load(config)?;
    if let ControlCommand::Guests { factor, .. } = command {
        if !(1.0..=20.0).contains(&factor) {
            bail!("--factor must be between 1 and 20, got {factor}");
        }
    }
    let topics = Topics::new(config);
    let what = format!("{command:?}");
    let envelope = control::sign_control(
        &key,
        &control::ControlClaims {
            hub: config.hub.id.clone(),
            member: member.clone(),
            command: command.clone(),
            issued_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        },
    );
    let client_id = format!("larder-cli-{}", keys::to_hex(&keys::random_bytes::<6>()));
    let opts = mqtt::options(&config.mqtt, &client_id, false, None)?;
    mqtt::publish_once(
        opts,
        &topics.control,
        envelope,
        false,
        Duration::from_secs(signer.timeout),
    )
    .await
    .map_err(anyhow::Error::msg)
    .with_context(|| format!("publishing on {}", topics.control))?;
    println!("{member}'s signed {what} published on {}", topics.control);
    Ok(())
}

/// Text from the broker made safe for a terminal: control characters
/// (escape sequences included) become `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `larder pending`: the approval requests retained on the broker, as text.
async fn pending(config: &Config, timeout: Duration) -> anyhow::Result<String> {
    use std::fmt::Write;
    let topics = Topics::new(config);
    let filter = topics.approval_request("+");
    let client_id = format!("larder-cli-{}", keys::to_hex(&keys::random_bytes::<6>()));
    let opts = mqtt::options(&config.mqtt, &client_id, false, None)?;
    let (found, complete) =
        mqtt::collect_retained(opts, &filter, Duration::from_millis(500), timeout)
            .await
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading the approval requests on {filter}"))?;
    let mut requests: Vec<ApprovalRequest> = Vec::new();
    let mut out = String::new();
    for (topic, payload) in found {
        match serde_json::from_slice::<ApprovalRequest>(&payload) {
            Ok(request) if request.hub == config.hub.id => requests.push(request),
            Ok(request) => writeln!(
                out,
                "skipping {}: for hub {:?}",
                printable(&topic),
                request.hub
            )?,
            Err(e) => writeln!(
                out,
                "skipping {}: not an approval request ({e})",
                printable(&topic)
            )?,
        }
    }
    requests.sort_by_key(|r| r.expires_at);
    if !complete {
        writeln!(
            out,
            "the broker was still sending when --timeout ran out: the list may be incomplete"
        )?;
    }
    if requests.is_empty() {
        writeln!(out, "no approval requests are waiting")?;
        return Ok(out);
    }
    for r in &requests {
        writeln!(
            out,
            "{}  {} × {} ({} {}) up to {:.2} {}; needs {} approval(s); expires {}",
            printable(&r.intent),
            r.packages,
            printable(&r.item_name),
            r.quantity,
            printable(&r.unit),
            r.price_ceiling,
            printable(&r.currency),
            r.approvals_required,
            format_time(r.expires_at)
        )?;
        for why in &r.why {
            writeln!(out, "    {}", printable(why))?;
        }
    }
    writeln!(
        out,
        "answer with `larder approve ID --key FILE` or `larder deny ID --key FILE`"
    )?;
    Ok(out)
}

/// `larder forget`: confirm, then erase directly (larder not running) or
/// have the running larder erase (signed control message).
fn forget(
    config: &Config,
    scope: ForgetScope,
    yes: bool,
    signer: Option<Signer>,
    wait: Duration,
) -> anyhow::Result<()> {
    use crate::store::{LockError, StateLock};
    let what = match &scope {
        ForgetScope::Item(item) => {
            if config.item(item).is_none() {
                eprintln!(
                    "note: {item:?} is not an item in the configuration; erasing whatever is stored under that id"
                );
            }
            format!("everything larder holds about item {item:?}")
        }
        ForgetScope::Household => "everything larder holds about this household".to_owned(),
    };
    let database = config.hub.database_path();
    if !database.exists() {
        bail!("no database at {}: nothing to forget", database.display());
    }
    if !yes {
        eprint!(
            "This erases {what}, irreversibly (the ledger keeps only that a forget happened).\nType yes to go on: "
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .context("reading the confirmation")?;
        if answer.trim() != "yes" {
            bail!("not confirmed: nothing was erased (pass --yes to skip the question)");
        }
    }
    let state_dir = &config.hub.state_dir;
    match StateLock::acquire(state_dir) {
        Ok(_lock) => {
            let mut store = Store::open(&database)
                .with_context(|| format!("opening {}", database.display()))?;
            let now = SystemClock.now();
            let tx = store.transaction()?;
            let gone =
                crate::engine::forget::apply(&tx, config, &Topics::new(config), &scope, now)?;
            tx.commit()?;
            let bytes = store.scrub()?;
            let wiped = crate::store::wipe_quarantined(&database)?;
            println!(
                "forgot {what}: {} observations, {} daily aggregates, {} intents, {} replies, {} outbox rows, {} dead letters, {} ledger bodies erased{}; ledger entry {} records it; database scrubbed ({bytes} bytes){}",
                gone.observations,
                gone.days,
                gone.intents,
                gone.approvals,
                gone.outbox,
                gone.dead_letters,
                gone.redacted,
                if gone.key { ", item key destroyed" } else { "" },
                gone.ledger_seq,
                if wiped.is_empty() {
                    String::new()
                } else {
                    format!("; quarantined copies wiped: {}", wiped.len())
                },
            );
            Ok(())
        }
        Err(held @ LockError::Held { .. }) => {
            let Some(signer) = signer else {
                return Err(anyhow::Error::new(held)).context(
                    "larder is running: pass a member's --key so it executes the forget (the database has one writer)",
                );
            };
            let before = forget_entries(&database)?;
            runtime()?.block_on(send_control(
                config,
                &signer,
                ControlCommand::Forget(scope.clone()),
            ))?;
            let deadline = std::time::Instant::now() + wait;
            loop {
                let now = forget_entries(&database)?;
                if now.0 > before.0 {
                    println!(
                        "forgot {what}: executed by the running larder, ledger entry {}",
                        now.1
                    );
                    return Ok(());
                }
                if std::time::Instant::now() >= deadline {
                    bail!(
                        "the running larder did not record the forget within {} s: check its log (`journalctl -u larder`) for a refused control message",
                        wait.as_secs()
                    );
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Err(other) => Err(other.into()),
    }
}

/// (number of forget entries, newest forget entry's seq) in the ledger.
fn forget_entries(database: &Path) -> anyhow::Result<(u64, i64)> {
    let store = Store::open_readonly(database)
        .with_context(|| format!("opening {} read-only", database.display()))?;
    let mut count = 0;
    let mut last = 0;
    store.read().each_ledger_entry(|row| {
        if row.kind == crate::ledger::Kind::Forget.as_str() {
            count += 1;
            last = row.seq;
        }
        true
    })?;
    Ok((count, last))
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
    let engine_view = crate::engine::forecasts(config, store, now)?;
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
    let presence = read.presence()?;
    if let Some(since) = presence.paused_since {
        writeln!(
            out,
            "\nhousehold away since {}{}: nothing is ordered",
            format_time(since),
            presence
                .paused_until
                .map_or(String::new(), |u| format!(" (until {})", format_time(u)))
        )?;
    }
    if let (Some(factor), Some(until)) = (presence.guests_factor, presence.guests_until) {
        if until > now {
            writeln!(out, "guests: ×{factor} until {}", format_time(until))?;
        }
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
