//! Learned state: an item's state (recorded now, sealed and written once at
//! `Tx::commit`) and an adapter device's processing state (sealed under the
//! device's key now), and forgetting a device's.

use super::Tx;
use crate::core::forecast::ItemState;
use crate::store::Result;
use crate::store::cache::TxState;
use crate::store::connection::Cached;
use crate::store::sealing::{DeviceStateSecret, seal_device_state};
use rusqlite::params;

impl Tx<'_> {
    /// Saves an item's learned state: later reads in this transaction see
    /// it; it is sealed and written once, at [`Tx::commit`].
    pub fn save_item_state(&self, item: &str, state: &ItemState, now: i64) -> Result<()> {
        self.pending.borrow_mut().items.insert(
            item.to_owned(),
            TxState {
                state: Some(state.clone()),
                unwritten: Some(now),
            },
        );
        Ok(())
    }

    /// Saves an adapter device's processing state (JSON, see
    /// `adapters::DeviceState`), sealed under the device's key.
    pub fn save_device_state(&self, device: &str, state: &str, now: i64) -> Result<()> {
        let sealed = seal_device_state(
            &self.tx,
            &self.path,
            device,
            &DeviceStateSecret {
                state: state.to_owned(),
                updated_at: now,
            },
        )?;
        self.tx
            .execute_cached(
                "INSERT INTO device_state (device, sealed) VALUES (?1, ?2) \
                 ON CONFLICT (device) DO UPDATE SET sealed = excluded.sealed",
                params![device, sealed],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Erases an adapter device's processing state and its key (forgetting
    /// an item it measures: a scale's window holds its recent weights);
    /// returns whether there was any.
    pub fn forget_device_state(&self, device: &str) -> Result<bool> {
        let err = self.err();
        let rows = self
            .tx
            .execute("DELETE FROM device_state WHERE device = ?1", [device])
            .map_err(&err)?;
        let keys = self
            .tx
            .execute("DELETE FROM device_keys WHERE device = ?1", [device])
            .map_err(&err)?;
        Ok(rows + keys > 0)
    }
}
