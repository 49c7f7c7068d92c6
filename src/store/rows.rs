//! The rows larder reads and writes through the store: intents and their
//! [`IntentState`], observations and their daily aggregates, the outbox,
//! presence, member replies, dead letters and what a forget erased; and
//! the column list and row mappers the reads and writes share.

use super::sealing::ObservationSecret;

/// Intent lifecycle states as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentState {
    /// Waiting for household approval.
    AwaitingApproval,
    /// Approved; the signed intent is in the outbox.
    Approved,
    /// The broker acknowledged the signed intent.
    Sent,
    /// The shop accepted it.
    Accepted,
    /// The goods arrived (terminal).
    Delivered,
    /// A member denied it (terminal).
    Denied,
    /// The rules refused it (terminal).
    Refused,
    /// Nobody answered in time (terminal).
    Expired,
    /// The shop rejected it (terminal).
    Rejected,
    /// A member cancelled it inside the cancellation window (terminal; a
    /// signed cancellation went upstream if the intent had left).
    Cancelled,
    /// The price guard stopped it: the shop's quote was above the ceiling
    /// or for another product (terminal; a signed cancellation went
    /// upstream and a replacement, if any, waits for the household).
    Held,
}

impl IntentState {
    /// All states, for parsing.
    const ALL: [IntentState; 11] = [
        IntentState::AwaitingApproval,
        IntentState::Approved,
        IntentState::Sent,
        IntentState::Accepted,
        IntentState::Delivered,
        IntentState::Denied,
        IntentState::Refused,
        IntentState::Expired,
        IntentState::Rejected,
        IntentState::Cancelled,
        IntentState::Held,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentState::AwaitingApproval => "awaiting_approval",
            IntentState::Approved => "approved",
            IntentState::Sent => "sent",
            IntentState::Accepted => "accepted",
            IntentState::Delivered => "delivered",
            IntentState::Denied => "denied",
            IntentState::Refused => "refused",
            IntentState::Expired => "expired",
            IntentState::Rejected => "rejected",
            IntentState::Cancelled => "cancelled",
            IntentState::Held => "held",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<IntentState> {
        IntentState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the intent still blocks a new one for the same item.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IntentState::AwaitingApproval
                | IntentState::Approved
                | IntentState::Sent
                | IntentState::Accepted
        )
    }
}

/// One intent row.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentRow {
    /// Idempotency key (32 hex digits).
    pub id: String,
    /// Item id.
    pub item: String,
    /// Lifecycle state.
    pub state: IntentState,
    /// Product / SKU.
    pub product: String,
    /// Whole packages.
    pub packages: u32,
    /// Amount in the item's unit.
    pub quantity: f64,
    /// Price per package.
    pub unit_price: f64,
    /// Most the order may cost.
    pub price_ceiling: f64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Earliest delivery (Unix seconds).
    pub deliver_after: i64,
    /// Latest delivery (Unix seconds).
    pub deliver_before: i64,
    /// Approval nonce (hex), for asked intents.
    pub nonce: Option<String>,
    /// When the approval prompt may go out, for asked intents.
    pub prompt_at: Option<i64>,
    /// When the approval request expires, for asked intents.
    pub expires_at: Option<i64>,
    /// Distinct member approvals needed.
    pub approvals_required: u32,
    /// Reasons: the forecast's, then the rules'.
    pub why: Vec<String>,
    /// Who decided: `rule:<name>`, `members`, `member:<name>`, `expiry`, `shop`.
    pub decided_by: Option<String>,
    /// Created (Unix seconds).
    pub created_at: i64,
    /// Last state change (Unix seconds).
    pub updated_at: i64,
}

/// A new observation to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObservation<'a> {
    /// Device id.
    pub device: &'a str,
    /// Device boot epoch.
    pub epoch: u64,
    /// Sequence number in the epoch.
    pub seq: u64,
    /// Item id.
    pub item: &'a str,
    /// Wire kind name.
    pub kind: &'a str,
    /// Amount in the item's unit.
    pub amount: f64,
    /// When it was observed.
    pub observed_at: i64,
    /// When larder received it.
    pub received_at: i64,
}

/// One stored observation.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationRow {
    /// Device id.
    pub device: String,
    /// Wire kind name.
    pub kind: String,
    /// Amount in the item's unit.
    pub amount: f64,
    /// When it was observed.
    pub observed_at: i64,
}

/// A message waiting for (or done with) the outbound relay.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Row id (FIFO order).
    pub id: i64,
    /// `approval_request`, `approval_clear` or `intent`.
    pub kind: String,
    /// Topic.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Publish retained.
    pub retain: bool,
    /// The intent it concerns.
    pub intent_id: Option<String>,
    /// Not to be published before (Unix seconds).
    pub not_before: i64,
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox<'a> {
    /// `approval_request`, `approval_clear`, `intent` or `cancel`.
    pub kind: &'a str,
    /// Topic.
    pub topic: &'a str,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// Publish retained.
    pub retain: bool,
    /// The intent it concerns.
    pub intent_id: Option<&'a str>,
    /// Not to be published before (Unix seconds).
    pub not_before: i64,
}

