//! The state Home Assistant reads: one retained JSON document per item,
//! the pending count and list, and the (never retained) order events.

use super::Message;
use super::topics::HaTopics;
use super::views::{OrderEvent, Snapshot};
use crate::config::Config;
use serde_json::{Value, json};

/// Unix seconds as ISO 8601 UTC (what HA's timestamp sensor parses).
fn iso(at: i64) -> Value {
    jiff::Timestamp::from_second(at).map_or(Value::Null, |t| json!(t.to_string()))
}

/// The retained state messages for a snapshot: one JSON document per
/// item, the pending count and the pending list.
pub fn state_messages(config: &Config, snapshot: &Snapshot) -> Vec<Message> {
    let topics = HaTopics::new(config);
    let mut out = Vec::with_capacity(snapshot.items.len() + 2);
    for view in &snapshot.items {
        let next = &view.next_order;
        let mut details = json!({ "status": next.status });
        if let Some(intent) = &next.intent {
            details["intent"] = json!(intent);
        }
        if let Some(packages) = next.packages {
            details["packages"] = json!(packages);
        }
        let payload = json!({
            "level": view.level,
            "days_left": view.days_left,
            "next_order_at": next.at.map_or(Value::Null, iso),
            "next_order": details,
        });
        out.push(Message {
            topic: topics.item_state(&view.id),
            payload: serde_json::to_vec(&payload).unwrap_or_default(),
            retain: true,
        });
    }
    out.push(Message {
        topic: topics.pending(),
        payload: snapshot.pending.len().to_string().into_bytes(),
        retain: true,
    });
    let requests: Vec<Value> = snapshot
        .pending
        .iter()
        .map(|p| {
            json!({
                "intent": p.intent,
                "item": p.item,
                "item_name": p.item_name,
                "packages": p.packages,
                "quantity": p.quantity,
                "unit": p.unit,
                "price_ceiling": p.price_ceiling,
                "currency": p.currency,
                "expires_at": p.expires_at.map_or(Value::Null, iso),
                "approvals": p.approvals,
                "approvals_required": p.approvals_required,
            })
        })
        .collect();
    out.push(Message {
        topic: topics.pending_attributes(),
        payload: serde_json::to_vec(&json!({ "requests": requests })).unwrap_or_default(),
        retain: true,
    });
    out
}

/// An order event as the event entity wants it: JSON with `event_type`,
/// never retained.
pub fn event_message(config: &Config, event: &OrderEvent) -> Message {
    let payload = json!({
        "event_type": event.event_type,
        "intent": event.intent,
        "item": event.item,
        "packages": event.packages,
        "by": event.by,
        "at": iso(event.at),
    });
    Message {
        topic: HaTopics::new(config).events(),
        payload: serde_json::to_vec(&payload).unwrap_or_default(),
        retain: false,
    }
}
