//! The household's presence (away, guests), members' newest control
//! times, refused messages and counters.

use super::Reader;
use crate::store::Result;
use crate::store::connection::Cached;
use crate::store::rows::{DeadLetterRow, Presence};
use rusqlite::OptionalExtension;

impl Reader<'_> {
    /// The household's presence (default: at home, no guests).
    pub fn presence(&self) -> Result<Presence> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT paused_since, paused_until, guests_factor, guests_until FROM presence WHERE id = 1",
                [],
                |r| {
                    Ok(Presence {
                        paused_since: r.get(0)?,
                        paused_until: r.get(1)?,
                        guests_factor: r.get(2)?,
                        guests_until: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())?
            .unwrap_or_default())
    }

    /// The newest control-message time accepted from a member.
    pub fn member_control_iat(&self, member: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT last_iat FROM member_control WHERE member = ?1",
                [member],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// The newest dead letters, newest first.
    pub fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetterRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT received_at, topic, size, reason FROM dead_letters ORDER BY id DESC LIMIT ?1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(DeadLetterRow {
                    received_at: r.get(0)?,
                    topic: r.get(1)?,
                    size: r.get::<_, i64>(2)? as usize,
                    reason: r.get(3)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// All counters, by name.
    pub fn counters(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, value FROM counters ORDER BY name")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// One counter (0 if never bumped).
    pub fn counter(&self, name: &str) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map_err(self.err())?
            .map_or(0, |n| n as u64))
    }
}
