//! Retention by default: raw observations older than `retention.raw-days`
//! are folded into sealed daily aggregates (per item per day: consumed,
//! added and removed totals, last level, count) and deleted, a bounded
//! batch per daemon tick; dead letters past the same age are deleted. The
//! forecaster is unaffected: it keeps its own
//! fixed-size state (`item_state`) and never rereads observations.
//!
//! Events no feature needs (fridge door, temperature, battery…) are never
//! stored at all: `events::decode_event` names them and the engine counts
//! and drops them (`events_not_needed`).

use crate::config::Retention;
use crate::core::DAY;
use crate::store::{self, Store};

/// Most raw observations compacted per tick (bounds the writer's pause).
pub const COMPACT_BATCH: u32 = 2000;

/// The arrival time before which raw observations are compacted.
pub fn cutoff(retention: &Retention, now: i64) -> i64 {
    now - i64::from(retention.raw_days) * DAY
}

/// Compacts one batch of expired raw observations at time `now` (injected:
/// the daemon passes its clock); returns how many were folded.
/// Dead letters past the same age are deleted (they hold the first bytes
/// of refused payloads, which may carry readings).
pub fn compact(store: &mut Store, retention: &Retention, now: i64) -> store::Result<u64> {
    let tx = store.transaction()?;
    let before = cutoff(retention, now);
    let folded = tx.compact_observations(before, COMPACT_BATCH)?;
    let expired = tx.expire_dead_letters(before)?;
    if folded == 0 && expired == 0 {
        // Nothing changed: roll back instead of committing an empty write.
        return Ok(0);
    }
    if folded > 0 {
        tx.bump("observations_compacted", folded)?;
    }
    if expired > 0 {
        tx.bump("dead_letters_expired", expired)?;
    }
    tx.commit()?;
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewObservation;

    fn temp_path(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "larder-retention-{tag}-{}-{}",
            std::process::id(),
            crate::crypto::keys::to_hex(&crate::crypto::keys::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir.join("r.db")
    }

    fn reading(seq: u64, at: i64, amount: f64) -> NewObservation<'static> {
        NewObservation {
            device: "fridge",
            epoch: 1,
            seq,
            item: "milk",
            kind: "level",
            amount,
            observed_at: at,
            received_at: at,
        }
    }

    #[test]
    fn observations_are_compacted_only_once_older_than_the_retention_age() {
        let path = temp_path("age");
        let mut store = Store::open(&path).expect("open");
        let t0 = 1_800_000_000 - 1_800_000_000 % DAY;
        let tx = store.transaction().expect("tx");
        // Ten days of two readings each, then one recent reading.
        for d in 0..10 {
            tx.insert_observation(&reading(
                2 * d as u64 + 1,
                t0 + d * DAY + 60,
                5.0 - d as f64 * 0.1,
            ))
            .expect("i");
            tx.insert_observation(&reading(
                2 * d as u64 + 2,
                t0 + d * DAY + 120,
                4.95 - d as f64 * 0.1,
            ))
            .expect("i");
        }
        tx.insert_observation(&reading(100, t0 + 95 * DAY, 1.0))
            .expect("i");
        tx.dead_letter("t", b"old", 3, "bad", t0).expect("dl");
        tx.dead_letter("t", b"new", 3, "bad", t0 + 95 * DAY)
            .expect("dl");
        tx.commit().expect("commit");
        let retention = Retention { raw_days: 90 };

        // 89 days after the first: nothing is old enough.
        assert_eq!(
            compact(&mut store, &retention, t0 + 89 * DAY).expect("c"),
            0
        );
        // 95 days after: the first five days (10 readings) are.
        assert_eq!(
            compact(&mut store, &retention, t0 + 95 * DAY).expect("c"),
            10
        );
        let days = store.read().observation_days("milk").expect("days");
        assert_eq!(days.len(), 5);
        assert!(days.iter().all(|d| d.count == 2));
        assert_eq!(days[0].day, t0 / DAY);
        assert_eq!(days[0].last_level, Some(4.95));
        assert_eq!(store.read().observation_count().expect("n"), 11);
        assert_eq!(
            store.read().counter("observations_compacted").expect("c"),
            10
        );
        assert_eq!(store.read().dead_letters(10).expect("dl").len(), 1);
        assert_eq!(store.read().counter("dead_letters_expired").expect("c"), 1);
        // Much later: everything but the recent one; again is a no-op.
        assert_eq!(
            compact(&mut store, &retention, t0 + 184 * DAY).expect("c"),
            10
        );
        assert_eq!(
            compact(&mut store, &retention, t0 + 184 * DAY).expect("c"),
            0
        );
        assert_eq!(
            store.read().observation_days("milk").expect("days").len(),
            10
        );
        let raw = store.read().recent_observations("milk", 10).expect("raw");
        assert_eq!(raw.len(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn a_batch_is_bounded() {
        let path = temp_path("batch");
        let mut store = Store::open(&path).expect("open");
        let tx = store.transaction().expect("tx");
        for seq in 1..=(COMPACT_BATCH as u64 + 5) {
            tx.insert_observation(&reading(seq, 1_800_000_000, 1.0))
                .expect("i");
        }
        tx.commit().expect("commit");
        let retention = Retention { raw_days: 1 };
        let later = 1_800_000_000 + 2 * DAY;
        assert_eq!(
            compact(&mut store, &retention, later).expect("c"),
            u64::from(COMPACT_BATCH)
        );
        assert_eq!(compact(&mut store, &retention, later).expect("c"), 5);
        let days = store.read().observation_days("milk").expect("days");
        assert_eq!(days.len(), 1, "two partial rows of one day merge");
        assert_eq!(days[0].count, u64::from(COMPACT_BATCH) + 5);
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}
