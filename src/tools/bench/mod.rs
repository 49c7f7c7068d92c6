//! `larder bench`: footprint and speed figures measured on this machine,
//! printed as a table (not a timed test; nothing here asserts).
//!
//! What it measures, and how:
//! - **startup to first subscription**: from spawning `larder run` until
//!   its retained `online` status reaches a watcher (the daemon queues its
//!   SUBSCRIBE before that PUBLISH on the same connection, and the broker
//!   handles a connection's packets in order). First start (creates the
//!   database and hub key) and restart.
//! - **durable QoS 1 ingest vs raw receive**: a backlog of events is
//!   queued at a real mosquitto for two offline persistent sessions, one
//!   `mosquitto_sub -q 1 -c` and one the daemon. Each then drains it
//!   alone: `mosquitto_sub` prints and acks; `larder` decodes, commits to
//!   SQLite (`synchronous=FULL`) and only then acks. Both are timed from
//!   process spawn to the last message (sub: exit after `-C N`; larder:
//!   its `messages` counter reaching N in the database, polled as one row
//!   so the poll does not compete with the daemon for the CPU; the
//!   observations are counted once afterwards).
//! - **peak RSS**: the daemon's `VmHWM` after draining the backlog and a
//!   steady load phase, with the configured items and devices.
//! - **decision time per item**: in process, the daemon's own `Engine` and
//!   `Store`, a household's history generated through the real ingest and
//!   decision paths on simulated time; a full decision pass over every
//!   item is timed after one month and after five years of history.
//! - **binary size**: the file size of this executable and of each
//!   `--size-of PATH` (e.g. the ARM builds), with the architecture and
//!   whether a symbol table is left, read from the ELF headers.
//!
//! Needs `mosquitto` and `mosquitto_sub` (Debian: `mosquitto`,
//! `mosquitto-clients`). Everything runs in a temporary directory.
//!
//! The broker, the daemon, the watcher and the publisher are the shared
//! harness (`tools::harness`, also used by the integration tests). Here:
//! the options, the run and the table ([`run`]); the broker figures
//! ([`ingest`]); the decision figures ([`decide`]); the generated household
//! ([`household`]); the binary size rows ([`size`]).

mod decide;
mod household;
mod ingest;
mod size;

use crate::tools::harness::ScratchDir;
use anyhow::{Context as _, bail};
use std::fmt::Write as _;
use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Events in the QoS 1 backlog both consumers drain.
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,
    /// Configured items.
    #[arg(long, default_value_t = 200)]
    pub items: usize,
    /// Configured devices (the items are spread over them).
    #[arg(long, default_value_t = 50)]
    pub devices: usize,
    /// mosquitto's `max_inflight_messages` (QoS 1 messages sent to one
    /// client before its acks); 20 is mosquitto's default and what
    /// `config/mosquitto/larder.conf` ships.
    #[arg(long, default_value_t = 20)]
    pub broker_inflight: u32,
    /// Seconds of steady load after the backlog (for peak RSS).
    #[arg(long, default_value_t = 20)]
    pub steady_secs: u64,
    /// Events per second during the steady phase (all devices together).
    #[arg(long, default_value_t = 100)]
    pub steady_rate: u64,
    /// Days of history for the long decision measurement (five years).
    #[arg(long, default_value_t = 1826)]
    pub history_days: u32,
    /// Level readings per item per day in the generated history.
    #[arg(long, default_value_t = 4)]
    pub readings_per_day: u32,
    /// Timed decision passes at each history length.
    #[arg(long, default_value_t = 15)]
    pub passes: u32,
    /// Skip the broker measurements (startup, ingest, RSS).
    #[arg(long)]
    pub skip_broker: bool,
    /// Skip the decision measurements.
    #[arg(long)]
    pub skip_decide: bool,
    /// Run the daemon without Home Assistant discovery (`[homeassistant]
    /// enabled = false`), to see what it costs; on by default, as shipped.
    #[arg(long)]
    pub no_homeassistant: bool,
    /// Keep the temporary directory (databases, logs, broker config).
    #[arg(long)]
    pub keep: bool,
    /// Also report the size of this binary (e.g. an ARM build); its
    /// architecture and whether it is stripped are read from its ELF header.
    #[arg(long = "size-of", value_name = "PATH")]
    pub size_of: Vec<PathBuf>,
}

/// The generated household's hub id.
const HUB: &str = "bench";

/// One row of the result table.
struct Row {
    metric: String,
    value: String,
    target: String,
}

impl Row {
    fn new(metric: impl Into<String>, value: impl Into<String>, target: impl Into<String>) -> Row {
        Row {
            metric: metric.into(),
            value: value.into(),
            target: target.into(),
        }
    }
}

/// Runs the benchmark and prints the table to stdout (progress to stderr).
pub fn run(options: &BenchOptions) -> anyhow::Result<()> {
    if options.items == 0 || options.devices == 0 || options.items < options.devices {
        bail!("--items must be at least --devices, and both at least 1");
    }
    let mut work = ScratchDir::create("larder-bench")?;
    if options.keep {
        work.keep();
    }
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if !options.skip_broker {
        ingest::broker_figures(options, &work, &mut rows, &mut notes)?;
    }
    if !options.skip_decide {
        decide::decide_figures(options, &work, &mut rows, &mut notes)?;
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    rows.push(size::size_row(&exe, "this executable")?);
    for path in &options.size_of {
        rows.push(size::size_row(path, &path.display().to_string())?);
    }
    print!("{}", render(options, &rows, &notes));
    if options.keep {
        eprintln!("kept {}", work.path().display());
    }
    Ok(())
}

fn render(options: &BenchOptions, rows: &[Row], notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "larder bench: {} ({}), {} CPUs, larder {}",
        std::env::consts::ARCH,
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        env!("CARGO_PKG_VERSION"),
    );
    let _ = writeln!(
        out,
        "household: {} items on {} devices; backlog {} events; steady {} ev/s for {} s; Home Assistant discovery {}\n",
        options.items,
        options.devices,
        options.messages,
        options.steady_rate,
        options.steady_secs,
        if options.no_homeassistant {
            "off"
        } else {
            "on (as shipped)"
        }
    );
    let w0 = rows
        .iter()
        .map(|r| r.metric.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w1 = rows.iter().map(|r| r.value.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(out, "{:<w0$}  {:>w1$}  target", "metric", "value");
    let _ = writeln!(out, "{}", "-".repeat(w0 + w1 + 12));
    for r in rows {
        let _ = writeln!(out, "{:<w0$}  {:>w1$}  {}", r.metric, r.value, r.target);
    }
    if !notes.is_empty() {
        let _ = writeln!(out);
        for n in notes {
            let _ = writeln!(out, "note: {n}");
        }
    }
    out
}

fn verdict(ok: bool, target: &str) -> String {
    format!("{target}  {}", if ok { "PASS" } else { "MISS" })
}
