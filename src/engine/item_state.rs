//! Writes to an item's learned state (`core::forecast`): an observation,
//! the household's answer, or one change to every item (presence).

use super::Engine;
use crate::config::Item;
use crate::core::Observation;
use crate::core::forecast;
use crate::store::{self, Tx};

impl Engine {
    /// Folds an observation into the item's learned state (creating it if new).
    pub(super) fn observe(
        &self,
        tx: &Tx<'_>,
        item: &Item,
        obs: &Observation,
        now: i64,
    ) -> store::Result<()> {
        let mut state = tx.read().item_state(&item.id)?.unwrap_or_default();
        forecast::observe(&item.model, &mut state, obs);
        tx.save_item_state(&item.id, &state, now)
    }

    /// Applies `change` to every item's learned state (creating it if new).
    pub(super) fn for_each_item(
        &self,
        tx: &Tx<'_>,
        now: i64,
        mut change: impl FnMut(&forecast::ItemModel, &mut forecast::ItemState),
    ) -> store::Result<()> {
        for item in &self.config.items {
            let mut state = tx.read().item_state(&item.id)?.unwrap_or_default();
            change(&item.model, &mut state);
            tx.save_item_state(&item.id, &state, now)?;
        }
        Ok(())
    }

    /// Folds the household's answer into the item's learned state.
    pub(super) fn learn(
        &self,
        tx: &Tx<'_>,
        item: &str,
        feedback: forecast::Feedback,
        now: i64,
    ) -> store::Result<()> {
        let Some(mut state) = tx.read().item_state(item)? else {
            return Ok(());
        };
        forecast::learn(&mut state, feedback, now);
        tx.save_item_state(item, &state, now)
    }
}
