//! The hash-chained ledger: appending an entry in the transaction that
//! makes the change, and erasing bodies (never a forget record's) for a
//! forget that records them.

use super::Tx;
use crate::ledger;
use crate::store::{Result, StoreError};
use rusqlite::params;

impl Tx<'_> {
    /// Appends an entry to the hash-chained ledger in this transaction;
    /// returns its sequence number.
    pub fn ledger_append(
        &self,
        kind: ledger::Kind,
        body: &impl serde::Serialize,
        now: i64,
    ) -> Result<i64> {
        let body = serde_json::to_string(body).map_err(|e| StoreError::Decode {
            path: self.path.clone(),
            detail: format!("ledger {} body: {e}", kind.as_str()),
        })?;
        let (last, prev) = self
            .read()
            .ledger_head()?
            .unwrap_or((0, ledger::GENESIS.to_vec()));
        let seq = last + 1;
        let digest = ledger::sha256(body.as_bytes());
        let hash = ledger::entry_hash(&prev, seq, now, kind.as_str(), &digest);
        self.tx
            .execute(
                "INSERT INTO ledger (seq, at, kind, body, body_sha256, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![seq, now, kind.as_str(), body, digest, prev, hash],
            )
            .map_err(self.err())?;
        Ok(seq)
    }

    /// Sets the body of every ledger entry `doomed` picks to NULL (forget
    /// records are never erased); returns their sequence numbers.
    pub(super) fn redact_ledger(&self, doomed: impl Fn(&str) -> bool) -> Result<Vec<i64>> {
        let err = self.err();
        let candidates: Vec<(i64, String)> = {
            let mut stmt = self
                .tx
                .prepare(
                    "SELECT seq, body FROM ledger WHERE body IS NOT NULL AND kind <> ?1 ORDER BY seq",
                )
                .map_err(&err)?;
            stmt.query_map([ledger::Kind::Forget.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(&err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(&err)?
        };
        let mut redacted = Vec::new();
        for (seq, body) in candidates {
            if doomed(&body) {
                self.tx
                    .execute("UPDATE ledger SET body = NULL WHERE seq = ?1", [seq])
                    .map_err(&err)?;
                redacted.push(seq);
            }
        }
        Ok(redacted)
    }
}
