//! Answers to a pending approval request. Two front-ends take them: a
//! member's signed reply on the request's reply topic ([`Engine::apply_reply`])
//! and, with `homeassistant.trusted-approvals`, a Home Assistant button
//! press ([`Engine::apply_ha_press`]). Both end in one path
//! ([`Engine::answer_pending`]): the intent exists, awaits approval (and for
//! a reply, the nonce matches), and has not expired; then the answer is
//! recorded once per approver and applied (a denial denies, the quorum of
//! approvals approves and the intent goes upstream).

use super::handled::{Handled, Refusal};
use super::outbox::UpstreamMessage;
use super::record::record;
use super::{Engine, Inbound};
use crate::core::forecast;
use crate::crypto::keys;
use crate::homeassistant::{PRESS_PAYLOAD, Press};
use crate::ledger::Outcome;
use crate::protocol::approval::{self, ReplyClaims};
use crate::protocol::intent::Evidence;
use crate::store::{self, ApprovalRow, IntentRow, IntentState, Tx};

impl Engine {
    /// A member's signed reply on the reply topic of `topic_intent`: not
    /// retained, verified (`approval::open_reply`: signature, member may
    /// approve, hub), and for the intent its topic names; then
    /// [`Engine::answer_pending`], which also checks its nonce.
    pub(super) fn apply_reply(
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
        let answer = Answer {
            intent_id: &claims.intent,
            from: Answerer::Member {
                name: &claims.member,
                nonce: &claims.nonce,
            },
            verdict: claims.verdict,
            envelope: msg.payload,
        };
        self.answer_pending(tx, &answer, now)
    }

    /// A Home Assistant approve/deny button press (`homeassistant.trusted-approvals`):
    /// counts as one reply by `homeassistant.approver`, under the same
    /// checks as a member's reply except the signature and nonce (the
    /// broker's ACL is the only guard; `docs/homeassistant.md`).
    pub(super) fn apply_ha_press(
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
            "intent": intent_id,
            "verdict": press.as_str(),
            "received_at": now,
        }))
        .unwrap_or_default();
        let answer = Answer {
            intent_id,
            from: Answerer::HomeAssistant {
                approver: &ha.approver,
            },
            verdict,
            envelope: &envelope,
        };
        self.answer_pending(tx, &answer, now)
    }

    /// The path every answer takes once its front-end has checked what is
    /// particular to its channel: the intent exists and awaits approval, a
    /// member's reply carries the request's nonce, the request has not
    /// expired; then [`Engine::accept_answer`].
    fn answer_pending(
        &self,
        tx: &Tx<'_>,
        answer: &Answer<'_>,
        now: i64,
    ) -> store::Result<Result<Handled, Refusal>> {
        let refuse = |reason: String| Ok(Err(Refusal::new(answer.from.counter(), reason)));
        let Some(intent) = tx.read().intent(answer.intent_id)? else {
            return refuse(answer.from.unknown_intent(answer.intent_id));
        };
        if intent.state != IntentState::AwaitingApproval {
            return refuse(format!(
                "intent {} is {}, not awaiting approval ({})",
                intent.id,
                intent.state.as_str(),
                answer.from.late()
            ));
        }
        if let Answerer::Member { name, nonce } = answer.from {
            if intent.nonce.as_deref() != Some(keys::to_hex(nonce).as_str()) {
                return refuse(format!(
                    "reply from {name} carries a stale or wrong nonce for intent {}",
                    intent.id
                ));
            }
        }
        if let Some(expires_at) = intent.expires_at {
            if now > expires_at {
                return refuse(format!(
                    "request for intent {} expired at {expires_at}; {} is too late",
                    intent.id,
                    answer.from.sender()
                ));
            }
        }
        self.accept_answer(tx, &intent, answer, now)
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
        let member = answer.from.name();
        let recorded = tx.record_approval(&ApprovalRow {
            intent_id: intent.id.clone(),
            member: member.to_owned(),
            verdict: verdict.into(),
            digest: approval::reply_digest(answer.envelope).to_vec(),
            envelope: answer.envelope.to_vec(),
            received_at: now,
        })?;
        if !recorded {
            return Ok(Err(Refusal::new(
                answer.from.counter(),
                format!(
                    "replayed reply: {} already answered intent {}",
                    member, intent.id
                ),
            )));
        }
        let reply_digest = keys::to_hex(&approval::reply_digest(answer.envelope));
        let by = answer.from.by();
        let by = by.as_str();
        let logged = match answer.verdict {
            approval::MemberVerdict::Approve => Outcome::MemberApproved,
            approval::MemberVerdict::Deny => Outcome::MemberDenied,
        };
        record(tx, intent, logged, by, Vec::new(), vec![reply_digest], now)?;
        match answer.verdict {
            approval::MemberVerdict::Deny => {
                tracing::info!(intent = %intent.id, item = %intent.item, %member, "denied by member");
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
                tracing::info!(intent = %intent.id, item = %intent.item, %member, have = approvals.len(), need = intent.approvals_required, "approved by member");
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
                    self.enqueue_upstream(
                        tx,
                        intent,
                        UpstreamMessage::Intent(Evidence::Members(digests)),
                        now,
                    )?;
                    self.clear_request(tx, &intent.id, now)?;
                    self.learn(tx, &intent.item, forecast::Feedback::Approved, now)?;
                }
            }
        }
        Ok(Ok(Handled::Done))
    }
}

