//! Storing observations (sealed, at most once per `(device, epoch, seq)`)
//! and each device's newest sequence position.

use super::Tx;
use crate::store::Result;
use crate::store::connection::Cached;
use crate::store::rows::{Inserted, NewObservation};
use crate::store::sealing::{ObservationSecret, seal_value};
use rusqlite::{OptionalExtension, params};

impl Tx<'_> {
    /// Stores an observation unless `(device, epoch, seq)` is already stored
    /// (the unique index decides; a duplicate is sealed and dropped, which
    /// is cheaper than a lookup before every new one).
    pub fn insert_observation(&self, obs: &NewObservation<'_>) -> Result<Inserted> {
        let key = self
            .memory()
            .key_or_create(&self.tx, &self.path, obs.item)?;
        let sealed = seal_value(
            &self.path,
            &key,
            &crate::crypto::seal::observation_aad(obs.item, obs.device, obs.epoch, obs.seq),
            &ObservationSecret {
                kind: obs.kind.to_owned(),
                amount: obs.amount,
                observed_at: obs.observed_at,
                received_at: obs.received_at,
            },
            "observation",
        )?;
        let changed = self
            .tx
            .execute_cached(
                "INSERT INTO observations (device, epoch, seq, item, sealed) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (device, epoch, seq) DO NOTHING",
                params![
                    obs.device,
                    obs.epoch as i64,
                    obs.seq as i64,
                    obs.item,
                    sealed
                ],
            )
            .map_err(self.err())?;
        Ok(if changed == 1 {
            Inserted::New
        } else {
            Inserted::Duplicate
        })
    }

    /// Records the newest sequence seen from a device; returns the previous
    /// `(epoch, last_seq)`, if any.
    pub fn advance_device_seq(
        &self,
        device: &str,
        epoch: u64,
        seq: u64,
    ) -> Result<Option<(u64, u64)>> {
        let previous: Option<(i64, i64)> = self
            .tx
            .query_row_cached(
                "SELECT epoch, last_seq FROM device_seq WHERE device = ?1",
                [device],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        let previous = previous.map(|(e, s)| (e as u64, s as u64));
        let newer = match previous {
            None => true,
            Some((e, s)) => epoch != e || seq > s,
        };
        if newer {
            self.tx
                .execute_cached(
                    "INSERT INTO device_seq (device, epoch, last_seq) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (device) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq",
                    params![device, epoch as i64, seq as i64],
                )
                .map_err(self.err())?;
        }
        Ok(previous)
    }
}
