//! [`Reader`]: read-only queries on one snapshot, on the writer, on a
//! read-only handle, or inside a transaction (`Tx::read`, which sees the
//! transaction's own changes). One file per concern:
//! - `state`: item states (through the writer's cache), item keys and
//!   adapter devices' state;
//! - `observations`: observations and their daily aggregates;
//! - `intents`: intents and members' replies;
//! - `outbox`: the outbound queue;
//! - `ledger`: the hash-chained ledger and its verification;
//! - `household`: presence, members' control times, dead letters, counters;
//! - `export`: every table row by row for `larder export` ([`Table`], [`Cell`]).

mod export;
mod household;
mod intents;
mod ledger;
mod observations;
mod outbox;
mod state;

pub use export::{Cell, Table};

use super::cache::Memory;
use super::connection::Store;
use super::error::{StoreError, at};
use rusqlite::Connection;
use std::path::Path;

/// Read-only queries, usable on a writer or a reader connection.
pub struct Reader<'a> {
    pub(super) conn: &'a Connection,
    pub(super) path: &'a Path,
    /// The writer's item states and keys in memory (nothing on a
    /// read-only handle).
    pub(super) memory: Memory<'a>,
}

impl Store {
    /// Read queries on the current snapshot.
    pub fn read(&self) -> Reader<'_> {
        Reader {
            conn: &self.conn,
            path: &self.path,
            memory: Memory {
                committed: &self.committed,
                pending: None,
            },
        }
    }
}

impl Reader<'_> {
    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        at(self.path)
    }
}
