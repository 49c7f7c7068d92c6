//! `larder demo`: a whole simulated household, end to end, with nothing
//! installed. An embedded broker (rumqttd) on a free loopback port, the
//! real daemon (`daemon::start`) on a simulated clock, and three simulated
//! parties on one MQTT connection: the household's sensors (fridge load
//! cells, washer doses), a member's phone app (signs approvals with an
//! Ed25519 key), and a shop (verifies the hub's signature, delivers).
//!
//! Time only moves when the demo says so: each simulated hour it sets the
//! clock, publishes that hour's events, waits until the daemon has committed
//! them and everything it sent has been answered, then prints the timeline.
//! The story is a pure function of `--seed`.
//!
//! With `--devices real` the washer is a Zigbee2MQTT smart plug reporting
//! power through wash programmes, and the milk stands on a Tasmota HX711
//! load cell (`config/demo-devices.toml`): the sensor messages are what
//! those devices publish, and cycles and levels come out of the daemon's
//! adapters (`adapters`, `core::signals`). The clock then also moves inside
//! an hour, to each reading's time, as the devices report.

use crate::clock::{Clock, ManualClock};
use crate::config::{Config, PayloadFormat};
use crate::core::DAY;
use crate::crypto::keys::{self, SigningKey};
use crate::daemon::{self, Running};
use crate::protocol::approval::{self, ApprovalRequest, ReplyClaims};
use crate::protocol::events::{self, DeviceEvent, EventKind};
use crate::protocol::intent::{self, AckStatus, Evidence, UpstreamAck};
use crate::store::{IntentRow, IntentState, Store};
use anyhow::{Context as _, bail};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const HOUR: i64 = 3600;

/// The embedded household configuration (placeholders filled at start).
const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");

/// The real devices' tables for `--devices real`.
const DEMO_DEVICES: &str = include_str!("../../config/demo-devices.toml");

/// The native washer's table in `DEMO_CONFIG`, replaced by `DEMO_DEVICES`.
const NATIVE_WASHER: &str = "[[devices]]\nid = \"washer\"\ntopic = \"larder/demo/devices/washer/events\"\nformat = \"cbor\"\n\n";

/// Z2M plug topic and Tasmota scale topic (as in `DEMO_DEVICES`).
const PLUG_TOPIC: &str = "zigbee2mqtt/Washer plug";
const SCALE_TOPIC: &str = "tele/fridge-scale/SENSOR";
/// The scale reports every 20 minutes (Tasmota `TelePeriod 1200`).
const SCALE_PERIOD: i64 = 1200;

pub use crate::tools::DemoDevices;

/// What the simulated household's real devices are configured with (read
/// from the parsed configuration, so the simulation and larder agree).
#[derive(Debug, Clone, Copy)]
struct DeviceSettings {
    /// The plug's `dose` (ml a wash) and `stop-secs`.
    dose_ml: f64,
    stop_secs: i64,
    /// The scale's `tare-kg`, `units-per-kg` (litres of milk per kg) and
    /// `median-of`.
    tare_kg: f64,
    litres_per_kg: f64,
    median_of: usize,
}

impl DeviceSettings {
    fn from_config(config: &Config) -> anyhow::Result<DeviceSettings> {
        let device = |id: &str| {
            config
                .devices
                .iter()
                .find(|d| d.id == id)
                .with_context(|| format!("config/demo-devices.toml has no device {id:?}"))
        };
        let washer = device("washer-plug")?
            .washer
            .as_ref()
            .context("washer-plug has no [devices.washer]")?;
        let scale = device("fridge-scale")?
            .scale
            .as_ref()
            .context("fridge-scale has no [devices.scale]")?;
        Ok(DeviceSettings {
            dose_ml: washer.dose,
            stop_secs: washer.stop_secs,
            tare_kg: scale.tare_kg,
            litres_per_kg: scale.units_per_kg,
            median_of: scale.median_of,
        })
    }
}

/// The demo configuration text for `devices` (placeholders not filled).
fn config_text(devices: DemoDevices) -> anyhow::Result<String> {
    let mut text = DEMO_CONFIG.to_owned();
    if devices == DemoDevices::Real {
        let devices_block = format!("{}\n", DEMO_DEVICES.trim_end());
        for (from, to) in [
            (NATIVE_WASHER, devices_block.as_str()),
            (
                "device = \"fridge\"\nslot = \"milk\"",
                "device = \"fridge-scale\"\nslot = \"weight\"",
            ),
            (
                "device = \"washer\"\nslot = \"detergent\"",
                "device = \"washer-plug\"\nslot = \"cycle\"",
            ),
        ] {
            if !text.contains(from) {
                bail!("config/demo.toml no longer has {from:?}; update demo::config_text");
            }
            text = text.replacen(from, to, 1);
        }
    }
    Ok(text)
}

