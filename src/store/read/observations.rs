//! Observations: the newest of an item (decrypted), whether one is stored,
//! how many, and the item's daily aggregates of compacted ones.

use super::Reader;
use crate::store::Result;
use crate::store::connection::Cached;
use crate::store::rows::{DayAggregate, ObservationRow};
use crate::store::sealing::{ObservationSecret, open_value};
use rusqlite::params;

impl Reader<'_> {
    /// The most recent observations of an item, newest first.
    pub fn recent_observations(&self, item: &str, limit: u32) -> Result<Vec<ObservationRow>> {
        // Times are sealed, so the newest rows by arrival are decrypted and
        // then ordered by observation time.
        let key = self.memory.key(self.conn, self.path, item)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT device, epoch, seq, sealed FROM observations WHERE item = ?1 \
                 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(self.err())?;
        let raw: Vec<(String, i64, i64, Vec<u8>)> = stmt
            .query_map(params![item, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        let mut rows = Vec::with_capacity(raw.len());
        for (device, epoch, seq, sealed) in raw {
            let secret: ObservationSecret = open_value(
                self.path,
                key.as_deref(),
                &crate::crypto::seal::observation_aad(item, &device, epoch as u64, seq as u64),
                &sealed,
                &format!("observation {device}/{epoch}/{seq}"),
            )?;
            rows.push(ObservationRow {
                device,
                kind: secret.kind,
                amount: secret.amount,
                observed_at: secret.observed_at,
            });
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.observed_at));
        Ok(rows)
    }

    /// Number of stored observations.
    pub fn observation_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM observations", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Whether `(device, epoch, seq)` is stored.
    pub fn has_observation(&self, device: &str, epoch: u64, seq: u64) -> Result<bool> {
        self.conn
            .query_row_cached(
                "SELECT EXISTS (SELECT 1 FROM observations WHERE device = ?1 AND epoch = ?2 AND seq = ?3)",
                params![device, epoch as i64, seq as i64],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The item's compacted daily aggregates, merged per day, oldest first.
    pub fn observation_days(&self, item: &str) -> Result<Vec<DayAggregate>> {
        let key = self.memory.key(self.conn, self.path, item)?;
        let mut stmt = self
            .conn
            .prepare("SELECT id, sealed FROM observation_days WHERE item = ?1 ORDER BY id")
            .map_err(self.err())?;
        let rows: Vec<(i64, Vec<u8>)> = stmt
            .query_map([item], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        let mut days: std::collections::BTreeMap<i64, DayAggregate> = Default::default();
        for (id, sealed) in rows {
            let part: DayAggregate = open_value(
                self.path,
                key.as_deref(),
                &crate::crypto::seal::day_aad(item, id),
                &sealed,
                &format!("observation_days row {id}"),
            )?;
            days.entry(part.day)
                .or_insert_with(|| DayAggregate {
                    day: part.day,
                    ..DayAggregate::default()
                })
                .merge(&part);
        }
        Ok(days.into_values().collect())
    }
}
