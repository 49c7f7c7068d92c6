//! The outbound queue: the rows due for the relay, and counts and payloads
//! of what was sent.

use super::Reader;
use crate::store::Result;
use crate::store::rows::{OutboxRow, outbox_from_row};
use rusqlite::params;

impl Reader<'_> {
    /// Unsent outbox rows due at `now`, oldest first.
    pub fn due_outbox(&self, now: i64, limit: u32) -> Result<Vec<OutboxRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, kind, topic, payload, retain, intent_id, not_before FROM outbox \
                 WHERE sent_at IS NULL AND withdrawn_at IS NULL AND not_before <= ?1 \
                 ORDER BY id LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![now, limit], outbox_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Number of unsent outbox rows (due or not).
    pub fn unsent_outbox(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND withdrawn_at IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Number of sent outbox rows.
    pub fn sent_outbox(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// The payloads of the sent outbox rows of one kind, oldest first.
    pub fn sent_outbox_payloads(&self, kind: &str) -> Result<Vec<Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT payload FROM outbox WHERE sent_at IS NOT NULL AND kind = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt.query_map([kind], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Number of sent outbox rows of one kind.
    pub fn sent_outbox_of_kind(&self, kind: &str) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL AND kind = ?1",
                [kind],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }
}