/// Runs the demo for `days` simulated days with `seed`, the sensors from
/// `devices`.
pub async fn run(days: u32, seed: u64, devices: DemoDevices) -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let port = free_port()?;
    start_broker(port)?;
    wait_for_port(port).await?;

    let alex = SigningKey::create(&dir.path.join("alex.key"))?;
    let text = config_text(devices)?
        .replace("{STATE_DIR}", &dir.path.join("state").display().to_string())
        .replace("{PORT}", &port.to_string())
        .replace("{ALEX_KEY}", &keys::to_hex(&alex.public_key()));
    let config = Config::parse(&text, &dir.path.join("larder.toml"))
        .context("the embedded demo configuration is invalid")?;

    // Monday 2026-03-02 06:00 UTC.
    let start: i64 = 1_772_431_200;
    let clock = Arc::new(ManualClock::new(start));
    let running = daemon::start(
        config.clone(),
        clock.clone(),
        daemon::Options {
            tick_every: None,
            // Decisions on the hourly tick only: the story must not depend
            // on how the household's messages were batched.
            decide_per_batch: false,
        },
    )
    .await?;
    let hub_public = SigningKey::load(&config.hub.key_file)?.public_key();

    println!("larder demo: {days} simulated days, seed {seed}");
    println!(
        "  embedded broker on 127.0.0.1:{port}; state in {}",
        dir.path.display()
    );
    println!(
        "  hub key {}…; member alex key {}…",
        &keys::to_hex(&hub_public)[..16],
        &keys::to_hex(&alex.public_key())[..16]
    );
    println!("  auto-approve up to 8.00 EUR for dairy and deli; detergent always asks alex");
    let settings = match devices {
        DemoDevices::Native => None,
        DemoDevices::Real => Some(DeviceSettings::from_config(&config)?),
    };
    if let Some(s) = settings {
        println!(
            "  devices: washer on a Zigbee2MQTT plug ({PLUG_TOPIC:?}, power → cycles, {} ml a wash);",
            s.dose_ml
        );
        println!(
            "           milk on a Tasmota HX711 scale ({SCALE_TOPIC:?}, kg → litres, tare {} kg, median of {})",
            s.tare_kg, s.median_of
        );
        println!(
            "           the plug counts doses, not the bottle: the detergent level stays unknown (no refill is recorded)"
        );
    }
    println!();

    let house = SimulatedHousehold::new(seed, start, settings);
    let mut sim =
        DemoWorld::connect(&config, port, running, clock, alex, hub_public, house).await?;
    let result = sim.play(start, days).await;
    let summary = sim.summary();
    sim.running.stop().await?;
    result?;
    print!("{summary}");
    Ok(())
}

