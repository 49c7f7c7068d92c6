//! Gathering an explanation's evidence: the only database access of
//! `larder explain` (read-only).

use super::{IntentEvidence, ItemEvidence, READINGS_SHOWN, Subject};
use crate::config::Config;
use crate::store::Store;
use anyhow::bail;

/// Reads what an explanation needs: `target` is an item id, an intent id,
/// or a unique prefix (≥ 6 hex digits) of an intent id.
pub fn load<'c>(
    config: &'c Config,
    store: &Store,
    target: &str,
    now: i64,
) -> anyhow::Result<Subject<'c>> {
    let read = store.read();
    let month = crate::clock::month_start(&config.hub.time_zone(), now);
    let evidence = |item: &str| -> anyhow::Result<ItemEvidence> {
        Ok(ItemEvidence {
            readings: read.recent_observations(item, READINGS_SHOWN)?,
            state: read.item_state(item)?,
            latest: read.latest_intent(item)?,
            spent_this_month: read.spent_since(month)?,
        })
    };
    if let Some(item) = config.item(target) {
        return Ok(Subject::Item(item, Box::new(evidence(&item.id)?)));
    }
    let intent = match read.intent(target)? {
        Some(intent) => intent,
        None if target.len() >= 6 => {
            let mut found = read.intents_with_prefix(target, 2)?;
            match found.len() {
                1 => found.remove(0),
                0 => bail!("no item or intent {target:?} (items: {})", item_ids(config)),
                _ => bail!("{target:?} matches more than one intent; give more digits"),
            }
        }
        None => bail!("no item or intent {target:?} (items: {})", item_ids(config)),
    };
    let ledger = if read.has_ledger()? {
        read.ledger_for_intent(&intent.id)?
    } else {
        Vec::new()
    };
    let ev = Box::new(IntentEvidence {
        approvals: read.approvals(&intent.id)?,
        ledger,
        item: evidence(&intent.item)?,
        intent,
    });
    Ok(Subject::Intent(config.item(&ev.intent.item), ev))
}

/// The configured item ids, for "no such item" messages.
fn item_ids(config: &Config) -> String {
    config
        .items
        .iter()
        .map(|i| i.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
