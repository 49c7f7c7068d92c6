//! The outbox, as the engine fills it: hub-signed intents and cancellations
//! for the upstream topic, retained approval requests and their clears, and
//! the broker's PUBACK marks. Rows are written in the caller's transaction
//! (the store appends their ledger entries); the relay publishes them.

use super::Engine;
use crate::config::Item;
use crate::protocol::approval::ApprovalRequest;
use crate::protocol::intent::{self, CancelReason, Cancellation, Evidence, Intent};
use crate::protocol::topics::Topics;
use crate::store::{self, IntentRow, IntentState, NewOutbox, Store, Tx};

/// What the hub signs about an intent and sends upstream.
#[derive(Debug, Clone)]
pub(super) enum UpstreamMessage {
    /// The order itself, with what allowed it (a rule or members' replies).
    Intent(Evidence),
    /// Its withdrawal, under the same id.
    Cancel(CancelReason),
}

impl Engine {
    /// Signs `message` about `row` with the hub key and queues it for the
    /// upstream topic. The only writer of `intent` outbox rows
    /// ([`UpstreamMessage::Intent`]): called from an auto-approve verdict or
    /// from an approval quorum of verified replies.
    pub(super) fn enqueue_upstream(
        &self,
        tx: &Tx<'_>,
        row: &IntentRow,
        message: UpstreamMessage,
        now: i64,
    ) -> store::Result<()> {
        let (kind, signed) = match message {
            UpstreamMessage::Intent(evidence) => {
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
                ("intent", signed)
            }
            UpstreamMessage::Cancel(reason) => {
                let signed = intent::sign_cancel(
                    &self.hub_key,
                    &Cancellation {
                        id: row.id.clone(),
                        hub: self.config.hub.id.clone(),
                        reason,
                        issued_at: now,
                    },
                );
                ("cancel", signed)
            }
        };
        tx.enqueue(
            &NewOutbox {
                kind,
                topic: &self.topics.upstream,
                payload: &signed,
                retain: false,
                intent_id: Some(&row.id),
                not_before: now,
            },
            now,
        )?;
        Ok(())
    }

    /// Queues a retained approval request, published from `not_before` on.
    pub(super) fn enqueue_request(
        &self,
        tx: &Tx<'_>,
        request: &ApprovalRequest,
        not_before: i64,
        now: i64,
    ) -> store::Result<()> {
        let payload = serde_json::to_vec(request).unwrap_or_default();
        tx.enqueue(
            &NewOutbox {
                kind: "approval_request",
                topic: &self.topics.approval_request(&request.intent),
                payload: &payload,
                retain: true,
                intent_id: Some(&request.intent),
                not_before,
            },
            now,
        )?;
        Ok(())
    }

    /// The approval request members' apps show for `row`, which awaits
    /// approval under `nonce` until `expires_at`.
    pub(super) fn approval_request(
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

    /// Withdraws an approval request: drops it if it has not gone out, and
    /// clears the retained message in any case (the relay may have the
    /// request in flight; clearing a topic that holds nothing is harmless).
    pub(super) fn clear_request(
        &self,
        tx: &Tx<'_>,
        intent_id: &str,
        now: i64,
    ) -> store::Result<()> {
        tx.cancel_unsent(intent_id, "approval_request", now)?;
        queue_request_clear(tx, &self.topics, intent_id, now)
    }

    /// Marks an outbox row sent after the broker's PUBACK; a sent intent
    /// moves from `approved` to `sent`.
    pub fn mark_sent(&self, store: &mut Store, outbox_id: i64, now: i64) -> store::Result<()> {
        let tx = store.transaction()?;
        self.mark_sent_in(&tx, outbox_id, now)?;
        tx.commit()
    }

    /// [`Engine::mark_sent`] inside `tx`.
    pub(super) fn mark_sent_in(&self, tx: &Tx<'_>, outbox_id: i64, now: i64) -> store::Result<()> {
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
