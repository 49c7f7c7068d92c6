//! The writer's sealed tables in memory, decrypted: item states and item
//! keys as committed (`Committed`, held by the `Store`), what one
//! transaction read or changed of them (`TxCache`), the view a `Reader`
//! looks through before SQLite (`Memory`), and sealing a transaction's
//! changed states into `item_state` (`write_states`). Only `Tx::commit`
//! changes `Committed`, after SQLite committed.

use super::connection::Cached;
use super::error::{Result, at};
use super::sealing::{ItemStateSecretRef, KeyOwner, read_key, read_or_create_key, seal_value};
use crate::core::forecast::ItemState;
use rusqlite::{Connection, params};
use std::path::Path;

/// What the writer holds in memory of the sealed tables, as committed.
#[derive(Default)]
pub(super) struct Committed {
    /// Item states by item id.
    pub(super) states: std::collections::HashMap<String, ItemState>,
    /// Item keys (`item_keys`) by item id.
    pub(super) keys: std::collections::HashMap<String, Vec<u8>>,
}

/// Item states and keys read or changed inside one transaction; they
/// reach [`Committed`] only when the transaction commits.
#[derive(Default)]
pub(super) struct TxCache {
    /// By item: its state as this transaction sees it (`None`: no row).
    pub(super) items: std::collections::BTreeMap<String, TxState>,
    /// By item: its key as this transaction sees it (`None`: no key).
    pub(super) keys: std::collections::BTreeMap<String, Option<Vec<u8>>>,
    /// `forget_household` ran: nothing committed applies any more.
    pub(super) all_erased: bool,
}

/// The in-memory view a [`Reader`](super::Reader) or [`Tx`](super::Tx) looks
/// through before SQLite.
#[derive(Clone, Copy)]
pub(super) struct Memory<'a> {
    pub(super) committed: &'a Committed,
    /// Inside a transaction: what it read or changed.
    pub(super) pending: Option<&'a std::cell::RefCell<TxCache>>,
}

impl Memory<'_> {
    /// The item's key: the transaction's, else the committed one, else
    /// read (and, in a transaction, remembered).
    pub(super) fn key(
        &self,
        conn: &Connection,
        path: &Path,
        item: &str,
    ) -> Result<Option<Vec<u8>>> {
        let all_erased = match self.pending {
            Some(pending) => {
                let pending = pending.borrow();
                if let Some(key) = pending.keys.get(item) {
                    return Ok(key.clone());
                }
                pending.all_erased
            }
            None => false,
        };
        if !all_erased {
            if let Some(key) = self.committed.keys.get(item) {
                return Ok(Some(key.clone()));
            }
        }
        let key = read_key(conn, path, KeyOwner::Item, item)?;
        if let Some(pending) = self.pending {
            pending
                .borrow_mut()
                .keys
                .insert(item.to_owned(), key.clone());
        }
        Ok(key)
    }

    /// The item's key, created (random) on first use; in a transaction.
    pub(super) fn key_or_create(
        &self,
        conn: &Connection,
        path: &Path,
        item: &str,
    ) -> Result<Vec<u8>> {
        if let Some(key) = self.key(conn, path, item)? {
            return Ok(key);
        }
        let key = read_or_create_key(conn, path, KeyOwner::Item, item)?;
        if let Some(pending) = self.pending {
            pending
                .borrow_mut()
                .keys
                .insert(item.to_owned(), Some(key.clone()));
        }
        Ok(key)
    }
}

/// One item's state inside a transaction.
pub(super) struct TxState {
    pub(super) state: Option<ItemState>,
    /// Changed and not yet written to `item_state`: the `updated_at` to
    /// write. Written once per transaction, at commit.
    pub(super) unwritten: Option<i64>,
}

/// Seals and writes every item state changed in a transaction and not
/// written yet (at most once per item per transaction).
pub(super) fn write_states(conn: &Connection, path: &Path, memory: Memory<'_>) -> Result<()> {
    let Some(pending) = memory.pending else {
        return Ok(());
    };
    let unwritten: Vec<(String, i64)> = pending
        .borrow()
        .items
        .iter()
        .filter(|(_, entry)| entry.state.is_some())
        .filter_map(|(item, entry)| Some((item.clone(), entry.unwritten?)))
        .collect();
    for (item, updated_at) in unwritten {
        let key = memory.key_or_create(conn, path, &item)?;
        let sealed = {
            let pending = pending.borrow();
            let Some(state) = pending.items.get(&item).and_then(|e| e.state.as_ref()) else {
                continue;
            };
            seal_value(
                path,
                &key,
                &crate::crypto::seal::item_state_aad(&item),
                &ItemStateSecretRef { state, updated_at },
                &format!("item_state of {item}"),
            )?
        };
        conn.execute_cached(
            "INSERT INTO item_state (item, sealed) VALUES (?1, ?2) \
             ON CONFLICT (item) DO UPDATE SET sealed = excluded.sealed",
            params![item, sealed],
        )
        .map_err(at(path))?;
        if let Some(entry) = pending.borrow_mut().items.get_mut(&item) {
            entry.unwritten = None;
        }
    }
    Ok(())
}
