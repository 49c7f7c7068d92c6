//! The broker figures: startup to first subscription (first start and
//! restart), durable QoS 1 ingest against `mosquitto_sub` draining the
//! same backlog, and the daemon's peak RSS after a steady load.

use super::household::{EventSource, household_config};
use super::size::running_under_qemu;
use super::{BenchOptions, HUB, Row, verdict};
use crate::config::Config;
use crate::store::Store;
use crate::tools::harness::{Broker, DaemonProcess, Publisher, ScratchDir, WatchOptions, Watcher};
use anyhow::{Context as _, bail};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the broker phases against a mosquitto of the bench's own and adds
/// their rows and notes.
pub(super) fn broker_figures(
    options: &BenchOptions,
    work: &ScratchDir,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let (backlog, inflight) = (options.messages, options.broker_inflight);
    let broker = Broker::start(work.subdir("broker")?, |port, dir| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_queued_messages {}\nmax_inflight_messages {inflight}\nlog_dest file {}\n",
            backlog + 10_000,
            dir.join("mosquitto.log").display()
        )
    })?;
    let state = work.join("state");
    let config = work.join("larder.toml");
    std::fs::write(
        &config,
        household_config(
            &state,
            broker.port(),
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
    let watcher = Watcher::start(
        broker.port(),
        std::slice::from_ref(&status_topic),
        &WatchOptions::default(),
    )?;
    let mut daemon = spawn_daemon(&config, &work.join("daemon-1.log"))?;
    let first_start = time_to_online(&watcher, &daemon, "first start")?;
    stop_cleanly(&mut daemon)?;

    // 2. The raw consumer's persistent session, then the backlog for both.
    run_checked(raw_subscriber(broker.port(), &filter).arg("-E"))?;
    eprintln!("bench: queueing {} QoS 1 events", options.messages);
    let mut source = EventSource::new(options.items, options.devices);
    let backlog: Vec<_> = (0..options.messages).map(|_| source.next()).collect();
    publish_all(broker.port(), backlog)?;

    // 3. mosquitto_sub drains its copy.
    eprintln!("bench: mosquitto_sub draining");
    let start = Instant::now();
    run_checked(raw_subscriber(broker.port(), &filter).args([
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
    let mut daemon = spawn_daemon(&config, &work.join("daemon-2.log"))?;
    let restart = time_to_online(&watcher, &daemon, "restart")?;
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
        publish_paced(broker.port(), events, options.steady_rate)?;
        let target = target.plus(steady);
        wait_count(&reader, target, &mut daemon, Duration::from_secs(300))?;
        target.check(&reader)?;
    }
    let rss = daemon.peak_rss_kb()?;
    stop_cleanly(&mut daemon)?;
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
        options.messages,
        Broker::version(),
        options.broker_inflight
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

/// `mosquitto_sub` as the raw consumer: QoS 1, persistent session under a
/// fixed client id, on `filter`.
fn raw_subscriber(port: u16, filter: &str) -> Command {
    let mut command = Command::new("mosquitto_sub");
    command.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    command.args(["-q", "1", "-c", "-i", "larder-bench-raw", "-t", filter]);
    command
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
    daemon: &mut DaemonProcess,
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

/// `larder run` as a child process (this same executable), its log in
/// `log`: warnings only, unless `LARDER_BENCH_DAEMON_LOG` names a filter
/// (e.g. `larder::daemon=debug` shows each batch).
fn spawn_daemon(config: &Path, log: &Path) -> anyhow::Result<DaemonProcess> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let filter = std::env::var("LARDER_BENCH_DAEMON_LOG").unwrap_or_else(|_| "warn".into());
    Ok(DaemonProcess::spawn(
        &exe,
        config,
        log,
        &[("LARDER_LOG", &filter)],
    )?)
}

/// The time from now (just after the spawn) until the watcher sees the
/// daemon's next retained `online` status (the daemon queues its SUBSCRIBE
/// before that PUBLISH on the same connection).
fn time_to_online(
    watcher: &Watcher,
    daemon: &DaemonProcess,
    phase: &str,
) -> anyhow::Result<Duration> {
    let (mark, spawned) = (watcher.count(), Instant::now());
    let online = watcher
        .wait_for(mark, Duration::from_secs(60), "the daemon online", |s| {
            s.payload == b"online"
        })
        .with_context(|| daemon.failure(phase))?;
    Ok(online.at.saturating_duration_since(spawned))
}

/// SIGTERM, and an error unless the daemon exits 0.
fn stop_cleanly(daemon: &mut DaemonProcess) -> anyhow::Result<()> {
    let code = daemon.terminate()?;
    if code != Some(0) {
        bail!(
            "larder exited with {code:?} on SIGTERM; see {}",
            daemon.log_path().display()
        );
    }
    Ok(())
}

/// Publishes `events` as fast as the broker takes them (100 in flight) and
/// waits until all are acknowledged.
fn publish_all(port: u16, events: Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let publisher = Publisher::connect_pipelined(port, 100);
    let n = events.len() as u64;
    for (topic, payload) in events {
        publisher.send(&topic, payload, false)?;
    }
    Ok(publisher.wait_acked(n, Duration::from_secs(600))?)
}

/// Publishes `events` at `rate` a second (catching up in a burst when
/// behind) and waits until all are acknowledged.
fn publish_paced(port: u16, events: Vec<(String, Vec<u8>)>, rate: u64) -> anyhow::Result<()> {
    let publisher = Publisher::connect_pipelined(port, 100);
    let n = events.len() as u64;
    let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let start = Instant::now();
    for (i, (topic, payload)) in events.into_iter().enumerate() {
        let due = start + period.mul_f64(i as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        publisher.send(&topic, payload, false)?;
    }
    Ok(publisher.wait_acked(n, Duration::from_secs(600))?)
}
