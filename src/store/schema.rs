//! The schema: `MIGRATIONS`, applied in order by `Store::migrate`
//! (`PRAGMA user_version` counts the applied ones; a file from a newer
//! larder is refused), and migration 4's pass that seals the plaintext
//! rows of older files (`seal_plaintext_rows`).

use super::connection::Store;
use super::error::{Result, StoreError, at};
use super::sealing::{
    ItemStateSecretJson, KeyOwner, ObservationSecret, read_or_create_key, seal_value,
};
use rusqlite::{Connection, params};
use std::path::Path;

/// Schema migrations, applied in order; `PRAGMA user_version` = applied count.
/// Append only: a released migration is never edited.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE observations (
    id          INTEGER PRIMARY KEY,
    device      TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    item        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    amount      REAL    NOT NULL,
    observed_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (device, epoch, seq)
);
CREATE INDEX observations_item_time ON observations (item, observed_at);

CREATE TABLE device_seq (
    device   TEXT PRIMARY KEY,
    epoch    INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
);

CREATE TABLE item_state (
    item       TEXT PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE intents (
    id                 TEXT PRIMARY KEY,
    item               TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    product            TEXT    NOT NULL,
    packages           INTEGER NOT NULL,
    quantity           REAL    NOT NULL,
    unit_price         REAL    NOT NULL,
    price_ceiling      REAL    NOT NULL,
    currency           TEXT    NOT NULL,
    deliver_after      INTEGER NOT NULL,
    deliver_before     INTEGER NOT NULL,
    nonce              TEXT,
    prompt_at          INTEGER,
    expires_at         INTEGER,
    approvals_required INTEGER NOT NULL,
    why                TEXT    NOT NULL,
    decided_by         TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX one_open_intent_per_item ON intents (item)
    WHERE state IN ('awaiting_approval', 'approved', 'sent', 'accepted');
CREATE INDEX intents_item_created ON intents (item, created_at);

CREATE TABLE approvals (
    id          INTEGER PRIMARY KEY,
    intent_id   TEXT    NOT NULL REFERENCES intents (id),
    member      TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,
    digest      BLOB    NOT NULL,
    envelope    BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (intent_id, member)
);

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    retain     INTEGER NOT NULL,
    intent_id  TEXT,
    not_before INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    topic       TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    payload     BLOB    NOT NULL,
    reason      TEXT    NOT NULL
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE presence (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    paused_since  INTEGER,
    paused_until  INTEGER,
    guests_factor REAL,
    guests_until  INTEGER,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE member_control (
    member   TEXT PRIMARY KEY,
    last_iat INTEGER NOT NULL
);
"#,
    // 3: the hash-chained ledger (see `ledger`). `body` is NULL only when a
    // recorded forget erased it; the chain commits to `body_sha256`.
    r#"
CREATE TABLE ledger (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    body        TEXT,
    body_sha256 BLOB    NOT NULL,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);
"#,
    // 4: encryption at rest (see `seal`). Per-item keys; observations and
    // item state keep only what lookups need in clear (ids, device
    // position) and seal the rest; daily aggregates replace raw
    // observations past the retention age. `Store::migrate` then moves the
    // old plaintext rows into the sealed tables (`seal_plaintext_rows`),
    // drops the old tables and scrubs the file (VACUUM).
    r#"
CREATE TABLE item_keys (
    item       TEXT PRIMARY KEY,
    key        BLOB    NOT NULL
);

CREATE TABLE sealed_observations (
    id     INTEGER PRIMARY KEY,
    device TEXT    NOT NULL,
    epoch  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    item   TEXT    NOT NULL,
    sealed BLOB    NOT NULL,
    UNIQUE (device, epoch, seq)
);

CREATE TABLE sealed_item_state (
    item   TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
);

CREATE TABLE observation_days (
    id     INTEGER PRIMARY KEY,
    item   TEXT NOT NULL,
    sealed BLOB NOT NULL
);
"#,
    // 5: withdrawn outbox rows are marked, not deleted: the relay may have
    // one in flight, and its PUBACK must still be recorded as published.
    r#"
ALTER TABLE outbox ADD COLUMN withdrawn_at INTEGER;
"#,
    // 6: a decision pass must not grow with years of closed intents: the
    // expiry sweep and the budget look intents up by state; the per-item
    // last delivery / unsuccessful close / order and the order cap by
    // (item, state, time) without reading the rows.
    // Measured in docs/performance.md (`larder bench`).
    r#"
CREATE INDEX intents_state_created ON intents (state, created_at);
CREATE INDEX intents_item_state_updated ON intents (item, state, updated_at);
CREATE INDEX intents_item_state_created ON intents (item, state, created_at);
"#,
    // 7: per adapter device (Zigbee2MQTT, Tasmota, ...) the state of its
    // signal processing (load-cell filter, washer cycle detector), saved in
    // the transaction that acks the message, one small row per device;
    // sealed like item state (a scale's median window holds recent
    // weights) under a random key per device (`device_keys`), the device
    // id as associated data.
    r#"
CREATE TABLE device_keys (
    device TEXT PRIMARY KEY,
    key    BLOB NOT NULL
);

CREATE TABLE device_state (
    device TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
);
"#,
];

/// Schema version that introduced sealed rows (see `MIGRATIONS`).
const SEALED_VERSION: usize = 4;

/// SQL run after `seal_plaintext_rows` in migration 4: the plaintext tables
/// go, the sealed ones take their names.
const SEALED_RENAMES: &str = r#"
DROP TABLE observations;
DROP TABLE item_state;
ALTER TABLE sealed_observations RENAME TO observations;
ALTER TABLE sealed_item_state RENAME TO item_state;
CREATE INDEX observations_item ON observations (item, id);
CREATE INDEX observation_days_item ON observation_days (item, id);
"#;

impl Store {
    /// Applies the migrations this file lacks, each in its own transaction;
    /// refuses a file from a newer larder.
    pub(super) fn migrate(&self) -> Result<()> {
        let err = at(&self.path);
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&err)?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                supported,
            });
        }
        let mut sealed_now = false;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.unchecked_transaction().map_err(&err)?;
            tx.execute_batch(sql).map_err(&err)?;
            if index + 1 == SEALED_VERSION {
                let sealed = seal_plaintext_rows(&tx, &self.path)?;
                tx.execute_batch(SEALED_RENAMES).map_err(&err)?;
                tracing::info!(
                    observations = sealed.0,
                    item_states = sealed.1,
                    "existing observations and item state encrypted under per-item keys"
                );
                sealed_now = true;
            }
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .map_err(&err)?;
            tx.commit().map_err(&err)?;
            tracing::info!(version = index + 1, "database migrated");
        }
        if sealed_now {
            // The plaintext rows were deleted with secure_delete on; VACUUM
            // and a truncating checkpoint also clear the WAL and free pages.
            self.scrub()?;
        }
        Ok(())
    }
}