/// Whether the household is away or has guests (one row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Presence {
    /// Away since (Unix seconds), if paused.
    pub paused_since: Option<i64>,
    /// Automatic resume time, if one was given.
    pub paused_until: Option<i64>,
    /// Declared guest consumption factor, if any.
    pub guests_factor: Option<f64>,
    /// Until when the guests stay.
    pub guests_until: Option<i64>,
}

/// A member's accepted reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRow {
    /// Intent id.
    pub intent_id: String,
    /// Member name.
    pub member: String,
    /// `approve` or `deny`.
    pub verdict: String,
    /// SHA-256 of the envelope.
    pub digest: Vec<u8>,
    /// The signed COSE envelope as received.
    pub envelope: Vec<u8>,
    /// When it was accepted.
    pub received_at: i64,
}

/// A refused inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterRow {
    /// When it arrived.
    pub received_at: i64,
    /// Topic it arrived on.
    pub topic: String,
    /// Full size in bytes.
    pub size: usize,
    /// Why it was refused.
    pub reason: String,
}

/// What a forget erased (counts only; see `Tx::forget_item`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forgotten {
    /// Observations deleted.
    pub observations: u64,
    /// Daily aggregate rows deleted.
    pub days: u64,
    /// Intents deleted.
    pub intents: u64,
    /// Intents that were awaiting approval (their retained requests should
    /// be cleared on the broker).
    pub awaiting: Vec<String>,
    /// Member replies deleted.
    pub approvals: u64,
    /// Outbox rows deleted.
    pub outbox: u64,
    /// Dead letters deleted.
    pub dead_letters: u64,
    /// Ledger bodies erased.
    pub redacted: usize,
    /// Whether an encryption key was destroyed.
    pub key: bool,
    /// The `forget` ledger entry's number.
    pub ledger_seq: i64,
}

/// What happened to an inserted observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored.
    New,
    /// Already stored (same device, epoch, seq); ignored.
    Duplicate,
}

/// One item's observations of one UTC day, compacted (see
/// `Tx::compact_observations`). Sealed under the item's key.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DayAggregate {
    /// Day number (Unix seconds / 86 400, UTC).
    pub day: i64,
    /// Observations folded in.
    pub count: u64,
    /// Sum of `consumed` amounts and washer doses.
    pub consumed: f64,
    /// Sum of `added` amounts.
    pub added: f64,
    /// Sum of `removed` amounts.
    pub removed: f64,
    /// The day's last level reading, if any.
    pub last_level: Option<f64>,
    /// When that level was read (Unix seconds).
    pub last_level_at: Option<i64>,
}

impl DayAggregate {
    /// Folds one observation of the day into this aggregate.
    pub(super) fn fold(&mut self, obs: &ObservationSecret) {
        self.count += 1;
        match obs.kind.as_str() {
            "consumed" | "washer_cycle" => self.consumed += obs.amount,
            "added" => self.added += obs.amount,
            "removed" => self.removed += obs.amount,
            "level" if self.last_level_at.is_none_or(|at| obs.observed_at >= at) => {
                self.last_level = Some(obs.amount);
                self.last_level_at = Some(obs.observed_at);
            }
            _ => {}
        }
    }

    /// Folds another partial aggregate of the same day into this one.
    pub fn merge(&mut self, other: &DayAggregate) {
        self.count += other.count;
        self.consumed += other.consumed;
        self.added += other.added;
        self.removed += other.removed;
        if let (Some(level), Some(at)) = (other.last_level, other.last_level_at) {
            if self.last_level_at.is_none_or(|mine| at >= mine) {
                self.last_level = Some(level);
                self.last_level_at = Some(at);
            }
        }
    }
}

/// Columns of an intent row, in `intent_from_row` order.
pub(super) const INTENT_COLUMNS: &str = "id, item, state, product, packages, quantity, unit_price, \
     price_ceiling, currency, deliver_after, deliver_before, nonce, prompt_at, expires_at, \
     approvals_required, why, decided_by, created_at, updated_at";

/// An intent row from `SELECT {INTENT_COLUMNS}`.
pub(super) fn intent_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<IntentRow> {
    let state: String = row.get(2)?;
    let why: String = row.get(15)?;
    Ok(IntentRow {
        id: row.get(0)?,
        item: row.get(1)?,
        state: IntentState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown intent state {state:?}").into(),
            )
        })?,
        product: row.get(3)?,
        packages: row.get(4)?,
        quantity: row.get(5)?,
        unit_price: row.get(6)?,
        price_ceiling: row.get(7)?,
        currency: row.get(8)?,
        deliver_after: row.get(9)?,
        deliver_before: row.get(10)?,
        nonce: row.get(11)?,
        prompt_at: row.get(12)?,
        expires_at: row.get(13)?,
        approvals_required: row.get(14)?,
        why: serde_json::from_str(&why).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(15, rusqlite::types::Type::Text, e.into())
        })?,
        decided_by: row.get(16)?,
        created_at: row.get(17)?,
        updated_at: row.get(18)?,
    })
}

/// An outbox row from `SELECT id, kind, topic, payload, retain, intent_id, not_before`.
pub(super) fn outbox_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: row.get(0)?,
        kind: row.get(1)?,
        topic: row.get(2)?,
        payload: row.get(3)?,
        retain: row.get(4)?,
        intent_id: row.get(5)?,
        not_before: row.get(6)?,
    })
}
