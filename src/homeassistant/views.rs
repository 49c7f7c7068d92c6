//! What Home Assistant is shown: a [`Snapshot`] of item, request and
//! order-event views, each built purely from configuration, rows and time.

use crate::config::{Config, Item};
use crate::core::DAY;
use crate::core::forecast::{self, ItemState};
use crate::ledger;
use crate::ledger::LedgerRow;
use crate::store::{IntentRow, IntentState};

/// Most order events a snapshot carries (the newest); the publisher sends
/// those it has not sent yet. A decision pass over a large household asks
/// for hundreds of orders at once, and every one is an event.
pub const MAX_RECENT_EVENTS: usize = 1024;

/// Every `event_type` the order-events entity can carry.
pub const ORDER_EVENT_TYPES: [&str; 11] = [
    "order_requested",
    "order_approved",
    "order_denied",
    "order_refused",
    "order_expired",
    "order_sent",
    "order_cancelled",
    "order_held",
    "order_accepted",
    "order_delivered",
    "order_rejected",
];

/// What Home Assistant is shown, read from larder's state at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// One per configured item, in configuration order.
    pub items: Vec<ItemView>,
    /// Requests waiting for the household (prompted, not expired).
    pub pending: Vec<PendingView>,
    /// The newest order events (at most [`MAX_RECENT_EVENTS`]), oldest first.
    pub events: Vec<OrderEvent>,
}

/// An item as Home Assistant shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemView {
    /// Item id.
    pub id: String,
    /// Forecast level now, in the item's unit (2 decimals).
    pub level: Option<f64>,
    /// Forecast days until it runs out (1 decimal).
    pub days_left: Option<f64>,
    /// The next order: the open intent, or when larder expects to order.
    pub next_order: NextOrder,
}

/// The next order of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct NextOrder {
    /// When: the open intent's prompt or creation time, or the estimated
    /// time the forecast reaches the reorder level (to the minute).
    pub at: Option<i64>,
    /// `planned`, `none`, or the open intent's state (`awaiting_approval`,
    /// `approved`, `sent`, `accepted`).
    pub status: String,
    /// The open intent's id.
    pub intent: Option<String>,
    /// The open intent's packages.
    pub packages: Option<u32>,
}

/// A pending approval request.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingView {
    /// Intent id.
    pub intent: String,
    /// Item id.
    pub item: String,
    /// Item display name.
    pub item_name: String,
    /// Whole packages.
    pub packages: u32,
    /// Quantity in the item's unit.
    pub quantity: f64,
    /// The item's unit.
    pub unit: String,
    /// Most the order may cost.
    pub price_ceiling: f64,
    /// ISO 4217 currency.
    pub currency: String,
    /// When the request expires (Unix seconds).
    pub expires_at: Option<i64>,
    /// Approvals needed.
    pub approvals_required: u32,
    /// Approvals received so far.
    pub approvals: u32,
}

/// An order event, from a ledger entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEvent {
    /// The ledger entry's sequence number (orders events, never repeats).
    pub seq: i64,
    /// One of [`ORDER_EVENT_TYPES`].
    pub event_type: &'static str,
    /// Intent id.
    pub intent: String,
    /// Item id (empty if the intent is no longer known).
    pub item: String,
    /// Whole packages.
    pub packages: u32,
    /// Who or what decided (`rule:…`, `member:…`, `ha:…`, `shop`, …).
    pub by: String,
    /// When (Unix seconds).
    pub at: i64,
}

