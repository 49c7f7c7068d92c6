//! `larder explain ITEM|INTENT`: the evidence behind a forecast or an
//! intent, the rule that approved or held it, and what would change the
//! decision. [`load`] reads the database (read-only); [`item`] and
//! [`intent`] are pure formatting over what it gathered.
//!
//! Honesty rule: every figure printed is either stored (readings, intents,
//! approvals, ledger) or recomputed with the same core functions the engine
//! uses (`core::forecast::forecast` / `propose`) under the *current*
//! configuration, and says so.
//!
//! - `gather`: [`load`], the read-only database access;
//! - `item_report`: [`item`], an item's evidence, forecast and reorder outlook;
//! - `intent_report`: [`intent`], an intent's reasons, replies, ledger trail
//!   and what would have changed it.

mod gather;
mod intent_report;
mod item_report;

pub use gather::load;
pub use intent_report::intent;
pub use item_report::item;

use crate::config::{Config, Item};
use crate::core::forecast::ItemState;
use crate::ledger::LedgerRow;
use crate::store::{ApprovalRow, IntentRow, ObservationRow, Store};
use anyhow::Context as _;

/// Readings shown in an explanation.
pub const READINGS_SHOWN: u32 = 10;

/// What the database says about one item.
#[derive(Debug, Clone, Default)]
pub struct ItemEvidence {
    /// Most recent readings, newest first.
    pub readings: Vec<ObservationRow>,
    /// The learned state, if any reading arrived.
    pub state: Option<ItemState>,
    /// The item's most recent intent (open or closed).
    pub latest: Option<IntentRow>,
    /// Committed spending this calendar month (for the budget).
    pub spent_this_month: f64,
}

/// What the database says about one intent.
#[derive(Debug, Clone)]
pub struct IntentEvidence {
    /// The intent.
    pub intent: IntentRow,
    /// Accepted member replies, oldest first.
    pub approvals: Vec<ApprovalRow>,
    /// Ledger entries naming the intent, oldest first.
    pub ledger: Vec<LedgerRow>,
    /// The item's evidence now.
    pub item: ItemEvidence,
}

/// What `larder explain` was asked about.
#[derive(Debug, Clone)]
pub enum Subject<'c> {
    /// A configured item.
    Item(&'c Item, Box<ItemEvidence>),
    /// An intent (its item may no longer be configured).
    Intent(Option<&'c Item>, Box<IntentEvidence>),
}

/// Formats a loaded subject.
pub fn render(config: &Config, subject: &Subject<'_>, now: i64) -> String {
    match subject {
        Subject::Item(it, ev) => item(config, it, ev, now),
        Subject::Intent(it, ev) => intent(config, *it, ev, now),
    }
}

/// `larder explain`: the explanation of `target` as text.
pub fn run(config: &Config, store: &Store, target: &str, now: i64) -> anyhow::Result<String> {
    let subject =
        load(config, store, target, now).with_context(|| format!("explaining {target:?}"))?;
    Ok(render(config, &subject, now))
}

#[cfg(test)]
mod tests;
