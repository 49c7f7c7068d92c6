//! The household's presence, members' newest control times, refused
//! messages (kept truncated, expired by age) and counters.

use super::Tx;
use crate::store::Result;
use crate::store::connection::Cached;
use crate::store::rows::Presence;
use rusqlite::params;

/// Most bytes of a refused payload kept in the dead-letter table.
pub const DEAD_LETTER_KEEP_BYTES: usize = 4096;

impl Tx<'_> {
    /// Stores a refused message with its reason: the payload truncated to
    /// [`DEAD_LETTER_KEEP_BYTES`], and `size`, the message's size as
    /// received (a payload may come already cut to its first bytes).
    pub fn dead_letter(
        &self,
        topic: &str,
        payload: &[u8],
        size: usize,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        let kept = &payload[..payload.len().min(DEAD_LETTER_KEEP_BYTES)];
        let size = size.max(payload.len());
        self.tx
            .execute(
                "INSERT INTO dead_letters (received_at, topic, size, payload, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now, topic, size as i64, kept, reason],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Deletes dead letters received before `cutoff`; returns how many.
    pub fn expire_dead_letters(&self, cutoff: i64) -> Result<u64> {
        Ok(self
            .tx
            .execute("DELETE FROM dead_letters WHERE received_at < ?1", [cutoff])
            .map_err(self.err())? as u64)
    }

    /// Replaces the presence row.
    pub fn set_presence(&self, presence: &Presence, now: i64) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO presence (id, paused_since, paused_until, guests_factor, guests_until, updated_at) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
                 paused_since = excluded.paused_since, paused_until = excluded.paused_until, \
                 guests_factor = excluded.guests_factor, guests_until = excluded.guests_until, \
                 updated_at = excluded.updated_at",
                params![
                    presence.paused_since,
                    presence.paused_until,
                    presence.guests_factor,
                    presence.guests_until,
                    now
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Records the newest control-message time accepted from a member.
    pub fn set_member_control_iat(&self, member: &str, iat: i64) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO member_control (member, last_iat) VALUES (?1, ?2) \
                 ON CONFLICT (member) DO UPDATE SET last_iat = excluded.last_iat",
                params![member, iat],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Adds `by` to a named counter.
    pub fn bump(&self, name: &str, by: u64) -> Result<()> {
        self.tx
            .execute_cached(
                "INSERT INTO counters (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                params![name, by as i64],
            )
            .map_err(self.err())?;
        Ok(())
    }
}
