//! The engine: what the single writer does with each inbound message and on
//! each tick. It routes by topic, decodes, calls the pure core, and writes
//! the results (state, intents, outbox rows, dead letters) in one
//! transaction per batch. It does no network IO: the daemon acks after the
//! commit and the relay publishes the outbox.

pub mod forget;

use crate::config::{Config, Device, Item};
use crate::core::forecast::{self, Measure};
use crate::core::rules::{self, Verdict};
use crate::core::{DAY, Observation, ObservationKind, signals};
use crate::protocol::adapters;
use crate::protocol::approval::{self, ApprovalRequest, ReplyClaims};
use crate::protocol::control;

use crate::crypto::keys::{self, SigningKey};
use crate::homeassistant::{HaTopics, PRESS_PAYLOAD, Press};
use crate::ledger::{self, Outcome};
use crate::protocol::events::{self, EventKind};
use crate::protocol::intent::{self, AckStatus, CancelReason, Cancellation, Evidence, Intent};
use crate::protocol::topics::Topics;
use crate::store::{
    self, ApprovalRow, Inserted, IntentRow, IntentState, NewObservation, NewOutbox, Store, Tx,
};

/// How long after a denied, refused or expired intent the item is left
/// alone before larder proposes it again.
pub const COOLDOWN_SECS: i64 = DAY;

/// Accepted clock skew of device timestamps into the future, in seconds.
const MAX_FUTURE_SKEW_SECS: i64 = 300;

/// Oldest device timestamp taken at face value, relative to now.
const MAX_EVENT_AGE_SECS: i64 = 30 * DAY;

/// A refused inbound message: the reason goes to the dead-letter table.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Counter to bump besides `dead_letters`.
    pub counter: &'static str,
    /// Why, for the log and the dead-letter row.
    pub reason: String,
}

impl Refusal {
    fn new(counter: &'static str, reason: impl Into<String>) -> Refusal {
        Refusal {
            counter,
            reason: reason.into(),
        }
    }
}

/// One inbound message as the engine sees it.
#[derive(Debug, Clone)]
pub struct Inbound<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// The retain flag.
    pub retain: bool,
    /// MQTT's DUP flag: the broker sends this message again (it was not
    /// acknowledged before a reconnect).
    pub dup: bool,
}

/// What a batch did, for logs and the caller's follow-up.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    /// Observations stored.
    pub stored: u64,
    /// Duplicates ignored.
    pub duplicates: u64,
    /// Messages dead-lettered.
    pub refused: u64,
    /// Items whose state changed (decide for these).
    pub touched: Vec<String>,
    /// A forget was committed: run `Store::scrub` before anything else.
    pub scrub: bool,
}

/// The engine: configuration, hub key and topics. Stateless between calls;
/// all state lives in the database.
pub struct Engine {
    config: Config,
    hub_key: SigningKey,
    topics: Topics,
    tz: jiff::tz::TimeZone,
    /// Home Assistant button topics (`[homeassistant]`).
    ha_topics: HaTopics,
}