/// The simulated world around the daemon.
struct DemoWorld {
    config: Config,
    running: Running,
    clock: Arc<ManualClock>,
    reader: Store,
    client: AsyncClient,
    incoming: mpsc::Receiver<rumqttc::Publish>,
    alex: SigningKey,
    hub_public: [u8; 32],
    house: SimulatedHousehold,
    /// Messages we published that the daemon must process.
    published: u64,
    /// Requests and intents received from larder.
    received: u64,
    /// SHA-256 of every distinct message from larder handled so far.
    handled: std::collections::HashSet<[u8; 32]>,
    /// Intent id → (display number, last state printed).
    seen: BTreeMap<String, (usize, Option<IntentState>)>,
    /// Pending deliveries: (intent id, item, quantity, earliest time).
    deliveries: Vec<(String, String, f64, i64)>,
    tally: Tally,
    /// Observations larder derived from the real devices already printed:
    /// (item, kind, observed at).
    derived_seen: std::collections::HashSet<(&'static str, String, i64)>,
}

/// Counts for the summary.
#[derive(Default)]
struct Tally {
    readings: u64,
    auto_approved: u64,
    member_approved: u64,
    denied: u64,
    expired: u64,
    refused: u64,
    delivered: u64,
    signatures_verified: u64,
    out_of_stock_hours: BTreeMap<String, u64>,
    orders: BTreeMap<String, u64>,
    /// `--devices real`: what larder derived from the plug and the scale.
    devices: DeviceTally,
}

/// What larder made of the real devices' messages (`--devices real`).
#[derive(Default)]
struct DeviceTally {
    /// Washer cycles larder detected from the plug's power.
    cycles: u64,
    /// Detergent those cycles consumed, ml.
    cycle_ml: f64,
    /// Milk levels larder derived from the scale's weights.
    levels: u64,
    /// Restocks larder detected as weight jumps.
    restocks: u64,
    /// Levels derived since the last daily line.
    day_levels: Vec<f64>,
    /// Weight readings published since the last daily line.
    day_readings: u64,
}

impl DemoWorld {
    async fn connect(
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

    async fn play(&mut self, start: i64, days: u32) -> anyhow::Result<()> {
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

    /// Prints what larder derived from the real devices since last time:
    /// washer cycles from the plug's power, restocks from the scale (levels
    /// are summed up in the daily line).
    fn print_derived(&mut self, now: i64) -> anyhow::Result<()> {
        if self.house.devices != DemoDevices::Real {
            return Ok(());
        }
        for (item, device) in [("detergent", "washer-plug"), ("milk", "fridge-scale")] {
            let mut rows = self.reader.read().recent_observations(item, 64)?;
            rows.retain(|r| r.device == device);
            rows.reverse(); // oldest first
            for row in rows {
                if !self
                    .derived_seen
                    .insert((item, row.kind.clone(), row.observed_at))
                {
                    continue;
                }
                let t = &mut self.tally.devices;
                match (item, row.kind.as_str()) {
                    ("detergent", "consumed") => {
                        t.cycles += 1;
                        t.cycle_ml += row.amount;
                        line(
                            now,
                            "washer plug",
                            &format!(
                                "cycle finished {} ({} ml used)",
                                clock_time(row.observed_at),
                                row.amount
                            ),
                        );
                    }
                    ("milk", "added") => {
                        t.restocks += 1;
                        line(
                            now,
                            "fridge scale",
                            &format!(
                                "weight jump at {}: restock of {:.2} l detected",
                                clock_time(row.observed_at),
                                row.amount
                            ),
                        );
                    }
                    ("milk", "level") => {
                        t.levels += 1;
                        t.day_levels.push(row.amount);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

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
            let intent = match intent::verify_upstream(&msg.payload, &self.hub_public)
                .map_err(|e| anyhow::anyhow!("shop: message failed verification: {e}"))?
            {
                intent::Upstream::Intent(intent) => intent,
                intent::Upstream::Cancel(cancel) => {
                    self.tally.signatures_verified += 1;
                    let n = self.number(&cancel.id);
                    line(
                        now,
                        "shop",
                        &format!(
                            "cancellation of #{n} received, hub signature verified ({})",
                            cancel.reason.as_str()
                        ),
                    );
                    self.deliveries.retain(|(id, ..)| *id != cancel.id);
                    return Ok(());
                }
            };
            self.tally.signatures_verified += 1;
            let n = self.number(&intent.id);
            let evidence = match &intent.evidence {
                Evidence::Rule(rule) => format!("rule {rule}"),
                Evidence::Members(d) => format!("{} signed member approval(s)", d.len()),
            };
            line(
                now,
                "shop",
                &format!(
                    "intent #{n} received, hub signature verified: {} × {}, up to {:.2} {}, deliver {}..{} ({evidence})",
                    intent.packages,
                    intent.product,
                    intent.price_ceiling,
                    intent.currency,
                    short_time(intent.deliver_after),
                    short_time(intent.deliver_before)
                ),
            );
            self.ack(&intent.id, AckStatus::Accepted).await?;
            let row = self
                .reader
                .read()
                .intent(&intent.id)?
                .context("intent row")?;
            self.deliveries.push((
                intent.id.clone(),
                row.item.clone(),
                row.quantity,
                intent.deliver_after,
            ));
            return Ok(());
        }
        let request: ApprovalRequest =
            serde_json::from_slice(&msg.payload).context("app: cannot read approval request")?;
        let n = self.number(&request.intent);
        line(
            now,
            "alex's app",
            &format!(
                "asked to approve #{n}: {} × {} up to {:.2} {}",
                request.packages, request.item_name, request.price_ceiling, request.currency
            ),
        );
        if let Some(why) = request.why.first() {
            line(now, "", &format!("  the app shows why: {why} …"));
        }
        let nonce = keys::from_hex(&request.nonce).context("app: bad nonce")?;
        let envelope = approval::sign_reply(
            &self.alex,
            &ReplyClaims {
                hub: request.hub.clone(),
                intent: request.intent.clone(),
                nonce,
                verdict: approval::MemberVerdict::Approve,
                member: "alex".into(),
                issued_at: now,
            },
        );
        line(
            now,
            "alex's app",
            &format!(
                "alex approves #{n} (COSE_Sign1, Ed25519, {} bytes)",
                envelope.len()
            ),
        );
        self.client
            .publish(request.reply_topic, QoS::AtLeastOnce, false, envelope)
            .await?;
        self.published += 1;
        Ok(())
    }

    async fn ack(&mut self, intent_id: &str, status: AckStatus) -> anyhow::Result<()> {
        let payload = intent::encode_ack_json(&UpstreamAck {
            intent: intent_id.to_owned(),
            status,
            reason: None,
            quote: intent::Quote::default(),
        });
        self.client
            .publish(
                self.config.upstream.ack_topic.clone(),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await?;
        self.published += 1;
        Ok(())
    }

    /// The shop delivers during the day once the lead time has passed.
    async fn deliver_due(&mut self, now: i64) -> anyhow::Result<()> {
        let hour_of_day = now.rem_euclid(DAY) / HOUR;
        if !(9..19).contains(&hour_of_day) {
            return Ok(());
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deliveries)
            .into_iter()
            .partition(|d| d.3 <= now);
        self.deliveries = later;
        for (id, item, quantity, _) in due {
            self.house.restock(&item, quantity, now);
            let n = self.number(&id);
            let unit = self.config.item(&item).map_or("", |i| i.unit.as_str());
            line(
                now,
                "delivery",
                &format!("#{n}: {quantity} {unit} of {item} put away"),
            );
            self.ack(&id, AckStatus::Delivered).await?;
            self.tally.delivered += 1;
        }
        Ok(())
    }

    /// The display number of an intent (in order of first sight).
    fn number(&mut self, id: &str) -> usize {
        let next = self.seen.len() + 1;
        self.seen.entry(id.to_owned()).or_insert((next, None)).0
    }

    /// Prints proposals and state changes larder recorded since last time.
    fn print_intents(&mut self, now: i64) -> anyhow::Result<()> {
        let mut rows = self.reader.read().intents(10_000)?;
        rows.reverse();
        for row in rows {
            let n = self.number(&row.id);
            let previous = self.seen.get(&row.id).and_then(|(_, s)| *s);
            if previous == Some(row.state) {
                continue;
            }
            if previous.is_none() {
                self.print_proposal(now, n, &row);
            }
            self.print_transition(now, n, &row, previous);
            if let Some(entry) = self.seen.get_mut(&row.id) {
                entry.1 = Some(row.state);
            }
        }
        Ok(())
    }

    fn print_proposal(&self, now: i64, n: usize, row: &IntentRow) {
        let name = self
            .config
            .item(&row.item)
            .map_or(row.item.as_str(), |i| i.name.as_str());
        line(
            now,
            "larder",
            &format!(
                "proposes #{n}: {} × {name}, up to {:.2} {}",
                row.packages, row.price_ceiling, row.currency
            ),
        );
        for why in &row.why {
            line(now, "", &format!("  why: {why}"));
        }
    }

    fn print_transition(
        &mut self,
        now: i64,
        n: usize,
        row: &IntentRow,
        previous: Option<IntentState>,
    ) {
        use IntentState::*;
        let by = row.decided_by.clone().unwrap_or_default();
        let ordered = matches!(row.state, Approved | Sent | Accepted | Delivered);
        let text = match (previous, row.state) {
            (None, _) if ordered => {
                self.tally.auto_approved += 1;
                *self.tally.orders.entry(row.item.clone()).or_default() += 1;
                format!("#{n} auto-approved ({by}); signed intent queued for the shop")
            }
            (Some(AwaitingApproval), _) if ordered => {
                self.tally.member_approved += 1;
                *self.tally.orders.entry(row.item.clone()).or_default() += 1;
                format!("#{n} approved by alex's signed reply; signed intent queued for the shop")
            }
            (_, AwaitingApproval) => match row.prompt_at {
                Some(at) if at > now => format!(
                    "#{n} needs a member's approval; quiet hours, will ask at {}",
                    short_time(at)
                ),
                _ => format!("#{n} needs a member's approval; request published"),
            },
            (_, Denied) => {
                self.tally.denied += 1;
                format!("#{n} denied ({by})")
            }
            (_, Expired) => {
                self.tally.expired += 1;
                format!("#{n} expired unanswered")
            }
            (_, Refused) => {
                self.tally.refused += 1;
                format!("#{n} refused by the rules ({by})")
            }
            (_, Delivered) => format!("#{n} closed: delivered"),
            (_, Rejected) => format!("#{n} rejected by the shop"),
            _ => return,
        };
        line(now, "larder", &text);
    }

    /// Once a day: what larder believes about each item.
    fn print_day(&mut self, now: i64) -> anyhow::Result<()> {
        if self.house.devices == DemoDevices::Real {
            let t = &mut self.tally.devices;
            let levels = std::mem::take(&mut t.day_levels);
            let lifted = self.reader.read().counter("scale_lifted")?;
            line(
                now,
                "fridge scale",
                &format!(
                    "{} weight readings since the last report → {} milk levels{}; holder lifted {lifted}× so far (ignored)",
                    std::mem::take(&mut t.day_readings),
                    levels.len(),
                    match (levels.iter().copied().reduce(f64::max), levels.last()) {
                        (Some(high), Some(last)) =>
                            format!(" (high {high:.2} l, last {last:.2} l)"),
                        _ => String::new(),
                    }
                ),
            );
        }
        let mut parts = Vec::new();
        for (item, fc) in crate::engine::forecasts(&self.config, &self.reader, now)? {
            let Some(fc) = fc else { continue };
            let level = fc
                .level
                .map_or("?".into(), |l| format!("{l:.1} {}", item.unit));
            let days = fc.days_left.map_or("-".into(), |d| format!("{d:.1} d"));
            parts.push(format!(
                "{} {level} (~{:.2}/day, {days})",
                item.id, fc.rate_per_day
            ));
        }
        line(now, "forecast", &parts.join(" · "));
        Ok(())
    }

    fn summary(&self) -> String {
        use std::fmt::Write;
        let t = &self.tally;
        let read = self.reader.read();
        let mut out = String::new();
        let _ = writeln!(out, "\nsummary");
        let _ = writeln!(
            out,
            "  messages sent to larder {} (sensor events, signed replies, shop acks); level readings {}; stored observations {}",
            self.published,
            t.readings,
            read.observation_count().unwrap_or(0)
        );
        let _ = writeln!(
            out,
            "  intents: {} auto-approved, {} member-approved, {} denied, {} expired, {} refused; {} delivered",
            t.auto_approved, t.member_approved, t.denied, t.expired, t.refused, t.delivered
        );
        let _ = writeln!(
            out,
            "  hub signatures verified by the shop: {}; dead letters: {}",
            t.signatures_verified,
            read.counter("dead_letters").unwrap_or(0)
        );
        if self.house.devices == DemoDevices::Real {
            let d = &t.devices;
            let counter = |name: &str| read.counter(name).unwrap_or(0);
            let _ = writeln!(
                out,
                "  washer plug (zigbee2mqtt): {} power readings, {} washes run → {} cycles detected ({} ml detergent), {} too short, {} aborted",
                self.house.plug_readings,
                self.house.washes,
                d.cycles,
                d.cycle_ml,
                counter("washer_cycles_too_short"),
                counter("washer_cycles_aborted"),
            );
            let _ = writeln!(
                out,
                "  fridge scale (tasmota HX711): {} weight readings, {} with the holder lifted → {} milk levels, {} restocks detected; {} ignored as lifted",
                self.house.scale_readings,
                self.house.lifted,
                d.levels,
                d.restocks,
                counter("scale_lifted"),
            );
            let _ = writeln!(out, "  eggs, cold cuts: larder's own fridge events (json)");
        }
        for item in &self.config.items {
            let _ = writeln!(
                out,
                "  {:<10} orders {:>2}   hours out of stock {:>3}   thrown away {:>7.1} {}",
                item.id,
                t.orders.get(&item.id).copied().unwrap_or(0),
                t.out_of_stock_hours.get(&item.id).copied().unwrap_or(0),
                self.house
                    .wasted
                    .get(item.id.as_str())
                    .copied()
                    .unwrap_or(0.0),
                item.unit
            );
        }
        out
    }
}

/// Prints one timeline line: `d03 Wed 08:00  who  text`.
fn line(now: i64, who: &str, text: &str) {
    println!("{}  {who:<12}  {text}", short_time(now));
}

/// `18:07`: the time of day.
fn clock_time(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// `d03 Wed 08:00` relative to the demo's first day.
fn short_time(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%m-%d %a %H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// The household: real stock, habits, and the sensors that watch them.
struct SimulatedHousehold {
    rng: Rng,
    /// Per item, lots of (amount, expires at) oldest first.
    stock: BTreeMap<&'static str, Vec<(f64, i64)>>,
    /// Per item, amount thrown away because it expired.
    wasted: BTreeMap<&'static str, f64>,
    seq: BTreeMap<&'static str, u64>,
    /// Where the sensor messages come from.
    devices: DemoDevices,
    /// The real devices' settings (`--devices real`).
    settings: Option<DeviceSettings>,
    /// `--devices real`: device messages not yet published, by (time, order).
    readings: BTreeMap<(i64, u64), DeviceReading>,
    /// The plug: energy counter (kWh), last power (W) and when.
    plug_energy: f64,
    plug_watts: f64,
    plug_at: i64,
    /// Counts for the summary: plug and scale messages, washes run, scale
    /// readings taken with the bottle holder lifted.
    plug_readings: u64,
    scale_readings: u64,
    washes: u64,
    lifted: u64,
    /// Messages scheduled so far (orders readings of the same second).
    scheduled: u64,
}

/// One message of a real device, as it will be published.
struct DeviceReading {
    at: i64,
    topic: &'static str,
    payload: Vec<u8>,
}

/// Items the household keeps, with their shelf life in days (`None`: keeps).
const ITEMS: [(&str, Option<i64>); 4] = [
    ("milk", Some(7)),
    ("eggs", Some(28)),
    ("cold_cuts", Some(6)),
    ("detergent", None),
];

impl SimulatedHousehold {
    /// The household; `settings` given: with the real devices.
    fn new(seed: u64, start: i64, settings: Option<DeviceSettings>) -> SimulatedHousehold {
        let initial = [1.5, 8.0, 150.0, 1500.0];
        let stock = ITEMS
            .iter()
            .zip(initial)
            .map(|((item, shelf), amount)| {
                let expires = shelf.map_or(i64::MAX, |d| start + d * DAY / 2);
                (*item, vec![(amount, expires)])
            })
            .collect();
        SimulatedHousehold {
            rng: Rng::new(seed),
            stock,
            wasted: BTreeMap::new(),
            seq: BTreeMap::new(),
            devices: settings.map_or(DemoDevices::Native, |_| DemoDevices::Real),
            settings,
            readings: BTreeMap::new(),
            plug_energy: 48.31,
            plug_watts: 0.0,
            plug_at: start,
            plug_readings: 0,
            scale_readings: 0,
            washes: 0,
            lifted: 0,
            scheduled: 0,
        }
    }

    /// The next real-device message taken before `until`, if any.
    fn next_reading(&mut self, until: i64) -> Option<DeviceReading> {
        let first = self.readings.first_key_value()?.0.0;
        if first >= until {
            return None;
        }
        self.readings.pop_first().map(|(_, r)| r)
    }

    fn schedule(&mut self, at: i64, topic: &'static str, payload: Vec<u8>) {
        self.scheduled += 1;
        self.readings
            .insert((at, self.scheduled), DeviceReading { at, topic, payload });
    }

    /// A Zigbee2MQTT plug state (TS011F-like, `last_seen: ISO_8601`).
    fn plug_message(&mut self, at: i64, watts: f64, on: bool) {
        let hours = (at - self.plug_at).max(0) as f64 / 3600.0;
        self.plug_energy += self.plug_watts * hours / 1000.0;
        self.plug_watts = watts;
        self.plug_at = at;
        let voltage = (self.rng.normal(231.0, 1.2) * 10.0).round() / 10.0;
        let last_seen = jiff::Timestamp::from_second(at)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string())
            .unwrap_or_default();
        let payload = serde_json::json!({
            "child_lock": "UNLOCK",
            "current": (watts / voltage * 100.0).round() / 100.0,
            "energy": (self.plug_energy * 100.0).round() / 100.0,
            "indicator_mode": "off/on",
            "last_seen": last_seen,
            "linkquality": 96 + (self.rng.next_u64() % 40),
            "power": (watts * 10.0).round() / 10.0,
            "power_outage_memory": "restore",
            "state": if on { "ON" } else { "OFF" },
            "voltage": voltage,
        });
        self.plug_readings += 1;
        self.schedule(at, PLUG_TOPIC, payload.to_string().into_bytes());
    }

    /// A Tasmota `tele/<t>/SENSOR` with the HX711's weight: the milk in
    /// its holder, or (`lifted`) the empty scale while someone pours.
    fn scale_message(&mut self, s: DeviceSettings, at: i64, lifted: bool) {
        let contents = if lifted {
            -s.tare_kg
        } else {
            self.total("milk") / s.litres_per_kg
        };
        let kg = (s.tare_kg + contents + self.rng.normal(0.0, 0.003)).max(0.0);
        let kg = (kg * 1000.0).round() / 1000.0;
        let time = jiff::Timestamp::from_second(at)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default();
        let payload = serde_json::json!({
            "Time": time,
            "HX711": { "Weight": kg, "WeightRaw": (kg * 416_250.0).round() as i64 + 8_192 },
        });
        self.scale_readings += 1;
        if lifted {
            self.lifted += 1;
        }
        self.schedule(at, SCALE_TOPIC, payload.to_string().into_bytes());
    }

    /// One wash programme on the plug from `start`, reported on change:
    /// fill, heating, tumbling with drum rests, pauses of minutes between
    /// wash, rinses and spin, then standby. Returns the standby time (the
    /// cycle's end).
    fn wash_programme(&mut self, start: i64) -> i64 {
        let mut trace: Vec<(i64, f64)> = Vec::new();
        let mut t = start;
        let rng = &mut self.rng;
        let hot = rng.chance(0.5);
        // Programme selected: display and electronics.
        steady(rng, &mut trace, &mut t, 60, (1.5, 2.5), (30, 50));
        // Water in, drum turning slowly.
        tumble(rng, &mut trace, &mut t, 240, (15.0, 35.0));
        // Heating.
        let heat = if hot { (900, 1200) } else { (420, 600) };
        let secs = rng.int(heat.0, heat.1);
        steady(rng, &mut trace, &mut t, secs, (1950.0, 2150.0), (50, 90));
        // Main wash.
        let secs = rng.int(1500, 2100);
        tumble(rng, &mut trace, &mut t, secs, (120.0, 400.0));
        for (pause, rinse) in [((150, 360), true), ((120, 300), true), ((60, 180), false)] {
            let secs = rng.int(pause.0, pause.1);
            steady(rng, &mut trace, &mut t, secs, (0.5, 3.0), (60, 120));
            if rinse {
                let secs = rng.int(480, 720);
                tumble(rng, &mut trace, &mut t, secs, (100.0, 300.0));
            }
        }
        // Spin.
        let secs = rng.int(360, 600);
        steady(rng, &mut trace, &mut t, secs, (300.0, 600.0), (30, 60));
        // Done: standby.
        let standby = rng.range(0.6, 1.2);
        trace.push((t, standby));
        for (at, watts) in trace {
            self.plug_message(at, watts, true);
        }
        t
    }

    fn event(
        &mut self,
        device: &'static str,
        slot: &str,
        kind: EventKind,
        amount: f64,
        ts: i64,
    ) -> DeviceEvent {
        let seq = self.seq.entry(device).or_insert(0);
        *seq += 1;
        DeviceEvent {
            device: device.into(),
            epoch: 1,
            seq: *seq,
            ts: Some(ts),
            slot: slot.into(),
            kind,
            amount: (amount * 1000.0).round() / 1000.0,
        }
    }

    fn total(&self, item: &str) -> f64 {
        self.stock
            .get(item)
            .map_or(0.0, |lots| lots.iter().map(|l| l.0).sum())
    }

    /// Uses up to `amount`, oldest lot first; returns what was used.
    fn consume(&mut self, item: &'static str, amount: f64) -> f64 {
        let mut left = amount.max(0.0);
        let lots = self.stock.entry(item).or_default();
        for lot in lots.iter_mut() {
            let take = left.min(lot.0);
            lot.0 -= take;
            left -= take;
        }
        lots.retain(|l| l.0 > 1e-9);
        amount.max(0.0) - left
    }

    fn restock(&mut self, item: &str, quantity: f64, now: i64) {
        if let Some((name, shelf)) = ITEMS.iter().find(|(name, _)| *name == item) {
            let expires = shelf.map_or(i64::MAX, |d| now + d * DAY);
            self.stock
                .entry(name)
                .or_default()
                .push((quantity, expires));
        }
    }

    /// Throws away what expired; returns (item, amount) per item.
    fn discard_expired(&mut self, now: i64) -> Vec<(&'static str, f64)> {
        let mut thrown = Vec::new();
        for (item, lots) in &mut self.stock {
            let gone: f64 = lots.iter().filter(|l| l.1 <= now).map(|l| l.0).sum();
            lots.retain(|l| l.1 > now);
            if gone > 1e-9 {
                *self.wasted.entry(item).or_default() += gone;
                thrown.push((*item, gone));
            }
        }
        thrown
    }

    fn out_of_stock(&self) -> Vec<(String, bool)> {
        let smallest = |item: &str| match item {
            "milk" => 0.1,
            "eggs" => 1.0,
            "cold_cuts" => 20.0,
            _ => 60.0,
        };
        ITEMS
            .iter()
            .map(|(k, _)| (k.to_string(), self.total(k) < smallest(k)))
            .collect()
    }

    /// One hour of life: consumption, then sensor messages.
    fn hour(&mut self, now: i64) -> Vec<(PayloadFormat, DeviceEvent)> {
        let hour = now.rem_euclid(DAY) / HOUR;
        // 1970-01-01 was a Thursday: day 0 → Thu.
        let weekday = (now.div_euclid(DAY) + 3).rem_euclid(7); // 0 = Mon
        let weekend = weekday >= 5;
        let mut events = Vec::new();
        // Spoiled food goes in the bin; the household says so in the app.
        for (item, amount) in self.discard_expired(now) {
            // Milk on the scale: the scale sees it go.
            let weighed = item == "milk" && self.devices == DemoDevices::Real;
            if item != "detergent" && !weighed {
                let e = self.event("fridge", item, EventKind::Removed, amount, now);
                events.push((PayloadFormat::Json, e));
            }
        }
        // Someone pours milk at the top of the hour: the holder is off the
        // scale for that reading (`--devices real`).
        let mut pouring = false;
        match hour {
            7 => {
                let milk = self.rng.normal(0.2, 0.05).max(0.05);
                self.consume("milk", milk);
                pouring = true;
                if !weekend && self.rng.chance(0.8) {
                    let ham = self.rng.normal(45.0, 10.0).max(10.0);
                    self.consume("cold_cuts", ham);
                }
                if !weekend && self.rng.chance(0.25) {
                    self.consume("eggs", 2.0);
                }
            }
            10 if weekend => {
                let eggs = if self.rng.chance(0.5) { 3.0 } else { 4.0 };
                self.consume("eggs", eggs);
            }
            13 if weekend => {
                let ham = self.rng.normal(70.0, 15.0).max(10.0);
                self.consume("cold_cuts", ham);
            }
            19 if self.rng.chance(0.6) => {
                let milk = self.rng.normal(0.15, 0.05).max(0.05);
                self.consume("milk", milk);
                pouring = true;
            }
            18 if let Some(s) = self.settings => {
                let washes = if weekend { 0.9 } else { 0.45 };
                if self.rng.chance(washes) && self.total("detergent") >= s.dose_ml {
                    // The machine doses it; the plug sees only power.
                    self.consume("detergent", s.dose_ml);
                    self.washes += 1;
                    let start = now + self.rng.int(120, 1500);
                    if self.plug_watts == 0.0 {
                        // Switched off after the last wash: on again.
                        self.plug_message(start - 30, 0.0, true);
                    }
                    let end = self.wash_programme(start);
                    // Some switch the plug off when they empty the drum;
                    // sometimes before larder's stop hold has passed.
                    if self.rng.chance(0.4) {
                        let off = end + self.rng.int(s.stop_secs / 2, 3 * s.stop_secs);
                        self.plug_message(off, 0.0, false);
                    }
                }
            }
            18 => {
                let washes = if weekend { 0.9 } else { 0.45 };
                if self.rng.chance(washes) {
                    let dose = self.rng.normal(75.0, 4.0).clamp(60.0, 90.0).round();
                    let used = self.consume("detergent", dose);
                    if used > 0.0 {
                        let e =
                            self.event("washer", "detergent", EventKind::WasherCycle, used, now);
                        events.push((PayloadFormat::Cbor, e));
                    }
                }
            }
            _ => {}
        }
        if let Some(s) = self.settings {
            let lifted = pouring && self.rng.chance(0.5);
            for k in 0..HOUR / SCALE_PERIOD {
                self.scale_message(s, now + k * SCALE_PERIOD, lifted && k == 0);
            }
        }
        if hour % 2 == 0 {
            for (slot, noise) in [("milk", 0.01), ("eggs", 0.05), ("cold_cuts", 2.0)] {
                if slot == "milk" && self.devices == DemoDevices::Real {
                    continue;
                }
                let level = (self.total(slot) + self.rng.normal(0.0, noise)).max(0.0);
                let e = self.event("fridge", slot, EventKind::Level, level, now);
                events.push((PayloadFormat::Json, e));
            }
        }
        events
    }
}

/// Readings every `step` seconds for `secs` at a level in `watts`.
fn steady(
    rng: &mut Rng,
    trace: &mut Vec<(i64, f64)>,
    t: &mut i64,
    secs: i64,
    watts: (f64, f64),
    step: (i64, i64),
) {
    let end = *t + secs;
    while *t < end {
        trace.push((*t, rng.range(watts.0, watts.1)));
        *t += rng.int(step.0, step.1);
    }
}

/// The drum turning (`turning` W, 40–90 s) and resting (pump and
/// electronics, 6–12 W, 15–30 s) for `secs`.
fn tumble(rng: &mut Rng, trace: &mut Vec<(i64, f64)>, t: &mut i64, secs: i64, turning: (f64, f64)) {
    let end = *t + secs;
    while *t < end {
        trace.push((*t, rng.range(turning.0, turning.1)));
        *t += rng.int(40, 90);
        trace.push((*t, rng.range(6.0, 12.0)));
        *t += rng.int(15, 30);
    }
}

/// SplitMix64: a tiny seeded generator, so the story depends only on the seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1 = self.uniform().max(1e-12);
        let u2 = self.uniform();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// A private temporary directory, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let path = base.join(format!(
            "larder-demo-{}-{}",
            std::process::id(),
            keys::to_hex(&keys::random_bytes::<4>())
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating demo directory {}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A free TCP port on loopback.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Starts rumqttd on `port` in a background thread (it lives until exit).
fn start_broker(port: u16) -> anyhow::Result<()> {
    let config: rumqttd::Config = toml::from_str(&format!(
        r#"
id = 0
[router]
id = 0
max_connections = 64
max_outgoing_packet_count = 200
max_segment_size = 10485760
max_segment_count = 10

[v4.1]
name = "demo"
listen = "127.0.0.1:{port}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 100
dynamic_filters = true
"#
    ))
    .context("embedded broker configuration")?;
    std::thread::Builder::new()
        .name("demo-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                eprintln!("larder demo: embedded broker stopped: {e}");
            }
        })
        .context("starting the embedded broker")?;
    Ok(())
}

async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("the embedded broker did not start on port {port}")
}
