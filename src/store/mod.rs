//! SQLite storage: versioned migrations, WAL with `synchronous=FULL`, one
//! writer. Observations, item state, intents (proposals and their lifecycle),
//! approvals, the outbox, dead letters and counters.
//!
//! Invariants enforced here (by schema, not by callers' good behaviour):
//! - an event `(device, epoch, seq)` is stored at most once (UNIQUE);
//! - at most one open intent per item (UNIQUE partial index);
//! - a member's reply counts at most once per intent (UNIQUE).
//!
//! # Layout
//! - `error`: [`StoreError`] and the [`Result`] alias.
//! - `schema`: the migrations (append only), applying them, and migration
//!   4's pass that seals older files' plaintext rows.
//! - `connection`: [`Store`] opened as the writer or read-only (pragmas
//!   asserted, `quick_check`, [`MAX_DB_PAGES_ENV`]); the statement cache.
//! - `rows`: the row types callers read and write.
//! - `sealing`: item and device keys, sealing and opening values, what the
//!   sealed columns hold.
//! - `cache`: the writer's decrypted item states and keys as committed,
//!   and what a transaction changed of them.
//! - `read/`: [`Reader`], the queries, one file per concern.
//! - `write/`: [`Tx`], the changes and the commit, one file per concern.
//! - `lock`: [`StateLock`], who may write the state directory.

mod cache;
mod connection;
mod error;
mod lock;
mod read;
mod rows;
mod schema;
mod sealing;
#[cfg(test)]
mod tests;
mod write;

pub use connection::{MAX_DB_PAGES_ENV, Store};
pub use error::{Result, StoreError};
pub use lock::{LOCK_FILE, LockError, PID_FILE, StateLock, wipe_quarantined};
pub use read::{Cell, Reader, Table};
pub use rows::{
    ApprovalRow, DayAggregate, DeadLetterRow, Forgotten, Inserted, IntentRow, IntentState,
    NewObservation, NewOutbox, ObservationRow, OutboxRow, Presence,
};
pub use write::{DEAD_LETTER_KEEP_BYTES, Tx};