/// An answer to a pending intent, as its channel's front-end decoded it.
struct Answer<'a> {
    /// The intent it answers.
    intent_id: &'a str,
    /// Who answered, through which channel.
    from: Answerer<'a>,
    /// Approve or deny.
    verdict: approval::MemberVerdict,
    /// The bytes kept as evidence (the signed reply, or the press record).
    envelope: &'a [u8],
}

/// Who answered a pending request, and through which channel: decides the
/// name in the approvals table, the `by` of the ledger, the counter and the
/// wording of a refusal, and whether a nonce is checked.
#[derive(Debug, Clone, Copy)]
enum Answerer<'a> {
    /// A member, by a verified reply that carries the request's nonce.
    Member {
        /// The member (the reply's COSE `kid`).
        name: &'a str,
        /// The nonce the reply carries (raw bytes).
        nonce: &'a [u8],
    },
    /// `homeassistant.approver`, by a trusted button press (no signature,
    /// no nonce).
    HomeAssistant {
        /// The configured approver.
        approver: &'a str,
    },
}

impl<'a> Answerer<'a> {
    /// The approver's name in the approvals table (one answer each).
    fn name(self) -> &'a str {
        match self {
            Answerer::Member { name, .. } => name,
            Answerer::HomeAssistant { approver } => approver,
        }
    }

    /// Who decided, for the ledger and the intent (`member:…`, `ha:…`).
    fn by(self) -> String {
        match self {
            Answerer::Member { name, .. } => format!("member:{name}"),
            Answerer::HomeAssistant { approver } => format!("ha:{approver}"),
        }
    }

    /// The counter a refused answer bumps besides `dead_letters`.
    fn counter(self) -> &'static str {
        match self {
            Answerer::Member { .. } => "refused_replies",
            Answerer::HomeAssistant { .. } => "refused_ha_presses",
        }
    }

    /// Why an answer for an intent larder does not know is refused.
    fn unknown_intent(self, intent_id: &str) -> String {
        match self {
            Answerer::Member { .. } => format!("unknown intent {intent_id}"),
            Answerer::HomeAssistant { .. } => format!("press for unknown intent {intent_id}"),
        }
    }

    /// What an answer to an intent no longer pending probably is.
    fn late(self) -> String {
        match self {
            Answerer::Member { name, .. } => format!("replayed or late reply from {name}"),
            Answerer::HomeAssistant { approver } => {
                format!("late or repeated press by {approver}")
            }
        }
    }

    /// The answer and its sender, for a refusal (`reply from …`, `press by …`).
    fn sender(self) -> String {
        match self {
            Answerer::Member { name, .. } => format!("reply from {name}"),
            Answerer::HomeAssistant { approver } => format!("press by {approver}"),
        }
    }
}
