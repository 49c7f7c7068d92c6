//! Learned state: an item's state (the transaction's, else the writer's
//! committed copy, else read and decrypted), whether it has a key, and an
//! adapter device's processing state.

use super::Reader;
use crate::core::forecast::ItemState;
use crate::store::Result;
use crate::store::cache::{TxState, write_states};
use crate::store::connection::Cached;
use crate::store::sealing::{ItemStateSecret, open_device_state, open_value};
use rusqlite::OptionalExtension;

impl Reader<'_> {
    /// The learned state of an item, if any: this transaction's, else the
    /// committed one held in memory, else read and decrypted (and then
    /// remembered by the transaction).
    pub fn item_state(&self, item: &str) -> Result<Option<ItemState>> {
        let all_erased = match self.memory.pending {
            Some(pending) => {
                let pending = pending.borrow();
                if let Some(entry) = pending.items.get(item) {
                    return Ok(entry.state.clone());
                }
                pending.all_erased
            }
            None => false,
        };
        if !all_erased {
            if let Some(state) = self.memory.committed.states.get(item) {
                return Ok(Some(state.clone()));
            }
        }
        let state = self
            .item_state_secret(item)?
            .map(|(secret, _)| secret.state);
        if let Some(pending) = self.memory.pending {
            pending.borrow_mut().items.insert(
                item.to_owned(),
                TxState {
                    state: state.clone(),
                    unwritten: None,
                },
            );
        }
        Ok(state)
    }

    /// Inside a transaction: writes its changed item states now (before a
    /// query reads the `item_state` table itself).
    pub(super) fn write_pending_states(&self) -> Result<()> {
        write_states(self.conn, self.path, self.memory)
    }

    /// The item's state as stored (decrypted) and its key.
    fn item_state_secret(&self, item: &str) -> Result<Option<(ItemStateSecret, Vec<u8>)>> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row_cached(
                "SELECT sealed FROM item_state WHERE item = ?1",
                [item],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let key = self.memory.key(self.conn, self.path, item)?;
        let secret: ItemStateSecret = open_value(
            self.path,
            key.as_deref(),
            &crate::crypto::seal::item_state_aad(item),
            &sealed,
            &format!("item_state of {item}"),
        )?;
        Ok(Some((secret, key.unwrap_or_default())))
    }

    /// Whether the item has an encryption key (anything stored about it).
    pub fn has_item_key(&self, item: &str) -> Result<bool> {
        Ok(self.memory.key(self.conn, self.path, item)?.is_some())
    }

    /// An adapter device's processing state (JSON, decrypted), if any.
    pub fn device_state(&self, device: &str) -> Result<Option<String>> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row_cached(
                "SELECT sealed FROM device_state WHERE device = ?1",
                [device],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let secret = open_device_state(self.conn, self.path, device, &sealed)?;
        Ok(Some(secret.state))
    }
}
