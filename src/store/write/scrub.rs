//! `Store::scrub`: deleted content made unrecoverable from the database
//! file, its WAL and its free pages (after a forget, and after migration 4
//! sealed the plaintext rows).

use crate::store::error::at;
use crate::store::{Result, Store, StoreError};
use std::time::Duration;

impl Store {
    /// Makes deleted content unrecoverable from the database file, its WAL
    /// and its free pages: checkpoint and truncate the WAL, `VACUUM` (temp
    /// store in memory, so no temporary file holds a copy), checkpoint and
    /// truncate again. Every connection has `secure_delete=ON`, so deleted
    /// cells were already zeroed in the pages that held them. Must not run
    /// inside a transaction. Returns the database size in bytes afterwards.
    pub fn scrub(&self) -> Result<u64> {
        let err = at(&self.path);
        self.checkpoint_truncate()?;
        self.conn.execute_batch("VACUUM").map_err(&err)?;
        self.checkpoint_truncate()?;
        let size: i64 = self
            .conn
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get(0),
            )
            .map_err(&err)?;
        Ok(size as u64)
    }

    /// `wal_checkpoint(TRUNCATE)`, retried while a reader (the relay, a CLI)
    /// holds an old snapshot; the WAL file is empty afterwards.
    fn checkpoint_truncate(&self) -> Result<()> {
        let err = at(&self.path);
        for attempt in 0..50 {
            let (busy, _log, _done): (i64, i64, i64) = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(&err)?;
            if busy == 0 {
                return Ok(());
            }
            tracing::debug!(attempt, "checkpoint blocked by a reader; retrying");
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(StoreError::Decode {
            path: self.path.clone(),
            detail: "wal_checkpoint(TRUNCATE) stayed blocked by another connection for 5 s; \
                     the WAL may still hold erased content until the next checkpoint"
                .into(),
        })
    }
}
