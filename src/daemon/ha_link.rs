//! The Home Assistant link: hands snapshots from the writer to a small
//! publisher task on its own broker connection (`<client-id>-ha`, clean
//! session), which publishes discovery, state and order events to the
//! local broker.
//!
//! Nothing here is upstream traffic or a ledger entry, so it does not go
//! through the outbox: the writer only replaces the latest snapshot in a
//! `watch` channel (it never waits on the network), and the publisher works
//! out what to send with `homeassistant::DiscoveryPublisher` (pure). Button presses
//! do not come in here: they arrive on the ingest connection and go
//! through the engine like member replies.

use crate::config::Config;
use crate::daemon::link::{self, Client, EventLoop, LinkOptions};
use crate::daemon::mqtt::{self, Backoff, OnConnect, Polled};
use crate::homeassistant::{self, DiscoveryPublisher, HaTopics, Occasion, OrderEvent, Snapshot};
use crate::store::Store;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long the publisher listens for the retained discovery document at
/// start (to know what was announced before) after the last message.
/// Page cache of the snapshot reader's own connection, KiB.
const READER_CACHE_KIB: u32 = 256;

const RETAINED_QUIET: Duration = Duration::from_millis(300);

/// Longest wait for the broker's answer when reading the retained document.
const RETAINED_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest message the publisher sends (the outgoing limit of larder's
/// MQTT 3.1.1 connections, `mqtt::MAX_OUTGOING_PACKET_BYTES`); a larger one
/// would drop the connection.
const MAX_PUBLISH_BYTES: usize = mqtt::MAX_OUTGOING_PACKET_BYTES;

/// Largest packet the read-back connection accepts: anything larder can
/// have published (the document of a large household is several hundred
/// KB, possibly over what a larder connection accepts by default,
/// `link::packet_limit`).
const MAX_READ_BACK_BYTES: usize = 2 * MAX_PUBLISH_BYTES;

/// Least time between two snapshot reads: a burst of batches costs the
/// reader one read per interval, and the last request of a burst is always
/// read (the final state goes out at most this long after it). Five
/// seconds: a pantry dashboard needs no more, and under a backlog each
/// read republishes every item whose level moved, through the same broker
/// that is delivering the backlog (`larder bench`: ingest 0.35x to 0.80x
/// of mosquitto_sub at one second, see `docs/performance.md`).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// The writer's side: asks for a fresh snapshot after each change. The
/// read (about 25 ms with 200 items on a debug build, mostly unsealing
/// item state) happens on the feed's own thread with its own read-only
/// connection, at most once per [`MIN_REFRESH_INTERVAL`], so it never
/// holds up ingest.
pub struct SnapshotFeed {
    requests: Option<std::sync::mpsc::Sender<i64>>,
    reader: Option<std::thread::JoinHandle<()>>,
    reads: Arc<AtomicU64>,
}

impl SnapshotFeed {
    /// A feed for `config` reading `store`'s database; its events start
    /// after the ledger's current head (events from before this start are
    /// history, not news).
    pub fn new(config: &Config, store: &Store) -> (SnapshotFeed, watch::Receiver<Arc<Snapshot>>) {
        SnapshotFeed::with_interval(config, store, MIN_REFRESH_INTERVAL)
    }

    fn with_interval(
        config: &Config,
        store: &Store,
        interval: Duration,
    ) -> (SnapshotFeed, watch::Receiver<Arc<Snapshot>>) {
        let last_seq = match store.read().ledger_head() {
            Ok(head) => head.map_or(0, |(seq, _)| seq),
            Err(e) => {
                tracing::warn!(error = %e, "homeassistant: cannot read the ledger head; order events start now");
                i64::MAX
            }
        };
        let (sender, receiver) = watch::channel(Arc::new(Snapshot::default()));
        let (requests, requested) = std::sync::mpsc::channel();
        let reads = Arc::new(AtomicU64::new(0));
        let reader = SnapshotReader {
            config: config.clone(),
            database: store.path().to_owned(),
            store: None,
            sender,
            last_seq,
            recent: VecDeque::new(),
            reads: reads.clone(),
        };
        let reader = std::thread::Builder::new()
            .name("larder-ha-snapshots".into())
            .spawn(move || reader.run(&requested, interval))
            .map_err(|e| tracing::error!(error = %e, "homeassistant: cannot start the snapshot reader; nothing is published"))
            .ok();
        (
            SnapshotFeed {
                requests: Some(requests),
                reader,
                reads,
            },
            receiver,
        )
    }

    /// Asks for the state at `now` to be read and handed to the publisher
    /// (never blocks, never reads here).
    pub fn refresh(&mut self, now: i64) {
        if let Some(requests) = &self.requests {
            let _ = requests.send(now);
        }
    }

    /// Snapshots read so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }
}

impl Drop for SnapshotFeed {
    /// Lets the reader take a last pending request, then waits for it.
    fn drop(&mut self) {
        self.requests = None;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The feed's thread: reads snapshots on request, throttled.
struct SnapshotReader {
    config: Config,
    database: std::path::PathBuf,
    store: Option<Store>,
    sender: watch::Sender<Arc<Snapshot>>,
    last_seq: i64,
    recent: VecDeque<OrderEvent>,
    reads: Arc<AtomicU64>,
}

impl SnapshotReader {
    fn run(mut self, requests: &std::sync::mpsc::Receiver<i64>, interval: Duration) {
        use std::sync::mpsc::RecvTimeoutError;
        let mut last_read: Option<std::time::Instant> = None;
        while let Ok(mut now) = requests.recv() {
            // Wait out the interval since the last read, keeping the
            // newest request; the writer going away ends the wait.
            let mut closed = false;
            if let Some(last) = last_read {
                let until = last + interval;
                loop {
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match requests.recv_timeout(left) {
                        Ok(later) => now = later,
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => {
                            closed = true;
                            break;
                        }
                    }
                }
            }
            while let Ok(later) = requests.try_recv() {
                now = later;
            }
            self.read(now);
            last_read = Some(std::time::Instant::now());
            if closed {
                return;
            }
        }
    }

    /// Reads the state at `now` and replaces the snapshot.
    fn read(&mut self, now: i64) {
        if self.store.is_none() {
            match Store::open_readonly(&self.database) {
                Ok(store) => {
                    // It re-reads the same few pages once a second at most.
                    if let Err(e) = store.limit_page_cache(READER_CACHE_KIB) {
                        tracing::debug!(error = %e, "homeassistant: cannot limit the reader's page cache");
                    }
                    self.store = Some(store);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "homeassistant: cannot open the database to read; retried after the next change");
                    return;
                }
            }
        }
        let Some(store) = &self.store else {
            return;
        };
        let read = store.read();
        let since = if self.last_seq == i64::MAX {
            read.ledger_head().ok().flatten().map_or(0, |(seq, _)| seq)
        } else {
            self.last_seq
        };
        match homeassistant::read_snapshot(&self.config, &read, now, since) {
            Ok((mut snapshot, head)) => {
                self.last_seq = head;
                self.recent.extend(std::mem::take(&mut snapshot.events));
                while self.recent.len() > homeassistant::MAX_RECENT_EVENTS {
                    self.recent.pop_front();
                }
                snapshot.events = self.recent.iter().cloned().collect();
                self.sender.send_replace(Arc::new(snapshot));
                self.reads.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                tracing::warn!(error = %e, "homeassistant: cannot read state; retried after the next change")
            }
        }
    }
}

/// What the publisher reacts to from its connection.
enum ConnectionSignal {
    Connected,
    HomeAssistantOnline,
}

/// Starts the publisher; returns its client (disconnect it to stop) and
/// the task. With `[homeassistant] enabled = false` the task only removes
/// a device document an earlier run left retained, then ends.
pub fn start(
    config: &Config,
    snapshots: Option<watch::Receiver<Arc<Snapshot>>>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Client, tokio::task::JoinHandle<()>)> {
    let (client, eventloop) = link::connect(
        &config.mqtt,
        &LinkOptions {
            client_id: format!("{}-ha", config.mqtt.client_id),
            persistent: false,
            will: None,
            inflight: link::DEFAULT_INFLIGHT,
            capacity: 256,
        },
    )?;
    let task = tokio::spawn(run(
        config.clone(),
        client.clone(),
        eventloop,
        snapshots,
        shutdown,
    ));
    Ok((client, task))
}

/// Reads the retained discovery document (what an earlier run announced),
/// retrying with backoff until the broker answers or shutdown.
async fn previous_document(
    config: &Config,
    topic: &str,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Option<Vec<u8>>> {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        let opts = match mqtt::options(
            &config.mqtt,
            &format!("{}-ha-read", config.mqtt.client_id),
            false,
            None,
        ) {
            Ok(mut opts) => {
                opts.set_max_packet_size(MAX_READ_BACK_BYTES, MAX_PUBLISH_BYTES);
                opts
            }
            Err(e) => {
                tracing::error!(error = %e, "homeassistant: no connection options; not publishing");
                return None;
            }
        };
        match mqtt::collect_retained(opts, topic, RETAINED_QUIET, RETAINED_TIMEOUT).await {
            Ok((found, _complete)) => {
                return Some(found.into_iter().find(|(t, _)| t == topic).map(|(_, p)| p));
            }
            Err(e) => {
                let delay = backoff.next_delay(mqtt::random_jitter());
                tracing::debug!(error = %e, retry_in = ?delay, "homeassistant: cannot read the retained discovery document yet");
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => return None,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

async fn run(
    config: Config,
    client: Client,
    eventloop: EventLoop,
    snapshots: Option<watch::Receiver<Arc<Snapshot>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let topics = HaTopics::new(&config);
    // What an earlier run announced, so removed components can be removed.
    let Some(previous) = previous_document(&config, &topics.discovery, &mut shutdown).await else {
        return;
    };
    if !config.homeassistant.enabled && previous.is_none() {
        return; // Disabled, and nothing announced earlier to remove.
    }
    let mut publisher = DiscoveryPublisher::new(previous.as_deref());
    let (events_tx, mut events_rx) = mpsc::channel(64);
    let subscribe = if config.homeassistant.enabled {
        vec![topics.birth.clone()]
    } else {
        Vec::new()
    };
    let poller = tokio::spawn(mqtt::poll_loop(
        "homeassistant",
        client.clone(),
        eventloop,
        OnConnect {
            subscribe,
            announce: None,
        },
        events_tx,
        shutdown.clone(),
    ));
    // Drain the poll loop's events at once (it must never wait on us while
    // we wait on the client's queue) and keep only what matters.
    let (signals_tx, mut signals) = mpsc::unbounded_channel();
    let birth = topics.birth.clone();
    tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            let signal = match event {
                Polled::Connected { .. } => ConnectionSignal::Connected,
                Polled::Message(p) if p.topic == birth && &p.payload[..] == b"online" => {
                    ConnectionSignal::HomeAssistantOnline
                }
                _ => continue,
            };
            if signals_tx.send(signal).is_err() {
                break;
            }
        }
    });
    let Some(mut snapshots) = snapshots else {
        // Disabled: remove what an earlier run announced, then stop.
        if let Some(ConnectionSignal::Connected) = signals.recv().await {
            let messages = publisher.messages(&config, &Snapshot::default(), Occasion::Connected);
            if !messages.is_empty() {
                tracing::info!("homeassistant: disabled; removing the device announced earlier");
            }
            // Queued before the DISCONNECT, so it goes out first.
            publish(&client, messages).await;
        }
        let _ = client.disconnect().await;
        let _ = poller.await;
        return;
    };
    let max_delay = config.homeassistant.birth_delay_max_ms;
    let mut birth_due: Option<tokio::time::Instant> = None;
    let mut connected = false;
    let mut gate = FirstSnapshot::default();
    loop {
        let occasion = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            signal = signals.recv() => match signal {
                None => break,
                Some(ConnectionSignal::Connected) => {
                    connected = true;
                    match gate.occasion(Occasion::Connected) {
                        Some(occasion) => occasion,
                        None => continue,
                    }
                }
                Some(ConnectionSignal::HomeAssistantOnline) => {
                    // HA's advice: a small random delay, so a restart of HA
                    // is not met by every device at the same instant.
                    let delay = Duration::from_millis((mqtt::random_jitter() * max_delay as f64) as u64);
                    tracing::info!(?delay, "homeassistant: Home Assistant is online; re-publishing discovery");
                    birth_due = Some(tokio::time::Instant::now() + delay);
                    continue;
                }
            },
            () = async {
                match birth_due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                birth_due = None;
                match gate.occasion(Occasion::HomeAssistantOnline) {
                    Some(occasion) => occasion,
                    None => continue,
                }
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break; // The writer has stopped.
                }
                // Before connecting nothing is sent: everything goes out on connect.
                match gate.snapshot(connected) {
                    Some(occasion) => occasion,
                    None => continue,
                }
            }
        };
        let snapshot = snapshots.borrow_and_update().clone();
        let messages = publisher.messages(&config, &snapshot, occasion);
        if !messages.is_empty() {
            tracing::debug!(
                messages = messages.len(),
                ?occasion,
                "homeassistant: publishing"
            );
        }
        publish(&client, messages).await;
    }
    let _ = poller.await;
}

/// Holds publishing back until the first snapshot of this run has been
/// read. Published from the empty start value, the state would say no
/// request is pending (a count of 0 and, with trusted approvals, every
/// approve/deny button removed) until the real snapshot came a moment
/// later: a flap on every start that automations see.
#[derive(Debug, Default)]
struct FirstSnapshot {
    read: bool,
    /// A full publish (connect, Home Assistant online) asked for before
    /// the first snapshot.
    owed: Option<Occasion>,
}

impl FirstSnapshot {
    /// What to publish for a connect or a Home Assistant birth now.
    fn occasion(&mut self, occasion: Occasion) -> Option<Occasion> {
        if self.read {
            Some(occasion)
        } else {
            self.owed = Some(occasion);
            None
        }
    }

    /// What to publish for a new snapshot (nothing before connecting).
    fn snapshot(&mut self, connected: bool) -> Option<Occasion> {
        self.read = true;
        match self.owed.take() {
            Some(owed) => Some(owed),
            None => connected.then_some(Occasion::Update),
        }
    }
}

async fn publish(client: &Client, messages: Vec<homeassistant::Message>) {
    for m in messages {
        // Topic, length fields and packet id on top of the payload.
        if m.payload.len() + m.topic.len() + 16 > MAX_PUBLISH_BYTES {
            tracing::error!(topic = %m.topic, bytes = m.payload.len(), limit = MAX_PUBLISH_BYTES, "homeassistant: message too large to publish; skipped (fewer items or pending requests)");
            continue;
        }
        if let Err(e) = client.publish(&m.topic, m.retain, m.payload).await {
            tracing::warn!(topic = %m.topic, error = %e, "homeassistant: cannot queue publish");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::SigningKey;
    use crate::engine::{Engine, Inbound};
    use std::time::Instant;

    /// 2026-01-01T00:00:00Z.
    const T0: i64 = 1_767_225_600;

    /// A household of `items` items on one fridge device, every item with
    /// 30 days of daily level readings, and (auto-approve off) a pending
    /// request for every item that runs low.
    fn household(dir: &std::path::Path, items: usize) -> (Config, Store) {
        let mut text = format!(
            "[hub]\nid = \"snap\"\nstate-dir = \"{}\"\n\n[mqtt]\nurl = \"mqtt://127.0.0.1\"\n\n\
             [[devices]]\nid = \"fridge\"\ntopic = \"larder/snap/devices/fridge/events\"\nformat = \"json\"\n\n\
             [homeassistant]\ntrusted-approvals = true\n\n\
             [rules]\ncurrency = \"EUR\"\nauto-approve-up-to = 0\ndefault-category = \"ask\"\n\n\
             [[members]]\nname = \"anna\"\npublic-key = \"3517338e374dbf7c24667cb632b465d0b22fe3dfc6eeb9d7d3726a9e9d1dd3c6\"\n",
            dir.display()
        );
        for i in 0..items {
            text.push_str(&format!(
                "\n[[items]]\nid = \"item-{i}\"\nname = \"Item {i}\"\nunit = \"l\"\npackage-size = 1.0\n\
                 product = \"sku-{i}\"\nprice = 1.10\ncategory = \"dairy\"\ndevice = \"fridge\"\nslot = \"s{i}\"\n"
            ));
        }
        let config = Config::parse(&text, &dir.join("larder.toml")).expect("config");
        let engine = Engine::new(config.clone(), SigningKey::generate());
        let mut store = Store::open(&dir.join("larder.db")).expect("store");
        let topic = "larder/snap/devices/fridge/events";
        for day in 0..30i64 {
            let at = T0 + day * 86_400;
            let payloads: Vec<String> = (0..items)
                .map(|i| {
                    // Half the items run down to nothing; the others stay full.
                    let level = if i % 2 == 0 { 3.0 - 0.1 * day as f64 } else { 3.0 };
                    format!(
                        r#"{{"v":1,"device":"fridge","epoch":1,"seq":{},"ts":{at},"kind":"level","slot":"s{i}","amount":{level}}}"#,
                        day * items as i64 + i as i64
                    )
                })
                .collect();
            let batch: Vec<Inbound<'_>> = payloads
                .iter()
                .map(|p| Inbound {
                    topic,
                    payload: p.as_bytes(),
                    size: p.len(),
                    retain: false,
                    dup: false,
                })
                .collect();
            engine.ingest(&mut store, &batch, at).expect("ingest");
            engine.decide(&mut store, None, at + 3600).expect("decide");
        }
        (config, store)
    }

    /// What a snapshot read costs with 200 items, and what the writer's
    /// `refresh` costs (figures in the report and `docs/homeassistant.md`):
    /// the read is off the writer's thread, a burst of refreshes is read
    /// about once per interval, and the last state of a burst is read.
    #[test]
    fn a_burst_of_refreshes_costs_the_writer_nothing_and_ends_on_the_final_state() {
        let dir = std::env::temp_dir().join(format!("larder-ha-snapshot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (config, store) = household(&dir, 200);
        let now = T0 + 30 * 86_400;

        let reader = Store::open_readonly(store.path()).expect("reader");
        let runs = 5;
        let started = Instant::now();
        for _ in 0..runs {
            homeassistant::read_snapshot(&config, &reader.read(), now, 0).expect("snapshot");
        }
        let per_read = started.elapsed() / runs;
        eprintln!("homeassistant: one snapshot read with 200 items: {per_read:?}");

        let interval = Duration::from_millis(300);
        let (mut feed, mut receiver) = SnapshotFeed::with_interval(&config, &store, interval);
        let started = Instant::now();
        let burst = 200;
        for i in 0..burst {
            feed.refresh(now + i);
        }
        let writer_cost = started.elapsed();
        eprintln!("homeassistant: {burst} refresh calls on the writer: {writer_cost:?}");
        assert!(
            writer_cost < Duration::from_millis(100),
            "the writer only sends a request: {writer_cost:?}"
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        let expected = homeassistant::read_snapshot(&config, &reader.read(), now + burst - 1, 0)
            .expect("snapshot")
            .0;
        loop {
            let snapshot = receiver.borrow_and_update().clone();
            if snapshot.items == expected.items {
                break;
            }
            assert!(Instant::now() < deadline, "the final state is read");
            std::thread::sleep(Duration::from_millis(20));
        }
        let reads = feed.reads();
        assert!(
            (1..=1 + started.elapsed().as_millis() as u64 / interval.as_millis() as u64 + 1)
                .contains(&reads),
            "{reads} reads for a burst of {burst}"
        );
        let snapshot = receiver.borrow().clone();
        assert_eq!(snapshot.items.len(), 200);
        assert!(
            snapshot.items.iter().all(|i| i.level.is_some()),
            "every item has a level"
        );
        assert!(!snapshot.pending.is_empty(), "low items are pending");
        // A request left when the writer stops is still read.
        feed.refresh(now + 5000);
        drop(feed);
        let last = receiver.borrow().clone();
        let expected = homeassistant::read_snapshot(&config, &reader.read(), now + 5000, 0)
            .expect("snapshot")
            .0;
        assert_eq!(last.items, expected.items);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A decision pass over many items writes far more than 64 ledger
    /// entries at once; every order event among them is handed over.
    #[test]
    fn every_order_event_of_a_busy_decision_pass_is_handed_over() {
        let dir = std::env::temp_dir().join(format!("larder-ha-events-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (config, store) = household(&dir, 120);
        let read = store.read();
        let all = read.ledger_recent(u32::MAX).expect("ledger");
        let expected: Vec<i64> = all
            .iter()
            .filter_map(homeassistant::order_event)
            .map(|e| e.seq)
            .collect();
        assert!(expected.len() > 64, "{} order events", expected.len());
        let (snapshot, head) =
            homeassistant::read_snapshot(&config, &read, T0 + 30 * 86_400, 0).expect("snapshot");
        assert_eq!(head, all.last().expect("entries").seq);
        let got: Vec<i64> = snapshot.events.iter().map(|e| e.seq).collect();
        assert_eq!(got, expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nothing_is_published_before_the_first_snapshot_and_what_was_due_follows_it() {
        let mut gate = FirstSnapshot::default();
        assert_eq!(gate.occasion(Occasion::Connected), None, "no snapshot yet");
        assert_eq!(
            gate.snapshot(true),
            Some(Occasion::Connected),
            "then everything"
        );
        assert_eq!(gate.snapshot(true), Some(Occasion::Update));
        assert_eq!(
            gate.occasion(Occasion::HomeAssistantOnline),
            Some(Occasion::HomeAssistantOnline)
        );
        // A snapshot before connecting publishes nothing; the connect does.
        let mut gate = FirstSnapshot::default();
        assert_eq!(gate.snapshot(false), None);
        assert_eq!(
            gate.occasion(Occasion::Connected),
            Some(Occasion::Connected)
        );
        // Home Assistant's birth before the first snapshot is kept.
        let mut gate = FirstSnapshot::default();
        assert_eq!(gate.occasion(Occasion::Connected), None);
        assert_eq!(gate.occasion(Occasion::HomeAssistantOnline), None);
        assert_eq!(gate.snapshot(true), Some(Occasion::HomeAssistantOnline));
    }
}
