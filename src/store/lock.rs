//! Who may write the state directory, and what a corrupt copy leaves
//! behind: [`StateLock`] (an exclusive SQLite lock on `larder.lock`: the
//! daemon holds it for its lifetime, the CLI while it forgets without a
//! daemon) and [`wipe_quarantined`].

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Name of the lock file in the state directory.
pub const LOCK_FILE: &str = "larder.lock";

/// Name of the file next to it holding the lock holder's pid (informative).
pub const PID_FILE: &str = "larder.pid";

/// Overwrites with zeros, syncs and deletes every quarantined copy of the
/// database (`larder.db.corrupt-*` and its `-wal`/`-shm`, see
/// `daemon::store_open::open_store`): a corrupt file cannot be edited, and it may hold
/// what was just forgotten. Returns the files removed.
pub fn wipe_quarantined(database: &Path) -> std::io::Result<Vec<PathBuf>> {
    use std::io::Write as _;
    let Some(dir) = database.parent() else {
        return Ok(Vec::new());
    };
    let Some(name) = database.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{name}.corrupt-");
    let mut wiped = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let is_copy = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix));
        if !is_copy || !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let len = entry.metadata()?.len();
        let mut file = std::fs::OpenOptions::new().write(true).open(&path)?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        file.sync_all()?;
        drop(file);
        std::fs::remove_file(&path)?;
        tracing::warn!(file = %path.display(), "forget: quarantined database copy wiped");
        wiped.push(path);
    }
    Ok(wiped)
}

/// Why the state directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another larder process holds {lock}{pid}: larder is running on {dir}, or a `larder forget` is in progress"
    )]
    Held {
        /// The state directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// `", pid N"` if known.
        pid: String,
    },
    /// The lock file could not be opened or written.
    #[error("cannot lock {lock}: {source}")]
    Io {
        /// The lock file.
        lock: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
}

/// The state directory's single-writer lock: an exclusive SQLite lock on
/// `larder.lock` (a POSIX advisory lock the kernel releases when the
/// process dies, so a crash never leaves it stale). Held by the daemon for
/// its lifetime and by `larder forget` while it works without the daemon.
pub struct StateLock {
    _conn: Connection,
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateLock")
    }
}

impl StateLock {
    /// Takes the lock without waiting.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        let lock = state_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            lock: lock.clone(),
            source,
        };
        let conn = Connection::open(&lock).map_err(io)?;
        conn.busy_timeout(std::time::Duration::ZERO).map_err(io)?;
        match conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;") {
            Ok(()) => {}
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                let pid = std::fs::read_to_string(state_dir.join(PID_FILE))
                    .ok()
                    .map(|p| format!(", pid {}", p.trim()))
                    .unwrap_or_default();
                return Err(LockError::Held {
                    dir: state_dir.to_owned(),
                    lock,
                    pid,
                });
            }
            Err(e) => return Err(io(e)),
        }
        let _ = std::fs::write(
            state_dir.join(PID_FILE),
            format!("{}\n", std::process::id()),
        );
        Ok(StateLock { _conn: conn })
    }

    /// Whether someone holds the lock now (without keeping it).
    pub fn is_held(state_dir: &Path) -> bool {
        matches!(StateLock::acquire(state_dir), Err(LockError::Held { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!(
            "larder-lock-{}-{}",
            std::process::id(),
            crate::crypto::keys::to_hex(&crate::crypto::keys::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let held = StateLock::acquire(&dir).expect("first");
        let second = StateLock::acquire(&dir).expect_err("second must fail");
        let message = second.to_string();
        assert!(message.contains("larder.lock"), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(StateLock::is_held(&dir));
        drop(held);
        assert!(!StateLock::is_held(&dir));
        StateLock::acquire(&dir).expect("free again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
