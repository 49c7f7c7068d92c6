//! SQLite storage: versioned migrations, WAL with `synchronous=FULL`, one
//! writer. Observations, item state, intents (proposals and their lifecycle),
//! approvals, the outbox, dead letters and counters.
//!
//! Invariants enforced here (by schema, not by callers' good behaviour):
//! - an event `(device, epoch, seq)` is stored at most once (UNIQUE);
//! - at most one open intent per item (UNIQUE partial index);
//! - a member's reply counts at most once per intent (UNIQUE).

mod lock;
mod verify;
pub use lock::{LOCK_FILE, LockError, PID_FILE, StateLock, wipe_quarantined};
#[cfg(test)]
mod ledger_tests;

use crate::core::forecast::ItemState;
use crate::crypto::keys;
use crate::ledger::{self, LedgerRow};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable capping the writer's database size in pages
/// (`PRAGMA max_page_count`). A fault-injection knob: once the cap is hit,
/// writes fail with `SQLITE_FULL`, exactly as on a full disk, so the
/// disk-full path can be exercised without a tiny filesystem. Unset in
/// production; read only by [`Store::open`].
pub const MAX_DB_PAGES_ENV: &str = "LARDER_MAX_DB_PAGES";

/// Most bytes of a refused payload kept in the dead-letter table.
pub const DEAD_LETTER_KEEP_BYTES: usize = 4096;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The file failed `quick_check`.
    #[error("database {path} is corrupt: {detail}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What `quick_check` said.
        detail: String,
    },
    /// The file was written by a newer larder.
    #[error("database {path} has schema version {found}, newer than this larder ({supported})")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A stored value could not be decoded.
    #[error("database {path}: bad stored value: {detail}")]
    Decode {
        /// The database file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

impl StoreError {
    /// Reclassifies SQLite's "not a database" and "malformed" errors as
    /// [`StoreError::Corrupt`].
    fn not_a_database_is_corrupt(self) -> StoreError {
        match self {
            StoreError::Sqlite { path, source }
                if matches!(
                    source.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
                ) =>
            {
                StoreError::Corrupt {
                    path,
                    detail: source.to_string(),
                }
            }
            other => other,
        }
    }
}

/// Result alias for the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Schema migrations, applied in order; `PRAGMA user_version` = applied count.
/// Append only: a released migration is never edited.
const MIGRATIONS: &[&str] = &[
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

/// Intent lifecycle states as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentState {
    /// Waiting for household approval.
    AwaitingApproval,
    /// Approved; the signed intent is in the outbox.
    Approved,
    /// The broker acknowledged the signed intent.
    Sent,
    /// The shop accepted it.
    Accepted,
    /// The goods arrived (terminal).
    Delivered,
    /// A member denied it (terminal).
    Denied,
    /// The rules refused it (terminal).
    Refused,
    /// Nobody answered in time (terminal).
    Expired,
    /// The shop rejected it (terminal).
    Rejected,
    /// A member cancelled it inside the cancellation window (terminal; a
    /// signed cancellation went upstream if the intent had left).
    Cancelled,
    /// The price guard stopped it: the shop's quote was above the ceiling
    /// or for another product (terminal; a signed cancellation went
    /// upstream and a replacement, if any, waits for the household).
    Held,
}

impl IntentState {
    /// All states, for parsing.
    const ALL: [IntentState; 11] = [
        IntentState::AwaitingApproval,
        IntentState::Approved,
        IntentState::Sent,
        IntentState::Accepted,
        IntentState::Delivered,
        IntentState::Denied,
        IntentState::Refused,
        IntentState::Expired,
        IntentState::Rejected,
        IntentState::Cancelled,
        IntentState::Held,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentState::AwaitingApproval => "awaiting_approval",
            IntentState::Approved => "approved",
            IntentState::Sent => "sent",
            IntentState::Accepted => "accepted",
            IntentState::Delivered => "delivered",
            IntentState::Denied => "denied",
            IntentState::Refused => "refused",
            IntentState::Expired => "expired",
            IntentState::Rejected => "rejected",
            IntentState::Cancelled => "cancelled",
            IntentState::Held => "held",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<IntentState> {
        IntentState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the intent still blocks a new one for the same item.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IntentState::AwaitingApproval
                | IntentState::Approved
                | IntentState::Sent
                | IntentState::Accepted
        )
    }
}

/// One intent row.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentRow {
    /// Idempotency key (32 hex digits).
    pub id: String,
    /// Item id.
    pub item: String,
    /// Lifecycle state.
    pub state: IntentState,
    /// Product / SKU.
    pub product: String,
    /// Whole packages.
    pub packages: u32,
    /// Amount in the item's unit.
    pub quantity: f64,
    /// Price per package.
    pub unit_price: f64,
    /// Most the order may cost.
    pub price_ceiling: f64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Earliest delivery (Unix seconds).
    pub deliver_after: i64,
    /// Latest delivery (Unix seconds).
    pub deliver_before: i64,
    /// Approval nonce (hex), for asked intents.
    pub nonce: Option<String>,
    /// When the approval prompt may go out, for asked intents.
    pub prompt_at: Option<i64>,
    /// When the approval request expires, for asked intents.
    pub expires_at: Option<i64>,
    /// Distinct member approvals needed.
    pub approvals_required: u32,
    /// Reasons: the forecast's, then the rules'.
    pub why: Vec<String>,
    /// Who decided: `rule:<name>`, `members`, `member:<name>`, `expiry`, `shop`.
    pub decided_by: Option<String>,
    /// Created (Unix seconds).
    pub created_at: i64,
    /// Last state change (Unix seconds).
    pub updated_at: i64,
}

/// A new observation to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObservation<'a> {
    /// Device id.
    pub device: &'a str,
    /// Device boot epoch.
    pub epoch: u64,
    /// Sequence number in the epoch.
    pub seq: u64,
    /// Item id.
    pub item: &'a str,
    /// Wire kind name.
    pub kind: &'a str,
    /// Amount in the item's unit.
    pub amount: f64,
    /// When it was observed.
    pub observed_at: i64,
    /// When larder received it.
    pub received_at: i64,
}

/// One stored observation.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationRow {
    /// Device id.
    pub device: String,
    /// Wire kind name.
    pub kind: String,
    /// Amount in the item's unit.
    pub amount: f64,
    /// When it was observed.
    pub observed_at: i64,
}

/// A message waiting for (or done with) the outbound relay.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Row id (FIFO order).
    pub id: i64,
    /// `approval_request`, `approval_clear` or `intent`.
    pub kind: String,
    /// Topic.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Publish retained.
    pub retain: bool,
    /// The intent it concerns.
    pub intent_id: Option<String>,
    /// Not to be published before (Unix seconds).
    pub not_before: i64,
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox<'a> {
    /// `approval_request`, `approval_clear`, `intent` or `cancel`.
    pub kind: &'a str,
    /// Topic.
    pub topic: &'a str,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// Publish retained.
    pub retain: bool,
    /// The intent it concerns.
    pub intent_id: Option<&'a str>,
    /// Not to be published before (Unix seconds).
    pub not_before: i64,
}

/// Whether the household is away or has guests (one row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Presence {
    /// Away since (Unix seconds), if paused.
    pub paused_since: Option<i64>,
    /// Automatic resume time, if one was given.
    pub paused_until: Option<i64>,
    /// Declared guest consumption factor, if any.
    pub guests_factor: Option<f64>,
    /// Until when the guests stay.
    pub guests_until: Option<i64>,
}

/// A member's accepted reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRow {
    /// Intent id.
    pub intent_id: String,
    /// Member name.
    pub member: String,
    /// `approve` or `deny`.
    pub verdict: String,
    /// SHA-256 of the envelope.
    pub digest: Vec<u8>,
    /// The signed COSE envelope as received.
    pub envelope: Vec<u8>,
    /// When it was accepted.
    pub received_at: i64,
}

/// A refused inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterRow {
    /// When it arrived.
    pub received_at: i64,
    /// Topic it arrived on.
    pub topic: String,
    /// Full size in bytes.
    pub size: usize,
    /// Why it was refused.
    pub reason: String,
}

/// What a forget erased (counts only; see `Tx::forget_item`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forgotten {
    /// Observations deleted.
    pub observations: u64,
    /// Daily aggregate rows deleted.
    pub days: u64,
    /// Intents deleted.
    pub intents: u64,
    /// Intents that were awaiting approval (their retained requests should
    /// be cleared on the broker).
    pub awaiting: Vec<String>,
    /// Member replies deleted.
    pub approvals: u64,
    /// Outbox rows deleted.
    pub outbox: u64,
    /// Dead letters deleted.
    pub dead_letters: u64,
    /// Ledger bodies erased.
    pub redacted: usize,
    /// Whether an encryption key was destroyed.
    pub key: bool,
    /// The `forget` ledger entry's number.
    pub ledger_seq: i64,
}

/// The tables `larder export` writes, in document order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Stored sensor observations.
    Observations,
    /// Newest sequence number per device.
    DeviceSeq,
    /// Learned item state (JSON).
    ItemState,
    /// Adapter devices' processing state (JSON).
    DeviceState,
    /// Daily aggregates of observations past the retention age.
    ObservationDays,
    /// Intents and their lifecycle.
    Intents,
    /// Accepted member replies.
    Approvals,
    /// Outbound messages (sent and unsent).
    Outbox,
    /// Refused inbound messages.
    DeadLetters,
    /// Counters.
    Counters,
    /// The hash-chained ledger.
    Ledger,
}

impl Table {
    /// Every exported table, in document order.
    pub const ALL: [Table; 11] = [
        Table::Observations,
        Table::DeviceSeq,
        Table::ItemState,
        Table::DeviceState,
        Table::ObservationDays,
        Table::Intents,
        Table::Approvals,
        Table::Outbox,
        Table::DeadLetters,
        Table::Counters,
        Table::Ledger,
    ];

    /// The SQL table name (also the export document's key).
    pub fn name(self) -> &'static str {
        match self {
            Table::Observations => "observations",
            Table::DeviceSeq => "device_seq",
            Table::ItemState => "item_state",
            Table::DeviceState => "device_state",
            Table::ObservationDays => "observation_days",
            Table::Intents => "intents",
            Table::Approvals => "approvals",
            Table::Outbox => "outbox",
            Table::DeadLetters => "dead_letters",
            Table::Counters => "counters",
            Table::Ledger => "ledger",
        }
    }

    /// Row order: the natural key, so exports are stable.
    fn order(self) -> &'static str {
        match self {
            Table::DeviceSeq | Table::DeviceState => "device",
            Table::ItemState => "item",
            Table::Intents => "created_at, id",
            Table::Counters => "name",
            Table::Ledger => "seq",
            _ => "id",
        }
    }
}

