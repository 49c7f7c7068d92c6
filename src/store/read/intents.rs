//! Intents: by id, prefix, item or state; what the rules need of an item's
//! history (last delivery, last order, unsuccessful closes, orders and
//! spending since a time); and the members' replies to one.

use super::Reader;
use crate::store::Result;
use crate::store::connection::Cached;
use crate::store::rows::{ApprovalRow, INTENT_COLUMNS, IntentRow, IntentState, intent_from_row};
use rusqlite::{OptionalExtension, params};

impl Reader<'_> {
    /// The open intent for an item, if any.
    pub fn open_intent(&self, item: &str) -> Result<Option<IntentRow>> {
        self.conn
            .query_row_cached(
                &format!(
                    "SELECT {INTENT_COLUMNS} FROM intents WHERE item = ?1 AND state IN \
                     ('awaiting_approval', 'approved', 'sent', 'accepted')"
                ),
                [item],
                intent_from_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// One intent by id.
    pub fn intent(&self, id: &str) -> Result<Option<IntentRow>> {
        self.conn
            .query_row(
                &format!("SELECT {INTENT_COLUMNS} FROM intents WHERE id = ?1"),
                [id],
                intent_from_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Intents, newest first, at most `limit`.
    pub fn intents(&self, limit: u32) -> Result<Vec<IntentRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {INTENT_COLUMNS} FROM intents ORDER BY created_at DESC, rowid DESC LIMIT ?1"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit], intent_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Intents in the given state.
    pub fn intents_in_state(&self, state: IntentState) -> Result<Vec<IntentRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {INTENT_COLUMNS} FROM intents WHERE state = ?1 ORDER BY created_at, rowid"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([state.as_str()], intent_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Intents whose id starts with `prefix` (hex only), at most `limit`.
    pub fn intents_with_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<IntentRow>> {
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {INTENT_COLUMNS} FROM intents WHERE substr(id, 1, length(?1)) = lower(?1) \
                 ORDER BY created_at DESC LIMIT ?2"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![prefix, limit], intent_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The item's most recent intent, open or closed.
    pub fn latest_intent(&self, item: &str) -> Result<Option<IntentRow>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {INTENT_COLUMNS} FROM intents WHERE item = ?1 \
                     ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ),
                [item],
                intent_from_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// When the item's last intent that ended without an order (denied,
    /// refused, expired, rejected) was closed.
    pub fn last_unsuccessful_close(&self, item: &str) -> Result<Option<i64>> {
        self.conn
            .query_row_cached(
                "SELECT MAX(updated_at) FROM intents WHERE item = ?1 AND state IN \
                 ('denied', 'refused', 'expired', 'rejected', 'cancelled', 'held')",
                [item],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The item's most recent delivery: (when, quantity).
    pub fn last_delivery(&self, item: &str) -> Result<Option<(i64, f64)>> {
        self.conn
            .query_row_cached(
                "SELECT updated_at, quantity FROM intents WHERE item = ?1 AND state = 'delivered' \
                 ORDER BY updated_at DESC LIMIT 1",
                [item],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// When the item was last ordered (an intent that got approved).
    pub fn last_order_at(&self, item: &str) -> Result<Option<i64>> {
        self.conn
            .query_row_cached(
                "SELECT MAX(created_at) FROM intents WHERE item = ?1 \
                 AND state IN ('approved', 'sent', 'accepted', 'delivered')",
                [item],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Sum of price ceilings of intents approved since `since` (committed
    /// spending for the budget).
    pub fn spent_since(&self, since: i64) -> Result<f64> {
        self.conn
            .query_row_cached(
                "SELECT COALESCE(SUM(price_ceiling), 0) FROM intents WHERE created_at >= ?1 \
                 AND state IN ('approved', 'sent', 'accepted', 'delivered')",
                [since],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Orders (approved or further) of an item created since `since`.
    pub fn orders_since(&self, item: &str, since: i64) -> Result<u32> {
        self.conn
            .query_row_cached(
                "SELECT COUNT(*) FROM intents WHERE item = ?1 AND created_at >= ?2 \
                 AND state IN ('approved', 'sent', 'accepted', 'delivered')",
                params![item, since],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Accepted member replies for an intent, oldest first.
    pub fn approvals(&self, intent_id: &str) -> Result<Vec<ApprovalRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT intent_id, member, verdict, digest, envelope, received_at FROM approvals \
                 WHERE intent_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([intent_id], |r| {
                Ok(ApprovalRow {
                    intent_id: r.get(0)?,
                    member: r.get(1)?,
                    verdict: r.get(2)?,
                    digest: r.get(3)?,
                    envelope: r.get(4)?,
                    received_at: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}
