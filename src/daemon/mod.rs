//! The daemon: wires the engine to MQTT, SQLite and the clock.
//!
//! Tasks and their channels:
//! - ingest poller (rumqttc, MQTT 5 by default, persistent session, manual
//!   acks) → forwarder → `WriterCommand::Message` to the writer;
//! - the writer (a blocking thread, the only SQLite writer): batches
//!   messages, commits, then acks them in receive order; decides the
//!   touched items when idle (at least every 250 ms); marks outbox rows sent;
//! - outbound poller + relay (a second connection): publishes due outbox
//!   rows one at a time and reports each PUBACK to the writer;
//! - ticker: periodic decisions and approval expiry.
//!
//! Shutdown (SIGTERM): the writer finishes its batch (commit, ack), the
//! status goes `offline`, both connections disconnect cleanly.
//!
//! Files: this one starts and stops the tasks ([`start`], [`run`],
//! [`Running`]); `writer` is the single writer thread (batches,
//! commit-then-ack, ticks); `ingest` hands inbound messages to it and its
//! acks back to the broker; `relay` publishes the outbox and reports each
//! PUBACK; `store_open` opens the state directory and database (a corrupt
//! file is quarantined); [`link`] (one connection in the configured MQTT
//! version: why no message can stop ingestion), [`mqtt`], [`ha_link`],
//! [`refusal_log`], [`retention`], [`notify`] and [`failpoints`] are the
//! adapters and helpers they use.

pub mod failpoints;
pub mod ha_link;
mod ingest;
pub mod link;
pub mod mqtt;
pub mod notify;
pub mod refusal_log;
mod relay;
pub mod retention;
mod store_open;
mod writer;

pub use writer::WriterCommand;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::keys::{self, SigningKey};
use crate::engine::Engine;
use anyhow::Context as _;
use ingest::{ACK_QUEUE, forward_ingest, send_acks};
use link::{Client, LinkOptions};
use mqtt::OnConnect;
use relay::relay;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use store_open::{create_private_dir, open_store};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use writer::{Undecided, Writer};

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Decide and expire this often; `None` = only on `Running::tick`
    /// (simulated time).
    pub tick_every: Option<Duration>,
    /// Decide for the items committed batches touched, when the writer is
    /// idle (the daemon); `false` decides only on ticks, so a simulation's
    /// decisions do not depend on how messages happened to be batched.
    pub decide_per_batch: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            tick_every: Some(Duration::from_secs(60)),
            decide_per_batch: true,
        }
    }
}

/// A started daemon.
pub struct Running {
    commands: mpsc::Sender<WriterCommand>,
    processed: Arc<AtomicU64>,
    shutdown: watch::Sender<bool>,
    stopping: Arc<AtomicBool>,
    writer: JoinHandle<anyhow::Result<()>>,
    ingest_client: Client,
    outbound_client: Client,
    /// The Home Assistant publisher's connection (`ha_link`).
    ha_client: Client,
    status_topic: String,
    tasks: Vec<JoinHandle<()>>,
    acker: JoinHandle<()>,
    timers: Vec<JoinHandle<()>>,
    database: PathBuf,
    /// The state directory's single-writer lock, released when dropped.
    _lock: crate::store::StateLock,
}

impl Running {
    /// Inbound messages committed, acknowledged and decided on so far.
    pub fn processed(&self) -> u64 {
        self.processed.load(Ordering::SeqCst)
    }

    /// The database file.
    pub fn database(&self) -> &Path {
        &self.database
    }

    /// Runs one decision pass now and waits for it.
    pub async fn tick(&self) -> anyhow::Result<()> {
        let (done, wait) = oneshot::channel();
        self.commands
            .send(WriterCommand::Tick(Some(done)))
            .await
            .context("writer has stopped")?;
        wait.await.context("writer has stopped")
    }

    /// Graceful stop: finish the batch, commit, ack, go offline, disconnect.
    pub async fn stop(self) -> anyhow::Result<()> {
        for timer in &self.timers {
            timer.abort();
        }
        // A writer retrying a failing commit (disk full) never reads its
        // queue; this flag ends the retry (nothing is acked).
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.commands.send(WriterCommand::Stop).await;
        let writer_result = self.writer.await.context("writer thread panicked")?;
        // The writer is gone, so its ack queue is closed: hand every ack to
        // the client before going offline and disconnecting.
        if tokio::time::timeout(Duration::from_secs(5), self.acker)
            .await
            .is_err()
        {
            tracing::warn!("acks not all queued within 5 s; the broker will redeliver those");
        }
        let _ = self
            .ingest_client
            .publish(&self.status_topic, true, b"offline".to_vec())
            .await;
        let _ = self.ingest_client.disconnect().await;
        let _ = self.outbound_client.disconnect().await;
        let _ = self.ha_client.disconnect().await;
        // Give the pollers a moment to flush acks, the status and DISCONNECT.
        let flush = async {
            for task in self.tasks {
                let _ = task.await;
            }
        };
        let mut flush = std::pin::pin!(flush);
        if tokio::time::timeout(Duration::from_secs(3), &mut flush)
            .await
            .is_err()
        {
            let _ = self.shutdown.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(2), flush).await;
        }
        tracing::info!("stopped");
        writer_result
    }
}

/// Runs the daemon until `shutdown` completes, then stops gracefully.
pub async fn run(
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let running = start(config, clock, Options::default()).await?;
    let mut writer_done = false;
    tokio::select! {
        () = shutdown => tracing::info!("shutting down"),
        () = wait_finished(&running.writer) => writer_done = true,
    }
    notify::notify("STOPPING=1");
    let result = running.stop().await;
    if writer_done && result.is_ok() {
        anyhow::bail!("writer stopped unexpectedly");
    }
    result
}

