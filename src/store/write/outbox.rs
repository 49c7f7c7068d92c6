//! The outbound queue: queueing, resending, marking sent and withdrawing
//! messages. `Tx::enqueue`, `Tx::mark_sent` and `Tx::cancel_unsent` append
//! their own ledger entries, so no outbox row can exist without one.

use super::Tx;
use crate::crypto::keys;
use crate::ledger;
use crate::store::Result;
use crate::store::rows::{NewOutbox, OutboxRow, outbox_from_row};
use rusqlite::{OptionalExtension, params};

impl Tx<'_> {
    /// Queues a message for the relay.
    pub fn enqueue(&self, msg: &NewOutbox<'_>, now: i64) -> Result<i64> {
        self.tx
            .execute(
                "INSERT INTO outbox (kind, topic, payload, retain, intent_id, not_before, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    msg.kind,
                    msg.topic,
                    msg.payload,
                    msg.retain,
                    msg.intent_id,
                    msg.not_before,
                    now
                ],
            )
            .map_err(self.err())?;
        let id = self.tx.last_insert_rowid();
        self.ledger_append(
            ledger::Kind::Outbound,
            &ledger::Outbound {
                outbox: id,
                message: msg.kind.to_owned(),
                topic: msg.topic.to_owned(),
                retain: msg.retain,
                intent: msg.intent_id.map(str::to_owned),
                not_before: msg.not_before,
                payload_bytes: msg.payload.len(),
                payload_sha256: ledger::sha256_hex(msg.payload),
                payload: keys::to_hex(msg.payload),
            },
            now,
        )?;
        Ok(id)
    }

    /// When the signed intent `intent_id` was queued for upstream (its
    /// approval time), and when the broker took it (`None` while unsent).
    pub fn intent_queued(&self, intent_id: &str) -> Result<Option<(i64, Option<i64>)>> {
        self.tx
            .query_row(
                "SELECT created_at, sent_at FROM outbox WHERE intent_id = ?1 AND kind = 'intent' \
                 ORDER BY id LIMIT 1",
                [intent_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// Queues the latest outbox message of `kind` for `intent_id` once more
    /// (the same bytes, a new row and ledger entry); false if there is none.
    pub fn resend_last(&self, intent_id: &str, kind: &str, now: i64) -> Result<bool> {
        let last: Option<(String, Vec<u8>, bool)> = self
            .tx
            .query_row(
                "SELECT topic, payload, retain FROM outbox WHERE intent_id = ?1 AND kind = ?2 \
                 ORDER BY id DESC LIMIT 1",
                params![intent_id, kind],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(self.err())?;
        let Some((topic, payload, retain)) = last else {
            return Ok(false);
        };
        self.enqueue(
            &NewOutbox {
                kind,
                topic: &topic,
                payload: &payload,
                retain,
                intent_id: Some(intent_id),
                not_before: now,
            },
            now,
        )?;
        Ok(true)
    }

    /// Marks an outbox row sent (after the broker's PUBACK); returns the row
    /// if it was unsent. A row withdrawn while in flight is marked too: it
    /// did leave.
    pub fn mark_sent(&self, id: i64, now: i64) -> Result<Option<OutboxRow>> {
        let row = self
            .tx
            .query_row(
                "SELECT id, kind, topic, payload, retain, intent_id, not_before FROM outbox \
                 WHERE id = ?1 AND sent_at IS NULL",
                [id],
                outbox_from_row,
            )
            .optional()
            .map_err(self.err())?;
        if let Some(row) = &row {
            self.tx
                .execute(
                    "UPDATE outbox SET sent_at = ?2 WHERE id = ?1",
                    params![id, now],
                )
                .map_err(self.err())?;
            self.ledger_append(
                ledger::Kind::Published,
                &ledger::Published {
                    outbox: row.id,
                    message: row.kind.clone(),
                    topic: row.topic.clone(),
                    intent: row.intent_id.clone(),
                    payload_sha256: ledger::sha256_hex(&row.payload),
                },
                now,
            )?;
        }
        Ok(row)
    }

    /// Withdraws unsent outbox rows of a kind for an intent (e.g. a prompt
    /// that is no longer needed), recording each in the ledger; returns how
    /// many. The rows are marked, not deleted: the relay will not pick them
    /// up again, but one it already has in flight is still recorded as
    /// published when its PUBACK comes (see `mark_sent`), so callers must
    /// not assume a withdrawn message never left.
    pub fn cancel_unsent(&self, intent_id: &str, kind: &str, now: i64) -> Result<usize> {
        let mut stmt = self
            .tx
            .prepare(
                "SELECT id, payload FROM outbox WHERE intent_id = ?1 AND kind = ?2 \
                 AND sent_at IS NULL AND withdrawn_at IS NULL ORDER BY id",
            )
            .map_err(self.err())?;
        let doomed: Vec<(i64, Vec<u8>)> = stmt
            .query_map(params![intent_id, kind], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        for (id, payload) in &doomed {
            self.tx
                .execute(
                    "UPDATE outbox SET withdrawn_at = ?2 WHERE id = ?1",
                    params![id, now],
                )
                .map_err(self.err())?;
            self.ledger_append(
                ledger::Kind::Withdrawn,
                &ledger::Withdrawn {
                    outbox: *id,
                    message: kind.to_owned(),
                    intent: Some(intent_id.to_owned()),
                    payload_sha256: ledger::sha256_hex(payload),
                },
                now,
            )?;
        }
        Ok(doomed.len())
    }
}
