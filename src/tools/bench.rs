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

use crate::config::Config;
use crate::crypto::keys::{self, SigningKey};
use crate::engine::{Engine, Inbound};
use crate::store::{IntentState, Store};
use anyhow::{Context as _, bail};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
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

const HUB: &str = "bench";
const DAY: i64 = 86_400;
/// Simulated start of history: 2024-01-01T00:00:00Z.
const HISTORY_START: i64 = 1_704_067_200;

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
pub fn run(options: &Options) -> anyhow::Result<()> {
    if options.items == 0 || options.devices == 0 || options.items < options.devices {
        bail!("--items must be at least --devices, and both at least 1");
    }
    let work = Work::new(options.keep)?;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if !options.skip_broker {
        broker_figures(options, &work, &mut rows, &mut notes)?;
    }
    if !options.skip_decide {
        decide_figures(options, &work, &mut rows, &mut notes)?;
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    rows.push(size_row(&exe, "this executable")?);
    for path in &options.size_of {
        rows.push(size_row(path, &path.display().to_string())?);
    }
    print!("{}", render(options, &rows, &notes));
    if options.keep {
        eprintln!("kept {}", work.dir.display());
    }
    Ok(())
}

fn render(options: &Options, rows: &[Row], notes: &[String]) -> String {
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

/// The temporary working directory.
struct Work {
    dir: PathBuf,
    keep: bool,
}

impl Work {
    fn new(keep: bool) -> anyhow::Result<Work> {
        let dir = std::env::temp_dir().join(format!(
            "larder-bench-{}-{}",
            std::process::id(),
            keys::to_hex(&keys::random_bytes::<3>())
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Work { dir, keep })
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A configuration for a household of `items` items on `devices` devices.
fn household_config(
    state_dir: &Path,
    port: u16,
    items: usize,
    devices: usize,
    homeassistant: bool,
) -> String {
    let mut text = format!(
        "[hub]\nid = \"{HUB}\"\nstate-dir = \"{}\"\ntimezone = \"UTC\"\n\n\
         [mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nclient-id = \"larder-{HUB}\"\n\n",
        state_dir.display()
    );
    for d in 0..devices {
        let _ = write!(
            text,
            "[[devices]]\nid = \"d{d}\"\ntopic = \"{}\"\nformat = \"json\"\n\n",
            device_topic(d)
        );
    }
    for i in 0..items {
        let (device, slot) = placement(i, devices);
        // Usage between 1 and 4 units a day; packs last about a week.
        let per_day = 1.0 + (i % 7) as f64 * 0.5;
        let _ = write!(
            text,
            "[[items]]\nid = \"i{i}\"\nname = \"Item {i}\"\nunit = \"pcs\"\n\
             package-size = {pack}\nproduct = \"sku-{i}\"\nprice = 1.50\ncurrency = \"EUR\"\n\
             category = \"pantry\"\ndevice = \"d{device}\"\nslot = \"s{slot}\"\n\
             lead-time-days = 1\nreview-days = 3\n\
             declared-usage = {{ amount = {per_day}, per = \"day\" }}\n\n",
            pack = (per_day * 7.0).round(),
        );
    }
    let owner = keys::to_hex(&SigningKey::generate().public_key());
    let _ = write!(
        text,
        "[[members]]\nname = \"owner\"\npublic-key = \"{owner}\"\n\n\
         [rules]\ncurrency = \"EUR\"\nauto-approve-up-to = 1000\nmonthly-budget = 1000000\n\
         approvals-required = 1\napproval-expires-after-hours = 24\ndefault-category = \"allow\"\n"
    );
    if !homeassistant {
        text.push_str("\n[homeassistant]\nenabled = false\n");
    }
    text
}

fn device_topic(device: usize) -> String {
    format!("larder/{HUB}/devices/d{device}/events")
}

/// Which device and slot item `i` sits on.
fn placement(item: usize, devices: usize) -> (usize, usize) {
    (item % devices, item / devices)
}

/// A native JSON level event.
fn level_event(device: usize, seq: u64, slot: usize, amount: f64, ts: Option<i64>) -> Vec<u8> {
    let ts = ts.map_or(String::new(), |t| format!(",\"ts\":{t}"));
    format!(
        "{{\"v\":1,\"device\":\"d{device}\",\"epoch\":1,\"seq\":{seq},\"kind\":\"level\",\
         \"slot\":\"s{slot}\",\"amount\":{amount:.3}{ts}}}"
    )
    .into_bytes()
}

/// Live events for the broker phases: round-robin over items, each
/// device's sequence numbers contiguous.
struct EventSource {
    items: usize,
    devices: usize,
    next_item: usize,
    seqs: Vec<u64>,
}

impl EventSource {
    fn new(items: usize, devices: usize) -> EventSource {
        EventSource {
            items,
            devices,
            next_item: 0,
            seqs: vec![0; devices],
        }
    }

    fn next(&mut self) -> (String, Vec<u8>) {
        let item = self.next_item;
        self.next_item = (self.next_item + 1) % self.items;
        let (device, slot) = placement(item, self.devices);
        self.seqs[device] += 1;
        let seq = self.seqs[device];
        let amount = 20.0 - (seq % 200) as f64 * 0.1;
        (
            device_topic(device),
            level_event(device, seq, slot, amount, None),
        )
    }
}

// ---------------------------------------------------------------- broker

fn broker_figures(
    options: &Options,
    work: &Work,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let broker = Mosquitto::start(&work.dir, options.messages, options.broker_inflight)?;
    let state = work.dir.join("state");
    let config = work.dir.join("larder.toml");
    std::fs::write(
        &config,
        household_config(
            &state,
            broker.port,
            options.items,
            options.devices,
            !options.no_homeassistant,
        ),
    )?;
    Config::load(&config).context("the generated bench configuration is invalid")?;
    let status_topic = format!("larder/{HUB}/status");
    let filter = format!("larder/{HUB}/devices/+/events");

    // 1. First start: database and key created, subscribed, online.
    eprintln!("bench: first start");
    let watcher = rt.block_on(Watcher::start(broker.port, &status_topic))?;
    let mut daemon = Daemon::spawn(&config, &work.dir.join("daemon-1.log"))?;
    let first_start = rt.block_on(watcher.wait_online(Duration::from_secs(60)));
    let first_start = first_start.with_context(|| daemon.failure("first start"))?;
    let code = daemon.terminate()?;
    if code != Some(0) {
        bail!(
            "larder exited with {code:?} on SIGTERM; see {}",
            daemon.log.display()
        );
    }

    // 2. The raw consumer's persistent session, then the backlog for both.
    run_checked(raw_subscriber(broker.port, &filter).arg("-E"))?;
    eprintln!("bench: queueing {} QoS 1 events", options.messages);
    let mut source = EventSource::new(options.items, options.devices);
    let backlog: Vec<_> = (0..options.messages).map(|_| source.next()).collect();
    rt.block_on(publish_all(broker.port, backlog))?;

    // 3. mosquitto_sub drains its copy.
    eprintln!("bench: mosquitto_sub draining");
    let start = Instant::now();
    run_checked(raw_subscriber(broker.port, &filter).args([
        "-C",
        &options.messages.to_string(),
        "-W",
        "600",
    ]))?;
    let raw_secs = start.elapsed().as_secs_f64();
    let raw_rate = options.messages as f64 / raw_secs;

    // 4. larder drains its copy (restart: database exists).
    eprintln!("bench: larder draining");
    let reader = Store::open_readonly(&state.join("larder.db"))?;
    let before = Stored::read(&reader)?;
    let start = Instant::now();
    let mut daemon = Daemon::spawn(&config, &work.dir.join("daemon-2.log"))?;
    let restart = rt.block_on(watcher.wait_online(Duration::from_secs(60)));
    let restart = restart.with_context(|| daemon.failure("restart"))?;
    let target = before.plus(options.messages);
    wait_count(&reader, target, &mut daemon, Duration::from_secs(1200))?;
    let larder_secs = start.elapsed().as_secs_f64();
    target.check(&reader)?;
    let larder_rate = options.messages as f64 / larder_secs;

    // 5. Steady load, then peak RSS.
    let steady = options.steady_rate * options.steady_secs;
    if steady > 0 {
        eprintln!(
            "bench: steady load, {} ev/s for {} s",
            options.steady_rate, options.steady_secs
        );
        let events: Vec<_> = (0..steady).map(|_| source.next()).collect();
        rt.block_on(publish_paced(broker.port, events, options.steady_rate))?;
        let target = target.plus(steady);
        wait_count(&reader, target, &mut daemon, Duration::from_secs(300))?;
        target.check(&reader)?;
    }
    let rss = daemon.peak_rss_kb()?;
    let code = daemon.terminate()?;
    if code != Some(0) {
        bail!(
            "larder exited with {code:?} on SIGTERM; see {}",
            daemon.log.display()
        );
    }
    drop(watcher);

    rows.push(Row::new(
        "startup to first subscription, first start",
        format!("{:.0} ms", first_start.as_secs_f64() * 1e3),
        "",
    ));
    rows.push(Row::new(
        "startup to first subscription, restart",
        format!("{:.0} ms", restart.as_secs_f64() * 1e3),
        "",
    ));
    rows.push(Row::new(
        "raw receive, mosquitto_sub -q 1",
        format!("{raw_rate:.0} msg/s"),
        "",
    ));
    rows.push(Row::new(
        "durable ingest, larder (commit, then ack)",
        format!("{larder_rate:.0} msg/s"),
        "",
    ));
    let ratio = larder_rate / raw_rate;
    rows.push(Row::new(
        "  ratio larder / mosquitto_sub",
        format!("{ratio:.3}x"),
        verdict(ratio >= 0.5, ">= 0.5x"),
    ));
    rows.push(Row::new(
        "peak RSS (VmHWM), backlog + steady load",
        format!("{:.1} MB", rss as f64 / 1024.0),
        verdict(rss as f64 / 1024.0 <= 15.0, "<= 15 MB"),
    ));
    notes.push(format!(
        "ingest: {} events drained from a persistent-session backlog; both timed from process spawn; \
         mosquitto {} (max_inflight_messages {})",
        options.messages, broker.version, options.broker_inflight
    ));
    if running_under_qemu() {
        notes.push(
            "this process runs under qemu-user: times are emulation times and RSS includes \
             the emulator's own memory; use figures from real hardware"
                .into(),
        );
    }
    Ok(())
}

/// The binary size row for `path`: architecture and strip state from the
/// ELF header; the 6 MB target applies to the stripped aarch64 build.
/// Whether a larder binary carries rumqttd (feature `demo-broker`): its
/// source paths (`rumqttd-0.x/src/…`, in panic locations) are in the file.
/// The needle is put together at run time so this binary does not carry
/// it as one string.
fn embeds_demo_broker(bytes: &[u8]) -> bool {
    let needle = [&b"rumqtt"[..], &b"d-0."[..]].concat();
    bytes.windows(needle.len()).any(|w| w == needle.as_slice())
}

fn size_row(path: &Path, label: &str) -> anyhow::Result<Row> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (arch, symbols) = elf_info(&bytes)
        .with_context(|| format!("{} is not a little-endian ELF file", path.display()))?;
    let mb = bytes.len() as f64 / 1e6;
    let stripped = if symbols { "not stripped" } else { "stripped" };
    let build = if embeds_demo_broker(&bytes) {
        "default build, with the demo broker"
    } else {
        "hub build, no demo broker"
    };
    let target = if arch == "aarch64" {
        verdict(!symbols && mb <= 6.0, "<= 6 MB stripped")
    } else {
        String::new()
    };
    Ok(Row::new(
        format!("binary size, {arch}, {stripped}, {build} ({label})"),
        format!("{mb:.2} MB"),
        target,
    ))
}

/// Architecture and whether a symbol table (`.symtab`) is present, from
/// an ELF file's headers; `None` if it is not a little-endian ELF.
fn elf_info(bytes: &[u8]) -> Option<(&'static str, bool)> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    if bytes.get(..4)? != b"\x7fELF" || *bytes.get(5)? != 1 {
        return None;
    }
    let (shoff, shentsize, shnum) = match bytes.get(4)? {
        1 => (u64::from(u32_at(0x20)?), u16_at(0x2e)?, u16_at(0x30)?),
        2 => (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?),
        _ => return None,
    };
    let arch = match u16_at(18)? {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        0x28 => "arm",
        0x03 => "x86",
        _ => "other",
    };
    const SHT_SYMTAB: u32 = 2;
    let symbols = (0..usize::from(shnum)).any(|i| {
        usize::try_from(shoff)
            .ok()
            .and_then(|off| u32_at(off + i * usize::from(shentsize) + 4))
            == Some(SHT_SYMTAB)
    });
    Some((arch, symbols))
}

fn verdict(ok: bool, target: &str) -> String {
    format!("{target}  {}", if ok { "PASS" } else { "MISS" })
}

/// Whether this process is emulated. qemu-user hides itself from the
/// guest's `/proc/self/maps` and `uname`, but a native `uname -m` started
/// from here reports the real machine.
fn running_under_qemu() -> bool {
    if std::fs::read_to_string("/proc/self/maps").is_ok_and(|m| m.contains("qemu-")) {
        return true;
    }
    let Ok(out) = Command::new("uname").arg("-m").output() else {
        return false;
    };
    let machine = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    !machine_runs_natively(&machine, std::env::consts::ARCH)
}

/// `mosquitto_sub` as the raw consumer: QoS 1, persistent session under a
/// fixed client id, on `filter`.
fn raw_subscriber(port: u16, filter: &str) -> Command {
    let mut command = Command::new("mosquitto_sub");
    command.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    command.args(["-q", "1", "-c", "-i", "larder-bench-raw", "-t", filter]);
    command
}

/// Whether a kernel reporting `machine` (`uname -m`) runs `arch` binaries
/// itself (a 64-bit ARM kernel runs 32-bit ARM userlands).
fn machine_runs_natively(machine: &str, arch: &str) -> bool {
    machine.is_empty()
        || machine == arch
        || (arch == "arm" && (machine.starts_with("arm") || machine == "aarch64"))
        || (arch == "x86" && (machine.starts_with('i') || machine == "x86_64"))
}

fn run_checked(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {command:?} (is mosquitto-clients installed?)"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// What the daemon has committed: its `messages` counter (one row, bumped
/// in each batch's transaction) and the observations.
#[derive(Clone, Copy)]
struct Stored {
    messages: u64,
    observations: u64,
}

impl Stored {
    fn read(reader: &Store) -> anyhow::Result<Stored> {
        Ok(Stored {
            messages: reader.read().counter("messages")?,
            observations: reader.read().observation_count()?,
        })
    }

    fn plus(self, n: u64) -> Stored {
        Stored {
            messages: self.messages + n,
            observations: self.observations + n,
        }
    }

    /// Every event counted was stored as an observation (checked once,
    /// after the clock stopped).
    fn check(self, reader: &Store) -> anyhow::Result<()> {
        let stored = reader.read().observation_count()?;
        if stored < self.observations {
            bail!(
                "{stored} observations stored, expected {}",
                self.observations
            );
        }
        Ok(())
    }
}

/// Waits until the daemon has committed `target.messages` messages. Polls
/// the counter row, not `COUNT(*)` over the observations: on a 2-core
/// machine a count every 5 ms took CPU from the daemon being timed.
fn wait_count(
    reader: &Store,
    target: Stored,
    daemon: &mut Daemon,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let target = target.messages;
    loop {
        let count = reader.read().counter("messages")?;
        if count >= target {
            return Ok(());
        }
        if !daemon.alive() {
            bail!(daemon.failure("ingest"));
        }
        if Instant::now() > deadline {
            bail!("only {count} of {target} messages committed after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A mosquitto the bench owns, on a free loopback port.
struct Mosquitto {
    port: u16,
    version: String,
    child: Child,
}

impl Mosquitto {
    fn start(dir: &Path, backlog: u64, inflight: u32) -> anyhow::Result<Mosquitto> {
        let binary = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mosquitto");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_queued_messages {}\nmax_inflight_messages {inflight}\nlog_dest file {}\n",
                backlog + 10_000,
                dir.join("mosquitto.log").display()
            ),
        )?;
        let version = Command::new(binary)
            .arg("-h")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .and_then(|l| {
                        l.split_whitespace()
                            .find(|w| w.starts_with(char::is_numeric))
                    })
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "(unknown version)".into());
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {binary} (apt-get install mosquitto)"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("mosquitto did not listen on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Mosquitto {
            port,
            version,
            child,
        })
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `larder run` as a child process (this same executable).
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(config: &Path, log: &Path) -> anyhow::Result<Daemon> {
        let exe = std::env::current_exe().context("locating this executable")?;
        let child = Command::new(exe)
            .arg("--config")
            .arg(config)
            .arg("run")
            // The daemon's log filter (e.g. `larder::daemon=debug` shows each
            // batch); warnings only unless LARDER_BENCH_DAEMON_LOG says.
            .env(
                "LARDER_LOG",
                std::env::var("LARDER_BENCH_DAEMON_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .spawn()
            .context("starting larder run")?;
        Ok(Daemon {
            child,
            log: log.to_owned(),
        })
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn failure(&self, phase: &str) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!(
            "larder failed during {phase}; its log {}:\n{log}",
            self.log.display()
        )
    }

    /// Peak resident set size (kB) from /proc.
    fn peak_rss_kb(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/<pid>/status")
    }

    /// SIGTERM, then the exit code.
    fn terminate(&mut self) -> anyhow::Result<Option<i32>> {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .context("running kill")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.code());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        bail!("larder did not stop within 60 s of SIGTERM")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Subscribes to the status topic and reports when `online` arrives.
struct Watcher {
    online: tokio::sync::watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    async fn start(port: u16, topic: &str) -> anyhow::Result<Watcher> {
        let mut opts = MqttOptions::new("larder-bench-watch", "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(opts, 16);
        client.subscribe(topic, QoS::AtLeastOnce).await?;
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _client = client;
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if &p.payload[..] == b"online" => {
                        tx.send_modify(|n| *n += 1);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .context("no SUBACK from mosquitto")??;
        Ok(Watcher { online: rx, task })
    }

    /// Waits for the next `online`; returns the time waited.
    async fn wait_online(&self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let mut rx = self.online.clone();
        rx.mark_unchanged();
        tokio::time::timeout(timeout, rx.changed())
            .await
            .context("the daemon did not come online")??;
        Ok(start.elapsed())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A QoS 1 publisher counting PUBACKs.
struct CountingPublisher {
    client: AsyncClient,
    acked: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingPublisher {
    async fn connect(port: u16) -> CountingPublisher {
        let id = format!(
            "larder-bench-pub-{}",
            keys::to_hex(&keys::random_bytes::<3>())
        );
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_inflight(100);
        let (client, mut eventloop) = AsyncClient::new(opts, 1000);
        let acked = Arc::new(AtomicU64::new(0));
        let counter = acked.clone();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        CountingPublisher {
            client,
            acked,
            task,
        }
    }

    async fn publish(&self, topic: String, payload: Vec<u8>) -> anyhow::Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .context("publishing")
    }

    async fn wait_acked(self, n: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(600);
        while self.acked.load(Ordering::SeqCst) < n {
            if Instant::now() > deadline {
                bail!(
                    "mosquitto acknowledged only {} of {n}",
                    self.acked.load(Ordering::SeqCst)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.task.abort();
        Ok(())
    }
}

async fn publish_all(port: u16, events: Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let publisher = CountingPublisher::connect(port).await;
    let n = events.len() as u64;
    for (topic, payload) in events {
        publisher.publish(topic, payload).await?;
    }
    publisher.wait_acked(n).await
}

async fn publish_paced(port: u16, events: Vec<(String, Vec<u8>)>, rate: u64) -> anyhow::Result<()> {
    let publisher = CountingPublisher::connect(port).await;
    let n = events.len() as u64;
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for (topic, payload) in events {
        interval.tick().await;
        publisher.publish(topic, payload).await?;
    }
    publisher.wait_acked(n).await
}

// --------------------------------------------------------------- decide

/// A deterministic household for the history: level readings through
/// the real ingest path, decisions through the real decision path,
/// approved orders delivered the next morning.
struct HistoryHousehold {
    devices: usize,
    levels: Vec<f64>,
    per_day: Vec<f64>,
    seqs: Vec<u64>,
    deliveries: Vec<(usize, f64)>,
}

impl HistoryHousehold {
    fn new(config: &Config, devices: usize) -> HistoryHousehold {
        let pack: Vec<f64> = config.items.iter().map(|i| i.model.package_size).collect();
        HistoryHousehold {
            devices,
            levels: pack.iter().map(|p| p * 2.0).collect(),
            per_day: (0..pack.len())
                .map(|i| 1.0 + (i % 7) as f64 * 0.5)
                .collect(),
            seqs: vec![0; devices],
            deliveries: Vec::new(),
        }
    }

    /// One reading slot: consumption since the last slot, deliveries, and
    /// one level reading per item, as device payloads.
    fn readings(&mut self, day: u32, first: bool, per_day: u32, at: i64) -> Vec<(String, Vec<u8>)> {
        if first {
            for (item, amount) in self.deliveries.drain(..) {
                self.levels[item] += amount;
            }
        }
        let mut out = Vec::with_capacity(self.levels.len());
        for item in 0..self.levels.len() {
            // A weekly rhythm, so the forecaster has something to learn.
            let weekday = f64::from((day + item as u32) % 7);
            let use_now = self.per_day[item] / f64::from(per_day) * (0.7 + weekday * 0.1);
            self.levels[item] = (self.levels[item] - use_now).max(0.0);
            let (device, slot_no) = placement(item, self.devices);
            self.seqs[device] += 1;
            out.push((
                device_topic(device),
                level_event(
                    device,
                    self.seqs[device],
                    slot_no,
                    self.levels[item],
                    Some(at),
                ),
            ));
        }
        out
    }
}

fn ingest_all(
    engine: &Engine,
    store: &mut Store,
    messages: &[(String, Vec<u8>)],
    now: i64,
) -> anyhow::Result<()> {
    for chunk in messages.chunks(256) {
        let inbound: Vec<Inbound<'_>> = chunk
            .iter()
            .map(|(topic, payload)| Inbound {
                topic,
                payload,
                retain: false,
                dup: false,
            })
            .collect();
        let outcome = engine.ingest(store, &inbound, now)?;
        if outcome.refused > 0 {
            bail!("{} generated events were refused", outcome.refused);
        }
    }
    Ok(())
}

/// Closes every approved intent as delivered; returns (item index, amount).
fn deliver_approved(
    config: &Config,
    store: &mut Store,
    now: i64,
) -> anyhow::Result<Vec<(usize, f64)>> {
    let approved = store.read().intents_in_state(IntentState::Approved)?;
    let tx = store.transaction()?;
    let mut out = Vec::new();
    for intent in approved {
        tx.transition_intent(
            &intent.id,
            IntentState::Approved,
            IntentState::Delivered,
            Some("shop"),
            now,
        )?;
        if let Some(index) = config.items.iter().position(|i| i.id == intent.item) {
            out.push((index, intent.quantity));
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Times `passes` decision passes over every item; between passes the
/// orders they made are closed (untimed), so each pass decides afresh.
/// Returns (median µs per item, orders per pass).
fn time_decisions(
    engine: &Engine,
    store: &mut Store,
    passes: u32,
    now: i64,
) -> anyhow::Result<(f64, f64, usize)> {
    let items = engine.config().items.len() as f64;
    let mut per_item = Vec::new();
    let mut orders = 0;
    for _ in 0..passes {
        let start = Instant::now();
        engine.decide(store, None, now)?;
        per_item.push(start.elapsed().as_secs_f64() * 1e6 / items);
        orders = deliver_approved(engine.config(), store, now)?.len();
    }
    per_item.sort_by(f64::total_cmp);
    let median = per_item[per_item.len() / 2];
    let p90 = per_item[(per_item.len() * 9 / 10).min(per_item.len() - 1)];
    Ok((median, p90, orders))
}

fn decide_figures(
    options: &Options,
    work: &Work,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let dir = work.dir.join("decide");
    std::fs::create_dir_all(&dir)?;
    let text = household_config(&dir, 1883, options.items, options.devices, true);
    let config = Config::parse(&text, &dir.join("larder.toml"))?;
    let engine = Engine::new(config.clone(), SigningKey::generate());
    let db = dir.join("history.db");
    let mut store = Store::open(&db)?;
    let mut household = HistoryHousehold::new(&config, options.devices);
    let per_day = options.readings_per_day.max(1);
    let month = 30.min(options.history_days);
    let mut short = None;
    let started = Instant::now();
    eprintln!(
        "bench: generating {} days of history for {} items",
        options.history_days, options.items
    );
    for day in 0..options.history_days {
        let midnight = HISTORY_START + i64::from(day) * DAY;
        for slot in 0..per_day {
            let at = midnight + i64::from(slot) * DAY / i64::from(per_day) + 3600;
            let messages = household.readings(day, slot == 0, per_day, at);
            ingest_all(&engine, &mut store, &messages, at)?;
        }
        let evening = midnight + 20 * 3600;
        engine.decide(&mut store, None, evening)?;
        let delivered = deliver_approved(&config, &mut store, evening)?;
        household.deliveries.extend(delivered);
        if day + 1 == month {
            short = Some(snapshot(
                &engine,
                &mut store,
                &db,
                options.passes,
                evening,
                day + 1,
            )?);
        }
        if day % 365 == 364 {
            eprintln!(
                "bench:   year {} done ({:.0} s)",
                (day + 1) / 365,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let last = HISTORY_START + i64::from(options.history_days) * DAY - 4 * 3600;
    let long = snapshot(
        &engine,
        &mut store,
        &db,
        options.passes,
        last,
        options.history_days,
    )?;
    let Some(short) = short else {
        bail!("--history-days must be at least 1");
    };
    for s in [&short, &long] {
        rows.push(Row::new(
            format!("decision per item, {} days of history", s.days),
            format!("{:.1} us", s.median_us),
            "",
        ));
    }
    let ratio = long.median_us / short.median_us;
    rows.push(Row::new(
        "  ratio long / one month",
        format!("{ratio:.3}x"),
        verdict(ratio <= 1.2, "<= 1.2x"),
    ));
    for s in [&short, &long] {
        notes.push(format!(
            "decision after {} days: median of {} passes over {} items (p90 {:.1} us/item), \
             {} orders per pass; database {:.1} MB, {} observations, {} intents",
            s.days,
            options.passes,
            options.items,
            s.p90_us,
            s.orders,
            s.db_bytes as f64 / 1e6,
            s.observations,
            s.intents
        ));
    }
    notes.push(format!(
        "a decision pass is Engine::decide in one transaction (forecast, proposal, rules with \
         budget and order-cap queries, intent + signed outbox row for each order, commit with \
         synchronous=FULL); history generated in {:.0} s through Engine::ingest",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

struct Snapshot {
    days: u32,
    median_us: f64,
    p90_us: f64,
    orders: usize,
    db_bytes: u64,
    observations: u64,
    intents: usize,
}

fn snapshot(
    engine: &Engine,
    store: &mut Store,
    db: &Path,
    passes: u32,
    now: i64,
    days: u32,
) -> anyhow::Result<Snapshot> {
    let (median_us, p90_us, orders) = time_decisions(engine, store, passes, now)?;
    let intents = store.read().intents(u32::MAX)?.len();
    Ok(Snapshot {
        days,
        median_us,
        p90_us,
        orders,
        db_bytes: std::fs::metadata(db)?.len(),
        observations: store.read().observation_count()?,
        intents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_info_reads_this_test_binary() {
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(exe).unwrap();
        let (arch, _) = elf_info(&bytes).unwrap();
        assert_eq!(arch, std::env::consts::ARCH);
    }

    #[test]
    fn emulation_is_a_foreign_machine() {
        assert!(machine_runs_natively("x86_64", "x86_64"));
        assert!(machine_runs_natively("aarch64", "aarch64"));
        assert!(machine_runs_natively("armv7l", "arm"));
        assert!(machine_runs_natively("aarch64", "arm"));
        assert!(!machine_runs_natively("x86_64", "aarch64"));
        assert!(!machine_runs_natively("x86_64", "arm"));
    }

    #[test]
    fn elf_info_refuses_what_is_not_elf() {
        assert_eq!(elf_info(b"#!/bin/sh\necho hi\n"), None);
        assert_eq!(elf_info(b"\x7fELF"), None);
        assert_eq!(elf_info(b""), None);
    }
}
