//! The simulated world around the daemon: one MQTT connection to the
//! embedded broker shared by the household, the phone app and the shop,
//! the manual clock, and the loop that plays the story hour by hour.

use super::devices::SCALE_TOPIC;
use super::household::SimulatedHousehold;
use super::timeline::Tally;
use super::{DemoDevices, HOUR};
use crate::clock::{Clock, ManualClock};
use crate::config::{Config, PayloadFormat};
use crate::crypto::keys::SigningKey;
use crate::daemon::Running;
use crate::protocol::events::{self, DeviceEvent, EventKind};
use crate::store::{IntentState, Store};
use anyhow::{Context as _, bail};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The simulated world around the daemon.
pub(super) struct DemoWorld {
    pub(super) config: Config,
    pub(super) running: Running,
    pub(super) clock: Arc<ManualClock>,
    pub(super) reader: Store,
    pub(super) client: AsyncClient,
    pub(super) incoming: mpsc::Receiver<rumqttc::Publish>,
    pub(super) alex: SigningKey,
    pub(super) hub_public: [u8; 32],
    pub(super) house: SimulatedHousehold,
    /// Messages we published that the daemon must process.
    pub(super) published: u64,
    /// Requests and intents received from larder.
    pub(super) received: u64,
    /// SHA-256 of every distinct message from larder handled so far.
    pub(super) handled: std::collections::HashSet<[u8; 32]>,
    /// Intent id → (display number, last state printed).
    pub(super) seen: BTreeMap<String, (usize, Option<IntentState>)>,
    /// Pending deliveries: (intent id, item, quantity, earliest time).
    pub(super) deliveries: Vec<(String, String, f64, i64)>,
    pub(super) tally: Tally,
    /// Observations larder derived from the real devices already printed:
    /// (item, kind, observed at).
    pub(super) derived_seen: std::collections::HashSet<(&'static str, String, i64)>,
}

impl DemoWorld {
    /// Connects to the embedded broker as the household, the app and the
    /// shop, once larder is online there.
    pub(super) async fn connect(
        config: &Config,
        port: u16,
        running: Running,
        clock: Arc<ManualClock>,
        alex: SigningKey,
        hub_public: [u8; 32],
        house: SimulatedHousehold,
    ) -> anyhow::Result<DemoWorld> {
        let mut opts = MqttOptions::new("demo-world", "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(opts, 256);
        let (tx, incoming) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send(p).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let hub = &config.hub.id;
        client
            .subscribe(format!("larder/{hub}/approvals/+"), QoS::AtLeastOnce)
            .await?;
        client
            .subscribe(config.upstream.topic.clone(), QoS::AtLeastOnce)
            .await?;
        // Publish nothing before larder has subscribed: its retained
        // `online` comes right after its subscriptions.
        let status = format!("larder/{hub}/status");
        client.subscribe(status.clone(), QoS::AtLeastOnce).await?;
        let mut incoming = incoming;
        let online = async {
            while let Some(p) = incoming.recv().await {
                if p.topic == status && p.payload.as_ref() == b"online" {
                    return true;
                }
            }
            false
        };
        if !tokio::time::timeout(Duration::from_secs(20), online)
            .await
            .unwrap_or(false)
        {
            bail!("larder did not come online on the embedded broker within 20 s");
        }
        client.unsubscribe(status).await?;
        let reader = Store::open_readonly(running.database())?;
        Ok(DemoWorld {
            config: config.clone(),
            running,
            clock,
            reader,
            client,
            incoming,
            alex,
            hub_public,
            house,
            published: 0,
            received: 0,
            handled: std::collections::HashSet::new(),
            seen: BTreeMap::new(),
            deliveries: Vec::new(),
            tally: Tally::default(),
            derived_seen: std::collections::HashSet::new(),
        })
    }

    /// Plays `days` simulated days from `start`, hour by hour.
    pub(super) async fn play(&mut self, start: i64, days: u32) -> anyhow::Result<()> {
        self.clock.set(start);
        if self.house.devices == DemoDevices::Native {
            // The washer's dispenser is filled once at the start.
            let fill = self
                .house
                .event("washer", "detergent", EventKind::Added, 1500.0, start);
            self.publish_event(PayloadFormat::Cbor, &fill).await?;
        }
        for hour in 0..i64::from(days) * 24 {
            let now = start + hour * HOUR;
            self.clock.set(now);
            self.deliver_due(now).await?;
            for (format, event) in self.house.hour(now) {
                if event.kind == EventKind::Level {
                    self.tally.readings += 1;
                }
                self.publish_event(format, &event).await?;
            }
            // Real devices' readings taken at the top of the hour.
            self.publish_device_readings(now + 1).await?;
            for (item, out) in self.house.out_of_stock() {
                if out {
                    *self.tally.out_of_stock_hours.entry(item).or_default() += 1;
                }
            }
            self.settle().await?;
            self.running.tick().await?;
            self.settle().await?;
            self.print_derived(now)?;
            if hour % 24 == 2 {
                self.print_day(now)?;
            }
            // The rest of the hour: each reading at its own time.
            self.publish_device_readings(now + HOUR).await?;
            self.print_derived(self.clock.now())?;
        }
        Ok(())
    }

    /// Publishes the real devices' messages taken before `until`, in time
    /// order, moving the clock to each one's time once the daemon has
    /// processed everything before it (Tasmota payloads carry no usable
    /// time: larder dates them on receipt).
    async fn publish_device_readings(&mut self, until: i64) -> anyhow::Result<()> {
        while let Some(reading) = self.house.next_reading(until) {
            if reading.at > self.clock.now() {
                self.wait_processed().await?;
                self.clock.set(reading.at);
            }
            if reading.topic == SCALE_TOPIC {
                self.tally.readings += 1;
                self.tally.devices.day_readings += 1;
            }
            self.client
                .publish(reading.topic, QoS::AtLeastOnce, false, reading.payload)
                .await?;
            self.published += 1;
        }
        self.wait_processed().await
    }

    /// Waits until the daemon has committed everything we published.
    async fn wait_processed(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.running.processed() < self.published {
            if Instant::now() > deadline {
                bail!(
                    "the simulation stalled: published {}, processed {}",
                    self.published,
                    self.running.processed()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// Publishes a native device event on its device's topic.
    async fn publish_event(
        &mut self,
        format: PayloadFormat,
        event: &DeviceEvent,
    ) -> anyhow::Result<()> {
        let topic = &self
            .config
            .devices
            .iter()
            .find(|d| d.id == event.device)
            .context("demo device missing from config")?
            .topic;
        self.client
            .publish(
                topic.clone(),
                QoS::AtLeastOnce,
                false,
                events::encode_event(format, event),
            )
            .await?;
        self.published += 1;
        Ok(())
    }

    /// Waits until the daemon has committed everything we sent and we have
    /// answered everything it published.
    async fn settle(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if Instant::now() > deadline {
                bail!(
                    "the simulation stalled: published {}, processed {}, received {}",
                    self.published,
                    self.running.processed(),
                    self.received
                );
            }
            if self.running.processed() < self.published {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            if let Ok(msg) = self.incoming.try_recv() {
                self.print_intents(self.clock.now())?;
                self.handle(msg).await?;
                continue;
            }
            let now = self.clock.now();
            let read = self.reader.read();
            // Settled when nothing is due and every message larder has
            // published to the app or the shop has been handled here (by
            // content, so a redelivered copy cannot stand in for another).
            // In this order: a row moves from due to sent while we look, so
            // "nothing due" first, then "everything sent was handled".
            if !read.due_outbox(now, 1)?.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            let mut all_handled = true;
            for kind in ["approval_request", "intent", "cancel"] {
                all_handled &= read
                    .sent_outbox_payloads(kind)?
                    .iter()
                    .all(|p| self.handled.contains(&crate::ledger::sha256(p)));
            }
            if all_handled {
                return self.print_intents(now);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The phone app and the shop react to what larder published.
    async fn handle(&mut self, msg: rumqttc::Publish) -> anyhow::Result<()> {
        if msg.payload.is_empty() {
            return Ok(()); // a cleared approval request
        }
        let approvals = format!("larder/{}/approvals/", self.config.hub.id);
        if msg.topic != self.config.upstream.topic && !msg.topic.starts_with(&approvals) {
            return Ok(()); // e.g. a late status message
        }
        if !self.handled.insert(crate::ledger::sha256(&msg.payload)) {
            return Ok(()); // a redelivered copy (QoS 1 is at least once)
        }
        self.received += 1;
        let now = self.clock.now();
        if msg.topic == self.config.upstream.topic {
            return self.shop_receives(&msg.payload, now).await;
        }
        self.app_receives(&msg.payload, now).await
    }
}
