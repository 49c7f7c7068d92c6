//! Compaction: raw observations past the retention age folded into sealed
//! daily aggregates.

use super::Tx;
use crate::store::Result;
use crate::store::rows::DayAggregate;
use crate::store::sealing::{ObservationSecret, open_value, seal_value};
use rusqlite::params;

impl Tx<'_> {
    /// Folds raw observations that arrived before `cutoff` into sealed
    /// daily aggregates (per item per UTC day of observation) and deletes
    /// them; at most `limit` per call, oldest first. Returns how many were
    /// compacted. The forecaster is unaffected: it folds each observation
    /// into `item_state` when it arrives and never rereads them.
    pub fn compact_observations(&self, cutoff: i64, limit: u32) -> Result<u64> {
        let err = self.err();
        let mut keys: std::collections::HashMap<String, Option<Vec<u8>>> = Default::default();
        let mut days: std::collections::BTreeMap<(String, i64), DayAggregate> = Default::default();
        let mut done = Vec::new();
        let mut stmt = self
            .tx
            .prepare(
                "SELECT id, item, device, epoch, seq, sealed FROM observations ORDER BY id LIMIT ?1",
            )
            .map_err(&err)?;
        // Read lazily: on most ticks the very first row is young and ends it.
        let mut rows = stmt.query([limit]).map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            let id: i64 = row.get(0).map_err(&err)?;
            let item: String = row.get(1).map_err(&err)?;
            let device: String = row.get(2).map_err(&err)?;
            let epoch: i64 = row.get(3).map_err(&err)?;
            let seq: i64 = row.get(4).map_err(&err)?;
            let sealed: Vec<u8> = row.get(5).map_err(&err)?;
            if !keys.contains_key(&item) {
                let key = self.memory().key(&self.tx, &self.path, &item)?;
                keys.insert(item.clone(), key);
            }
            let key = keys.get(&item).and_then(|k| k.as_deref());
            let obs: ObservationSecret = open_value(
                &self.path,
                key,
                &crate::crypto::seal::observation_aad(&item, &device, epoch as u64, seq as u64),
                &sealed,
                &format!("observation {id}"),
            )?;
            // Arrival order is id order: the first young row ends the run.
            if obs.received_at >= cutoff {
                break;
            }
            let day = obs.observed_at.div_euclid(crate::core::DAY);
            days.entry((item.clone(), day))
                .or_insert_with(|| DayAggregate {
                    day,
                    ..DayAggregate::default()
                })
                .fold(&obs);
            done.push(id);
        }
        drop(rows);
        drop(stmt);
        let mut next: i64 = self
            .tx
            .query_row(
                "SELECT COALESCE(MAX(id), 0) FROM observation_days",
                [],
                |r| r.get(0),
            )
            .map_err(&err)?;
        for ((item, _), aggregate) in &days {
            next += 1;
            let key = self.memory().key_or_create(&self.tx, &self.path, item)?;
            let sealed = seal_value(
                &self.path,
                &key,
                &crate::crypto::seal::day_aad(item, next),
                aggregate,
                "observation_days",
            )?;
            self.tx
                .execute(
                    "INSERT INTO observation_days (id, item, sealed) VALUES (?1, ?2, ?3)",
                    params![next, item, sealed],
                )
                .map_err(&err)?;
        }
        for id in &done {
            self.tx
                .execute("DELETE FROM observations WHERE id = ?1", [id])
                .map_err(&err)?;
        }
        Ok(done.len() as u64)
    }
}
