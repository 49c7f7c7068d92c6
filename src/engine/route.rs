//! Routing: what the ingest connection subscribes to, one transaction per
//! batch, and the dispatch of each message by topic to its handler. A
//! refusal becomes a dead letter here, in the batch's transaction.

use super::handled::{Handled, Refusal};
use super::{BatchOutcome, Engine, Inbound, Refused};
use crate::config::Device;
use crate::store::{self, Store, Tx};

impl Engine {
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
                    // The daemon logs refusals in bursts (`refusal_log`).
                    tracing::debug!(topic = msg.topic, bytes = msg.size, reason = %refusal.reason, "refused inbound message");
                    // A refused control message is kept without its payload:
                    // a forget names the item it erases.
                    let kept = if msg.topic == self.topics.control {
                        &[][..]
                    } else {
                        msg.payload
                    };
                    tx.dead_letter(msg.topic, kept, msg.size, &refusal.reason, now)?;
                    tx.bump("dead_letters", 1)?;
                    tx.bump(refusal.counter, 1)?;
                    outcome.refused += 1;
                    outcome.refusals.push(Refused {
                        topic: msg.topic.to_owned(),
                        size: msg.size,
                        refusal,
                    });
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
        if msg.size > self.config.mqtt.max_payload_bytes || msg.payload.len() > msg.size {
            return Ok(Err(Refusal::new(
                "refused_oversize",
                format!(
                    "payload of {} bytes exceeds mqtt.max-payload-bytes ({})",
                    msg.size.max(msg.payload.len()),
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
}