/// An item's view at `now`: forecast level and days left, and the next
/// order (the open intent, or when the forecast reaches the reorder level).
pub fn item_view(
    item: &Item,
    state: Option<&ItemState>,
    open: Option<&IntentRow>,
    now: i64,
) -> ItemView {
    let forecast = state.map(|s| forecast::forecast(&item.model, s, now));
    let level = forecast.as_ref().and_then(|f| f.level).map(|l| round(l, 2));
    let days_left = forecast
        .as_ref()
        .and_then(|f| f.days_left)
        .filter(|d| d.is_finite())
        .map(|d| round(d.max(0.0), 1));
    let next_order = match open {
        Some(intent) => NextOrder {
            at: Some(intent.prompt_at.unwrap_or(intent.created_at)),
            status: intent.state.as_str().to_owned(),
            intent: Some(intent.id.clone()),
            packages: Some(intent.packages),
        },
        None => {
            let planned = match (state, forecast.as_ref()) {
                (Some(state), Some(fc)) if fc.rate_per_day > 0.0 => fc.level.and_then(|level| {
                    let at = forecast::reorder_level(&item.model, state, level, now)?;
                    let days = ((level - at) / fc.rate_per_day).max(0.0);
                    let secs = (days * DAY as f64).min(3650.0 * DAY as f64);
                    Some((now + secs as i64) / 60 * 60)
                }),
                _ => None,
            };
            NextOrder {
                at: planned,
                status: if planned.is_some() { "planned" } else { "none" }.to_owned(),
                intent: None,
                packages: None,
            }
        }
    };
    ItemView {
        id: item.id.clone(),
        level,
        days_left,
        next_order,
    }
}

/// A request as listed, if it has been prompted and has not expired.
pub fn pending_view(
    config: &Config,
    row: &IntentRow,
    approvals: u32,
    now: i64,
) -> Option<PendingView> {
    if row.state != IntentState::AwaitingApproval
        || row.prompt_at.is_some_and(|at| at > now)
        || row.expires_at.is_some_and(|at| now > at)
    {
        return None;
    }
    let item = config.item(&row.item);
    Some(PendingView {
        intent: row.id.clone(),
        item: row.item.clone(),
        item_name: item.map_or_else(|| row.item.clone(), |i| i.name.clone()),
        packages: row.packages,
        quantity: row.quantity,
        unit: item.map_or_else(String::new, |i| i.unit.clone()),
        price_ceiling: row.price_ceiling,
        currency: row.currency.clone(),
        expires_at: row.expires_at,
        approvals_required: row.approvals_required,
        approvals,
    })
}

/// The order event a ledger entry stands for, if any (decisions and
/// published intents; partial member approvals and quotes are not events).
pub fn order_event(row: &LedgerRow) -> Option<OrderEvent> {
    let body = row.body.as_deref()?;
    match ledger::Kind::parse(&row.kind)? {
        ledger::Kind::Decision => {
            let decision: ledger::DecisionEntry = serde_json::from_str(body).ok()?;
            use ledger::Outcome;
            let event_type = match decision.verdict {
                Outcome::Asked => "order_requested",
                Outcome::AutoApproved | Outcome::Approved => "order_approved",
                Outcome::MemberDenied => "order_denied",
                Outcome::Refused => "order_refused",
                Outcome::Expired => "order_expired",
                Outcome::MemberCancelled => "order_cancelled",
                Outcome::PriceHeld => "order_held",
                Outcome::ShopAccepted => "order_accepted",
                Outcome::ShopDelivered => "order_delivered",
                Outcome::ShopRejected => "order_rejected",
                Outcome::MemberApproved | Outcome::ShopQuoted => return None,
            };
            Some(OrderEvent {
                seq: row.seq,
                event_type,
                intent: decision.intent,
                item: decision.item,
                packages: decision.packages,
                by: decision.by,
                at: row.at,
            })
        }
        ledger::Kind::Published => {
            let published: ledger::Published = serde_json::from_str(body).ok()?;
            if published.message != "intent" {
                return None;
            }
            Some(OrderEvent {
                seq: row.seq,
                event_type: "order_sent",
                intent: published.intent?,
                item: String::new(),
                packages: 0,
                by: "larder".into(),
                at: row.at,
            })
        }
        _ => None,
    }
}

/// `x` rounded to `decimals` decimal places.
fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}
