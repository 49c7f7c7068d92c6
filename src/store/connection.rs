//! The database handle: [`Store`] opened as the single writer (WAL,
//! `synchronous=FULL` asserted, `quick_check`, migrations, the page cap of
//! [`MAX_DB_PAGES_ENV`]) or read-only, and the prepared-statement cache
//! (`Cached`) the ingest and decision paths use. The rest of `Store` sits
//! with what it serves: `read` in `read/`, `transaction` in `write/`,
//! `scrub` in `write/scrub`, `migrate` in `schema`.

use super::cache::Committed;
use super::error::{Result, StoreError, at};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable capping the writer's database size in pages
/// (`PRAGMA max_page_count`). A fault-injection knob: once the cap is hit,
/// writes fail with `SQLITE_FULL`, exactly as on a full disk, so the
/// disk-full path can be exercised without a tiny filesystem. Unset in
/// production; read only by [`Store::open`].
pub const MAX_DB_PAGES_ENV: &str = "LARDER_MAX_DB_PAGES";

/// The database handle (the single writer, or a read-only reader).
pub struct Store {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    /// Decrypted item states and item keys exactly as committed (see
    /// [`Tx`](super::Tx)): the writer is the only one that changes them (one writer
    /// per state directory, `StateLock`), so it need not read and
    /// decrypt them again. Stays empty on a read-only handle.
    pub(super) committed: Committed,
}

/// The statements on the ingest and decision paths are prepared once per
/// connection and reused: preparing one cost ~30 µs on the bench machine,
/// more than running it (`docs/performance.md`).
pub(super) trait Cached {
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
}
