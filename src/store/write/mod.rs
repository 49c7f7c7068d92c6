//! [`Tx`]: one write transaction (`BEGIN IMMEDIATE`) on the writer, and
//! its commit (seal the changed item states, commit, then update the
//! store's in-memory copy). One file per concern:
//! - `observations`: storing observations once, devices' sequence positions;
//! - `state`: item states (written at commit) and adapter devices' state;
//! - `intents`: intents, their transitions and members' replies;
//! - `outbox`: queueing, sending and withdrawing outbound messages;
//! - `ledger`: appending to the hash-chained ledger, erasing bodies;
//! - `forget`: erasing an item or the household;
//! - `compaction`: folding old observations into daily aggregates;
//! - `household`: presence, members' control times, dead letters, counters;
//! - `scrub`: `Store::scrub`, making deleted content unrecoverable.

mod compaction;
mod forget;
mod household;
mod intents;
mod ledger;
mod observations;
mod outbox;
mod scrub;
mod state;

#[cfg(test)]
pub(super) use forget::mentions;
pub use household::DEAD_LETTER_KEEP_BYTES;

use super::cache::{Committed, Memory, TxCache, write_states};
use super::connection::Store;
use super::error::{Result, StoreError, at};
use super::read::Reader;
use rusqlite::{Connection, TransactionBehavior};
use std::path::PathBuf;

/// A write transaction; dropped without `commit` it rolls back, and so do
/// the item states it changed.
///
/// Item state is kept decrypted in memory: [`Tx::save_item_state`] only
/// records the new state, and [`Tx::commit`] writes (seals) each changed
/// item once, commits, and only then makes the states the store's
/// committed ones. A transaction that fails or is dropped leaves the
/// store's states as they were; `forget_item` / `forget_household` drop
/// the states they erase. Reads in the transaction see its own changes.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
    /// The store's committed states and keys; changed only after a commit.
    committed: &'a mut Committed,
    /// What this transaction read or changed of them.
    pending: std::cell::RefCell<TxCache>,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

impl Store {
    /// Starts a write transaction (`BEGIN IMMEDIATE`).
    pub fn transaction(&mut self) -> Result<Tx<'_>> {
        let Store {
            conn,
            path,
            committed,
        } = self;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(path))?;
        Ok(Tx {
            tx,
            path: path.clone(),
            committed,
            pending: std::cell::RefCell::default(),
        })
    }
}

impl Tx<'_> {
    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        at(&self.path)
    }

    /// Read queries inside this transaction.
    pub fn read(&self) -> Reader<'_> {
        Reader {
            conn: &self.tx,
            path: &self.path,
            memory: self.memory(),
        }
    }

    /// The in-memory view of this transaction.
    fn memory(&self) -> Memory<'_> {
        Memory {
            committed: self.committed,
            pending: Some(&self.pending),
        }
    }

    /// Writes the changed item states, commits, then makes this
    /// transaction's item states the store's committed ones.
    pub fn commit(self) -> Result<()> {
        write_states(&self.tx, &self.path, self.memory())?;
        let Tx {
            tx,
            path,
            committed,
            pending,
        } = self;
        tx.commit().map_err(at(&path))?;
        let pending = pending.into_inner();
        if pending.all_erased {
            committed.states.clear();
            committed.keys.clear();
        }
        for (item, entry) in pending.items {
            match entry.state {
                Some(state) => committed.states.insert(item, state),
                None => committed.states.remove(&item),
            };
        }
        for (item, key) in pending.keys {
            match key {
                Some(key) => committed.keys.insert(item, key),
                None => committed.keys.remove(&item),
            };
        }
        Ok(())
    }
}
