//! The hash-chained ledger as stored: its head, recent entries, the entries
//! about an intent, every entry in order, and verifying the whole chain
//! with `ledger::Verifier`.

use super::Reader;
use crate::ledger::{Broken, LedgerRow, Verified, Verifier};
use crate::store::{Result, StoreError};
use rusqlite::OptionalExtension;

/// Columns of a ledger row, in `ledger_from_row` order.
const LEDGER_COLUMNS: &str = "seq, at, kind, body, body_sha256, prev_hash, hash";

fn ledger_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok(LedgerRow {
        seq: row.get(0)?,
        at: row.get(1)?,
        kind: row.get(2)?,
        body: row.get(3)?,
        body_sha256: row.get(4)?,
        prev_hash: row.get(5)?,
        hash: row.get(6)?,
    })
}

impl Reader<'_> {
    /// Whether the database has the ledger (schema version 2 or later).
    pub fn has_ledger(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger')",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The last entry's `(seq, hash)`, if any.
    pub fn ledger_head(&self) -> Result<Option<(i64, Vec<u8>)>> {
        self.conn
            .query_row(
                "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// Number of ledger entries.
    pub fn ledger_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM ledger", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// The newest `limit` entries, oldest first.
    pub fn ledger_recent(&self, limit: u32) -> Result<Vec<LedgerRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {LEDGER_COLUMNS} FROM (SELECT * FROM ledger ORDER BY seq DESC LIMIT ?1) ORDER BY seq"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit], ledger_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Entries whose body names the intent, oldest first.
    pub fn ledger_for_intent(&self, intent: &str) -> Result<Vec<LedgerRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ledger WHERE json_valid(body) \
                 AND json_extract(body, '$.intent') = ?1 ORDER BY seq"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([intent], ledger_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Calls `f` on every entry in `seq` order until it returns false.
    pub fn each_ledger_entry(&self, mut f: impl FnMut(LedgerRow) -> bool) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {LEDGER_COLUMNS} FROM ledger ORDER BY seq"))
            .map_err(self.err())?;
        let mut rows = stmt.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            if !f(ledger_from_row(row).map_err(self.err())?) {
                break;
            }
        }
        Ok(())
    }

    /// Verifies the whole stored chain. The outer error is a database
    /// failure; the inner one the first bad entry.
    pub fn verify_ledger(
        &self,
        anchor: Option<[u8; 32]>,
    ) -> Result<Result<Verified, Broken>, StoreError> {
        let mut verifier = Verifier::new(anchor);
        let mut broken = None;
        self.each_ledger_entry(|row| match verifier.check(&row) {
            Ok(()) => true,
            Err(b) => {
                broken = Some(b);
                false
            }
        })?;
        Ok(match broken {
            Some(b) => Err(b),
            None => verifier.finish(),
        })
    }
}