async fn wait_finished<T>(handle: &JoinHandle<T>) {
    while !handle.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Opens the database (quarantining a corrupt one), loads the hub key,
/// connects and starts every task.
pub async fn start(
    config: Config,
    clock: Arc<dyn Clock>,
    options: Options,
) -> anyhow::Result<Running> {
    let state_dir = config.hub.state_dir.clone();
    create_private_dir(&state_dir)?;
    // One writer per state directory: a second larder (or a `larder forget`
    // working on the files) is refused here, naming the holder.
    let lock = crate::store::StateLock::acquire(&state_dir)?;
    let database = config.hub.database_path();
    let store = open_store(&database, clock.now())?;
    let hub_key = SigningKey::load_or_create(&config.hub.key_file)
        .with_context(|| "loading the hub key (hub.key-file)".to_string())?;
    tracing::info!(
        hub = %config.hub.id,
        public_key = %keys::to_hex(&hub_key.public_key()),
        database = %database.display(),
        "hub key loaded; shops verify intents with this public key"
    );

    let engine = Engine::new(config.clone(), hub_key);
    let topics = engine.topics().clone();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    // Ingest connection: persistent session, manual acks, last will.
    let (ingest_client, ingest_loop) = link::connect(
        &config.mqtt,
        &LinkOptions {
            client_id: config.mqtt.client_id.clone(),
            persistent: true,
            will: Some((topics.status.clone(), b"offline".to_vec())),
            inflight: link::DEFAULT_INFLIGHT,
            capacity: 64,
        },
    )?;
    let (ingest_tx, ingest_rx) = mpsc::channel(1024);
    let on_connect = OnConnect {
        subscribe: engine.subscriptions(),
        announce: Some((topics.status.clone(), b"online".to_vec())),
    };
    let mut tasks = vec![tokio::spawn(mqtt::poll_loop(
        "ingest",
        ingest_client.clone(),
        ingest_loop,
        on_connect,
        ingest_tx,
        shutdown_rx.clone(),
    ))];

    // Outbound connection: one publish in flight so PUBACKs map to rows.
    let (outbound_client, outbound_loop) = link::connect(
        &config.mqtt,
        &LinkOptions {
            client_id: format!("{}-out", config.mqtt.client_id),
            persistent: false,
            will: None,
            inflight: 1,
            capacity: 16,
        },
    )?;
    let (outbound_tx, outbound_rx) = mpsc::channel(64);
    tasks.push(tokio::spawn(mqtt::poll_loop(
        "outbound",
        outbound_client.clone(),
        outbound_loop,
        OnConnect::default(),
        outbound_tx,
        shutdown_rx.clone(),
    )));

    // Home Assistant discovery and state: the writer hands snapshots to a
    // publisher on its own connection (local broker only, no outbox).
    let (ha_feed, ha_snapshots) = if config.homeassistant.enabled {
        let (feed, snapshots) = crate::daemon::ha_link::SnapshotFeed::new(&config, &store);
        (Some(feed), Some(snapshots))
    } else {
        (None, None)
    };
    let (ha_client, ha_task) =
        crate::daemon::ha_link::start(&config, ha_snapshots, shutdown_rx.clone())?;
    tasks.push(ha_task);

    let (commands, commands_rx) = mpsc::channel(1024);
    let processed = Arc::new(AtomicU64::new(0));
    let stopping = Arc::new(AtomicBool::new(false));
    let relay_wake = Arc::new(Notify::new());
    let (acks, acks_rx) = mpsc::channel(ACK_QUEUE);
    let acker = tokio::spawn(send_acks(ingest_client.clone(), acks_rx));
    let writer = {
        let clock = clock.clone();
        let processed = processed.clone();
        let relay_wake = relay_wake.clone();
        let shutdown = shutdown_rx.clone();
        let stopping = stopping.clone();
        tokio::task::spawn_blocking(move || {
            Writer {
                engine,
                store,
                acks,
                clock,
                processed,
                relay_wake,
                shutdown,
                stopping,
                decide_per_batch: options.decide_per_batch,
                scrub_pending: false,
                undecided: Undecided::default(),
                ha: ha_feed,
                refusals: refusal_log::RefusalLog::default(),
            }
            .run(commands_rx)
        })
    };

    tasks.push(tokio::spawn(forward_ingest(ingest_rx, commands.clone())));
    tasks.push(tokio::spawn(relay(
        database.clone(),
        outbound_client.clone(),
        outbound_rx,
        commands.clone(),
        clock.clone(),
        relay_wake,
        shutdown_rx.clone(),
    )));
    // Timers are aborted on stop; they hold no state.
    let mut timers = Vec::new();
    if let Some(every) = options.tick_every {
        let commands = commands.clone();
        timers.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            loop {
                interval.tick().await;
                if commands.send(WriterCommand::Tick(None)).await.is_err() {
                    break;
                }
            }
        }));
    }
    if let Some(interval) = notify::watchdog_interval() {
        timers.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                notify::notify("WATCHDOG=1");
            }
        }));
    }

    Ok(Running {
        commands,
        processed,
        shutdown: shutdown_tx,
        stopping,
        writer,
        ingest_client,
        outbound_client,
        ha_client,
        status_topic: topics.status,
        tasks,
        acker,
        timers,
        database,
        _lock: lock,
    })
}