/// A column value as exported: BLOBs become lowercase hex text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
    /// BLOB, as lowercase hex.
    Hex(String),
}

/// What happened to an inserted observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored.
    New,
    /// Already stored (same device, epoch, seq); ignored.
    Duplicate,
}

/// The database handle (the single writer, or a read-only reader).
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Decrypted item states and item keys exactly as committed (see
    /// [`Tx`]): the writer is the only one that changes them (one writer
    /// per state directory, `StateLock`), so it need not read and
    /// decrypt them again. Stays empty on a read-only handle.
    committed: Committed,
}

/// What the writer holds in memory of the sealed tables, as committed.
#[derive(Default)]
struct Committed {
    /// Item states by item id.
    states: std::collections::HashMap<String, ItemState>,
    /// Item keys (`item_keys`) by item id.
    keys: std::collections::HashMap<String, Vec<u8>>,
}

/// Item states and keys read or changed inside one transaction; they
/// reach [`Committed`] only when the transaction commits.
#[derive(Default)]
struct TxCache {
    /// By item: its state as this transaction sees it (`None`: no row).
    items: std::collections::BTreeMap<String, TxState>,
    /// By item: its key as this transaction sees it (`None`: no key).
    keys: std::collections::BTreeMap<String, Option<Vec<u8>>>,
    /// `forget_household` ran: nothing committed applies any more.
    all_erased: bool,
}

/// The in-memory view a [`Reader`] or [`Tx`] looks through before SQLite.
#[derive(Clone, Copy)]
struct Memory<'a> {
    committed: &'a Committed,
    /// Inside a transaction: what it read or changed.
    pending: Option<&'a std::cell::RefCell<TxCache>>,
}

impl Memory<'_> {
    /// The item's key: the transaction's, else the committed one, else
    /// read (and, in a transaction, remembered).
    fn key(&self, conn: &Connection, path: &Path, item: &str) -> Result<Option<Vec<u8>>> {
        let all_erased = match self.pending {
            Some(pending) => {
                let pending = pending.borrow();
                if let Some(key) = pending.keys.get(item) {
                    return Ok(key.clone());
                }
                pending.all_erased
            }
            None => false,
        };
        if !all_erased {
            if let Some(key) = self.committed.keys.get(item) {
                return Ok(Some(key.clone()));
            }
        }
        let key = item_key(conn, path, item)?;
        if let Some(pending) = self.pending {
            pending
                .borrow_mut()
                .keys
                .insert(item.to_owned(), key.clone());
        }
        Ok(key)
    }

    /// The item's key, created (random) on first use; in a transaction.
    fn key_or_create(&self, conn: &Connection, path: &Path, item: &str) -> Result<Vec<u8>> {
        if let Some(key) = self.key(conn, path, item)? {
            return Ok(key);
        }
        let key = item_key_or_create(conn, path, item)?;
        if let Some(pending) = self.pending {
            pending
                .borrow_mut()
                .keys
                .insert(item.to_owned(), Some(key.clone()));
        }
        Ok(key)
    }
}

/// One item's state inside a transaction.
struct TxState {
    state: Option<ItemState>,
    /// Changed and not yet written to `item_state`: the `updated_at` to
    /// write. Written once per transaction, at commit.
    unwritten: Option<i64>,
}

