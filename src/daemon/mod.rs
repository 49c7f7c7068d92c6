//! The daemon: wires the engine to MQTT, SQLite and the clock.
//!
//! Tasks and their channels:
//! - ingest poller (rumqttc, persistent session, manual acks) → forwarder
//!   → `WriterCommand::Message` to the writer;
//! - the writer (a blocking thread, the only SQLite writer): batches
//!   messages, commits, then acks them in receive order; decides the
//!   touched items when idle (at least every 250 ms); marks outbox rows sent;
//! - outbound poller + relay (a second connection): publishes due outbox
//!   rows one at a time and reports each PUBACK to the writer;
//! - ticker: periodic decisions and approval expiry.
//!
//! Shutdown (SIGTERM): the writer finishes its batch (commit, ack), the
//! status goes `offline`, both connections disconnect cleanly.

pub mod failpoints;
pub mod ha_link;
pub mod mqtt;
pub mod notify;
pub mod retention;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::keys::{self, SigningKey};
use crate::engine::{Engine, Inbound};
use crate::store::Store;
use anyhow::Context as _;
use mqtt::{Backoff, OnConnect, Polled};
use rumqttc::{AsyncClient, LastWill, QoS};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Most messages committed in one transaction. A persistent session's
/// queued backlog arrives faster than the writer commits, so batches fill
/// up; each changed item's state is sealed and written once per batch
/// (`store::Tx::commit`), so a larger batch writes it less often (1024
/// instead of 256: writer CPU -20 % in `larder bench`).
const MAX_BATCH: usize = 1024;

/// Decisions for the items a batch touched wait for a quiet moment: the
/// writer decides once no message has arrived for `DECIDE_WHEN_IDLE`, and
/// at least every `DECIDE_AT_MOST_AFTER` under continuous load. A backlog
/// (mosquitto sends 20 messages, then waits for their acks) is then
/// decided once per item every quarter second instead of after every
/// 20-message batch, which halved durable ingest (`docs/performance.md`).
const DECIDE_WHEN_IDLE: Duration = Duration::from_millis(2);
const DECIDE_AT_MOST_AFTER: Duration = Duration::from_millis(250);

/// How long the relay waits for a PUBACK before it re-sends.
const PUBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Work for the writer thread (a closed set).
#[derive(Debug)]
pub enum WriterCommand {
    /// An inbound message to store and ack.
    Message(rumqttc::Publish),
    /// Expire requests and decide for every item; answer when done.
    Tick(Option<oneshot::Sender<()>>),
    /// The broker acknowledged this outbox row; answer when recorded.
    MarkSent(i64, oneshot::Sender<()>),
    /// Finish the current batch and stop.
    Stop,
}

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
    ingest_client: AsyncClient,
    outbound_client: AsyncClient,
    /// The Home Assistant publisher's connection (`ha_link`).
    ha_client: AsyncClient,
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
            .publish(self.status_topic, QoS::AtLeastOnce, true, "offline")
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
    let will = LastWill::new(&topics.status, "offline", QoS::AtLeastOnce, true);
    let ingest_opts = mqtt::options(&config.mqtt, &config.mqtt.client_id, true, Some(will))?;
    let (ingest_client, ingest_loop) = AsyncClient::new(ingest_opts, 64);
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
    let mut out_opts = mqtt::options(
        &config.mqtt,
        &format!("{}-out", config.mqtt.client_id),
        false,
        None,
    )?;
    out_opts.set_inflight(1);
    let (outbound_client, outbound_loop) = AsyncClient::new(out_opts, 16);
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

/// Creates the state directory (mode 0700) if it is missing.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| {
                format!("creating state directory {} (hub.state-dir)", dir.display())
            })?;
    }
    Ok(())
}

