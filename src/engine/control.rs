//! Signed household control (`protocol::control`): pause, resume, guests,
//! cancel and forget. Each is verified, checked fresh against the member's
//! last accepted one, applied to presence or the intent, and recorded in
//! the ledger.

use super::handled::{Handled, Refusal};
use super::outbox::UpstreamMessage;
use super::record::record;
use super::{Engine, Inbound};
use crate::core::forecast;
use crate::ledger::{self, Outcome};
use crate::protocol::control;
use crate::protocol::intent::CancelReason;
use crate::store::{self, IntentState, Tx};

impl Engine {
    /// A member's signed pause / resume / guests / cancel / forget message.
    pub(super) fn apply_control(
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
            &ledger::PresenceEntry {
                by: claims.member.clone(),
                command: command.into(),
                until,
                factor,
            },
            now,
        )?;
        Ok(Ok(Handled::AllItems))
    }

    /// Ends a pause: presence forgets it and every item resumes learning.
    pub(super) fn resume(
        &self,
        tx: &Tx<'_>,
        presence: &mut store::Presence,
        now: i64,
    ) -> store::Result<()> {
        presence.paused_since = None;
        presence.paused_until = None;
        self.for_each_item(tx, now, |model, state| forecast::resume(model, state, now))
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
                self.enqueue_upstream(
                    tx,
                    &row,
                    UpstreamMessage::Cancel(CancelReason::Household),
                    now,
                )?;
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
}
