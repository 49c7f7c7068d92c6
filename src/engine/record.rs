//! The engine's ledger entries about intents. [`record`] is called next to
//! every intent insert and every transition taken on a decision (rules,
//! member reply, quorum, expiry, shop ack), in the same transaction.

use crate::ledger::{self, Outcome};
use crate::store::{self, IntentRow, Tx};

/// Appends a decision about `intent` to the ledger (same transaction).
pub(super) fn record(
    tx: &Tx<'_>,
    intent: &IntentRow,
    verdict: Outcome,
    by: &str,
    rules: Vec<String>,
    replies: Vec<String>,
    now: i64,
) -> store::Result<()> {
    tx.ledger_append(
        ledger::Kind::Decision,
        &ledger::DecisionEntry {
            intent: intent.id.clone(),
            item: intent.item.clone(),
            verdict,
            by: by.to_owned(),
            packages: intent.packages,
            price_ceiling: intent.price_ceiling,
            currency: intent.currency.clone(),
            rules,
            replies,
        },
        now,
    )?;
    Ok(())
}
