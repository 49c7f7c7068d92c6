//! Deciding: expiring unanswered requests, then for each item the
//! forecast, the proposal, the household's rules, and what follows from
//! the verdict (an intent signed and queued, an approval request, or a
//! refusal), plus vendor top-ups. The calculations are the pure core's
//! (`core::forecast`, `core::rules`); this file reads and writes the store.

use super::Engine;
use super::outbox::UpstreamMessage;
use super::record::record;
use crate::config::Item;
use crate::core::DAY;
use crate::core::forecast::{self, Measure};
use crate::core::rules::{self, Verdict};
use crate::crypto::keys;
use crate::ledger::{self, Outcome};
use crate::protocol::intent::Evidence;
use crate::store::{self, IntentRow, IntentState, Store, Tx};

/// How long after a denied, refused or expired intent the item is left
/// alone before larder proposes it again.
pub const COOLDOWN_SECS: i64 = DAY;

impl Engine {
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
                    &ledger::PresenceEntry {
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

    /// Expires approval requests left unanswered past their time: the
    /// intent closes as `expired`, the request is cleared, and the item is
    /// snoozed for a day.
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
                self.enqueue_upstream(
                    tx,
                    &row,
                    UpstreamMessage::Intent(Evidence::Rule(first_rule.to_owned())),
                    now,
                )?;
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
                self.enqueue_request(tx, &request, prompt_at, now)?;
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
    pub(super) fn apply_rules(
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

/// Local time facts.
struct Local {
    /// Minutes since local midnight.
    minute_of_day: u16,
    /// When the local calendar month began (Unix seconds).
    month_start: i64,
}

/// Rounds money up to whole cents (a ceiling must not round down).
pub(super) fn round_cents(amount: f64) -> f64 {
    (amount * 100.0 - 1e-9).ceil() / 100.0
}
