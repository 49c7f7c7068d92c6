//! The Home Assistant link: hands snapshots from the writer to a small
//! publisher task on its own broker connection (`<client-id>-ha`, clean
//! session), which publishes discovery, state and order events to the
//! local broker.
//!
//! Nothing here is upstream traffic or a ledger entry, so it does not go
//! through the outbox: the writer only replaces the latest snapshot in a
//! `watch` channel (it never waits on the network), and the publisher works
//! out what to send with `homeassistant::Publisher` (pure). Button presses
//! do not come in here: they arrive on the ingest connection and go
//! through the engine like member replies.

use crate::config::Config;
use crate::homeassistant::{self, HaTopics, Occasion, OrderEvent, Publisher, Snapshot};
use crate::mqtt::{self, Backoff, OnConnect, Polled};
use crate::store::Store;
use rumqttc::{AsyncClient, EventLoop, QoS};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long the publisher listens for the retained discovery document at
/// start (to know what was announced before) after the last message.
const RETAINED_QUIET: Duration = Duration::from_millis(300);

/// Longest wait for the broker's answer when reading the retained document.
const RETAINED_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer's side: builds a snapshot after each change and hands it over.
pub struct SnapshotFeed {
    sender: watch::Sender<Arc<Snapshot>>,
    last_seq: i64,
    recent: VecDeque<OrderEvent>,
}

impl SnapshotFeed {
    /// A feed whose events start after the ledger's current head (events
    /// from before this start are history, not news).
    pub fn new(store: &Store) -> (SnapshotFeed, watch::Receiver<Arc<Snapshot>>) {
        let last_seq = match store.read().ledger_head() {
            Ok(head) => head.map_or(0, |(seq, _)| seq),
            Err(e) => {
                tracing::warn!(error = %e, "homeassistant: cannot read the ledger head; order events start now");
                i64::MAX
            }
        };
        let (sender, receiver) = watch::channel(Arc::new(Snapshot::default()));
        (
            SnapshotFeed {
                sender,
                last_seq,
                recent: VecDeque::new(),
            },
            receiver,
        )
    }

    /// Reads the state at `now` and replaces the snapshot (never blocks).
    pub fn refresh(&mut self, config: &Config, store: &Store, now: i64) {
        let read = store.read();
        let since = if self.last_seq == i64::MAX {
            read.ledger_head().ok().flatten().map_or(0, |(seq, _)| seq)
        } else {
            self.last_seq
        };
        match homeassistant::read_snapshot(config, &read, now, since) {
            Ok((mut snapshot, head)) => {
                self.last_seq = head;
                self.recent.extend(std::mem::take(&mut snapshot.events));
                while self.recent.len() > homeassistant::MAX_RECENT_EVENTS {
                    self.recent.pop_front();
                }
                snapshot.events = self.recent.iter().cloned().collect();
                self.sender.send_replace(Arc::new(snapshot));
            }
            Err(e) => {
                tracing::warn!(error = %e, "homeassistant: cannot read state; retried after the next change")
            }
        }
    }
}

/// What the publisher reacts to from its connection.
enum Signal {
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
) -> anyhow::Result<(AsyncClient, tokio::task::JoinHandle<()>)> {
    let opts = mqtt::options(
        &config.mqtt,
        &format!("{}-ha", config.mqtt.client_id),
        false,
        None,
    )?;
    let (client, eventloop) = AsyncClient::new(opts, 256);
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
            Ok(opts) => opts,
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
    client: AsyncClient,
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
    let mut publisher = Publisher::new(previous.as_deref());
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
                Polled::Connected { .. } => Signal::Connected,
                Polled::Message(p) if p.topic == birth && &p.payload[..] == b"online" => {
                    Signal::HomeAssistantOnline
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
        if let Some(Signal::Connected) = signals.recv().await {
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
    loop {
        let occasion = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            signal = signals.recv() => match signal {
                None => break,
                Some(Signal::Connected) => {
                    connected = true;
                    Occasion::Connected
                }
                Some(Signal::HomeAssistantOnline) => {
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
                Occasion::HomeAssistantOnline
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break; // The writer has stopped.
                }
                if !connected {
                    continue; // Everything goes out on connect.
                }
                Occasion::Update
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

async fn publish(client: &AsyncClient, messages: Vec<homeassistant::Message>) {
    for m in messages {
        if let Err(e) = client
            .publish(m.topic.clone(), QoS::AtLeastOnce, m.retain, m.payload)
            .await
        {
            tracing::warn!(topic = %m.topic, error = %e, "homeassistant: cannot queue publish");
            return;
        }
    }
}
