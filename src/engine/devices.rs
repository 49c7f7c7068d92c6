//! Device messages: a native device's event (checked against its topic and
//! slot, de-duplicated by `(device, epoch, seq)`, gaps in the sequence
//! counted) and a foreign device's payload run through its adapter's state
//! machines (`protocol::adapters`), whose state is saved in the batch's
//! transaction. [`Engine::tick_devices`] confirms time-based transitions.

use super::handled::{Handled, Refusal};
use super::{Engine, Inbound};
use crate::config::Device;
use crate::core::{DAY, Observation, ObservationKind, signals};
use crate::protocol::adapters;
use crate::protocol::events::{self, EventKind};
use crate::store::{self, Inserted, NewObservation, Store, Tx};

/// Accepted clock skew of device timestamps into the future, in seconds.
const MAX_FUTURE_SKEW_SECS: i64 = 300;

/// Oldest device timestamp taken at face value, relative to now.
const MAX_EVENT_AGE_SECS: i64 = 30 * DAY;

impl Engine {
    /// A native device's event: decode, check it names the device of its
    /// topic and a configured slot, store it (a repeat of its
    /// `(device, epoch, seq)` is a duplicate), track the sequence and fold
    /// the observation into the item.
    pub(super) fn ingest_event(
        &self,
        tx: &Tx<'_>,
        device: &Device,
        msg: &Inbound<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let event = match events::decode_event(device.format, msg.payload) {
            Ok(event) => event,
            Err(events::WireError::NotNeeded { kind, id }) => {
                // Data minimisation: counted, acked, never stored. Its place
                // in the device's sequence is recorded all the same, or the
                // next event would look like one after a lost event.
                tracing::debug!(device = %device.id, kind, "event not needed; dropped");
                tx.bump("events_not_needed", 1)?;
                if let Some(id) = id.filter(|id| id.device == device.id) {
                    track_sequence(tx, device, id.epoch, id.seq)?;
                }
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
        let observed_at = device_time(tx, device, event.ts, now)?;
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
        track_sequence(tx, device, event.epoch, event.seq)?;
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
    pub(super) fn ingest_adapter(
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
        let at = device_time(tx, device, reading.at, now)?;
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

    /// The device's saved adapter state, or a fresh one.
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

    /// Saves the device's adapter state in `tx`.
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
}

/// Records `(epoch, seq)` as the device's latest event (if it is newer)
/// and counts a jump past the next number within the epoch as a gap: events
/// lost before they reached larder (`sequence_gaps`, `sequence_missing`).
/// Every event a device numbers goes through here, needed or not.
fn track_sequence(tx: &Tx<'_>, device: &Device, epoch: u64, seq: u64) -> store::Result<()> {
    if let Some((last_epoch, last)) = tx.advance_device_seq(&device.id, epoch, seq)? {
        if last_epoch == epoch && seq > last.saturating_add(1) {
            let missing = seq - last - 1;
            tracing::warn!(device = %device.id, epoch, after = last, next = seq, missing, "sequence gap: events may have been lost before reaching larder");
            tx.bump("sequence_gaps", 1)?;
            tx.bump("sequence_missing", missing)?;
        }
    }
    Ok(())
}

/// When a device says something happened: its own timestamp when it is
/// plausible (at most `MAX_FUTURE_SKEW_SECS` ahead, `MAX_EVENT_AGE_SECS`
/// old), else the receive time, counted as `device_clock_skew`.
fn device_time(tx: &Tx<'_>, device: &Device, ts: Option<i64>, now: i64) -> store::Result<i64> {
    Ok(match ts {
        Some(ts) if ts <= now + MAX_FUTURE_SKEW_SECS && ts >= now - MAX_EVENT_AGE_SECS => ts,
        Some(ts) => {
            tracing::warn!(device = %device.id, ts, now, "device clock looks wrong; using receive time");
            tx.bump("device_clock_skew", 1)?;
            now
        }
        None => now,
    })
}