/// Opens the database; a corrupt file is moved aside (never deleted) and a
/// fresh one started, with a loud error in the log.
fn open_store(path: &Path, now: i64) -> anyhow::Result<Store> {
    match Store::open(path) {
        Ok(store) => Ok(store),
        Err(crate::store::StoreError::Corrupt { detail, .. }) => {
            let aside = path.with_extension(format!("db.corrupt-{now}"));
            tracing::error!(
                database = %path.display(),
                quarantined_as = %aside.display(),
                %detail,
                "DATABASE IS CORRUPT: moved aside, starting with an empty database; learned history must be rebuilt"
            );
            std::fs::rename(path, &aside)
                .with_context(|| format!("quarantining corrupt database {}", path.display()))?;
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", path.display()));
                if side.exists() {
                    let _ = std::fs::rename(&side, format!("{}{suffix}", aside.display()));
                }
            }
            Store::open(path).with_context(|| format!("opening fresh database {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| "opening the database".to_string()),
    }
}

/// Maps ingest poll events to writer commands; tells systemd we are ready
/// on the first connect (database open, broker connected).
async fn forward_ingest(mut events: mpsc::Receiver<Polled>, commands: mpsc::Sender<WriterCommand>) {
    let mut ready = false;
    while let Some(event) = events.recv().await {
        let command = match event {
            Polled::Message(publish) => WriterCommand::Message(publish),
            Polled::Connected { .. } => {
                if !ready {
                    ready = true;
                    notify::notify("READY=1");
                }
                continue;
            }
            _ => continue,
        };
        if commands.send(command).await.is_err() {
            break;
        }
    }
}

/// Hands the writer's acks to the ingest client, in commit order.
///
/// The writer never waits on the client itself: the client's request
/// queue only drains while the ingest poller runs, and under a large
/// backlog the poller can be waiting for the writer to take messages
/// (poller → forwarder → writer → client queue → poller). Found by
/// `larder bench` with a 20 000-message backlog, where the daemon stalled.
async fn send_acks(client: AsyncClient, mut acks: mpsc::Receiver<PendingAck>) {
    while let Some(pending) = acks.recv().await {
        crate::daemon::failpoints::crash_point("ack_handoff_before_client");
        let mut publish = rumqttc::Publish::new("", pending.qos, Vec::new());
        publish.pkid = pending.pkid;
        if let Err(e) = client.ack(&publish).await {
            tracing::warn!(error = %e, "cannot queue ack; the broker will redeliver and the duplicate is ignored");
        }
    }
}

/// What acknowledging a committed message needs of it: its packet id and
/// QoS (all `AsyncClient::ack` reads). Queuing the whole message instead
/// kept its payload, and the network read buffer it was cut from, alive
/// until the ack was written: with a 100 000-message backlog the queue
/// held over 10 MB (`docs/performance.md`).
#[derive(Debug, Clone, Copy)]
struct PendingAck {
    pkid: u16,
    qos: QoS,
}

/// Room in the ack queue: one per packet id. The broker cannot have more
/// unacknowledged QoS 1 messages out to one session than there are packet
/// ids, so the queue never fills while the broker follows the protocol
/// (a few bytes a slot, well under 1 MiB). The writer never waits on it (see
/// `send_acks`); were it full, the ack is dropped with a warning and the
/// broker redelivers the message, whose duplicate is counted and acked.
const ACK_QUEUE: usize = 1 << 16;

/// The single SQLite writer, on its own thread.
struct Writer {
    engine: Engine,
    store: Store,
    /// Committed messages to acknowledge (see `send_acks`).
    acks: mpsc::Sender<PendingAck>,
    clock: Arc<dyn Clock>,
    processed: Arc<AtomicU64>,
    relay_wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    stopping: Arc<AtomicBool>,
    decide_per_batch: bool,
    /// A forget committed but its scrub has not succeeded yet.
    scrub_pending: bool,
    undecided: Undecided,
    /// Snapshots for the Home Assistant publisher (`None` when disabled).
    ha: Option<crate::daemon::ha_link::SnapshotFeed>,
}

/// Committed and acked messages whose items are not decided yet.
#[derive(Default)]
struct Undecided {
    items: Vec<String>,
    messages: u64,
    since: Option<std::time::Instant>,
}

impl Writer {
    fn run(mut self, mut commands: mpsc::Receiver<WriterCommand>) -> anyhow::Result<()> {
        // Decide once at start: intents may be due after downtime.
        self.tick();
        let runtime = tokio::runtime::Handle::current();
        let mut next = commands.blocking_recv();
        while let Some(command) = next.take() {
            if matches!(command, WriterCommand::Tick(_) | WriterCommand::Stop) {
                self.decide_undecided();
            }
            match command {
                WriterCommand::Message(_) | WriterCommand::MarkSent(..) => {
                    if matches!(command, WriterCommand::Message(_)) {
                        crate::daemon::failpoints::crash_point("writer_before_batch");
                    }
                    // Messages and the relay's PUBACK marks waiting now go
                    // into one transaction (a mark no longer splits a batch
                    // or costs a commit of its own).
                    let mut batch = Vec::new();
                    let mut sent = Vec::new();
                    let mut waiting = Some(command);
                    while let Some(command) = waiting.take() {
                        match command {
                            WriterCommand::Message(p) => batch.push(p),
                            WriterCommand::MarkSent(id, done) => sent.push((id, done)),
                            other => {
                                next = Some(other);
                                break;
                            }
                        }
                        if batch.len() >= MAX_BATCH {
                            break;
                        }
                        waiting = commands.try_recv().ok();
                    }
                    if !self.commit_and_ack(&batch, sent) {
                        break;
                    }
                }
                WriterCommand::Tick(done) => {
                    self.tick();
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                WriterCommand::Stop => break,
            }
            if next.is_none() {
                next = match self.undecided.since {
                    None => commands.blocking_recv(),
                    Some(since) if since.elapsed() >= DECIDE_AT_MOST_AFTER => {
                        self.decide_undecided();
                        commands.blocking_recv()
                    }
                    Some(_) => match runtime
                        .block_on(tokio::time::timeout(DECIDE_WHEN_IDLE, commands.recv()))
                    {
                        Ok(command) => command,
                        Err(_idle) => {
                            self.decide_undecided();
                            commands.blocking_recv()
                        }
                    },
                };
            }
        }
        self.decide_undecided();
        Ok(())
    }

    /// Decides the items of committed batches, then counts their messages
    /// as processed (so a caller that sees the count also sees any intent
    /// and outbox row they caused).
    fn decide_undecided(&mut self) {
        let undecided = std::mem::take(&mut self.undecided);
        if self.decide_per_batch && !undecided.items.is_empty() {
            let now = self.clock.now();
            if let Err(e) = self
                .engine
                .decide(&mut self.store, Some(&undecided.items), now)
            {
                tracing::error!(error = %e, "decision pass failed; retried on the next tick");
            }
            self.relay_wake.notify_one();
        }
        if undecided.messages > 0 {
            self.refresh_home_assistant();
        }
        self.processed
            .fetch_add(undecided.messages, Ordering::SeqCst);
    }

    /// Hands the Home Assistant publisher a fresh snapshot (reads only;
    /// never waits on the network).
    fn refresh_home_assistant(&mut self) {
        if let Some(feed) = &mut self.ha {
            feed.refresh(self.clock.now());
        }
    }

    /// Commits a batch, retrying with backoff while the database refuses
    /// (disk full, locked); acks only after the commit. The relay's marks
    /// (`sent`) go into the same transaction and are answered after it; if
    /// that fails they are recorded on their own once (a failing mark must
    /// not hold up ingest) and the batch is retried without them. Returns
    /// false if asked to shut down before it could commit (nothing acked).
    fn commit_and_ack(
        &mut self,
        batch: &[rumqttc::Publish],
        mut sent: Vec<(i64, oneshot::Sender<()>)>,
    ) -> bool {
        let inbound: Vec<Inbound<'_>> = batch
            .iter()
            .map(|p| Inbound {
                topic: &p.topic,
                payload: &p.payload,
                retain: p.retain,
                dup: p.dup,
            })
            .collect();
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        let marked = !sent.is_empty();
        let outcome = loop {
            let marks: Vec<i64> = sent.iter().map(|(id, _)| *id).collect();
            match self.engine.ingest_and_mark_sent(
                &mut self.store,
                &inbound,
                &marks,
                self.clock.now(),
            ) {
                Ok(outcome) => {
                    for (_, done) in sent.drain(..) {
                        let _ = done.send(());
                    }
                    break outcome;
                }
                Err(error) if !sent.is_empty() => {
                    tracing::warn!(%error, messages = batch.len(), marks = sent.len(), "cannot commit messages and publish marks together; recording the marks on their own");
                    self.mark_sent_alone(std::mem::take(&mut sent));
                    if batch.is_empty() {
                        return true;
                    }
                }
                Err(error) => {
                    let delay = backoff.next_delay(mqtt::random_jitter());
                    tracing::error!(%error, messages = batch.len(), retry_in = ?delay, "cannot commit; not acknowledging until it works");
                    if self.sleep_unless_shutdown(delay) {
                        return false;
                    }
                }
            }
        };
        if marked {
            // Home Assistant's order events show `order_sent`.
            self.refresh_home_assistant();
        }
        if batch.is_empty() {
            // Only the relay's marks: nothing to ack or decide.
            return true;
        }
        if outcome.scrub {
            // A forget was committed: make the erased content unrecoverable
            // from the file, its WAL and free pages before going on.
            self.scrub_pending = true;
            self.scrub();
        }
        crate::daemon::failpoints::crash_point("after_commit_before_ack");
        for publish in batch {
            // Only after the commit above. If the ack task is gone
            // (shutting down) the broker redelivers.
            let pending = PendingAck {
                pkid: publish.pkid,
                qos: publish.qos,
            };
            if let Err(mpsc::error::TrySendError::Full(_)) = self.acks.try_send(pending) {
                tracing::warn!(
                    pkid = publish.pkid,
                    "ack queue full (more unacknowledged messages than packet ids); the broker will redeliver this one"
                );
            }
        }
        tracing::debug!(
            messages = batch.len(),
            stored = outcome.stored,
            duplicates = outcome.duplicates,
            refused = outcome.refused,
            "batch committed"
        );
        // Decided (and counted as processed) when the writer is idle or
        // the oldest undecided batch is DECIDE_AT_MOST_AFTER old.
        for item in outcome.touched {
            if !self.undecided.items.contains(&item) {
                self.undecided.items.push(item);
            }
        }
        self.undecided.messages += batch.len() as u64;
        self.undecided
            .since
            .get_or_insert_with(std::time::Instant::now);
        self.relay_wake.notify_one();
        true
    }

    /// Records the relay's PUBACK marks one transaction each and answers
    /// them; a mark that fails is logged and its row published again.
    fn mark_sent_alone(&mut self, sent: Vec<(i64, oneshot::Sender<()>)>) {
        for (id, done) in sent {
            let now = self.clock.now();
            if let Err(e) = self.engine.mark_sent(&mut self.store, id, now) {
                // The row stays unsent and is published again: the
                // intent id makes the repeat harmless upstream.
                tracing::error!(error = %e, outbox = id, "cannot record publish");
            }
            let _ = done.send(());
        }
        self.refresh_home_assistant();
    }

    /// Scrubs the database after a forget; on failure (a long reader kept
    /// the WAL) it stays pending and is retried on every tick.
    fn scrub(&mut self) {
        if !self.scrub_pending {
            return;
        }
        match self.store.scrub() {
            Ok(bytes) => {
                self.scrub_pending = false;
                tracing::info!(
                    database_bytes = bytes,
                    "forget: database scrubbed (checkpoint, VACUUM, WAL truncated)"
                );
                if let Err(e) = crate::store::wipe_quarantined(self.store.path()) {
                    tracing::error!(error = %e, "forget: cannot wipe quarantined database copies");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "forget committed but the scrub failed; erased rows may linger in free pages or the WAL; retried on the next tick")
            }
        }
    }

    fn tick(&mut self) {
        self.scrub();
        let now = self.clock.now();
        match crate::daemon::retention::compact(
            &mut self.store,
            &self.engine.config().retention,
            now,
        ) {
            Ok(0) => {}
            Ok(folded) => tracing::info!(
                folded,
                raw_days = self.engine.config().retention.raw_days,
                "retention: old raw observations folded into daily aggregates"
            ),
            Err(e) => {
                tracing::error!(error = %e, "retention: compaction failed; retried on the next tick")
            }
        }
        match self.engine.tick_devices(&mut self.store, now) {
            Ok(items) if !items.is_empty() => {
                tracing::info!(
                    ?items,
                    "devices: time-confirmed observations (washer cycles)"
                )
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "devices: tick failed; retried on the next tick")
            }
        }
        if let Err(e) = self.engine.decide(&mut self.store, None, now) {
            tracing::error!(error = %e, "decision pass failed; retried on the next tick");
        }
        self.refresh_home_assistant();
        self.relay_wake.notify_one();
    }

    fn sleep_unless_shutdown(&self, delay: Duration) -> bool {
        let step = Duration::from_millis(100);
        let mut slept = Duration::ZERO;
        while slept < delay {
            if self.stop_requested() {
                return true;
            }
            std::thread::sleep(step);
            slept += step;
        }
        self.stop_requested()
    }

    fn stop_requested(&self) -> bool {
        *self.shutdown.borrow() || self.stopping.load(Ordering::SeqCst)
    }
}

/// Publishes due outbox rows in order, one at a time, and reports each
/// broker PUBACK to the writer. A row without a PUBACK is sent again (same
/// bytes, same intent id) after a pause.
async fn relay(
    database: PathBuf,
    client: AsyncClient,
    mut events: mpsc::Receiver<Polled>,
    commands: mpsc::Sender<WriterCommand>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let reader = match Store::open_readonly(&database) {
        Ok(reader) => reader,
        Err(e) => {
            tracing::error!(error = %e, "relay cannot open the database; nothing will be published");
            return;
        }
    };
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        let due = match reader.read().due_outbox(clock.now(), 32) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "relay cannot read the outbox");
                Vec::new()
            }
        };
        if due.is_empty() {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                event = events.recv() => if event.is_none() { return },
            }
            continue;
        }
        let mut failed = false;
        for row in due {
            crate::daemon::failpoints::crash_point("relay_before_publish");
            if client
                .publish(
                    &row.topic,
                    QoS::AtLeastOnce,
                    row.retain,
                    row.payload.clone(),
                )
                .await
                .is_err()
            {
                failed = true;
                break;
            }
            if !await_puback(&mut events).await {
                tracing::warn!(outbox = row.id, kind = %row.kind, topic = %row.topic, "no PUBACK; will publish again");
                failed = true;
                break;
            }
            crate::daemon::failpoints::crash_point("relay_after_puback_before_mark");
            let (done, wait) = oneshot::channel();
            if commands
                .send(WriterCommand::MarkSent(row.id, done))
                .await
                .is_err()
            {
                return;
            }
            let _ = wait.await;
            backoff.reset();
        }
        if failed {
            let delay = backoff.next_delay(mqtt::random_jitter());
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// Waits for the PUBACK of the publish just queued: the packet id is
/// learned from the outgoing event, so a stale PUBACK cannot be mistaken
/// for ours.
async fn await_puback(events: &mut mpsc::Receiver<Polled>) -> bool {
    let mut sent: Option<u16> = None;
    let deadline = tokio::time::sleep(PUBACK_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return false,
            event = events.recv() => match event {
                None | Some(Polled::Disconnected) => return false,
                Some(Polled::PublishSent(pkid)) => sent = sent.or(Some(pkid)),
                Some(Polled::PubAck(pkid)) if sent == Some(pkid) => return true,
                Some(_) => {}
            },
        }
    }
}
