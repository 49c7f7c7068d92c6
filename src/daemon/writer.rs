//! The writer: one blocking thread, the only SQLite writer. It batches
//! inbound messages (with the relay's PUBACK marks) into one transaction,
//! acks them only after the commit, decides the touched items when idle,
//! and runs the periodic tick (scrub, retention, devices, decisions).

use super::ha_link::SnapshotFeed;
use super::ingest::PendingAck;
use super::link::Received;
use super::mqtt::{self, Backoff};
use super::refusal_log::{self, RefusalLog};
use crate::clock::Clock;
use crate::engine::{Engine, Inbound};
use crate::store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};

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

/// Work for the writer thread (a closed set).
#[derive(Debug)]
pub enum WriterCommand {
    /// An inbound message to store and ack.
    Message(Received),
    /// Expire requests and decide for every item; answer when done.
    Tick(Option<oneshot::Sender<()>>),
    /// The broker acknowledged this outbox row; answer when recorded.
    MarkSent(i64, oneshot::Sender<()>),
    /// Finish the current batch and stop.
    Stop,
}

/// The single SQLite writer, on its own thread.
pub(super) struct Writer {
    pub(super) engine: Engine,
    pub(super) store: Store,
    /// Committed messages to acknowledge (see `send_acks`).
    pub(super) acks: mpsc::Sender<PendingAck>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) processed: Arc<AtomicU64>,
    pub(super) relay_wake: Arc<Notify>,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) stopping: Arc<AtomicBool>,
    pub(super) decide_per_batch: bool,
    /// A forget committed but its scrub has not succeeded yet.
    pub(super) scrub_pending: bool,
    pub(super) undecided: Undecided,
    /// Snapshots for the Home Assistant publisher (`None` when disabled).
    pub(super) ha: Option<SnapshotFeed>,
    /// What the log has said about refused messages (bursts are summed up).
    pub(super) refusals: RefusalLog,
}

/// Committed and acked messages whose items are not decided yet.
#[derive(Default)]
pub(super) struct Undecided {
    pub(super) items: Vec<String>,
    pub(super) messages: u64,
    pub(super) since: Option<std::time::Instant>,
}

impl Writer {
    pub(super) fn run(mut self, mut commands: mpsc::Receiver<WriterCommand>) -> anyhow::Result<()> {
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
        for line in self.refusals.drain(self.clock.now()) {
            refusal_log::log(&line);
        }
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
        batch: &[Received],
        mut sent: Vec<(i64, oneshot::Sender<()>)>,
    ) -> bool {
        let inbound: Vec<Inbound<'_>> = batch
            .iter()
            .map(|p| Inbound {
                topic: &p.topic,
                payload: &p.payload,
                size: p.size,
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
        self.log_refusals(&outcome.refusals);
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

    /// Logs what the refusal log says about `refused` (committed just now)
    /// and the summaries due.
    fn log_refusals(&mut self, refused: &[crate::engine::Refused]) {
        let now = self.clock.now();
        for refused in refused {
            if let Some(line) = self.refusals.note(refused, now) {
                refusal_log::log(&line);
            }
        }
        for line in self.refusals.due(now) {
            refusal_log::log(&line);
        }
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
        self.log_refusals(&[]);
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
