//! The shop: verifies the hub's signed intents and cancellations,
//! acknowledges them, and delivers during the day once the lead time has
//! passed.

use super::HOUR;
use super::timeline::{line, short_time};
use super::world::DemoWorld;
use crate::core::DAY;
use crate::protocol::intent::{self, AckStatus, Evidence, UpstreamAck};
use anyhow::Context as _;
use rumqttc::QoS;

impl DemoWorld {
    /// The shop reacts to a message on the upstream topic.
    pub(super) async fn shop_receives(&mut self, payload: &[u8], now: i64) -> anyhow::Result<()> {
        let intent = match intent::verify_upstream(payload, &self.hub_public)
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
        Ok(())
    }

    /// Tells larder the shop accepted or delivered intent `intent_id`.
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
    pub(super) async fn deliver_due(&mut self, now: i64) -> anyhow::Result<()> {
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
}