/// Adds the path to a rusqlite error.
fn at(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// The statements on the ingest and decision paths are prepared once per
/// connection and reused: preparing one cost ~30 µs on the bench machine,
/// more than running it (`docs/performance.md`).
trait Cached {
    fn execute_cached(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize>;
    fn query_row_cached<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn execute_cached(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Room for every statement of the ingest and decision paths (rusqlite's
/// default is 16).
const STATEMENT_CACHE: usize = 48;

impl Store {
    /// Opens (creating if needed) the database as the single writer:
    /// WAL, `synchronous=FULL`, foreign keys, `quick_check`, migrations.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).map_err(at(path))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let store = Store {
            conn,
            path: path.to_owned(),
            committed: Committed::default(),
        };
        // A file that is not a database at all fails before `quick_check`
        // can run; it is corrupt too (and quarantined), not a hard error.
        store
            .configure()
            .map_err(StoreError::not_a_database_is_corrupt)?;
        store.check_integrity()?;
        store
            .migrate()
            .map_err(StoreError::not_a_database_is_corrupt)?;
        store.limit_pages()?;
        Ok(store)
    }

    /// Applies `LARDER_MAX_DB_PAGES` (see [`MAX_DB_PAGES_ENV`]) to the
    /// writer connection, after migrations so the schema always fits.
    fn limit_pages(&self) -> Result<()> {
        let Some(value) = std::env::var_os(MAX_DB_PAGES_ENV) else {
            return Ok(());
        };
        let pages: u64 = value
            .to_str()
            .and_then(|v| v.trim().parse().ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| StoreError::Decode {
                path: self.path.clone(),
                detail: format!("{MAX_DB_PAGES_ENV}={value:?} is not a positive whole number"),
            })?;
        let set: i64 = self
            .conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })
            .map_err(at(&self.path))?;
        tracing::warn!(
            database = %self.path.display(),
            max_pages = set,
            "{MAX_DB_PAGES_ENV} is set: the database cannot grow beyond this many pages (writes then fail as if the disk were full)"
        );
        Ok(())
    }

    /// Opens an existing database read-only (for `status` and the relay).
    pub fn open_readonly(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(at(path))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(at(path))?;
        // Every connection, even a reader: nothing it ever frees keeps content.
        conn.execute_batch("PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY;")
            .map_err(at(path))?;
        Ok(Store {
            conn,
            path: path.to_owned(),
            committed: Committed::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Caps this connection's page cache at `kib` KiB (SQLite's default is
    /// 2 MiB per connection): for background readers that re-read a small
    /// working set, where the memory matters more than the cache.
    pub fn limit_page_cache(&self, kib: u32) -> Result<()> {
        self.conn
            .pragma_update(None, "cache_size", -i64::from(kib))
            .map_err(at(&self.path))
    }

    fn configure(&self) -> Result<()> {
        let err = at(&self.path);
        self.conn
            .busy_timeout(Duration::from_secs(5))
            .map_err(&err)?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(&err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Decode {
                path: self.path.clone(),
                detail: format!("journal_mode is {mode}, WAL required"),
            });
        }
        self.conn
            .execute_batch(
                "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=4194304; \
                 PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY;",
            )
            .map_err(&err)?;
        // Assert what durability rests on: a commit is on disk before we ack.
        let sync: i64 = self
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(&err)?;
        if sync != 2 {
            return Err(StoreError::Decode {
                path: self.path.clone(),
                detail: format!("synchronous is {sync}, FULL (2) required"),
            });
        }
        Ok(())
    }

    fn check_integrity(&self) -> Result<()> {
        let result: rusqlite::Result<String> =
            self.conn.query_row("PRAGMA quick_check", [], |r| r.get(0));
        match result {
            Ok(ok) if ok == "ok" => Ok(()),
            Ok(detail) => Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail,
            }),
            Err(e) => Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            }),
        }
    }

    fn migrate(&self) -> Result<()> {
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

    /// Makes deleted content unrecoverable from the database file, its WAL
    /// and its free pages: checkpoint and truncate the WAL, `VACUUM` (temp
    /// store in memory, so no temporary file holds a copy), checkpoint and
    /// truncate again. Every connection has `secure_delete=ON`, so deleted
    /// cells were already zeroed in the pages that held them. Must not run
    /// inside a transaction. Returns the database size in bytes afterwards.
    pub fn scrub(&self) -> Result<u64> {
        let err = at(&self.path);
        self.checkpoint_truncate()?;
        self.conn.execute_batch("VACUUM").map_err(&err)?;
        self.checkpoint_truncate()?;
        let size: i64 = self
            .conn
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get(0),
            )
            .map_err(&err)?;
        Ok(size as u64)
    }

    /// `wal_checkpoint(TRUNCATE)`, retried while a reader (the relay, a CLI)
    /// holds an old snapshot; the WAL file is empty afterwards.
    fn checkpoint_truncate(&self) -> Result<()> {
        let err = at(&self.path);
        for attempt in 0..50 {
            let (busy, _log, _done): (i64, i64, i64) = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(&err)?;
            if busy == 0 {
                return Ok(());
            }
            tracing::debug!(attempt, "checkpoint blocked by a reader; retrying");
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(StoreError::Decode {
            path: self.path.clone(),
            detail: "wal_checkpoint(TRUNCATE) stayed blocked by another connection for 5 s; \
                     the WAL may still hold erased content until the next checkpoint"
                .into(),
        })
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`).
    pub fn transaction(&mut self) -> Result<Tx<'_>> {
        let Store {
            conn,
            path,
            committed,
        } = self;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(path))?;
        Ok(Tx {
            tx,
            path: path.clone(),
            committed,
            pending: std::cell::RefCell::default(),
        })
    }

    /// Read queries on the current snapshot.
    pub fn read(&self) -> Reader<'_> {
        Reader {
            conn: &self.conn,
            path: &self.path,
            memory: Memory {
                committed: &self.committed,
                pending: None,
            },
        }
    }
}

/// Read-only queries, usable on a writer or a reader connection.
pub struct Reader<'a> {
    conn: &'a Connection,
    path: &'a Path,
    /// The writer's item states and keys in memory (nothing on a
    /// read-only handle).
    memory: Memory<'a>,
}

/// A write transaction; dropped without `commit` it rolls back, and so do
/// the item states it changed.
///
/// Item state is kept decrypted in memory: [`Tx::save_item_state`] only
/// records the new state, and [`Tx::commit`] writes (seals) each changed
/// item once, commits, and only then makes the states the store's
/// committed ones. A transaction that fails or is dropped leaves the
/// store's states as they were; `forget_item` / `forget_household` drop
/// the states they erase. Reads in the transaction see its own changes.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
    /// The store's committed states and keys; changed only after a commit.
    committed: &'a mut Committed,
    /// What this transaction read or changed of them.
    pending: std::cell::RefCell<TxCache>,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

const INTENT_COLUMNS: &str = "id, item, state, product, packages, quantity, unit_price, \
     price_ceiling, currency, deliver_after, deliver_before, nonce, prompt_at, expires_at, \
     approvals_required, why, decided_by, created_at, updated_at";

fn intent_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<IntentRow> {
    let state: String = row.get(2)?;
    let why: String = row.get(15)?;
    Ok(IntentRow {
        id: row.get(0)?,
        item: row.get(1)?,
        state: IntentState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown intent state {state:?}").into(),
            )
        })?,
        product: row.get(3)?,
        packages: row.get(4)?,
        quantity: row.get(5)?,
        unit_price: row.get(6)?,
        price_ceiling: row.get(7)?,
        currency: row.get(8)?,
        deliver_after: row.get(9)?,
        deliver_before: row.get(10)?,
        nonce: row.get(11)?,
        prompt_at: row.get(12)?,
        expires_at: row.get(13)?,
        approvals_required: row.get(14)?,
        why: serde_json::from_str(&why).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(15, rusqlite::types::Type::Text, e.into())
        })?,
        decided_by: row.get(16)?,
        created_at: row.get(17)?,
        updated_at: row.get(18)?,
    })
}

fn outbox_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: row.get(0)?,
        kind: row.get(1)?,
        topic: row.get(2)?,
        payload: row.get(3)?,
        retain: row.get(4)?,
        intent_id: row.get(5)?,
        not_before: row.get(6)?,
    })
}

impl<'a> Reader<'a> {
    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        at(self.path)
    }

    /// The learned state of an item, if any: this transaction's, else the
    /// committed one held in memory, else read and decrypted (and then
    /// remembered by the transaction).
    pub fn item_state(&self, item: &str) -> Result<Option<ItemState>> {
        let all_erased = match self.memory.pending {
            Some(pending) => {
                let pending = pending.borrow();
                if let Some(entry) = pending.items.get(item) {
                    return Ok(entry.state.clone());
                }
                pending.all_erased
            }
            None => false,
        };
        if !all_erased {
            if let Some(state) = self.memory.committed.states.get(item) {
                return Ok(Some(state.clone()));
            }
        }
        let state = self
            .item_state_secret(item)?
            .map(|(secret, _)| secret.state);
        if let Some(pending) = self.memory.pending {
            pending.borrow_mut().items.insert(
                item.to_owned(),
                TxState {
                    state: state.clone(),
                    unwritten: None,
                },
            );
        }
        Ok(state)
    }

    /// Inside a transaction: writes its changed item states now (before a
    /// query reads the `item_state` table itself).
    fn write_pending_states(&self) -> Result<()> {
        write_states(self.conn, self.path, self.memory)
    }

    /// The item's state as stored (decrypted) and its key.
    fn item_state_secret(&self, item: &str) -> Result<Option<(ItemStateSecret, Vec<u8>)>> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row_cached(
                "SELECT sealed FROM item_state WHERE item = ?1",
                [item],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let key = self.memory.key(self.conn, self.path, item)?;
        let secret: ItemStateSecret = open_value(
            self.path,
            key.as_deref(),
            &crate::crypto::seal::item_state_aad(item),
            &sealed,
            &format!("item_state of {item}"),
        )?;
        Ok(Some((secret, key.unwrap_or_default())))
    }

    /// Whether the item has an encryption key (anything stored about it).
    pub fn has_item_key(&self, item: &str) -> Result<bool> {
        Ok(self.memory.key(self.conn, self.path, item)?.is_some())
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

    /// The open intent for an item, if any.
    pub fn open_intent(&self, item: &str) -> Result<Option<IntentRow>> {
        self.conn
            .query_row_cached(
                &format!(
                    "SELECT {INTENT_COLUMNS} FROM intents WHERE item = ?1 AND state IN \
                     ('awaiting_approval', 'approved', 'sent', 'accepted')"
                ),
                [item],
                intent_from_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// One intent by id.
    pub fn intent(&self, id: &str) -> Result<Option<IntentRow>> {
        self.conn
            .query_row(
                &format!("SELECT {INTENT_COLUMNS} FROM intents WHERE id = ?1"),
                [id],
                intent_from_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Intents, newest first, at most `limit`.
    pub fn intents(&self, limit: u32) -> Result<Vec<IntentRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {INTENT_COLUMNS} FROM intents ORDER BY created_at DESC, rowid DESC LIMIT ?1"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit], intent_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Intents in the given state.
    pub fn intents_in_state(&self, state: IntentState) -> Result<Vec<IntentRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {INTENT_COLUMNS} FROM intents WHERE state = ?1 ORDER BY created_at, rowid"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([state.as_str()], intent_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// When the item's last intent that ended without an order (denied,
    /// refused, expired, rejected) was closed.
    pub fn last_unsuccessful_close(&self, item: &str) -> Result<Option<i64>> {
        self.conn
            .query_row_cached(
                "SELECT MAX(updated_at) FROM intents WHERE item = ?1 AND state IN \
                 ('denied', 'refused', 'expired', 'rejected', 'cancelled', 'held')",
                [item],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The item's most recent delivery: (when, quantity).
    pub fn last_delivery(&self, item: &str) -> Result<Option<(i64, f64)>> {
        self.conn
            .query_row_cached(
                "SELECT updated_at, quantity FROM intents WHERE item = ?1 AND state = 'delivered' \
                 ORDER BY updated_at DESC LIMIT 1",
                [item],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// The household's presence (default: at home, no guests).
    pub fn presence(&self) -> Result<Presence> {
        Ok(self
            .conn
            .query_row_cached(
                "SELECT paused_since, paused_until, guests_factor, guests_until FROM presence WHERE id = 1",
                [],
                |r| {
                    Ok(Presence {
                        paused_since: r.get(0)?,
                        paused_until: r.get(1)?,
                        guests_factor: r.get(2)?,
                        guests_until: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())?
            .unwrap_or_default())
    }

    /// The newest control-message time accepted from a member.
    pub fn member_control_iat(&self, member: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT last_iat FROM member_control WHERE member = ?1",
                [member],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// When the item was last ordered (an intent that got approved).
    pub fn last_order_at(&self, item: &str) -> Result<Option<i64>> {
        self.conn
            .query_row_cached(
                "SELECT MAX(created_at) FROM intents WHERE item = ?1 \
                 AND state IN ('approved', 'sent', 'accepted', 'delivered')",
                [item],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Sum of price ceilings of intents approved since `since` (committed
    /// spending for the budget).
    pub fn spent_since(&self, since: i64) -> Result<f64> {
        self.conn
            .query_row_cached(
                "SELECT COALESCE(SUM(price_ceiling), 0) FROM intents WHERE created_at >= ?1 \
                 AND state IN ('approved', 'sent', 'accepted', 'delivered')",
                [since],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Orders (approved or further) of an item created since `since`.
    pub fn orders_since(&self, item: &str, since: i64) -> Result<u32> {
        self.conn
            .query_row_cached(
                "SELECT COUNT(*) FROM intents WHERE item = ?1 AND created_at >= ?2 \
                 AND state IN ('approved', 'sent', 'accepted', 'delivered')",
                params![item, since],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Accepted member replies for an intent, oldest first.
    pub fn approvals(&self, intent_id: &str) -> Result<Vec<ApprovalRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT intent_id, member, verdict, digest, envelope, received_at FROM approvals \
                 WHERE intent_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([intent_id], |r| {
                Ok(ApprovalRow {
                    intent_id: r.get(0)?,
                    member: r.get(1)?,
                    verdict: r.get(2)?,
                    digest: r.get(3)?,
                    envelope: r.get(4)?,
                    received_at: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Unsent outbox rows due at `now`, oldest first.
    pub fn due_outbox(&self, now: i64, limit: u32) -> Result<Vec<OutboxRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, kind, topic, payload, retain, intent_id, not_before FROM outbox \
                 WHERE sent_at IS NULL AND withdrawn_at IS NULL AND not_before <= ?1 \
                 ORDER BY id LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![now, limit], outbox_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Number of unsent outbox rows (due or not).
    pub fn unsent_outbox(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND withdrawn_at IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Number of sent outbox rows.
    pub fn sent_outbox(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// The payloads of the sent outbox rows of one kind, oldest first.
    pub fn sent_outbox_payloads(&self, kind: &str) -> Result<Vec<Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT payload FROM outbox WHERE sent_at IS NOT NULL AND kind = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt.query_map([kind], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Number of sent outbox rows of one kind.
    pub fn sent_outbox_of_kind(&self, kind: &str) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL AND kind = ?1",
                [kind],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

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

    /// An adapter device's processing state (JSON, decrypted), if any.
    pub fn device_state(&self, device: &str) -> Result<Option<String>> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row_cached(
                "SELECT sealed FROM device_state WHERE device = ?1",
                [device],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let secret = open_device_state(self.conn, self.path, device, &sealed)?;
        Ok(Some(secret.state))
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

    /// The newest dead letters, newest first.
    pub fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetterRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT received_at, topic, size, reason FROM dead_letters ORDER BY id DESC LIMIT ?1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(DeadLetterRow {
                    received_at: r.get(0)?,
                    topic: r.get(1)?,
                    size: r.get::<_, i64>(2)? as usize,
                    reason: r.get(3)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// All counters, by name.
    pub fn counters(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, value FROM counters ORDER BY name")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// One counter (0 if never bumped).
    pub fn counter(&self, name: &str) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map_err(self.err())?
            .map_or(0, |n| n as u64))
    }
}

/// The sealed part of an observation row (see `seal`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct ObservationSecret {
    kind: String,
    amount: f64,
    observed_at: i64,
    received_at: i64,
}

/// The sealed content of a `device_state` row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct DeviceStateSecret {
    /// `adapters::DeviceState` as JSON.
    state: String,
    updated_at: i64,
}

/// The sealed content of an `item_state` row, as the writer reads it:
/// `{"state": ItemState, "updated_at": seconds}` in JSON (`updated_at` is
/// only exported). Rows written before the writer cached states went
/// through `serde_json::Value` (keys sorted) and read the same way
/// (`store::tests::an_item_state_sealed_through_json_values_still_reads`).
#[derive(Debug, Clone, serde::Deserialize)]
struct ItemStateSecret {
    state: ItemState,
}

/// [`ItemStateSecret`] as written, without copying the state.
#[derive(serde::Serialize)]
struct ItemStateSecretRef<'a> {
    state: &'a ItemState,
    updated_at: i64,
}

/// An `item_state` row's content with the state left as JSON: migration 4
/// seals old plaintext rows this way, and `larder export` prints it as is.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ItemStateSecretJson {
    state: serde_json::Value,
    updated_at: i64,
}

/// One item's observations of one UTC day, compacted (see
/// `Tx::compact_observations`). Sealed under the item's key.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DayAggregate {
    /// Day number (Unix seconds / 86 400, UTC).
    pub day: i64,
    /// Observations folded in.
    pub count: u64,
    /// Sum of `consumed` amounts and washer doses.
    pub consumed: f64,
    /// Sum of `added` amounts.
    pub added: f64,
    /// Sum of `removed` amounts.
    pub removed: f64,
    /// The day's last level reading, if any.
    pub last_level: Option<f64>,
    /// When that level was read (Unix seconds).
    pub last_level_at: Option<i64>,
}

impl DayAggregate {
    fn fold(&mut self, obs: &ObservationSecret) {
        self.count += 1;
        match obs.kind.as_str() {
            "consumed" | "washer_cycle" => self.consumed += obs.amount,
            "added" => self.added += obs.amount,
            "removed" => self.removed += obs.amount,
            "level" if self.last_level_at.is_none_or(|at| obs.observed_at >= at) => {
                self.last_level = Some(obs.amount);
                self.last_level_at = Some(obs.observed_at);
            }
            _ => {}
        }
    }

    /// Folds another partial aggregate of the same day into this one.
    pub fn merge(&mut self, other: &DayAggregate) {
        self.count += other.count;
        self.consumed += other.consumed;
        self.added += other.added;
        self.removed += other.removed;
        if let (Some(level), Some(at)) = (other.last_level, other.last_level_at) {
            if self.last_level_at.is_none_or(|mine| at >= mine) {
                self.last_level = Some(level);
                self.last_level_at = Some(at);
            }
        }
    }
}

/// Whether `text` names `needle` as a whole identifier or phrase: not as
/// part of a longer id (forgetting `milk` must not erase `oat-milk`'s
/// record).
fn mentions(text: &str, needle: &str) -> bool {
    let id_char = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(id_char) && !after.is_some_and(id_char)
    })
}

/// The item's key, if it has one.
fn item_key(conn: &Connection, path: &Path, item: &str) -> Result<Option<Vec<u8>>> {
    conn.query_row_cached("SELECT key FROM item_keys WHERE item = ?1", [item], |r| {
        r.get(0)
    })
    .optional()
    .map_err(at(path))
}

/// The item's key, created (random) on first use in this transaction.
fn item_key_or_create(conn: &Connection, path: &Path, item: &str) -> Result<Vec<u8>> {
    if let Some(key) = item_key(conn, path, item)? {
        return Ok(key);
    }
    let key = crate::crypto::seal::new_key();
    conn.execute_cached(
        "INSERT INTO item_keys (item, key) VALUES (?1, ?2)",
        params![item, &key[..]],
    )
    .map_err(at(path))?;
    Ok(key.to_vec())
}

/// Seals and writes every item state changed in a transaction and not
/// written yet (at most once per item per transaction).
fn write_states(conn: &Connection, path: &Path, memory: Memory<'_>) -> Result<()> {
    let Some(pending) = memory.pending else {
        return Ok(());
    };
    let unwritten: Vec<(String, i64)> = pending
        .borrow()
        .items
        .iter()
        .filter(|(_, entry)| entry.state.is_some())
        .filter_map(|(item, entry)| Some((item.clone(), entry.unwritten?)))
        .collect();
    for (item, updated_at) in unwritten {
        let key = memory.key_or_create(conn, path, &item)?;
        let sealed = {
            let pending = pending.borrow();
            let Some(state) = pending.items.get(&item).and_then(|e| e.state.as_ref()) else {
                continue;
            };
            seal_value(
                path,
                &key,
                &crate::crypto::seal::item_state_aad(&item),
                &ItemStateSecretRef { state, updated_at },
                &format!("item_state of {item}"),
            )?
        };
        conn.execute_cached(
            "INSERT INTO item_state (item, sealed) VALUES (?1, ?2) \
             ON CONFLICT (item) DO UPDATE SET sealed = excluded.sealed",
            params![item, sealed],
        )
        .map_err(at(path))?;
        if let Some(entry) = pending.borrow_mut().items.get_mut(&item) {
            entry.unwritten = None;
        }
    }
    Ok(())
}

fn seal_value(
    path: &Path,
    key: &[u8],
    aad: &[u8],
    value: &impl serde::Serialize,
    what: &str,
) -> Result<Vec<u8>> {
    let plain = serde_json::to_vec(value).map_err(|e| StoreError::Decode {
        path: path.to_owned(),
        detail: format!("{what}: {e}"),
    })?;
    crate::crypto::seal::seal(key, aad, &plain).ok_or_else(|| StoreError::Decode {
        path: path.to_owned(),
        detail: format!("{what}: the item key in item_keys is malformed"),
    })
}

fn open_value<T: serde::de::DeserializeOwned>(
    path: &Path,
    key: Option<&[u8]>,
    aad: &[u8],
    sealed: &[u8],
    what: &str,
) -> Result<T> {
    let bad = |detail: String| StoreError::Decode {
        path: path.to_owned(),
        detail: format!("{what}: {detail}"),
    };
    let key = key.ok_or_else(|| bad("no key for this item in item_keys".into()))?;
    let plain = crate::crypto::seal::open(key, aad, sealed)
        .ok_or_else(|| bad("cannot decrypt (wrong key, moved or tampered row)".into()))?;
    serde_json::from_slice(&plain).map_err(|e| bad(e.to_string()))
}

/// A device's key, if it has one.
fn device_key(conn: &Connection, path: &Path, device: &str) -> Result<Option<Vec<u8>>> {
    conn.query_row_cached(
        "SELECT key FROM device_keys WHERE device = ?1",
        [device],
        |r| r.get(0),
    )
    .optional()
    .map_err(at(path))
}

/// A device's key, created (random) on first use in this transaction.
fn device_key_or_create(conn: &Connection, path: &Path, device: &str) -> Result<Vec<u8>> {
    if let Some(key) = device_key(conn, path, device)? {
        return Ok(key);
    }
    let key = crate::crypto::seal::new_key();
    conn.execute_cached(
        "INSERT INTO device_keys (device, key) VALUES (?1, ?2)",
        params![device, &key[..]],
    )
    .map_err(at(path))?;
    Ok(key.to_vec())
}

fn open_device_state(
    conn: &Connection,
    path: &Path,
    device: &str,
    sealed: &[u8],
) -> Result<DeviceStateSecret> {
    let what = format!("device_state of {device}");
    let Some(key) = device_key(conn, path, device)? else {
        return Err(StoreError::Decode {
            path: path.to_owned(),
            detail: format!("{what}: no key for this device in device_keys"),
        });
    };
    open_value(
        path,
        Some(&key),
        &crate::crypto::seal::device_state_aad(device),
        sealed,
        &what,
    )
}

fn seal_device_state(
    conn: &Connection,
    path: &Path,
    device: &str,
    secret: &DeviceStateSecret,
) -> Result<Vec<u8>> {
    let key = device_key_or_create(conn, path, device)?;
    seal_value(
        path,
        &key,
        &crate::crypto::seal::device_state_aad(device),
        secret,
        &format!("device_state of {device}"),
    )
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
            let key = item_key_or_create(conn, path, &item)?;
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
            let key = item_key_or_create(conn, path, &item)?;
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

/// Columns of a ledger row, in `ledger_from_row` order.
const LEDGER_COLUMNS: &str = "seq, at, kind, body, body_sha256, prev_hash, hash";

fn ledger_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok(LedgerRow {
        seq: row.get(0)?,
        at: row.get(1)?,
        kind: row.get(2)?,
        body: row.get(3)?,
        body_sha256: row.get(4)?,
        prev_hash: row.get(5)?,
        hash: row.get(6)?,
    })
}

impl Reader<'_> {
    /// Whether the database has the ledger (schema version 2 or later).
    pub fn has_ledger(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger')",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The last entry's `(seq, hash)`, if any.
    pub fn ledger_head(&self) -> Result<Option<(i64, Vec<u8>)>> {
        self.conn
            .query_row(
                "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// Number of ledger entries.
    pub fn ledger_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM ledger", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// The newest `limit` entries, oldest first.
    pub fn ledger_recent(&self, limit: u32) -> Result<Vec<LedgerRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {LEDGER_COLUMNS} FROM (SELECT * FROM ledger ORDER BY seq DESC LIMIT ?1) ORDER BY seq"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit], ledger_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Entries whose body names the intent, oldest first.
    pub fn ledger_for_intent(&self, intent: &str) -> Result<Vec<LedgerRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ledger WHERE json_valid(body) \
                 AND json_extract(body, '$.intent') = ?1 ORDER BY seq"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([intent], ledger_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Calls `f` on every entry in `seq` order until it returns false.
    pub fn each_ledger_entry(&self, mut f: impl FnMut(LedgerRow) -> bool) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {LEDGER_COLUMNS} FROM ledger ORDER BY seq"))
            .map_err(self.err())?;
        let mut rows = stmt.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            if !f(ledger_from_row(row).map_err(self.err())?) {
                break;
            }
        }
        Ok(())
    }

    /// Intents whose id starts with `prefix` (hex only), at most `limit`.
    pub fn intents_with_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<IntentRow>> {
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {INTENT_COLUMNS} FROM intents WHERE substr(id, 1, length(?1)) = lower(?1) \
                 ORDER BY created_at DESC LIMIT ?2"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![prefix, limit], intent_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The item's most recent intent, open or closed.
    pub fn latest_intent(&self, item: &str) -> Result<Option<IntentRow>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {INTENT_COLUMNS} FROM intents WHERE item = ?1 \
                     ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ),
                [item],
                intent_from_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Number of rows in a table.
    pub fn row_count(&self, table: Table) -> Result<u64> {
        if table == Table::ItemState {
            self.write_pending_states()?;
        }
        self.conn
            .query_row(&format!("SELECT COUNT(*) FROM {}", table.name()), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Calls `f` with the column names and cells of every row of `table`,
    /// in a stable order, one row at a time (for `larder export`).
    pub fn each_row(
        &self,
        table: Table,
        mut f: impl FnMut(&[String], Vec<Cell>) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        use rusqlite::types::ValueRef;
        if matches!(
            table,
            Table::Observations | Table::ItemState | Table::ObservationDays
        ) {
            if table == Table::ItemState {
                self.write_pending_states()?;
            }
            return self.each_sealed_row(table, f);
        }
        if table == Table::DeviceState {
            return self.each_device_state_row(f);
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT * FROM {} ORDER BY {}",
                table.name(),
                table.order()
            ))
            .map_err(self.err())?;
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let mut cells = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                cells.push(match row.get_ref(i).map_err(self.err())? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Integer(n),
                    ValueRef::Real(x) => Cell::Real(x),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Hex(keys::to_hex(b)),
                });
            }
            if let Err(e) = f(&names, cells) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}

impl Reader<'_> {
    /// `each_row` for `device_state`: decrypted, as `device, state,
    /// updated_at`.
    fn each_device_state_row(
        &self,
        mut f: impl FnMut(&[String], Vec<Cell>) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let columns: Vec<String> = ["device", "state", "updated_at"]
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        let mut stmt = self
            .conn
            .prepare("SELECT device, sealed FROM device_state ORDER BY device")
            .map_err(self.err())?;
        let mut rows = stmt.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let device: String = row.get(0).map_err(self.err())?;
            let sealed: Vec<u8> = row.get(1).map_err(self.err())?;
            let secret = open_device_state(self.conn, self.path, &device, &sealed)?;
            let cells = vec![
                Cell::Text(device),
                Cell::Text(secret.state),
                Cell::Integer(secret.updated_at),
            ];
            if let Err(e) = f(&columns, cells) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// `each_row` for the sealed tables: rows are decrypted and exported
    /// with their plain columns (the export format predates encryption).
    fn each_sealed_row(
        &self,
        table: Table,
        mut f: impl FnMut(&[String], Vec<Cell>) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let (columns, sql) = match table {
            Table::Observations => (
                names(&[
                    "id",
                    "device",
                    "epoch",
                    "seq",
                    "item",
                    "kind",
                    "amount",
                    "observed_at",
                    "received_at",
                ]),
                "SELECT id, item, sealed, device, epoch, seq FROM observations ORDER BY id",
            ),
            Table::ItemState => (
                names(&["item", "state", "updated_at"]),
                "SELECT 0, item, sealed, '', 0, 0 FROM item_state ORDER BY item",
            ),
            _ => (
                names(&[
                    "id",
                    "item",
                    "day",
                    "count",
                    "consumed",
                    "added",
                    "removed",
                    "last_level",
                    "last_level_at",
                ]),
                "SELECT id, item, sealed, '', 0, 0 FROM observation_days ORDER BY id",
            ),
        };
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let mut rows = stmt.query([]).map_err(self.err())?;
        let mut keys: std::collections::HashMap<String, Option<Vec<u8>>> = Default::default();
        while let Some(row) = rows.next().map_err(self.err())? {
            let id: i64 = row.get(0).map_err(self.err())?;
            let item: String = row.get(1).map_err(self.err())?;
            let sealed: Vec<u8> = row.get(2).map_err(self.err())?;
            if !keys.contains_key(&item) {
                let key = self.memory.key(self.conn, self.path, &item)?;
                keys.insert(item.clone(), key);
            }
            let key = keys.get(&item).and_then(|k| k.as_deref());
            let cells = match table {
                Table::Observations => {
                    let device: String = row.get(3).map_err(self.err())?;
                    let epoch: i64 = row.get(4).map_err(self.err())?;
                    let seq: i64 = row.get(5).map_err(self.err())?;
                    let o: ObservationSecret = open_value(
                        self.path,
                        key,
                        &crate::crypto::seal::observation_aad(
                            &item,
                            &device,
                            epoch as u64,
                            seq as u64,
                        ),
                        &sealed,
                        &format!("observation {id}"),
                    )?;
                    vec![
                        Cell::Integer(id),
                        Cell::Text(device),
                        Cell::Integer(epoch),
                        Cell::Integer(seq),
                        Cell::Text(item),
                        Cell::Text(o.kind),
                        Cell::Real(o.amount),
                        Cell::Integer(o.observed_at),
                        Cell::Integer(o.received_at),
                    ]
                }
                Table::ItemState => {
                    let s: ItemStateSecretJson = open_value(
                        self.path,
                        key,
                        &crate::crypto::seal::item_state_aad(&item),
                        &sealed,
                        &format!("item_state of {item}"),
                    )?;
                    vec![
                        Cell::Text(item),
                        Cell::Text(s.state.to_string()),
                        Cell::Integer(s.updated_at),
                    ]
                }
                _ => {
                    let d: DayAggregate = open_value(
                        self.path,
                        key,
                        &crate::crypto::seal::day_aad(&item, id),
                        &sealed,
                        &format!("observation_days row {id}"),
                    )?;
                    let opt_real = |v: Option<f64>| v.map_or(Cell::Null, Cell::Real);
                    vec![
                        Cell::Integer(id),
                        Cell::Text(item),
                        Cell::Integer(d.day),
                        Cell::Integer(d.count as i64),
                        Cell::Real(d.consumed),
                        Cell::Real(d.added),
                        Cell::Real(d.removed),
                        opt_real(d.last_level),
                        d.last_level_at.map_or(Cell::Null, Cell::Integer),
                    ]
                }
            };
            if let Err(e) = f(&columns, cells) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}

impl Tx<'_> {
    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        at(&self.path)
    }

    /// Read queries inside this transaction.
    pub fn read(&self) -> Reader<'_> {
        Reader {
            conn: &self.tx,
            path: &self.path,
            memory: self.memory(),
        }
    }

    /// The in-memory view of this transaction.
    fn memory(&self) -> Memory<'_> {
        Memory {
            committed: self.committed,
            pending: Some(&self.pending),
        }
    }

    /// Writes the changed item states, commits, then makes this
    /// transaction's item states the store's committed ones.
    pub fn commit(self) -> Result<()> {
        write_states(&self.tx, &self.path, self.memory())?;
        let Tx {
            tx,
            path,
            committed,
            pending,
        } = self;
        tx.commit().map_err(at(&path))?;
        let pending = pending.into_inner();
        if pending.all_erased {
            committed.states.clear();
            committed.keys.clear();
        }
        for (item, entry) in pending.items {
            match entry.state {
                Some(state) => committed.states.insert(item, state),
                None => committed.states.remove(&item),
            };
        }
        for (item, key) in pending.keys {
            match key {
                Some(key) => committed.keys.insert(item, key),
                None => committed.keys.remove(&item),
            };
        }
        Ok(())
    }

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

    /// Saves an item's learned state: later reads in this transaction see
    /// it; it is sealed and written once, at [`Tx::commit`].
    pub fn save_item_state(&self, item: &str, state: &ItemState, now: i64) -> Result<()> {
        self.pending.borrow_mut().items.insert(
            item.to_owned(),
            TxState {
                state: Some(state.clone()),
                unwritten: Some(now),
            },
        );
        Ok(())
    }

    /// Inserts a new intent. Fails (constraint) if the item already has an
    /// open intent: the schema, not the caller, guarantees one per item.
    pub fn insert_intent(&self, intent: &IntentRow) -> Result<()> {
        let why = serde_json::to_string(&intent.why).map_err(|e| StoreError::Decode {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        self.tx
            .execute(
                &format!(
                    "INSERT INTO intents ({INTENT_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
                ),
                params![
                    intent.id,
                    intent.item,
                    intent.state.as_str(),
                    intent.product,
                    intent.packages,
                    intent.quantity,
                    intent.unit_price,
                    intent.price_ceiling,
                    intent.currency,
                    intent.deliver_after,
                    intent.deliver_before,
                    intent.nonce,
                    intent.prompt_at,
                    intent.expires_at,
                    intent.approvals_required,
                    why,
                    intent.decided_by,
                    intent.created_at,
                    intent.updated_at
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Moves an intent from `from` to `to`; returns whether exactly this
    /// transition happened (false if the intent was not in `from`).
    pub fn transition_intent(
        &self,
        id: &str,
        from: IntentState,
        to: IntentState,
        decided_by: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let changed = self
            .tx
            .execute(
                "UPDATE intents SET state = ?3, decided_by = COALESCE(?4, decided_by), updated_at = ?5 \
                 WHERE id = ?1 AND state = ?2",
                params![id, from.as_str(), to.as_str(), decided_by, now],
            )
            .map_err(self.err())?;
        Ok(changed == 1)
    }

    /// Records a member's reply; false if that member already replied.
    pub fn record_approval(&self, approval: &ApprovalRow) -> Result<bool> {
        let changed = self
            .tx
            .execute(
                "INSERT INTO approvals (intent_id, member, verdict, digest, envelope, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (intent_id, member) DO NOTHING",
                params![
                    approval.intent_id,
                    approval.member,
                    approval.verdict,
                    approval.digest,
                    approval.envelope,
                    approval.received_at
                ],
            )
            .map_err(self.err())?;
        Ok(changed == 1)
    }

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

    /// Erases everything held about one item, in this transaction (the
    /// caller commits, then runs [`Store::scrub`]): its observations, daily
    /// aggregates, forecaster state and key; its intents with their
    /// approvals and outbox rows; dead letters containing any of `needles`
    /// (the item's id and name); and the bodies of ledger entries about its
    /// intents or naming a needle as a whole word (or as a hex-encoded JSON
    /// string, as in outbound payloads), recorded by a `forget` entry with
    /// scope `item` that never names the item.
    pub fn forget_item(&self, item: &str, needles: &[&str], now: i64) -> Result<Forgotten> {
        let err = self.err();
        let mut intents: Vec<(String, String)> = {
            let mut stmt = self
                .tx
                .prepare("SELECT id, state FROM intents WHERE item = ?1")
                .map_err(&err)?;
            stmt.query_map([item], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(&err)?
        };
        intents.sort();
        let ids: Vec<&str> = intents.iter().map(|(id, _)| id.as_str()).collect();
        let mut needles: Vec<String> = needles
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| (*n).to_owned())
            .collect();
        if !needles.iter().any(|n| n == item) {
            needles.push(item.to_owned());
        }
        let redacted = self.redact_ledger(|body| {
            let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
            let field = |name: &str| {
                parsed
                    .as_ref()
                    .and_then(|v| v.get(name))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            field("item").is_some_and(|i| i == item)
                || field("intent").is_some_and(|i| ids.contains(&i.as_str()))
                || needles.iter().any(|n| {
                    mentions(body, n) || body.contains(&keys::to_hex(format!("\"{n}\"").as_bytes()))
                })
        })?;
        let mut gone = Forgotten {
            redacted: redacted.len(),
            awaiting: intents
                .iter()
                .filter(|(_, state)| state == IntentState::AwaitingApproval.as_str())
                .map(|(id, _)| id.clone())
                .collect(),
            ..Forgotten::default()
        };
        for id in &ids {
            gone.approvals += self
                .tx
                .execute("DELETE FROM approvals WHERE intent_id = ?1", [id])
                .map_err(&err)? as u64;
            gone.outbox += self
                .tx
                .execute("DELETE FROM outbox WHERE intent_id = ?1", [id])
                .map_err(&err)? as u64;
        }
        gone.intents = self
            .tx
            .execute("DELETE FROM intents WHERE item = ?1", [item])
            .map_err(&err)? as u64;
        gone.observations = self
            .tx
            .execute("DELETE FROM observations WHERE item = ?1", [item])
            .map_err(&err)? as u64;
        gone.days = self
            .tx
            .execute("DELETE FROM observation_days WHERE item = ?1", [item])
            .map_err(&err)? as u64;
        self.tx
            .execute("DELETE FROM item_state WHERE item = ?1", [item])
            .map_err(&err)?;
        // An unwritten state of the item goes too, and its key; committing
        // forgets the store's copies.
        self.pending.borrow_mut().keys.insert(item.to_owned(), None);
        self.pending.borrow_mut().items.insert(
            item.to_owned(),
            TxState {
                state: None,
                unwritten: None,
            },
        );
        gone.key = self
            .tx
            .execute("DELETE FROM item_keys WHERE item = ?1", [item])
            .map_err(&err)?
            > 0;
        for needle in &needles {
            gone.dead_letters += self
                .tx
                .execute(
                    "DELETE FROM dead_letters WHERE instr(payload, CAST(?1 AS BLOB)) > 0 \
                     OR instr(reason, ?1) > 0 OR instr(topic, ?1) > 0",
                    [needle],
                )
                .map_err(&err)? as u64;
        }
        gone.ledger_seq = self.ledger_append(
            ledger::Kind::Forget,
            &ledger::Forget {
                scope: "item".into(),
                redacted,
            },
            now,
        )?;
        Ok(gone)
    }

    /// Deletes dead letters that arrived on `topic` and whose payload holds
    /// `needle` (a forgotten item's slot on its device); returns how many.
    pub fn forget_dead_letters_on(&self, topic: &str, needle: &str) -> Result<u64> {
        Ok(self
            .tx
            .execute(
                "DELETE FROM dead_letters WHERE topic = ?1 AND instr(payload, CAST(?2 AS BLOB)) > 0",
                params![topic, needle],
            )
            .map_err(self.err())? as u64)
    }

    /// Deletes dead letters received before `cutoff`; returns how many.
    pub fn expire_dead_letters(&self, cutoff: i64) -> Result<u64> {
        Ok(self
            .tx
            .execute("DELETE FROM dead_letters WHERE received_at < ?1", [cutoff])
            .map_err(self.err())? as u64)
    }

    /// Erases everything held about the household, in this transaction (the
    /// caller commits, then runs [`Store::scrub`]): every observation,
    /// aggregate, state, key, intent, approval, outbox row, dead letter,
    /// device position, counter and the presence; every ledger body except
    /// earlier forget records, recorded by a `forget` entry with scope
    /// `household`. Kept: the ledger chain itself (times, kinds, digests)
    /// and each member's last control time (replay protection).
    pub fn forget_household(&self, now: i64) -> Result<Forgotten> {
        let err = self.err();
        let redacted = self.redact_ledger(|_| true)?;
        let count = |table: &str| -> Result<u64> {
            Ok(self
                .tx
                .execute(&format!("DELETE FROM {table}"), [])
                .map_err(&err)? as u64)
        };
        let mut gone = Forgotten {
            redacted: redacted.len(),
            ..Forgotten::default()
        };
        gone.awaiting = self
            .read()
            .intents_in_state(IntentState::AwaitingApproval)?
            .into_iter()
            .map(|i| i.id)
            .collect();
        gone.approvals = count("approvals")?;
        gone.outbox = count("outbox")?;
        gone.intents = count("intents")?;
        gone.observations = count("observations")?;
        gone.days = count("observation_days")?;
        // Adapter devices' filter state (scale readings, washer phase).
        count("device_state")?;
        let device_keys = count("device_keys")?;
        count("item_state")?;
        {
            let mut pending = self.pending.borrow_mut();
            pending.items.clear();
            pending.keys.clear();
            pending.all_erased = true;
        }
        gone.key = count("item_keys")? + device_keys > 0;
        gone.dead_letters = count("dead_letters")?;
        count("device_seq")?;
        count("presence")?;
        count("counters")?;
        gone.ledger_seq = self.ledger_append(
            ledger::Kind::Forget,
            &ledger::Forget {
                scope: "household".into(),
                redacted,
            },
            now,
        )?;
        Ok(gone)
    }

    /// Sets the body of every ledger entry `doomed` picks to NULL (forget
    /// records are never erased); returns their sequence numbers.
    fn redact_ledger(&self, doomed: impl Fn(&str) -> bool) -> Result<Vec<i64>> {
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

    /// Stores a refused message with its reason (payload truncated).
    pub fn dead_letter(&self, topic: &str, payload: &[u8], reason: &str, now: i64) -> Result<()> {
        let kept = &payload[..payload.len().min(DEAD_LETTER_KEEP_BYTES)];
        self.tx
            .execute(
                "INSERT INTO dead_letters (received_at, topic, size, payload, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now, topic, payload.len() as i64, kept, reason],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Replaces the presence row.
    pub fn set_presence(&self, presence: &Presence, now: i64) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO presence (id, paused_since, paused_until, guests_factor, guests_until, updated_at) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
                 paused_since = excluded.paused_since, paused_until = excluded.paused_until, \
                 guests_factor = excluded.guests_factor, guests_until = excluded.guests_until, \
                 updated_at = excluded.updated_at",
                params![
                    presence.paused_since,
                    presence.paused_until,
                    presence.guests_factor,
                    presence.guests_until,
                    now
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Records the newest control-message time accepted from a member.
    pub fn set_member_control_iat(&self, member: &str, iat: i64) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO member_control (member, last_iat) VALUES (?1, ?2) \
                 ON CONFLICT (member) DO UPDATE SET last_iat = excluded.last_iat",
                params![member, iat],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Saves an adapter device's processing state (JSON, see
    /// `adapters::DeviceState`), sealed under the device's key.
    pub fn save_device_state(&self, device: &str, state: &str, now: i64) -> Result<()> {
        let sealed = seal_device_state(
            &self.tx,
            &self.path,
            device,
            &DeviceStateSecret {
                state: state.to_owned(),
                updated_at: now,
            },
        )?;
        self.tx
            .execute_cached(
                "INSERT INTO device_state (device, sealed) VALUES (?1, ?2) \
                 ON CONFLICT (device) DO UPDATE SET sealed = excluded.sealed",
                params![device, sealed],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Erases an adapter device's processing state and its key (forgetting
    /// an item it measures: a scale's window holds its recent weights);
    /// returns whether there was any.
    pub fn forget_device_state(&self, device: &str) -> Result<bool> {
        let err = self.err();
        let rows = self
            .tx
            .execute("DELETE FROM device_state WHERE device = ?1", [device])
            .map_err(&err)?;
        let keys = self
            .tx
            .execute("DELETE FROM device_keys WHERE device = ?1", [device])
            .map_err(&err)?;
        Ok(rows + keys > 0)
    }

    /// Adds `by` to a named counter.
    pub fn bump(&self, name: &str, by: u64) -> Result<()> {
        self.tx
            .execute_cached(
                "INSERT INTO counters (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                params![name, by as i64],
            )
            .map_err(self.err())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_same_event_is_stored_once() {
        let (_d, mut store) = temp_db();
        let obs = NewObservation {
            device: "fridge",
            epoch: 1,
            seq: 7,
            item: "milk",
            kind: "level",
            amount: 1.0,
            observed_at: 100,
            received_at: 100,
        };
        let tx = store.transaction().expect("tx");
        assert_eq!(tx.insert_observation(&obs).expect("i"), Inserted::New);
        assert_eq!(tx.insert_observation(&obs).expect("i"), Inserted::Duplicate);
        tx.commit().expect("commit");
        assert_eq!(store.read().observation_count().expect("c"), 1);
    }

    #[test]
    fn an_item_has_at_most_one_open_intent() {
        let (_d, mut store) = temp_db();
        let tx = store.transaction().expect("tx");
        tx.insert_intent(&intent("a", "milk", IntentState::Approved))
            .expect("first");
        assert!(
            tx.insert_intent(&intent("b", "milk", IntentState::AwaitingApproval))
                .is_err()
        );
        tx.insert_intent(&intent("c", "eggs", IntentState::Sent))
            .expect("other item");
        assert!(
            tx.transition_intent("a", IntentState::Approved, IntentState::Delivered, None, 9)
                .expect("t")
        );
        tx.insert_intent(&intent("d", "milk", IntentState::AwaitingApproval))
            .expect("after close");
        tx.commit().expect("commit");
        let open = store.read().open_intent("milk").expect("q").expect("some");
        assert_eq!(open.id, "d");
    }

    #[test]
    fn a_transition_from_the_wrong_state_changes_nothing() {
        let (_d, mut store) = temp_db();
        let tx = store.transaction().expect("tx");
        tx.insert_intent(&intent("a", "milk", IntentState::Denied))
            .expect("i");
        assert!(
            !tx.transition_intent(
                "a",
                IntentState::AwaitingApproval,
                IntentState::Approved,
                None,
                9
            )
            .expect("t")
        );
        assert_eq!(
            tx.read().intent("a").expect("q").expect("row").state,
            IntentState::Denied
        );
    }

    #[test]
    fn a_member_reply_counts_once() {
        let (_d, mut store) = temp_db();
        let tx = store.transaction().expect("tx");
        tx.insert_intent(&intent("a", "milk", IntentState::AwaitingApproval))
            .expect("i");
        let reply = ApprovalRow {
            intent_id: "a".into(),
            member: "alex".into(),
            verdict: "approve".into(),
            digest: vec![1; 32],
            envelope: vec![2; 10],
            received_at: 3,
        };
        assert!(tx.record_approval(&reply).expect("first"));
        assert!(!tx.record_approval(&reply).expect("second"));
    }

    #[test]
    fn outbox_is_fifo_respects_not_before_and_marks_sent_once() {
        let (_d, mut store) = temp_db();
        let tx = store.transaction().expect("tx");
        let msg = |kind, nb| NewOutbox {
            kind,
            topic: "t",
            payload: b"x",
            retain: false,
            intent_id: None,
            not_before: nb,
        };
        let a = tx.enqueue(&msg("intent", 0), 0).expect("a");
        let b = tx.enqueue(&msg("approval_request", 100), 0).expect("b");
        tx.commit().expect("c");
        let due: Vec<i64> = store
            .read()
            .due_outbox(50, 10)
            .expect("due")
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(due, vec![a]);
        let tx = store.transaction().expect("tx");
        assert!(tx.mark_sent(a, 60).expect("m").is_some());
        assert!(tx.mark_sent(a, 61).expect("m").is_none());
        tx.commit().expect("c");
        let due: Vec<i64> = store
            .read()
            .due_outbox(200, 10)
            .expect("due")
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(due, vec![b]);
    }

    #[test]
    fn a_row_withdrawn_while_in_flight_is_still_recorded_as_published() {
        let (_d, mut store) = temp_db();
        let tx = store.transaction().expect("tx");
        let id = tx
            .enqueue(
                &NewOutbox {
                    kind: "intent",
                    topic: "up",
                    payload: b"signed",
                    retain: false,
                    intent_id: Some("i1"),
                    not_before: 0,
                },
                0,
            )
            .expect("enqueue");
        tx.commit().expect("c");
        // The relay has read the row (in flight) when the intent is
        // withdrawn; the broker's PUBACK comes after.
        let in_flight = store.read().due_outbox(10, 10).expect("due");
        assert_eq!(in_flight.len(), 1);
        let tx = store.transaction().expect("tx");
        assert_eq!(tx.cancel_unsent("i1", "intent", 5).expect("withdraw"), 1);
        tx.commit().expect("c");
        assert!(store.read().due_outbox(10, 10).expect("due").is_empty());
        assert_eq!(store.read().unsent_outbox().expect("n"), 0);
        let tx = store.transaction().expect("tx");
        assert!(tx.mark_sent(id, 6).expect("mark").is_some(), "it did leave");
        // Resending the latest copy queues the same bytes again.
        assert!(tx.resend_last("i1", "intent", 7).expect("resend"));
        assert!(!tx.resend_last("i2", "intent", 7).expect("none"));
        tx.commit().expect("c");
        let due = store.read().due_outbox(10, 10).expect("due");
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].payload, b"signed");
    }

    #[test]
    fn device_sequence_reports_the_previous_position() {
        let (_d, mut store) = temp_db();
        let tx = store.transaction().expect("tx");
        assert_eq!(tx.advance_device_seq("f", 1, 1).expect("a"), None);
        assert_eq!(tx.advance_device_seq("f", 1, 5).expect("a"), Some((1, 1)));
        // An older seq does not move the mark back.
        assert_eq!(tx.advance_device_seq("f", 1, 3).expect("a"), Some((1, 5)));
        assert_eq!(tx.advance_device_seq("f", 2, 1).expect("a"), Some((1, 5)));
    }

    #[test]
    fn dead_letters_keep_a_bounded_prefix_and_counters_add_up() {
        let (_d, mut store) = temp_db();
        let tx = store.transaction().expect("tx");
        tx.dead_letter("t", &vec![0u8; 10_000], "too big", 1)
            .expect("dl");
        tx.bump("dead_letters", 1).expect("b");
        tx.bump("dead_letters", 2).expect("b");
        tx.commit().expect("c");
        let kept: i64 = store
            .conn
            .query_row("SELECT length(payload) FROM dead_letters", [], |r| r.get(0))
            .expect("q");
        assert_eq!(kept, DEAD_LETTER_KEEP_BYTES as i64);
        assert_eq!(store.read().counter("dead_letters").expect("c"), 3);
        assert_eq!(store.read().dead_letters(5).expect("d")[0].size, 10_000);
    }

    /// Every byte of the database, its WAL and shared memory file.
    #[test]
    fn device_state_is_sealed_under_its_device_key_bound_to_its_device_and_exported() {
        let dir = tempdir::Dir::new();
        let path = dir.path.join("d.db");
        let mut store = Store::open(&path).expect("open");
        let scale = r#"{"scale":{"window":[0.8765431,0.8765432],"reported_kg":0.8765431,"last_at":1800000000}}"#;
        let plug = r#"{"washer":{"phase":{"phase":"idle"},"last_watts":0.75319}}"#;
        let tx = store.transaction().expect("tx");
        tx.save_device_state("fridge-scale-q7", scale, 1_800_000_007)
            .expect("save");
        tx.save_device_state("washer-plug-q7", plug, 1_800_000_007)
            .expect("save");
        tx.commit().expect("commit");
        assert_eq!(
            store.read().device_state("fridge-scale-q7").expect("read"),
            Some(scale.to_owned())
        );
        let bytes = file_bytes(&path);
        for needle in [&b"0.8765431"[..], b"reported_kg", b"0.75319", b"1800000007"] {
            assert!(
                !contains(&bytes, needle),
                "{} in the files",
                String::from_utf8_lossy(needle)
            );
        }
        // `larder export` gets them decrypted, with the time they changed.
        let mut rows = Vec::new();
        store
            .read()
            .each_row(Table::DeviceState, |names, cells| {
                rows.push((names.to_vec(), cells));
                Ok(())
            })
            .expect("rows")
            .expect("written");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, ["device", "state", "updated_at"]);
        assert_eq!(
            rows[0].1,
            vec![
                Cell::Text("fridge-scale-q7".into()),
                Cell::Text(scale.into()),
                Cell::Integer(1_800_000_007)
            ]
        );
        // A sealed state moved to another device's row does not open.
        store
            .conn
            .execute(
                "UPDATE device_state SET sealed = (SELECT sealed FROM device_state \
                 WHERE device = 'fridge-scale-q7') WHERE device = 'washer-plug-q7'",
                [],
            )
            .expect("move");
        let moved = store.read().device_state("washer-plug-q7").unwrap_err();
        assert!(
            moved.to_string().contains("device_state of washer-plug-q7"),
            "{moved}"
        );
        // Forgetting a device erases its row and its key, and only those.
        let tx = store.transaction().expect("tx");
        assert!(tx.forget_device_state("fridge-scale-q7").expect("forget"));
        assert!(!tx.forget_device_state("fridge-scale-q7").expect("again"));
        tx.commit().expect("commit");
        assert_eq!(
            store.read().device_state("fridge-scale-q7").expect("read"),
            None
        );
        assert_eq!(
            device_key(&store.conn, &path, "fridge-scale-q7").expect("key"),
            None
        );
        assert!(
            device_key(&store.conn, &path, "washer-plug-q7")
                .expect("key")
                .is_some()
        );
        // Forgetting the household erases every device's state and key.
        let tx = store.transaction().expect("tx");
        assert!(tx.forget_household(1_800_000_100).expect("forget").key);
        tx.commit().expect("commit");
        for table in ["device_state", "device_keys"] {
            let n: i64 = store
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .expect("count");
            assert_eq!(n, 0, "{table}");
        }
    }

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
    fn forgetting_an_item_leaves_none_of_its_bytes_in_the_files() {
        let dir = tempdir::Dir::new();
        let path = dir.path.join("f.db");
        let mut store = Store::open(&path).expect("open");
        let tx = store.transaction().expect("tx");
        for seq in 1..=40 {
            tx.insert_observation(&obs("oat-milk-zx81", seq, "level", 1.23456, 1_800_000_000))
                .expect("i");
            tx.insert_observation(&obs("rye-9", 100 + seq, "level", 4.5, 1_800_000_000))
                .expect("i");
        }
        tx.save_item_state("oat-milk-zx81", &ItemState::default(), 5)
            .expect("s");
        let mut row = intent("a1", "oat-milk-zx81", IntentState::AwaitingApproval);
        row.why = vec!["Oat Barista Zx81 is low".into()];
        tx.insert_intent(&row).expect("intent");
        tx.enqueue(
            &NewOutbox {
                kind: "approval_request",
                topic: "larder/h/approvals/a1",
                payload: b"{\"item\":\"oat-milk-zx81\"}",
                retain: true,
                intent_id: Some("a1"),
                not_before: 0,
            },
            5,
        )
        .expect("enqueue");
        tx.dead_letter("t", b"{\"slot\":\"oat-milk-zx81\"}", "bad", 5)
            .expect("dl");
        tx.commit().expect("commit");
        let before = file_bytes(&path);
        assert!(
            !contains(&before, &1.23456f64.to_le_bytes()),
            "levels are sealed"
        );
        assert!(
            contains(&before, b"oat-milk-zx81"),
            "the scan can see the item"
        );

        let tx = store.transaction().expect("tx");
        let gone = tx
            .forget_item("oat-milk-zx81", &["Oat Barista Zx81"], 6)
            .expect("forget");
        tx.commit().expect("commit");
        store.scrub().expect("scrub");
        assert_eq!(
            (
                gone.observations,
                gone.intents,
                gone.outbox,
                gone.dead_letters,
                gone.key
            ),
            (40, 1, 1, 1, true)
        );
        assert_eq!(gone.awaiting, vec!["a1".to_string()]);
        let bytes = file_bytes(&path);
        for needle in [
            &b"oat-milk-zx81"[..],
            b"Oat Barista Zx81",
            b"6f61742d6d696c6b",
        ] {
            assert!(
                !contains(&bytes, needle),
                "{:?} survived",
                String::from_utf8_lossy(needle)
            );
        }
        // The other item is intact and the ledger still verifies.
        assert_eq!(
            store
                .read()
                .recent_observations("rye-9", 100)
                .expect("q")
                .len(),
            40
        );
        let verified = store
            .read()
            .verify_ledger(None)
            .expect("walk")
            .expect("the chain verifies");
        assert_eq!(verified.redacted, 1);
    }

    #[test]
    fn forgetting_milk_leaves_oat_milk_alone() {
        assert!(mentions(r#"{"item":"milk"}"#, "milk"));
        assert!(mentions("Milk 1 L: low", "Milk 1 L"));
        assert!(!mentions(r#"{"item":"oat-milk"}"#, "milk"));
        assert!(!mentions("milky", "milk"));
        let (_d, mut store) = temp_db();
        let tx = store.transaction().expect("tx");
        for (id, item) in [("a", "milk"), ("b", "oat-milk")] {
            tx.insert_intent(&intent(id, item, IntentState::AwaitingApproval))
                .expect("intent");
            let payload = format!(r#"{{"item":"{item}"}}"#);
            tx.enqueue(
                &NewOutbox {
                    kind: "approval_request",
                    topic: &format!("larder/h/approvals/{id}"),
                    payload: payload.as_bytes(),
                    retain: true,
                    intent_id: Some(id),
                    not_before: 0,
                },
                1,
            )
            .expect("enqueue");
        }
        let gone = tx.forget_item("milk", &["milk"], 2).expect("forget");
        tx.commit().expect("commit");
        assert_eq!((gone.intents, gone.outbox, gone.redacted), (1, 1, 1));
        let left = store.read().due_outbox(5, 10).expect("outbox");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].intent_id.as_deref(), Some("b"));
        assert!(store.read().intent("b").expect("q").is_some());
        store
            .read()
            .verify_ledger(None)
            .expect("walk")
            .expect("verifies");
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

    #[test]
    fn item_states_are_written_once_at_commit_and_kept_only_when_committed() {
        let (dir, mut store) = temp_db();
        let path = dir.path.join("t.db");
        let tx = store.transaction().expect("tx");
        tx.save_item_state("milk", &learned(1.0), 10).expect("save");
        tx.save_item_state("milk", &learned(2.0), 11).expect("save");
        // The transaction sees its own change; nothing is written yet.
        assert_eq!(tx.read().item_state("milk").expect("r"), Some(learned(2.0)));
        let rows: i64 = tx
            .query_row("SELECT COUNT(*) FROM item_state", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 0);
        tx.commit().expect("commit");
        assert_eq!(stored_states(&path), vec![("milk".into(), learned(2.0))]);
        assert_eq!(
            store.read().item_state("milk").expect("r"),
            Some(learned(2.0))
        );

        // Rolled back (dropped): neither the file nor the store keeps it.
        let tx = store.transaction().expect("tx");
        tx.save_item_state("milk", &learned(3.0), 12).expect("save");
        tx.save_item_state("eggs", &learned(4.0), 12).expect("save");
        drop(tx);
        assert_eq!(
            store.read().item_state("milk").expect("r"),
            Some(learned(2.0))
        );
        assert_eq!(store.read().item_state("eggs").expect("r"), None);
        let tx = store.transaction().expect("tx");
        assert_eq!(tx.read().item_state("milk").expect("r"), Some(learned(2.0)));
        drop(tx);
        assert_eq!(stored_states(&path), vec![("milk".into(), learned(2.0))]);
    }

    #[test]
    fn a_commit_that_fails_for_a_full_disk_keeps_the_committed_states() {
        let (dir, mut store) = temp_db();
        let path = dir.path.join("t.db");
        let tx = store.transaction().expect("tx");
        tx.save_item_state("milk", &learned(1.0), 10).expect("save");
        tx.commit().expect("commit");
        // The disk is full: the file cannot grow by a page.
        let pages: i64 = store
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("pages");
        store
            .conn
            .execute_batch(&format!("PRAGMA max_page_count = {pages}"))
            .expect("cap");
        let tx = store.transaction().expect("tx");
        tx.save_item_state("milk", &learned(2.0), 11).expect("save");
        for n in 0..300 {
            tx.save_item_state(&format!("item-{n}"), &learned(5.0), 11)
                .expect("save");
        }
        assert!(tx.commit().is_err(), "the commit must fail on a full disk");
        assert_eq!(
            store.read().item_state("milk").expect("r"),
            Some(learned(1.0))
        );
        assert_eq!(store.read().item_state("item-7").expect("r"), None);
        let tx = store.transaction().expect("tx");
        assert_eq!(tx.read().item_state("milk").expect("r"), Some(learned(1.0)));
        drop(tx);
        assert_eq!(stored_states(&path), vec![("milk".into(), learned(1.0))]);
        // The retry, once there is room, commits the new states.
        store
            .conn
            .execute_batch("PRAGMA max_page_count = 1000000")
            .expect("uncap");
        let tx = store.transaction().expect("tx");
        tx.save_item_state("milk", &learned(2.0), 12).expect("save");
        tx.commit().expect("commit");
        assert_eq!(
            store.read().item_state("milk").expect("r"),
            Some(learned(2.0))
        );
        assert_eq!(stored_states(&path), vec![("milk".into(), learned(2.0))]);
    }

    #[test]
    fn forgetting_drops_the_states_held_in_memory() {
        let (dir, mut store) = temp_db();
        let path = dir.path.join("t.db");
        let tx = store.transaction().expect("tx");
        for item in ["eggs", "milk", "oat-milk"] {
            tx.save_item_state(item, &learned(1.0), 10).expect("save");
        }
        tx.commit().expect("commit");
        // A change not yet written, then the forget, in one transaction.
        let tx = store.transaction().expect("tx");
        tx.save_item_state("milk", &learned(2.0), 11).expect("save");
        tx.forget_item("milk", &["milk"], 11).expect("forget");
        assert_eq!(tx.read().item_state("milk").expect("r"), None);
        tx.commit().expect("commit");
        assert_eq!(store.read().item_state("milk").expect("r"), None);
        assert_eq!(
            stored_states(&path),
            vec![
                ("eggs".into(), learned(1.0)),
                ("oat-milk".into(), learned(1.0))
            ]
        );
        // A forget that rolls back forgets nothing.
        let tx = store.transaction().expect("tx");
        tx.forget_item("eggs", &["eggs"], 12).expect("forget");
        drop(tx);
        assert_eq!(
            store.read().item_state("eggs").expect("r"),
            Some(learned(1.0))
        );
        // The household: everything, even what the transaction changed
        // before; what it learns afterwards is kept.
        let tx = store.transaction().expect("tx");
        tx.save_item_state("eggs", &learned(3.0), 13).expect("save");
        tx.forget_household(13).expect("forget");
        assert_eq!(tx.read().item_state("eggs").expect("r"), None);
        assert_eq!(tx.read().item_state("oat-milk").expect("r"), None);
        tx.save_item_state("tea", &learned(4.0), 13).expect("save");
        tx.commit().expect("commit");
        assert_eq!(store.read().item_state("eggs").expect("r"), None);
        assert_eq!(store.read().item_state("oat-milk").expect("r"), None);
        assert_eq!(
            store.read().item_state("tea").expect("r"),
            Some(learned(4.0))
        );
        assert_eq!(stored_states(&path), vec![("tea".into(), learned(4.0))]);
        // An item learned again after its forget gets a new key, not the
        // erased one still in memory: a fresh handle reads it.
        let erased_key = item_key(&store.conn, &path, "tea").expect("key");
        let tx = store.transaction().expect("tx");
        tx.forget_item("tea", &["tea"], 14).expect("forget");
        tx.commit().expect("commit");
        let tx = store.transaction().expect("tx");
        tx.save_item_state("tea", &learned(5.0), 15).expect("save");
        tx.insert_observation(&obs("tea", 1, "level", 5.0, 15))
            .expect("observation");
        tx.commit().expect("commit");
        assert_ne!(
            item_key(&store.conn, &path, "tea").expect("key"),
            erased_key
        );
        assert_eq!(stored_states(&path), vec![("tea".into(), learned(5.0))]);
        let fresh = Store::open_readonly(&path).expect("open");
        assert_eq!(
            fresh
                .read()
                .recent_observations("tea", 5)
                .expect("read")
                .len(),
            1
        );
    }

    #[test]
    fn an_item_state_sealed_through_json_values_still_reads() {
        // How every state was written before the writer kept them in
        // memory: `serde_json::Value` (sorted keys) inside the sealed JSON.
        let (dir, store) = temp_db();
        let path = dir.path.join("t.db");
        let key = item_key_or_create(&store.conn, &path, "milk").expect("key");
        let old = ItemStateSecretJson {
            state: serde_json::to_value(learned(2.5)).expect("value"),
            updated_at: 7,
        };
        let sealed = seal_value(
            &path,
            &key,
            &crate::crypto::seal::item_state_aad("milk"),
            &old,
            "item_state",
        )
        .expect("seal");
        store
            .conn
            .execute(
                "INSERT INTO item_state (item, sealed) VALUES ('milk', ?1)",
                [sealed],
            )
            .expect("insert");
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.read().item_state("milk").expect("r"),
            Some(learned(2.5))
        );
        // A state written now exports with the same fields.
        let mut store = store;
        let tx = store.transaction().expect("tx");
        tx.save_item_state("eggs", &learned(2.5), 8).expect("save");
        tx.commit().expect("commit");
        let mut exported = Vec::new();
        store
            .read()
            .each_row(Table::ItemState, |_, cells| {
                exported.push(cells);
                Ok(())
            })
            .expect("rows")
            .expect("export");
        let text = |cells: &[Cell]| match &cells[1] {
            Cell::Text(t) => serde_json::from_str::<serde_json::Value>(t).expect("json"),
            other => panic!("{other:?}"),
        };
        assert_eq!(text(&exported[0]), text(&exported[1]));
    }

    #[test]
    fn old_observations_become_daily_aggregates() {
        let (_d, mut store) = temp_db();
        let day = crate::core::DAY;
        let t0 = 1_800_000_000 - 1_800_000_000 % day;
        let tx = store.transaction().expect("tx");
        tx.insert_observation(&obs("milk", 1, "level", 2.0, t0 + 10))
            .expect("i");
        tx.insert_observation(&obs("milk", 2, "consumed", 0.25, t0 + 20))
            .expect("i");
        tx.insert_observation(&obs("milk", 3, "level", 1.5, t0 + 30))
            .expect("i");
        tx.insert_observation(&obs("milk", 4, "added", 1.0, t0 + day + 5))
            .expect("i");
        tx.insert_observation(&obs("milk", 5, "level", 9.0, t0 + 3 * day))
            .expect("i");
        // Cutoff after day 1: the first four go, the last stays raw.
        assert_eq!(tx.compact_observations(t0 + 2 * day, 100).expect("c"), 4);
        assert_eq!(tx.compact_observations(t0 + 2 * day, 100).expect("c"), 0);
        tx.commit().expect("commit");
        let days = store.read().observation_days("milk").expect("days");
        assert_eq!(days.len(), 2);
        assert_eq!(
            (
                days[0].count,
                days[0].consumed,
                days[0].last_level,
                days[0].last_level_at
            ),
            (3, 0.25, Some(1.5), Some(t0 + 30))
        );
        assert_eq!(
            (days[1].count, days[1].added, days[1].last_level),
            (1, 1.0, None)
        );
        let raw = store.read().recent_observations("milk", 10).expect("raw");
        assert_eq!(raw.len(), 1);
        assert_eq!(raw[0].amount, 9.0);
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
}