impl Engine {
    /// An engine for a configuration and hub key.
    pub fn new(config: Config, hub_key: SigningKey) -> Engine {
        let tz = config.hub.time_zone();
        let topics = Topics::new(&config);
        let ha_topics = HaTopics::new(&config);
        Engine {
            config,
            hub_key,
            topics,
            tz,
            ha_topics,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Topics the ingest connection subscribes to.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .config
            .devices
            .iter()
            .flat_map(Device::topics)
            .collect();
        topics.push(self.topics.replies_filter.clone());
        topics.push(self.topics.control.clone());
        topics.push(self.topics.upstream_acks.clone());
        if self.config.homeassistant.enabled {
            // Subscribed even without trusted approvals, so a press there is
            // refused with a dead letter that says why.
            topics.extend(self.ha_topics.press_filters());
        }
        topics
    }

    /// Processes a batch of inbound messages in one transaction. On `Err`
    /// nothing was committed and nothing may be acknowledged.
    pub fn ingest(
        &self,
        store: &mut Store,
        batch: &[Inbound<'_>],
        now: i64,
    ) -> store::Result<BatchOutcome> {
        self.ingest_and_mark_sent(store, batch, &[], now)
    }

    /// [`Engine::ingest`], and in the same transaction records the broker's
    /// PUBACK of each outbox row in `sent` (as [`Engine::mark_sent`]): one
    /// commit for both, so the relay's marks do not cost the writer a
    /// commit (an fsync) each.
    pub fn ingest_and_mark_sent(
        &self,
        store: &mut Store,
        batch: &[Inbound<'_>],
        sent: &[i64],
        now: i64,
    ) -> store::Result<BatchOutcome> {
        let tx = store.transaction()?;
        for &outbox_id in sent {
            self.mark_sent_in(&tx, outbox_id, now)?;
        }
        let mut outcome = BatchOutcome::default();
        for msg in batch {
            match self.route(&tx, msg, now)? {
                Ok(Handled::Stored(item)) => {
                    outcome.stored += 1;
                    if !outcome.touched.contains(&item) {
                        outcome.touched.push(item);
                    }
                }
                Ok(Handled::Derived(items)) => {
                    outcome.stored += 1;
                    for item in items {
                        if !outcome.touched.contains(&item) {
                            outcome.touched.push(item);
                        }
                    }
                }
                Ok(Handled::Duplicate) => outcome.duplicates += 1,
                Ok(Handled::AllItems) => {
                    for item in &self.config.items {
                        if !outcome.touched.contains(&item.id) {
                            outcome.touched.push(item.id.clone());
                        }
                    }
                }
                Ok(Handled::Done) => {}
                Ok(Handled::Forgot) => outcome.scrub = true,
                Err(refusal) => {
                    tracing::warn!(topic = msg.topic, bytes = msg.payload.len(), reason = %refusal.reason, "refused inbound message");
                    // A refused control message is kept without its payload:
                    // a forget names the item it erases.
                    let kept = if msg.topic == self.topics.control {
                        &[][..]
                    } else {
                        msg.payload
                    };
                    tx.dead_letter(msg.topic, kept, &refusal.reason, now)?;
                    tx.bump("dead_letters", 1)?;
                    tx.bump(refusal.counter, 1)?;
                    outcome.refused += 1;
                }
            }
        }
        if outcome.duplicates > 0 {
            tx.bump("duplicates", outcome.duplicates)?;
        }
        tx.bump("messages", batch.len() as u64)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Dispatches one message by topic. `Ok(Err(_))` is a refusal.
    fn route(
        &self,
        tx: &Tx<'_>,
        msg: &Inbound<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        if msg.payload.len() > self.config.mqtt.max_payload_bytes {
            return Ok(Err(Refusal::new(
                "refused_oversize",
                format!(
                    "payload of {} bytes exceeds mqtt.max-payload-bytes ({})",
                    msg.payload.len(),
                    self.config.mqtt.max_payload_bytes
                ),
            )));
        }
        if let Some(device) = self.config.devices.iter().find(|d| d.listens_on(msg.topic)) {
            if !device.format.is_native() {
                return self.ingest_adapter(tx, device, msg, now);
            }
            return self.ingest_event(tx, device, msg, now);
        }
        if let Some(intent_id) = self.topics.reply_intent(msg.topic) {
            return self.apply_reply(tx, intent_id, msg, now);
        }
        if msg.topic == self.topics.upstream_acks {
            return self.apply_ack(tx, msg, now);
        }
        if msg.topic == self.topics.control {
            return self.apply_control(tx, msg, now);
        }
        if self.config.homeassistant.enabled {
            if let Some((press, intent_id)) = self.ha_topics.parse_press(msg.topic) {
                return self.apply_ha_press(tx, press, intent_id, msg, now);
            }
        }
        Ok(Err(Refusal::new(
            "refused_topic",
            format!(
                "no device or larder function listens on topic {:?}",
                msg.topic
            ),
        )))
    }

    fn ingest_event(
        &self,
        tx: &Tx<'_>,
        device: &Device,
        msg: &Inbound<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let event = match events::decode_event(device.format, msg.payload) {
            Ok(event) => event,
            Err(events::WireError::NotNeeded { kind }) => {
                // Data minimisation: counted, acked, never stored.
                tracing::debug!(device = %device.id, kind, "event not needed; dropped");
                tx.bump("events_not_needed", 1)?;
                return Ok(Ok(Handled::Done));
            }
            Err(e) => return Ok(Err(Refusal::new("refused_events", e.to_string()))),
        };
        if event.device != device.id {
            return Ok(Err(Refusal::new(
                "refused_events",
                format!(
                    "event names device {:?} but arrived on the topic of device {:?}",
                    event.device, device.id
                ),
            )));
        }
        let Some(item) = self.config.item_for_slot(&device.id, &event.slot) else {
            return Ok(Err(Refusal::new(
                "refused_events",
                format!(
                    "no item is configured for device {:?} slot {:?}",
                    device.id, event.slot
                ),
            )));
        };
        let observed_at = match event.ts {
            Some(ts) if ts <= now + MAX_FUTURE_SKEW_SECS && ts >= now - MAX_EVENT_AGE_SECS => ts,
            Some(ts) => {
                tracing::warn!(device = %device.id, ts, now, "device clock looks wrong; using receive time");
                tx.bump("device_clock_skew", 1)?;
                now
            }
            None => now,
        };
        let inserted = tx.insert_observation(&NewObservation {
            device: &device.id,
            epoch: event.epoch,
            seq: event.seq,
            item: &item.id,
            kind: event.kind.as_str(),
            amount: event.amount,
            observed_at,
            received_at: now,
        })?;
        if inserted == Inserted::Duplicate {
            return Ok(Ok(Handled::Duplicate));
        }
        if let Some((epoch, last)) = tx.advance_device_seq(&device.id, event.epoch, event.seq)? {
            if epoch == event.epoch && event.seq > last.saturating_add(1) {
                let missing = event.seq - last - 1;
                tracing::warn!(device = %device.id, epoch, after = last, next = event.seq, missing, "sequence gap: events may have been lost before reaching larder");
                tx.bump("sequence_gaps", 1)?;
                tx.bump("sequence_missing", missing)?;
            }
        }
        let kind = match event.kind {
            EventKind::Level => ObservationKind::Level,
            EventKind::Consumed | EventKind::WasherCycle => ObservationKind::Consumed,
            EventKind::Added => ObservationKind::Added,
            EventKind::Removed => ObservationKind::Removed,
        };
        self.observe(
            tx,
            item,
            &Observation {
                at: observed_at,
                kind,
                amount: event.amount,
            },
            now,
        )?;
        Ok(Ok(Handled::Stored(item.id.clone())))
    }

    /// A foreign device's payload (`adapters`): decode, run the device's
    /// state machines, save their state and store the derived observations,
    /// all in the batch transaction. Raw signals (power, weight) are not
    /// stored; only the item observations they yield.
    fn ingest_adapter(
        &self,
        tx: &Tx<'_>,
        device: &Device,
        msg: &Inbound<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let refuse = |e: adapters::AdapterError| {
            Refusal::new(
                "refused_events",
                format!("device {:?} ({}): {e}", device.id, device.format.name()),
            )
        };
        let reading = match adapters::decode(device, msg.topic, msg.payload) {
            Ok(reading) => reading,
            Err(e) => return Ok(Err(refuse(e))),
        };
        match adapters::check_needed(device, msg.topic, &reading) {
            Ok(()) => {}
            Err(adapters::AdapterError::NotNeeded { found }) => {
                // Data minimisation: counted, acked, never stored.
                tracing::debug!(device = %device.id, found, "payload not needed; dropped");
                tx.bump("events_not_needed", 1)?;
                return Ok(Ok(Handled::Done));
            }
            Err(e) => return Ok(Err(refuse(e))),
        }
        let mut state = self.device_state(tx, device)?;
        let digest = adapters::payload_digest(msg.topic, msg.payload);
        if adapters::is_redelivery(&state, &digest, msg.dup, msg.retain) {
            // The broker's copy of a payload already taken changes nothing.
            return Ok(Ok(Handled::Duplicate));
        }
        let at = match reading.at {
            Some(ts) if ts <= now + MAX_FUTURE_SKEW_SECS && ts >= now - MAX_EVENT_AGE_SECS => ts,
            Some(ts) => {
                tracing::warn!(device = %device.id, ts, now, "device clock looks wrong; using receive time");
                tx.bump("device_clock_skew", 1)?;
                now
            }
            None => now,
        };
        let applied = adapters::apply(device, &mut state, &reading, at);
        adapters::remember_payload(&mut state, digest);
        self.save_device_state(tx, device, &state, now)?;
        let items = self.store_derived(tx, device, &applied, now)?;
        Ok(Ok(if items.is_empty() {
            Handled::Done
        } else {
            Handled::Derived(items)
        }))
    }

    fn device_state(&self, tx: &Tx<'_>, device: &Device) -> store::Result<adapters::DeviceState> {
        Ok(tx
            .read()
            .device_state(&device.id)?
            .and_then(|json| match serde_json::from_str(&json) {
                Ok(state) => Some(state),
                Err(e) => {
                    // Only larder writes it; start the filters afresh.
                    tracing::warn!(device = %device.id, error = %e, "unreadable device state; starting afresh");
                    None
                }
            })
            .unwrap_or_default())
    }

    fn save_device_state(
        &self,
        tx: &Tx<'_>,
        device: &Device,
        state: &adapters::DeviceState,
        now: i64,
    ) -> store::Result<()> {
        let json = serde_json::to_string(state).expect("device state serializes to JSON");
        tx.save_device_state(&device.id, &json, now)
    }

    /// Stores the observations an adapter derived (epoch 0, seq from the
    /// observation's identity: a repeat stores nothing) and folds them into
    /// their items; returns the items changed.
    fn store_derived(
        &self,
        tx: &Tx<'_>,
        device: &Device,
        applied: &adapters::Applied,
        now: i64,
    ) -> store::Result<Vec<String>> {
        for counter in &applied.counters {
            tx.bump(counter, 1)?;
        }
        let mut items = Vec::new();
        for derived in &applied.derived {
            let Some(item) = self.config.item_for_slot(&device.id, derived.slot) else {
                tracing::debug!(device = %device.id, slot = derived.slot, "no item on this slot; observation dropped");
                tx.bump("observations_unassigned", 1)?;
                continue;
            };
            let mut amount = derived.amount;
            if derived.slot == signals::SLOT_IDOS1 || derived.slot == signals::SLOT_IDOS2 {
                // i-Dos "fill level poor": the tank is at its low level,
                // unless larder already knows it is lower.
                amount = item.min_level.unwrap_or(0.0);
                let known = tx.read().item_state(&item.id)?.and_then(|s| s.level);
                if known.is_some_and(|level| level <= amount) {
                    continue;
                }
            }
            let kind = match derived.kind {
                ObservationKind::Level => EventKind::Level,
                ObservationKind::Consumed => EventKind::Consumed,
                ObservationKind::Added => EventKind::Added,
                ObservationKind::Removed => EventKind::Removed,
            };
            let inserted = tx.insert_observation(&NewObservation {
                device: &device.id,
                epoch: 0,
                seq: adapters::derived_seq(derived.slot, derived.kind, derived.at),
                item: &item.id,
                kind: kind.as_str(),
                amount,
                observed_at: derived.at,
                received_at: now,
            })?;
            if inserted == Inserted::Duplicate {
                tx.bump("duplicates", 1)?;
                continue;
            }
            self.observe(
                tx,
                item,
                &Observation {
                    at: derived.at,
                    kind: derived.kind,
                    amount,
                },
                now,
            )?;
            if !items.contains(&item.id) {
                items.push(item.id.clone());
            }
        }
        Ok(items)
    }

    /// Confirms time-based device transitions at `now` (a washer whose
    /// power stayed below the stop threshold for the stop hold ends its
    /// cycle without a new message). The writer calls this on every tick;
    /// returns the items changed.
    pub fn tick_devices(&self, store: &mut Store, now: i64) -> store::Result<Vec<String>> {
        let waiting: Vec<&Device> = self
            .config
            .devices
            .iter()
            .filter(|d| d.washer.is_some() && !d.format.is_native())
            .collect();
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
        let tx = store.transaction()?;
        let mut touched = Vec::new();
        for device in waiting {
            let mut state = self.device_state(&tx, device)?;
            let Some(applied) = adapters::tick(device, &mut state, now) else {
                continue;
            };
            self.save_device_state(&tx, device, &state, now)?;
            for item in self.store_derived(&tx, device, &applied, now)? {
                if !touched.contains(&item) {
                    touched.push(item);
                }
            }
        }
        tx.commit()?;
        Ok(touched)
    }

    fn observe(&self, tx: &Tx<'_>, item: &Item, obs: &Observation, now: i64) -> store::Result<()> {
        let mut state = tx.read().item_state(&item.id)?.unwrap_or_default();
        forecast::observe(&item.model, &mut state, obs);
        tx.save_item_state(&item.id, &state, now)
    }

    /// A member's signed pause / resume / guests / cancel / forget message.
    fn apply_control(
        &self,
        tx: &Tx<'_>,
        msg: &Inbound<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let refuse = |reason: String| Ok(Err(Refusal::new("refused_controls", reason)));
        if msg.retain {
            return refuse(
                "retained control messages are refused (a command must be fresh)".into(),
            );
        }
        let claims = match control::open_control(msg.payload, &self.config.hub.id, |kid| {
            self.config
                .member(kid)
                .map(|m| (m.public_key, m.may_approve))
        }) {
            Ok(claims) => claims,
            Err(e) => return refuse(e.to_string()),
        };
        let read = tx.read();
        if let Some(last) = read.member_control_iat(&claims.member)? {
            if claims.issued_at <= last {
                return refuse(format!(
                    "replayed or out-of-order control message from {} (signed at {}, last accepted {last})",
                    claims.member, claims.issued_at
                ));
            }
        }
        let mut presence = read.presence()?;
        let (command, until, factor) = match claims.command {
            control::ControlCommand::Forget(scope) => {
                tx.set_member_control_iat(&claims.member, claims.issued_at)?;
                let gone =
                    crate::engine::forget::apply(tx, &self.config, &self.topics, &scope, now)?;
                tracing::warn!(member = %claims.member, ledger_entry = gone.ledger_seq, observations = gone.observations, intents = gone.intents, "forget executed at a member's signed request");
                return Ok(Ok(Handled::Forgot));
            }
            control::ControlCommand::Cancel { intent } => {
                let outcome = self.cancel_by_member(tx, &intent, &claims.member, now)?;
                if outcome.is_ok() {
                    tx.set_member_control_iat(&claims.member, claims.issued_at)?;
                }
                return Ok(outcome);
            }
            control::ControlCommand::Pause { until } => {
                tracing::info!(member = %claims.member, ?until, "household away: learning and ordering paused");
                presence.paused_since = presence.paused_since.or(Some(now));
                presence.paused_until = until;
                self.for_each_item(tx, now, |model, state| forecast::pause(model, state, now))?;
                ("pause", until, None)
            }
            control::ControlCommand::Resume => {
                tracing::info!(member = %claims.member, "household back: resumed");
                self.resume(tx, &mut presence, now)?;
                ("resume", None, None)
            }
            control::ControlCommand::Guests { factor, until } => {
                tracing::info!(member = %claims.member, factor, until, "guests declared");
                presence.guests_factor = Some(factor);
                presence.guests_until = Some(until);
                self.for_each_item(tx, now, |_, state| {
                    forecast::declare_guests(state, factor, until);
                })?;
                ("guests", Some(until), Some(factor))
            }
        };
        tx.set_member_control_iat(&claims.member, claims.issued_at)?;
        tx.set_presence(&presence, now)?;
        tx.ledger_append(
            ledger::Kind::Presence,
            &ledger::Presence {
                by: claims.member.clone(),
                command: command.into(),
                until,
                factor,
            },
            now,
        )?;
        Ok(Ok(Handled::AllItems))
    }

    fn resume(&self, tx: &Tx<'_>, presence: &mut store::Presence, now: i64) -> store::Result<()> {
        presence.paused_since = None;
        presence.paused_until = None;
        self.for_each_item(tx, now, |model, state| forecast::resume(model, state, now))
    }

    /// Applies `change` to every item's learned state (creating it if new).
    fn for_each_item(
        &self,
        tx: &Tx<'_>,
        now: i64,
        mut change: impl FnMut(&forecast::ItemModel, &mut forecast::ItemState),
    ) -> store::Result<()> {
        for item in &self.config.items {
            let mut state = tx.read().item_state(&item.id)?.unwrap_or_default();
            change(&item.model, &mut state);
            tx.save_item_state(&item.id, &state, now)?;
        }
        Ok(())
    }

    /// Folds the household's answer into the item's learned state.
    fn learn(
        &self,
        tx: &Tx<'_>,
        item: &str,
        feedback: forecast::Feedback,
        now: i64,
    ) -> store::Result<()> {
        let Some(mut state) = tx.read().item_state(item)? else {
            return Ok(());
        };
        forecast::learn(&mut state, feedback, now);
        tx.save_item_state(item, &state, now)
    }

    fn apply_reply(
        &self,
        tx: &Tx<'_>,
        topic_intent: &str,
        msg: &Inbound<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let refuse = |reason: String| Ok(Err(Refusal::new("refused_replies", reason)));
        if msg.retain {
            return refuse("retained approval replies are refused (a reply must be fresh)".into());
        }
        let hub = &self.config.hub.id;
        let claims: ReplyClaims = match approval::open_reply(msg.payload, hub, |kid| {
            self.config
                .member(kid)
                .map(|m| (m.public_key, m.may_approve))
        }) {
            Ok(claims) => claims,
            Err(e) => return refuse(e.to_string()),
        };
        if claims.intent != topic_intent {
            return refuse(format!(
                "reply for intent {} arrived on the reply topic of intent {topic_intent}",
                claims.intent
            ));
        }
        let Some(intent) = tx.read().intent(&claims.intent)? else {
            return refuse(format!("unknown intent {}", claims.intent));
        };
        if intent.state != IntentState::AwaitingApproval {
            return refuse(format!(
                "intent {} is {}, not awaiting approval (replayed or late reply from {})",
                intent.id,
                intent.state.as_str(),
                claims.member
            ));
        }
        if intent.nonce.as_deref() != Some(keys::to_hex(&claims.nonce).as_str()) {
            return refuse(format!(
                "reply from {} carries a stale or wrong nonce for intent {}",
                claims.member, intent.id
            ));
        }
        if let Some(expires_at) = intent.expires_at {
            if now > expires_at {
                return refuse(format!(
                    "request for intent {} expired at {expires_at}; reply from {} is too late",
                    intent.id, claims.member
                ));
            }
        }
        let answer = Answer {
            member: &claims.member,
            by: format!("member:{}", claims.member),
            verdict: claims.verdict,
            envelope: msg.payload,
            counter: "refused_replies",
        };
        self.accept_answer(tx, &intent, &answer, now)
    }

    /// A Home Assistant approve/deny button press (`homeassistant.trusted-approvals`):
    /// counts as one reply by `homeassistant.approver`, under the same
    /// checks as a member's reply except the signature and nonce (the
    /// broker's ACL is the only guard; `docs/homeassistant.md`).
    fn apply_ha_press(
        &self,
        tx: &Tx<'_>,
        press: Press,
        intent_id: &str,
        msg: &Inbound<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let refuse = |reason: String| Ok(Err(Refusal::new("refused_ha_presses", reason)));
        let ha = &self.config.homeassistant;
        if !ha.trusted_approvals {
            return refuse(format!(
                "Home Assistant {} press for intent {intent_id} refused: trusted approvals are off (homeassistant.trusted-approvals = false)",
                press.as_str()
            ));
        }
        if msg.retain {
            return refuse("retained button presses are refused (a press must be fresh)".into());
        }
        if msg.payload != PRESS_PAYLOAD.as_bytes() {
            return refuse(format!(
                "button press payload must be {PRESS_PAYLOAD:?}, got {} bytes",
                msg.payload.len()
            ));
        }
        let Some(intent) = tx.read().intent(intent_id)? else {
            return refuse(format!("press for unknown intent {intent_id}"));
        };
        if intent.state != IntentState::AwaitingApproval {
            return refuse(format!(
                "intent {} is {}, not awaiting approval (late or repeated press by {})",
                intent.id,
                intent.state.as_str(),
                ha.approver
            ));
        }
        if let Some(expires_at) = intent.expires_at {
            if now > expires_at {
                return refuse(format!(
                    "request for intent {} expired at {expires_at}; press by {} is too late",
                    intent.id, ha.approver
                ));
            }
        }
        let verdict = match press {
            Press::Approve => approval::MemberVerdict::Approve,
            Press::Deny => approval::MemberVerdict::Deny,
        };
        // What is kept as the "envelope": the press as received, so the
        // approvals table and the ledger digest say where it came from.
        let envelope = serde_json::to_vec(&serde_json::json!({
            "via": "home-assistant",
            "approver": ha.approver,
            "topic": msg.topic,
            "payload": PRESS_PAYLOAD,
            "intent": intent.id,
            "verdict": press.as_str(),
            "received_at": now,
        }))
        .unwrap_or_default();
        let answer = Answer {
            member: &ha.approver,
            by: format!("ha:{}", ha.approver),
            verdict,
            envelope: &envelope,
            counter: "refused_ha_presses",
        };
        self.accept_answer(tx, &intent, &answer, now)
    }

    /// Records an accepted answer to a pending intent (one per approver:
    /// `UNIQUE (intent_id, member)`), logs it, and applies it: a denial
    /// denies; an approval approves once the quorum is reached.
    fn accept_answer(
        &self,
        tx: &Tx<'_>,
        intent: &IntentRow,
        answer: &Answer<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let verdict = match answer.verdict {
            approval::MemberVerdict::Approve => "approve",
            approval::MemberVerdict::Deny => "deny",
        };
        let recorded = tx.record_approval(&ApprovalRow {
            intent_id: intent.id.clone(),
            member: answer.member.to_owned(),
            verdict: verdict.into(),
            digest: approval::reply_digest(answer.envelope).to_vec(),
            envelope: answer.envelope.to_vec(),
            received_at: now,
        })?;
        if !recorded {
            return Ok(Err(Refusal::new(
                answer.counter,
                format!(
                    "replayed reply: {} already answered intent {}",
                    answer.member, intent.id
                ),
            )));
        }
        let reply_digest = keys::to_hex(&approval::reply_digest(answer.envelope));
        let by = answer.by.as_str();
        let logged = match answer.verdict {
            approval::MemberVerdict::Approve => Outcome::MemberApproved,
            approval::MemberVerdict::Deny => Outcome::MemberDenied,
        };
        record(tx, intent, logged, by, Vec::new(), vec![reply_digest], now)?;
        match answer.verdict {
            approval::MemberVerdict::Deny => {
                tracing::info!(intent = %intent.id, item = %intent.item, member = %answer.member, "denied by member");
                tx.transition_intent(
                    &intent.id,
                    IntentState::AwaitingApproval,
                    IntentState::Denied,
                    Some(by),
                    now,
                )?;
                self.clear_request(tx, &intent.id, now)?;
                self.learn(tx, &intent.item, forecast::Feedback::Denied, now)?;
            }
            approval::MemberVerdict::Approve => {
                let approvals: Vec<ApprovalRow> = tx
                    .read()
                    .approvals(&intent.id)?
                    .into_iter()
                    .filter(|a| a.verdict == "approve")
                    .collect();
                tracing::info!(intent = %intent.id, item = %intent.item, member = %answer.member, have = approvals.len(), need = intent.approvals_required, "approved by member");
                if approvals.len() as u32 >= intent.approvals_required {
                    let digests: Vec<[u8; 32]> = approvals
                        .iter()
                        .filter_map(|a| <[u8; 32]>::try_from(a.digest.as_slice()).ok())
                        .collect();
                    record(
                        tx,
                        intent,
                        Outcome::Approved,
                        "members",
                        Vec::new(),
                        digests.iter().map(|d| keys::to_hex(d)).collect(),
                        now,
                    )?;
                    tx.transition_intent(
                        &intent.id,
                        IntentState::AwaitingApproval,
                        IntentState::Approved,
                        Some("members"),
                        now,
                    )?;
                    self.enqueue_intent(tx, intent, Evidence::Members(digests), now)?;
                    self.clear_request(tx, &intent.id, now)?;
                    self.learn(tx, &intent.item, forecast::Feedback::Approved, now)?;
                }
            }
        }
        Ok(Ok(Handled::Done))
    }

    fn apply_ack(
        &self,
        tx: &Tx<'_>,
        msg: &Inbound<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let ack = match intent::decode_ack(msg.payload) {
            Ok(ack) => ack,
            Err(e) => return Ok(Err(Refusal::new("refused_acks", e.to_string()))),
        };
        let Some(row) = tx.read().intent(&ack.intent)? else {
            return Ok(Err(Refusal::new(
                "refused_acks",
                format!("acknowledgement for unknown intent {}", ack.intent),
            )));
        };
        if matches!(ack.status, AckStatus::Quoted | AckStatus::Accepted)
            && matches!(row.state, IntentState::Approved | IntentState::Sent)
        {
            if let Some(breach) = price_guard(&row, &ack.quote) {
                self.hold(tx, &row, &ack.quote, breach, now)?;
                return Ok(Ok(Handled::Done));
            }
        }
        let withdrawn = matches!(row.state, IntentState::Cancelled | IntentState::Held);
        if withdrawn && matches!(ack.status, AckStatus::Quoted | AckStatus::Accepted) {
            // The shop goes on with an order larder withdrew (it missed or
            // ignored the cancellation): say so loudly and cancel again.
            tracing::warn!(intent = %row.id, item = %row.item, state = row.state.as_str(), status = ack.status.as_str(), "the shop goes on with a withdrawn intent; sending the cancellation again");
            let resent = tx.resend_last(&row.id, "cancel", now)?;
            record(
                tx,
                &row,
                Outcome::ShopAccepted,
                "shop",
                vec![format!(
                    "{} although larder withdrew it ({}); cancellation {}",
                    ack.status.as_str(),
                    row.state.as_str(),
                    if resent {
                        "sent again"
                    } else {
                        "never sent: nothing had left"
                    }
                )],
                Vec::new(),
                now,
            )?;
            tx.bump("acks_for_withdrawn", 1)?;
            return Ok(Ok(Handled::Done));
        }
        let ever_left = tx
            .intent_queued(&row.id)?
            .is_some_and(|(_, sent)| sent.is_some());
        if withdrawn && ack.status == AckStatus::Delivered && !ever_left {
            return Ok(Err(Refusal::new(
                "refused_acks",
                format!(
                    "delivery reported for intent {}, which was {} before it ever left larder",
                    row.id,
                    row.state.as_str()
                ),
            )));
        }
        let (from, to): (&[IntentState], IntentState) = match ack.status {
            AckStatus::Quoted => {
                if matches!(row.state, IntentState::Approved | IntentState::Sent) {
                    tracing::info!(intent = %row.id, item = %row.item, total = ?ack.quote.total, ceiling = row.price_ceiling, "shop quoted within the ceiling");
                    record(
                        tx,
                        &row,
                        Outcome::ShopQuoted,
                        "shop",
                        Vec::new(),
                        Vec::new(),
                        now,
                    )?;
                } else {
                    tx.bump("stale_acks", 1)?;
                }
                return Ok(Ok(Handled::Done));
            }
            AckStatus::Accepted => (
                &[IntentState::Approved, IntentState::Sent],
                IntentState::Accepted,
            ),
            // Goods that arrive although the intent was cancelled or held
            // are still goods in the house.
            AckStatus::Delivered => (
                &[
                    IntentState::Approved,
                    IntentState::Sent,
                    IntentState::Accepted,
                    IntentState::Cancelled,
                    IntentState::Held,
                ],
                IntentState::Delivered,
            ),
            AckStatus::Rejected => (
                &[
                    IntentState::Approved,
                    IntentState::Sent,
                    IntentState::Accepted,
                ],
                IntentState::Rejected,
            ),
        };
        if !from.contains(&row.state) {
            tracing::debug!(intent = %row.id, state = row.state.as_str(), "ignoring repeated or late shop acknowledgement");
            tx.bump("stale_acks", 1)?;
            return Ok(Ok(Handled::Done));
        }
        if withdrawn {
            tracing::warn!(intent = %row.id, item = %row.item, state = row.state.as_str(), "the shop delivered an intent larder had withdrawn; recording the delivery");
            // A price-guard replacement still waiting is moot now.
            if let Some(pending) = tx.read().open_intent(&row.item)? {
                if pending.state == IntentState::AwaitingApproval
                    && pending
                        .why
                        .first()
                        .is_some_and(|w| w.starts_with(PRICE_GUARD_WHY))
                {
                    tx.transition_intent(
                        &pending.id,
                        IntentState::AwaitingApproval,
                        IntentState::Cancelled,
                        Some("shop-delivered-held"),
                        now,
                    )?;
                    self.clear_request(tx, &pending.id, now)?;
                    record(
                        tx,
                        &pending,
                        Outcome::MemberCancelled,
                        "larder",
                        vec![format!(
                            "the held intent {} was delivered after all; this replacement is not needed",
                            row.id
                        )],
                        Vec::new(),
                        now,
                    )?;
                }
            }
        }
        tx.transition_intent(&row.id, row.state, to, Some("shop"), now)?;
        let logged = match ack.status {
            AckStatus::Quoted => Outcome::ShopQuoted,
            AckStatus::Accepted => Outcome::ShopAccepted,
            AckStatus::Delivered => Outcome::ShopDelivered,
            AckStatus::Rejected => Outcome::ShopRejected,
        };
        record(tx, &row, logged, "shop", Vec::new(), Vec::new(), now)?;
        match ack.status {
            AckStatus::Quoted => {}
            AckStatus::Accepted => {
                tracing::info!(intent = %row.id, item = %row.item, "shop accepted intent")
            }
            AckStatus::Rejected => {
                tracing::warn!(intent = %row.id, item = %row.item, reason = ack.reason.as_deref().unwrap_or(""), "shop rejected intent")
            }
            AckStatus::Delivered => {
                tracing::info!(intent = %row.id, item = %row.item, packages = row.packages, "delivered");
                // Level-measured items see the delivery on their sensor; for
                // consumption-measured ones the delivery is the restock.
                if let Some(item) = self.config.item(&row.item) {
                    if item.model.measure == Measure::Consumption {
                        self.observe(
                            tx,
                            item,
                            &Observation {
                                at: now,
                                kind: ObservationKind::Added,
                                amount: row.quantity,
                            },
                            now,
                        )?;
                        return Ok(Ok(Handled::Stored(item.id.clone())));
                    }
                }
            }
        }
        Ok(Ok(Handled::Done))
    }

    /// A member's signed cancel: inside the window, the intent closes as
    /// `cancelled`; an approved one is withdrawn from the outbox if still
    /// there and a signed cancellation with the same id goes upstream
    /// either way. `Ok(Err(_))` is a refusal with its reason.
    fn cancel_by_member(
        &self,
        tx: &Tx<'_>,
        intent_id: &str,
        member: &str,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let refuse = |reason: String| Ok(Err(Refusal::new("refused_controls", reason)));
        let Some(row) = tx.read().intent(intent_id)? else {
            return refuse(format!("cancel for unknown intent {intent_id}"));
        };
        let by = format!("member:{member}");
        match row.state {
            IntentState::AwaitingApproval => {
                // Not approved yet: nothing left the house but the request.
                tx.transition_intent(&row.id, row.state, IntentState::Cancelled, Some(&by), now)?;
                self.clear_request(tx, &row.id, now)?;
            }
            IntentState::Approved | IntentState::Sent | IntentState::Accepted => {
                let window = self.config.approvals.cancel_window_secs;
                let approved_at = tx
                    .intent_queued(&row.id)?
                    .map_or(row.updated_at, |(at, _)| at);
                if window == 0 || now - approved_at > window {
                    return refuse(format!(
                        "intent {} was approved {:.1} h ago; the cancellation window (rules.cancel-window-hours = {}) has closed",
                        row.id,
                        (now - approved_at) as f64 / 3600.0,
                        window as f64 / 3600.0
                    ));
                }
                tx.transition_intent(&row.id, row.state, IntentState::Cancelled, Some(&by), now)?;
                // Drop the intent if it has not left; the cancellation goes
                // out regardless, because the relay may have the intent in
                // flight right now (a cancel for an id the shop never saw
                // is harmless; an order it never hears cancelled is not).
                tx.cancel_unsent(&row.id, "intent", now)?;
                self.enqueue_cancel(tx, &row, CancelReason::Household, now)?;
            }
            other => {
                return refuse(format!(
                    "intent {} is {}; only a pending or sent intent can be cancelled",
                    row.id,
                    other.as_str()
                ));
            }
        }
        tracing::info!(intent = %row.id, item = %row.item, %member, "cancelled by member");
        record(
            tx,
            &row,
            Outcome::MemberCancelled,
            &by,
            Vec::new(),
            Vec::new(),
            now,
        )?;
        tx.bump("cancelled_by_members", 1)?;
        Ok(Ok(Handled::Done))
    }

    /// The price guard: the shop's quote broke the intent's terms. The
    /// intent closes as `held`, a signed cancellation goes upstream, and
    /// (unless the currency differs) a replacement at the quoted terms
    /// waits for a member's approval.
    fn hold(
        &self,
        tx: &Tx<'_>,
        row: &IntentRow,
        quote: &intent::Quote,
        breach: Breach,
        now: i64,
    ) -> store::Result<()> {
        let what = breach.describe(row, quote);
        tracing::warn!(intent = %row.id, item = %row.item, %what, "price guard: holding the order for the household");
        tx.transition_intent(
            &row.id,
            row.state,
            IntentState::Held,
            Some("price-guard"),
            now,
        )?;
        record(
            tx,
            row,
            Outcome::PriceHeld,
            "price-guard",
            vec![format!("price-guard: {what}")],
            Vec::new(),
            now,
        )?;
        self.enqueue_cancel(tx, row, breach.reason(), now)?;
        tx.bump("price_guard_holds", 1)?;
        let Some(item) = self.config.item(&row.item) else {
            return Ok(());
        };
        if breach == Breach::Currency {
            return Ok(());
        }
        let total = quote.total.map_or(row.price_ceiling, round_cents);
        let product = quote.product.clone().unwrap_or_else(|| row.product.clone());
        // The replacement goes through the household's rules like any order
        // (a `never`, the budget, the order cap, quiet hours), and is always
        // asked: new terms need a member.
        let decision = self.apply_rules(tx, item, total, now)?;
        let rule_reasons: Vec<String> = decision
            .reasons
            .iter()
            .map(|r| format!("{}: {}", r.rule, r.text))
            .collect();
        let (approvals_required, not_before) = match decision.verdict {
            Verdict::Deny => {
                tracing::info!(item = %row.item, "price guard: the rules refuse a replacement at the shop's terms");
                return Ok(());
            }
            Verdict::Ask {
                approvals_required,
                not_before,
            } => (approvals_required.max(1), not_before.max(now)),
            Verdict::AutoApprove => (self.config.rules.approvals_required.max(1), now),
        };
        let nonce = keys::to_hex(&keys::random_bytes::<16>());
        let expires_at = not_before + self.config.approvals.request_ttl_secs;
        let replacement = IntentRow {
            id: keys::to_hex(&keys::random_bytes::<16>()),
            state: IntentState::AwaitingApproval,
            product,
            unit_price: total / f64::from(row.packages.max(1)),
            price_ceiling: total,
            deliver_after: now + (row.deliver_after - row.created_at).max(0),
            deliver_before: now + (row.deliver_before - row.created_at).max(0),
            nonce: Some(nonce.clone()),
            prompt_at: Some(not_before),
            expires_at: Some(expires_at),
            approvals_required,
            why: vec![
                format!("{PRICE_GUARD_WHY}{what}"),
                format!(
                    "approve to order at up to {total:.2} {}; deny to skip",
                    row.currency
                ),
            ],
            decided_by: None,
            created_at: now,
            updated_at: now,
            ..row.clone()
        };
        tx.insert_intent(&replacement)?;
        let mut reasons = vec![format!("price-guard: {what}")];
        reasons.extend(rule_reasons);
        record(
            tx,
            &replacement,
            Outcome::Asked,
            "price-guard",
            reasons,
            Vec::new(),
            now,
        )?;
        let request = self.approval_request(item, &replacement, &nonce, expires_at);
        let payload = serde_json::to_vec(&request).unwrap_or_default();
        tx.enqueue(
            &NewOutbox {
                kind: "approval_request",
                topic: &self.topics.approval_request(&replacement.id),
                payload: &payload,
                retain: true,
                intent_id: Some(&replacement.id),
                not_before,
            },
            now,
        )?;
        Ok(())
    }

    /// Signs a cancellation of `row` (same id) and queues it for upstream.
    fn enqueue_cancel(
        &self,
        tx: &Tx<'_>,
        row: &IntentRow,
        reason: CancelReason,
        now: i64,
    ) -> store::Result<()> {
        let signed = intent::sign_cancel(
            &self.hub_key,
            &Cancellation {
                id: row.id.clone(),
                hub: self.config.hub.id.clone(),
                reason,
                issued_at: now,
            },
        );
        self.queue_upstream(tx, "cancel", &row.id, &signed, now)
    }

    /// Queues hub-signed bytes about `intent_id` for the upstream topic.
    fn queue_upstream(
        &self,
        tx: &Tx<'_>,
        kind: &str,
        intent_id: &str,
        signed: &[u8],
        now: i64,
    ) -> store::Result<()> {
        tx.enqueue(
            &NewOutbox {
                kind,
                topic: &self.topics.upstream,
                payload: signed,
                retain: false,
                intent_id: Some(intent_id),
                not_before: now,
            },
            now,
        )?;
        Ok(())
    }

    /// Marks an outbox row sent after the broker's PUBACK; a sent intent
    /// moves from `approved` to `sent`.
    pub fn mark_sent(&self, store: &mut Store, outbox_id: i64, now: i64) -> store::Result<()> {
        let tx = store.transaction()?;
        self.mark_sent_in(&tx, outbox_id, now)?;
        tx.commit()
    }

    /// [`Engine::mark_sent`] inside `tx`.
    fn mark_sent_in(&self, tx: &Tx<'_>, outbox_id: i64, now: i64) -> store::Result<()> {
        if let Some(row) = tx.mark_sent(outbox_id, now)? {
            if row.kind == "intent" {
                if let Some(id) = &row.intent_id {
                    if tx.transition_intent(
                        id,
                        IntentState::Approved,
                        IntentState::Sent,
                        None,
                        now,
                    )? {
                        tracing::info!(intent = %id, "intent delivered to the broker");
                    }
                }
            }
        }
        Ok(())
    }

    /// Expires stale approval requests, then decides for `items` (all when
    /// `None`): forecast, propose, apply the rules, write intents and outbox
    /// rows. One transaction.
    pub fn decide(
        &self,
        store: &mut Store,
        items: Option<&[String]>,
        now: i64,
    ) -> store::Result<()> {
        let tx = store.transaction()?;
        self.expire(&tx, now)?;
        let mut presence = tx.read().presence()?;
        if presence.paused_since.is_some() {
            if presence.paused_until.is_some_and(|until| now >= until) {
                tracing::info!("pause ended as scheduled: resumed");
                self.resume(&tx, &mut presence, now)?;
                tx.set_presence(&presence, now)?;
                tx.ledger_append(
                    ledger::Kind::Presence,
                    &ledger::Presence {
                        by: "schedule".into(),
                        command: "resume".into(),
                        until: None,
                        factor: None,
                    },
                    now,
                )?;
            } else {
                // Away: nothing is proposed.
                return tx.commit();
            }
        }
        let mut ordering_vendors: Vec<&str> = Vec::new();
        for item in &self.config.items {
            if items.is_some_and(|only| !only.contains(&item.id)) {
                continue;
            }
            if self.decide_item(&tx, item, now, None)? {
                ordering_vendors.push(&item.vendor);
            }
        }
        // One delivery instead of several: the same vendor's items that
        // would need ordering within `top-up-days` go with this order.
        let window = self.config.upstream.top_up_days;
        if window > 0.0 {
            for item in &self.config.items {
                if ordering_vendors.contains(&item.vendor.as_str()) {
                    self.decide_item(&tx, item, now, Some(window))?;
                }
            }
        }
        tx.commit()
    }

    fn expire(&self, tx: &Tx<'_>, now: i64) -> store::Result<()> {
        for intent in tx.read().intents_in_state(IntentState::AwaitingApproval)? {
            if intent.expires_at.is_some_and(|t| now > t)
                && tx.transition_intent(
                    &intent.id,
                    IntentState::AwaitingApproval,
                    IntentState::Expired,
                    Some("expiry"),
                    now,
                )?
            {
                tracing::info!(intent = %intent.id, item = %intent.item, "approval request expired unanswered");
                record(
                    tx,
                    &intent,
                    Outcome::Expired,
                    "expiry",
                    Vec::new(),
                    Vec::new(),
                    now,
                )?;
                self.clear_request(tx, &intent.id, now)?;
                // Unanswered is "not now": ask again after a day.
                self.learn(
                    tx,
                    &intent.item,
                    forecast::Feedback::Snoozed { until: now + DAY },
                    now,
                )?;
            }
        }
        Ok(())
    }

    /// Decides for one item; with `top_up` (days), as a top-up of a
    /// vendor order: as if its review period were that much longer.
    /// Returns whether an order was approved (and goes out now).
    fn decide_item(
        &self,
        tx: &Tx<'_>,
        item: &Item,
        now: i64,
        top_up: Option<f64>,
    ) -> store::Result<bool> {
        let read = tx.read();
        if read.open_intent(&item.id)?.is_some() {
            return Ok(false);
        }
        if read
            .last_unsuccessful_close(&item.id)?
            .is_some_and(|t| now - t < COOLDOWN_SECS)
        {
            return Ok(false);
        }
        let Some(state) = read.item_state(&item.id)? else {
            return Ok(false);
        };
        let model = match top_up {
            Some(days) => std::borrow::Cow::Owned(forecast::ItemModel {
                review_days: item.model.review_days + days,
                ..item.model.clone()
            }),
            None => std::borrow::Cow::Borrowed(&item.model),
        };
        let days_since_last_order = read
            .last_order_at(&item.id)?
            .map(|t| (now - t) as f64 / DAY as f64);
        // At most one open intent per item, so nothing is on order here;
        // but a delivery the shelf sensor has not seen yet is stock in hand.
        let unseen_delivery = match item.model.measure {
            Measure::Level => read
                .last_delivery(&item.id)?
                .filter(|(at, _)| *at >= state.level_at)
                .map_or(0.0, |(_, quantity)| quantity),
            Measure::Consumption => 0.0,
        };
        let plan = forecast::plan(
            &model,
            &state,
            now,
            &forecast::DecisionContext {
                on_order: unseen_delivery,
                days_since_last_order,
                auto_approve: self.auto_approve_for(item),
                min_level: item.min_level,
                desired_level: item.desired_level,
            },
        );
        let fc = plan.forecast;
        let Some(mut proposal) = plan.proposal else {
            if let Some(held) = plan.held {
                tracing::debug!(item = %item.id, %held, "no proposal");
            }
            return Ok(false);
        };
        if let Some(days) = top_up {
            proposal.reasons.push(format!(
                "topped up with the order from vendor {:?}: it would be needed within {days} more days anyway",
                item.vendor
            ));
        }
        let cost = item.price * f64::from(proposal.packages);
        let ceiling = round_cents(cost * (1.0 + self.config.upstream.price_tolerance));
        let decision = self.apply_rules(tx, item, ceiling, now)?;
        let mut why = proposal.reasons.clone();
        why.extend(decision.reasons.iter().map(|r| r.text.clone()));
        let lead = (item.model.lead_time_days * DAY as f64).round() as i64;
        let mut row = IntentRow {
            id: keys::to_hex(&keys::random_bytes::<16>()),
            item: item.id.clone(),
            state: IntentState::Approved,
            product: item.product.clone(),
            packages: proposal.packages,
            quantity: f64::from(proposal.packages) * item.model.package_size,
            unit_price: item.price,
            price_ceiling: ceiling,
            currency: item.currency.clone(),
            deliver_after: now + lead,
            deliver_before: now + lead + 2 * DAY,
            nonce: None,
            prompt_at: None,
            expires_at: None,
            approvals_required: 0,
            why,
            decided_by: None,
            created_at: now,
            updated_at: now,
        };
        let first_rule = decision.reasons.first().map_or("rules", |r| r.rule);
        let rule_reasons: Vec<String> = decision
            .reasons
            .iter()
            .map(|r| format!("{}: {}", r.rule, r.text))
            .collect();
        tracing::info!(item = %item.id, packages = proposal.packages, ceiling, level = ?fc.level, days_left = ?fc.days_left, verdict = ?decision.verdict, "reorder proposed");
        // Only an order that is going out now carries top-ups: a request
        // the household may still deny must not pull others along.
        let ordered = matches!(decision.verdict, Verdict::AutoApprove);
        match decision.verdict {
            Verdict::AutoApprove => {
                row.decided_by = Some(format!("rule:{first_rule}"));
                tx.insert_intent(&row)?;
                record(
                    tx,
                    &row,
                    Outcome::AutoApproved,
                    &format!("rule:{first_rule}"),
                    rule_reasons,
                    Vec::new(),
                    now,
                )?;
                self.enqueue_intent(tx, &row, Evidence::Rule(first_rule.to_owned()), now)?;
            }
            Verdict::Ask {
                approvals_required,
                not_before,
            } => {
                let nonce = keys::to_hex(&keys::random_bytes::<16>());
                let prompt_at = not_before.max(now);
                let expires_at = prompt_at + self.config.approvals.request_ttl_secs;
                row.state = IntentState::AwaitingApproval;
                row.nonce = Some(nonce.clone());
                row.prompt_at = Some(prompt_at);
                row.expires_at = Some(expires_at);
                row.approvals_required = approvals_required.max(1);
                tx.insert_intent(&row)?;
                record(
                    tx,
                    &row,
                    Outcome::Asked,
                    &format!("rule:{first_rule}"),
                    rule_reasons,
                    Vec::new(),
                    now,
                )?;
                let request = self.approval_request(item, &row, &nonce, expires_at);
                let payload = serde_json::to_vec(&request).unwrap_or_default();
                let topic = self.topics.approval_request(&row.id);
                tx.enqueue(
                    &NewOutbox {
                        kind: "approval_request",
                        topic: &topic,
                        payload: &payload,
                        retain: true,
                        intent_id: Some(&row.id),
                        not_before: prompt_at,
                    },
                    now,
                )?;
            }
            Verdict::Deny => {
                row.state = IntentState::Refused;
                row.decided_by = Some(format!("rule:{first_rule}"));
                tx.insert_intent(&row)?;
                record(
                    tx,
                    &row,
                    Outcome::Refused,
                    &format!("rule:{first_rule}"),
                    rule_reasons,
                    Vec::new(),
                    now,
                )?;
            }
        }
        Ok(ordered)
    }

    /// The household's rules on an order of `item` costing at most `cost`.
    fn apply_rules(
        &self,
        tx: &Tx<'_>,
        item: &Item,
        cost: f64,
        now: i64,
    ) -> store::Result<rules::Decision> {
        let read = tx.read();
        let local = self.local(now);
        let cap_days = self
            .config
            .rules
            .max_orders_per_item
            .map_or(30, |cap| cap.period_days);
        let ctx = rules::Context {
            now,
            local_minute_of_day: local.minute_of_day,
            spent_this_month: read.spent_since(local.month_start)?,
            orders_for_item_in_period: read
                .orders_since(&item.id, now - i64::from(cap_days) * DAY)?,
        };
        Ok(rules::decide(
            &self.config.rules,
            &rules::Order {
                item: &item.id,
                category: &item.category,
                item_policy: item.order,
                cost,
            },
            &ctx,
        ))
    }

    /// What the rules would auto-approve for this item, in packages, so
    /// the forecaster can size orders to avoid a prompt.
    fn auto_approve_for(&self, item: &Item) -> Option<forecast::AutoApprove> {
        let rules = &self.config.rules;
        let allowed = self.config.policy_for_item(item) == rules::CategoryPolicy::Allow;
        let package_ceiling = item.price * (1.0 + self.config.upstream.price_tolerance);
        if !allowed || rules.auto_approve_up_to <= 0.0 || package_ceiling <= 0.0 {
            return None;
        }
        let max_packages = (rules.auto_approve_up_to / package_ceiling + 1e-9).floor();
        let min_gap_days = rules.max_orders_per_item.map_or(0.0, |cap| {
            f64::from(cap.period_days) / f64::from(cap.count.max(1))
        });
        (max_packages >= 1.0).then(|| forecast::AutoApprove {
            max_packages: max_packages.min(f64::from(u32::MAX)) as u32,
            min_gap_days,
        })
    }

    fn approval_request(
        &self,
        item: &Item,
        row: &IntentRow,
        nonce: &str,
        expires_at: i64,
    ) -> ApprovalRequest {
        ApprovalRequest {
            v: 1,
            hub: self.config.hub.id.clone(),
            intent: row.id.clone(),
            nonce: nonce.to_owned(),
            expires_at,
            item: item.id.clone(),
            item_name: item.name.clone(),
            product: row.product.clone(),
            packages: row.packages,
            quantity: row.quantity,
            unit: item.unit.clone(),
            unit_price: row.unit_price,
            price_ceiling: row.price_ceiling,
            currency: row.currency.clone(),
            approvals_required: row.approvals_required,
            why: row.why.clone(),
            reply_topic: self.topics.approval_reply(&row.id),
        }
    }

    /// Signs the intent with the hub key and queues it for upstream.
    fn enqueue_intent(
        &self,
        tx: &Tx<'_>,
        row: &IntentRow,
        evidence: Evidence,
        now: i64,
    ) -> store::Result<()> {
        let signed = intent::sign_intent(
            &self.hub_key,
            &Intent {
                id: row.id.clone(),
                hub: self.config.hub.id.clone(),
                product: row.product.clone(),
                packages: row.packages,
                price_ceiling: row.price_ceiling,
                currency: row.currency.clone(),
                deliver_after: row.deliver_after,
                deliver_before: row.deliver_before,
                evidence,
                issued_at: now,
            },
        );
        tracing::info!(intent = %row.id, item = %row.item, packages = row.packages, "intent signed and queued for upstream");
        self.queue_upstream(tx, "intent", &row.id, &signed, now)
    }

    /// Withdraws an approval request: drops it if it has not gone out, and
    /// clears the retained message in any case (the relay may have the
    /// request in flight; clearing a topic that holds nothing is harmless).
    fn clear_request(&self, tx: &Tx<'_>, intent_id: &str, now: i64) -> store::Result<()> {
        tx.cancel_unsent(intent_id, "approval_request", now)?;
        queue_request_clear(tx, &self.topics, intent_id, now)
    }

    /// Local wall-clock facts the rules need.
    fn local(&self, now: i64) -> Local {
        let zoned = jiff::Timestamp::from_second(now)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned_datetime(self.tz.clone());
        let minute_of_day = (zoned.hour() as u16) * 60 + zoned.minute() as u16;
        Local {
            minute_of_day,
            month_start: crate::clock::month_start(&self.tz, now),
        }
    }
}

/// An answer to a pending intent that passed its channel's checks: a
/// member's verified reply or a trusted Home Assistant press.
struct Answer<'a> {
    /// The approver's name in the approvals table (one answer each).
    member: &'a str,
    /// Who decided, for the ledger and the intent (`member:…`, `ha:…`).
    by: String,
    /// Approve or deny.
    verdict: approval::MemberVerdict,
    /// The bytes kept as evidence (the signed reply, or the press record).
    envelope: &'a [u8],
    /// Counter bumped when the answer is refused as a repeat.
    counter: &'static str,
}

/// How one message was handled (when not refused).
#[derive(Debug, Clone, PartialEq)]
enum Handled {
    /// A new observation for this item.
    Stored(String),
    /// An adapter device's payload yielded observations for these items.
    Derived(Vec<String>),
    /// Already seen; ignored.
    Duplicate,
    /// Applied (reply, ack) with nothing for the forecaster.
    Done,
    /// Changed every item (presence): decide for all of them.
    AllItems,
    /// Erased data (forget): the writer scrubs the file after the commit.
    Forgot,
}

/// Queues an empty retained message on `intent_id`'s approval request
/// topic, so apps stop showing it.
pub(crate) fn queue_request_clear(
    tx: &Tx<'_>,
    topics: &Topics,
    intent_id: &str,
    now: i64,
) -> store::Result<()> {
    tx.enqueue(
        &NewOutbox {
            kind: "approval_clear",
            topic: &topics.approval_request(intent_id),
            payload: &[],
            retain: true,
            intent_id: Some(intent_id),
            not_before: now,
        },
        now,
    )?;
    Ok(())
}

/// Appends a decision about `intent` to the ledger (same transaction).
fn record(
    tx: &Tx<'_>,
    intent: &IntentRow,
    verdict: Outcome,
    by: &str,
    rules: Vec<String>,
    replies: Vec<String>,
    now: i64,
) -> store::Result<()> {
    tx.ledger_append(
        ledger::Kind::Decision,
        &ledger::Decision {
            intent: intent.id.clone(),
            item: intent.item.clone(),
            verdict,
            by: by.to_owned(),
            packages: intent.packages,
            price_ceiling: intent.price_ceiling,
            currency: intent.currency.clone(),
            rules,
            replies,
        },
        now,
    )?;
    Ok(())
}

/// Local time facts.
struct Local {
    minute_of_day: u16,
    month_start: i64,
}

/// The first reason of a price-guard replacement starts with this.
const PRICE_GUARD_WHY: &str = "held by the price guard: ";

/// How a shop's quote breaks an intent's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breach {
    /// Another product than the one approved.
    Product,
    /// Another currency.
    Currency,
    /// More than the ceiling.
    Price,
}

impl Breach {
    fn reason(self) -> CancelReason {
        match self {
            Breach::Product => CancelReason::SubstitutedProduct,
            Breach::Currency => CancelReason::CurrencyMismatch,
            Breach::Price => CancelReason::PriceAboveCeiling,
        }
    }

    fn describe(self, row: &IntentRow, quote: &intent::Quote) -> String {
        let price = quote.total.map(|t| {
            format!(
                "{t:.2} {}",
                quote.currency.as_deref().unwrap_or(&row.currency)
            )
        });
        match self {
            Breach::Product => format!(
                "the shop would deliver {} instead of {}{}",
                quote.product.as_deref().unwrap_or(""),
                row.product,
                price.map_or(String::new(), |p| format!(" (at {p})"))
            ),
            Breach::Currency => format!(
                "the shop priced it in {} instead of {}",
                quote.currency.as_deref().unwrap_or(""),
                row.currency
            ),
            Breach::Price => format!(
                "the shop quoted {} for {} × {}, above the {:.2} {} ceiling",
                price.unwrap_or_default(),
                row.packages,
                row.product,
                row.price_ceiling,
                row.currency
            ),
        }
    }
}

/// The price guard (pure): whether `quote` breaks the intent's terms.
/// A substituted product, another currency, or a total above the ceiling
/// (ceilings are whole cents) each do; parts the shop did not state pass.
/// (`total` is finite: the ack decoder refuses anything else.)
fn price_guard(row: &IntentRow, quote: &intent::Quote) -> Option<Breach> {
    if quote.product.as_ref().is_some_and(|p| *p != row.product) {
        return Some(Breach::Product);
    }
    if quote
        .currency
        .as_ref()
        .is_some_and(|c| !c.eq_ignore_ascii_case(&row.currency))
    {
        return Some(Breach::Currency);
    }
    if quote.total.is_some_and(|t| t > row.price_ceiling + 1e-9) {
        return Some(Breach::Price);
    }
    None
}

/// Rounds money up to whole cents (a ceiling must not round down).
fn round_cents(amount: f64) -> f64 {
    (amount * 100.0 - 1e-9).ceil() / 100.0
}

/// Every item with its current forecast (`None` before any observation).
pub fn forecasts(
    config: &Config,
    store: &crate::store::Store,
    now: i64,
) -> anyhow::Result<Vec<(crate::config::Item, Option<crate::core::forecast::Forecast>)>> {
    let read = store.read();
    config
        .items
        .iter()
        .map(|item| {
            let fc = read
                .item_state(&item.id)?
                .map(|s| crate::core::forecast::forecast(&item.model, &s, now));
            Ok((item.clone(), fc))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_ceilings_round_up_to_cents() {
        assert_eq!(round_cents(2.42), 2.42);
        assert_eq!(round_cents(2.421), 2.43);
        assert_eq!(round_cents(0.0), 0.0);
    }

    #[test]
    fn the_price_guard_checks_every_part_the_shop_states() {
        let row = IntentRow {
            id: "i".into(),
            item: "milk".into(),
            state: IntentState::Sent,
            product: "sku-milk".into(),
            packages: 2,
            quantity: 2.0,
            unit_price: 1.0,
            price_ceiling: 2.2,
            currency: "EUR".into(),
            deliver_after: 0,
            deliver_before: 0,
            nonce: None,
            prompt_at: None,
            expires_at: None,
            approvals_required: 0,
            why: Vec::new(),
            decided_by: None,
            created_at: 0,
            updated_at: 0,
        };
        let quote =
            |total: Option<f64>, currency: Option<&str>, product: Option<&str>| intent::Quote {
                total,
                currency: currency.map(str::to_owned),
                product: product.map(str::to_owned),
            };
        assert_eq!(price_guard(&row, &quote(None, None, None)), None);
        assert_eq!(
            price_guard(&row, &quote(Some(2.2), Some("EUR"), Some("sku-milk"))),
            None
        );
        assert_eq!(
            price_guard(&row, &quote(Some(2.2), Some("eur"), None)),
            None
        );
        assert_eq!(
            price_guard(&row, &quote(Some(2.201), None, None)),
            Some(Breach::Price),
            "not even a tenth of a cent above the signed ceiling"
        );
        assert_eq!(
            price_guard(&row, &quote(Some(1.0), Some("USD"), None)),
            Some(Breach::Currency)
        );
        assert_eq!(
            price_guard(&row, &quote(Some(1.0), None, Some("sku-oat"))),
            Some(Breach::Product)
        );
        let text = Breach::Price.describe(&row, &quote(Some(3.1), None, None));
        assert_eq!(
            text,
            "the shop quoted 3.10 EUR for 2 × sku-milk, above the 2.20 EUR ceiling"
        );
    }

    #[test]
    fn reply_topics_name_exactly_one_intent() {
        let topics = Topics {
            status: String::new(),
            control: String::new(),
            approvals_prefix: "larder/home/approvals/".into(),
            replies_filter: String::new(),
            upstream: String::new(),
            upstream_acks: String::new(),
        };
        assert_eq!(
            topics.reply_intent("larder/home/approvals/abc/reply"),
            Some("abc")
        );
        assert_eq!(topics.reply_intent("larder/home/approvals//reply"), None);
        assert_eq!(topics.reply_intent("larder/home/approvals/a/b/reply"), None);
        assert_eq!(topics.reply_intent("larder/home/approvals/abc"), None);
        assert_eq!(
            topics.reply_intent("larder/other/approvals/abc/reply"),
            None
        );
    }
}
