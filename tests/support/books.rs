//! Jepsen-style books: what the broker acknowledged against what the
//! database holds, what went upstream per product, and the small reads
//! the tests wait on (a stored event, an intent's state, a counter).

use super::{ScratchDir, Seen, db_path, open_db};
use larder::store::{IntentState, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// The accounting for one device stream.
#[derive(Debug)]
pub struct StreamTally {
    /// Events the broker acknowledged.
    pub acked: usize,
    /// Acknowledged but not in the database.
    pub lost: Vec<u64>,
    /// Observations stored (all streams).
    pub stored: u64,
}

/// Compares what the broker acknowledged with what the database holds.
pub fn tally(db_path: &Path, device: &str, epoch: u64, acked: &[u64]) -> StreamTally {
    let db = Store::open_readonly(db_path).expect("open db");
    let lost = acked
        .iter()
        .copied()
        .filter(|seq| {
            !db.read()
                .has_observation(device, epoch, *seq)
                .unwrap_or(false)
        })
        .collect();
    StreamTally {
        acked: acked.len(),
        lost,
        stored: db.read().observation_count().expect("count"),
    }
}

/// Waits until every acknowledged fridge event of `epoch` is stored (or
/// `timeout` passes); returns the tally.
pub fn settle(db_path: &Path, epoch: u64, acked: &[u64], timeout: Duration) -> StreamTally {
    let deadline = Instant::now() + timeout;
    loop {
        let t = tally(db_path, "fridge", epoch, acked);
        if t.lost.is_empty() || Instant::now() > deadline {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Distinct intent ids seen upstream, per product, verified with the hub key.
pub fn intents_by_product(seen: &[Seen], hub_key: &[u8; 32]) -> BTreeMap<String, BTreeSet<String>> {
    let mut by = BTreeMap::<String, BTreeSet<String>>::new();
    for s in seen {
        let intent =
            larder::protocol::intent::verify_intent(&s.payload, hub_key).expect("intent verifies");
        by.entry(intent.product).or_default().insert(intent.id);
    }
    by
}

/// The counter `name` in `dir`'s database.
pub fn counter(dir: &ScratchDir, name: &str) -> u64 {
    open_db(dir).read().counter(name).expect("counter")
}

/// Whether `dir`'s database (if it can be opened yet) holds the event
/// `(device, epoch, seq)`.
pub fn stored(dir: &ScratchDir, device: &str, epoch: u64, seq: u64) -> bool {
    Store::open_readonly(&db_path(dir)).ok().is_some_and(|db| {
        db.read()
            .has_observation(device, epoch, seq)
            .unwrap_or(false)
    })
}

/// Whether the intent `id` is in `state`.
pub fn intent_is(db: &Store, id: &str, state: IntentState) -> bool {
    db.read()
        .intent(id)
        .ok()
        .flatten()
        .is_some_and(|i| i.state == state)
}

/// The reasons of the latest `limit` dead letters in `db`.
pub fn dead_letter_reasons(db: &Store, limit: u32) -> Vec<String> {
    db.read()
        .dead_letters(limit)
        .expect("dead letters")
        .into_iter()
        .map(|d| d.reason)
        .collect()
}
