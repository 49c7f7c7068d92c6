//! Opening a file: the durability pragmas and schema version, migration 4
//! sealing an older file's rows, a corrupt file reported as such.

use super::{contains, file_bytes, temp_db, tempdir};
use crate::store::schema::MIGRATIONS;
use crate::store::{Store, StoreError};
use rusqlite::Connection;

#[test]
fn durability_pragmas_are_set_and_schema_is_current() {
    let (_d, store) = temp_db();
    let sync: i64 = store
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .expect("q");
    let mode: String = store
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("q");
    let version: i64 = store
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("q");
    assert_eq!(
        (sync, mode.as_str(), version),
        (2, "wal", MIGRATIONS.len() as i64)
    );
}

#[test]
fn a_version_3_file_is_encrypted_by_the_migration_and_keeps_no_plaintext() {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("old.db");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA journal_mode=WAL").expect("wal");
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.execute_batch(
            "PRAGMA user_version = 3;
             INSERT INTO observations (device, epoch, seq, item, kind, amount, observed_at, received_at)
               VALUES ('scale-7', 1, 1, 'quince-jam-q9', 'level', 7.654321, 1700000000, 1700000001);
             INSERT INTO item_state (item, state, updated_at)
               VALUES ('quince-jam-q9', '{\"level\":7.654321}', 1700000001);",
        )
        .expect("old rows");
    }
    let store = Store::open(&path).expect("migrates");
    let version: i64 = store
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("q");
    assert_eq!(version, MIGRATIONS.len() as i64);
    let rows = store
        .read()
        .recent_observations("quince-jam-q9", 5)
        .expect("decrypts");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].amount, rows[0].observed_at),
        (7.654321, 1700000000)
    );
    let bytes = file_bytes(&path);
    assert!(
        !contains(&bytes, b"7.654321"),
        "plaintext level left behind"
    );
    assert!(!contains(&bytes, &7.654321f64.to_le_bytes()));
    assert!(!contains(&bytes, &7.654321f64.to_be_bytes()));
    assert!(!contains(&bytes, b"1700000000"));
}

#[test]
fn a_corrupt_file_is_reported_not_opened() {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("bad.db");
    std::fs::write(&path, vec![0x5au8; 8192]).expect("write");
    // Corrupt (so the daemon quarantines it), not a generic error that
    // would stop the daemon in a restart loop.
    assert!(
        matches!(Store::open(&path), Err(StoreError::Corrupt { .. })),
        "garbage must be reported as corrupt"
    );
}
