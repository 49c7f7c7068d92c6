//! Shop acknowledgements on the upstream acks topic: quoted, accepted,
//! delivered, rejected, each moving the intent along its states (a late or
//! repeated one is counted, not applied). Every quote first passes the pure
//! [`price_guard`]; a breach holds the order ([`Engine::hold`]).

use super::decide::round_cents;
use super::handled::{Handled, Refusal};
use super::outbox::UpstreamMessage;
use super::record::record;
use super::{Engine, Inbound};
use crate::core::forecast::Measure;
use crate::core::rules::Verdict;
use crate::core::{Observation, ObservationKind};
use crate::crypto::keys;
use crate::ledger::Outcome;
use crate::protocol::intent::{self, AckStatus, CancelReason};
use crate::store::{self, IntentRow, IntentState, Tx};

impl Engine {
    /// A shop's acknowledgement of an intent (`protocol::intent::decode_ack`).
    pub(super) fn apply_ack(
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
        self.enqueue_upstream(tx, row, UpstreamMessage::Cancel(breach.reason()), now)?;
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
        self.enqueue_request(tx, &request, not_before, now)
    }
}

/// The first reason of a price-guard replacement starts with this.
const PRICE_GUARD_WHY: &str = "held by the price guard: ";

/// How a shop's quote breaks an intent's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Breach {
    /// Another product than the one approved.
    Product,
    /// Another currency.
    Currency,
    /// More than the ceiling.
    Price,
}

impl Breach {
    /// The reason the signed cancellation gives the shop.
    fn reason(self) -> CancelReason {
        match self {
            Breach::Product => CancelReason::SubstitutedProduct,
            Breach::Currency => CancelReason::CurrencyMismatch,
            Breach::Price => CancelReason::PriceAboveCeiling,
        }
    }

    /// What broke, for the log, the ledger and the replacement's reasons.
    pub(super) fn describe(self, row: &IntentRow, quote: &intent::Quote) -> String {
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
pub(super) fn price_guard(row: &IntentRow, quote: &intent::Quote) -> Option<Breach> {
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