/// Migration 4: seals every plaintext observation and item state into the
/// new tables, creating item keys; returns (observations, item states).
fn seal_plaintext_rows(conn: &Connection, path: &Path) -> Result<(u64, u64)> {
    let err = at(path);
    let mut observations = 0;
    {
        let mut stmt = conn
            .prepare(
                "SELECT id, device, epoch, seq, item, kind, amount, observed_at, received_at \
                 FROM observations ORDER BY id",
            )
            .map_err(&err)?;
        let mut rows = stmt.query([]).map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            let id: i64 = row.get(0).map_err(&err)?;
            let device: String = row.get(1).map_err(&err)?;
            let epoch: i64 = row.get(2).map_err(&err)?;
            let seq: i64 = row.get(3).map_err(&err)?;
            let item: String = row.get(4).map_err(&err)?;
            let secret = ObservationSecret {
                kind: row.get(5).map_err(&err)?,
                amount: row.get(6).map_err(&err)?,
                observed_at: row.get(7).map_err(&err)?,
                received_at: row.get(8).map_err(&err)?,
            };
            let key = read_or_create_key(conn, path, KeyOwner::Item, &item)?;
            let aad =
                crate::crypto::seal::observation_aad(&item, &device, epoch as u64, seq as u64);
            let sealed = seal_value(path, &key, &aad, &secret, "observation")?;
            conn.execute(
                "INSERT INTO sealed_observations (id, device, epoch, seq, item, sealed) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, device, epoch, seq, item, sealed],
            )
            .map_err(&err)?;
            observations += 1;
        }
    }
    let mut states = 0;
    {
        let mut stmt = conn
            .prepare("SELECT item, state, updated_at FROM item_state ORDER BY item")
            .map_err(&err)?;
        let mut rows = stmt.query([]).map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            let item: String = row.get(0).map_err(&err)?;
            let text: String = row.get(1).map_err(&err)?;
            let secret = ItemStateSecretJson {
                state: serde_json::from_str(&text).map_err(|e| StoreError::Decode {
                    path: path.to_owned(),
                    detail: format!("item_state of {item}: {e}"),
                })?,
                updated_at: row.get(2).map_err(&err)?,
            };
            let key = read_or_create_key(conn, path, KeyOwner::Item, &item)?;
            let sealed = seal_value(
                path,
                &key,
                &crate::crypto::seal::item_state_aad(&item),
                &secret,
                "item_state",
            )?;
            conn.execute(
                "INSERT INTO sealed_item_state (item, sealed) VALUES (?1, ?2)",
                params![item, sealed],
            )
            .map_err(&err)?;
            states += 1;
        }
    }
    Ok((observations, states))
}
