//! Reading a [`Snapshot`] from the store: the Home Assistant module's only
//! IO, and read-only.

use super::views::{Snapshot, item_view, order_event, pending_view};
use crate::config::Config;
use crate::store::{self, IntentState, Reader};
use std::collections::HashMap;

/// Most ledger entries one snapshot read scans for order events (the
/// newest after the last read; an order event is one entry of several).
pub const MAX_LEDGER_SCAN: u32 = 4096;

/// Reads what Home Assistant is shown at `now`, with the order events of
/// ledger entries after `since_seq` (of at most [`MAX_LEDGER_SCAN`], the
/// newest) as its events. Returns it with the newest ledger seq seen.
pub fn read_snapshot(
    config: &Config,
    read: &Reader<'_>,
    now: i64,
    since_seq: i64,
) -> store::Result<(Snapshot, i64)> {
    let mut items = Vec::with_capacity(config.items.len());
    for item in &config.items {
        let state = read.item_state(&item.id)?;
        let open = read.open_intent(&item.id)?;
        items.push(item_view(item, state.as_ref(), open.as_ref(), now));
    }
    let mut pending = Vec::new();
    for row in read.intents_in_state(IntentState::AwaitingApproval)? {
        let approvals = read
            .approvals(&row.id)?
            .iter()
            .filter(|a| a.verdict == "approve")
            .count() as u32;
        if let Some(view) = pending_view(config, &row, approvals, now) {
            pending.push(view);
        }
    }
    let head = read.ledger_head()?.map_or(0, |(seq, _)| seq);
    let mut events = Vec::new();
    if head > since_seq {
        let fetch = (head - since_seq).min(i64::from(MAX_LEDGER_SCAN)) as u32;
        let mut items_of: HashMap<String, (String, u32)> = HashMap::new();
        for row in read.ledger_recent(fetch)? {
            if row.seq <= since_seq {
                continue;
            }
            if let Some(mut event) = order_event(&row) {
                if event.item.is_empty() {
                    // A sent intent: the ledger's publish entry names only the intent.
                    if !items_of.contains_key(&event.intent) {
                        if let Some(intent) = read.intent(&event.intent)? {
                            items_of.insert(event.intent.clone(), (intent.item, intent.packages));
                        }
                    }
                    if let Some((item, packages)) = items_of.get(&event.intent) {
                        event.item = item.clone();
                        event.packages = *packages;
                    }
                }
                events.push(event);
            }
        }
    }
    let snapshot = Snapshot {
        items,
        pending,
        events,
    };
    Ok((snapshot, head.max(since_seq)))
}
