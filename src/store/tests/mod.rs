//! The store's unit tests, one file per concern, and what they share: a
//! throwaway database, rows to store, and raw views of the files.

mod forget;
mod household;
mod intents;
mod ledger;
mod observations;
mod outbox;
mod schema;
mod state;

use crate::core::forecast::ItemState;
use crate::store::{IntentRow, IntentState, NewObservation, Store};
use std::path::Path;

fn temp_db() -> (tempdir::Dir, Store) {
    let dir = tempdir::Dir::new();
    let store = Store::open(&dir.path.join("t.db")).expect("open");
    (dir, store)
}

/// A throwaway directory removed on drop (no extra crate for tests).
mod tempdir {
    use std::path::PathBuf;
    pub struct Dir {
        pub path: PathBuf,
    }
    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!(
                "larder-store-test-{}-{}",
                std::process::id(),
                crate::crypto::keys::to_hex(&crate::crypto::keys::random_bytes::<8>())
            ));
            std::fs::create_dir_all(&path).expect("mkdir");
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn intent(id: &str, item: &str, state: IntentState) -> IntentRow {
    IntentRow {
        id: id.into(),
        item: item.into(),
        state,
        product: "sku".into(),
        packages: 2,
        quantity: 2.0,
        unit_price: 1.1,
        price_ceiling: 2.42,
        currency: "EUR".into(),
        deliver_after: 10,
        deliver_before: 20,
        nonce: None,
        prompt_at: None,
        expires_at: None,
        approvals_required: 1,
        why: vec!["low".into()],
        decided_by: None,
        created_at: 5,
        updated_at: 5,
    }
}

/// Every byte of the database, its WAL and shared memory file.
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(bytes) = std::fs::read(format!("{}{suffix}", path.display())) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn obs<'a>(item: &'a str, seq: u64, kind: &'a str, amount: f64, at: i64) -> NewObservation<'a> {
    NewObservation {
        device: "scale-7",
        epoch: 1,
        seq,
        item,
        kind,
        amount,
        observed_at: at,
        received_at: at,
    }
}

fn learned(level: f64) -> ItemState {
    ItemState {
        level: Some(level),
        level_at: 1_800_000_000,
        demand_sum: 1.0 / 3.0,
        weekday_mean: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
        lots: vec![crate::core::forecast::Lot {
            at: 1_799_000_000,
            amount: level,
        }],
        ..ItemState::default()
    }
}

/// The `item_state` rows as the file has them (not through the cache).
fn stored_states(path: &Path) -> Vec<(String, ItemState)> {
    let store = Store::open_readonly(path).expect("open");
    let items: Vec<String> = {
        let mut stmt = store
            .conn
            .prepare("SELECT item FROM item_state ORDER BY item")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    };
    items
        .into_iter()
        .map(|item| {
            let state = store.read().item_state(&item).expect("read").expect("row");
            (item, state)
        })
        .collect()
}
