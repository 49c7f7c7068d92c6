//! `larder forget`: erase what larder holds about one item or the whole
//! household, irreversibly.
//!
//! The database has one writer, so a forget is executed by whoever holds
//! the state directory's lock ([`StateLock`]):
//! - larder is running: the CLI signs a `forget` control message with a
//!   member's key and publishes it on `larder/<hub>/control`; the daemon's
//!   writer applies it in the batch transaction ([`apply`]), commits, acks,
//!   then scrubs the file (`Store::scrub`). The CLI waits until the
//!   `forget` ledger entry appears.
//! - larder is not running: the CLI takes the lock itself (so a daemon
//!   started meanwhile refuses to start), applies, commits and scrubs.
//!
//! What is erased and what is kept is in `docs/privacy.md`.

use crate::config::Config;
use crate::control::ForgetScope;
use crate::engine::Topics;
use crate::store::{self, Forgotten, Tx};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Name of the lock file in the state directory.
pub const LOCK_FILE: &str = "larder.lock";

/// Name of the file next to it holding the lock holder's pid (informative).
pub const PID_FILE: &str = "larder.pid";

/// Applies a forget in `tx`: erases (see `Tx::forget_item` /
/// `Tx::forget_household`) and queues a clear of every retained approval
/// request of an erased intent, so the broker keeps no copy either.
pub fn apply(
    tx: &Tx<'_>,
    config: &Config,
    topics: &Topics,
    scope: &ForgetScope,
    now: i64,
) -> store::Result<Forgotten> {
    let gone = match scope {
        ForgetScope::Item(item) => {
            let mut needles = vec![item.as_str()];
            let configured = config.item(item);
            if let Some(configured) = configured {
                needles.push(configured.name.as_str());
            }
            let mut gone = tx.forget_item(item, &needles, now)?;
            // Refused events from the item's device naming its slot may
            // hold its readings too; an adapter device's state (a scale's
            // recent weights, a washer's phase) is about the item it
            // measures and goes with its key.
            if let Some(configured) = configured {
                if let Some(device) = config.devices.iter().find(|d| d.id == configured.device) {
                    gone.dead_letters +=
                        tx.forget_dead_letters_on(&device.topic, &configured.slot)?;
                    gone.key |= tx.forget_device_state(&device.id)?;
                }
            }
            gone
        }
        ForgetScope::Household => tx.forget_household(now)?,
    };
    for intent in &gone.awaiting {
        crate::engine::queue_request_clear(tx, topics, intent, now)?;
    }
    Ok(gone)
}

/// Overwrites with zeros, syncs and deletes every quarantined copy of the
/// database (`larder.db.corrupt-*` and its `-wal`/`-shm`, see
/// `daemon::open_store`): a corrupt file cannot be edited, and it may hold
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
    use crate::store::{IntentRow, IntentState, Store};

    const CONFIG: &str = r#"
[hub]
id = "home"
state-dir = "/nonexistent"

[mqtt]
url = "mqtt://127.0.0.1"

[[devices]]
id = "fridge"
topic = "larder/home/devices/fridge/events"
format = "json"

[[items]]
id = "milk"
name = "Milk Zq"
unit = "l"
package-size = 1.0
product = "sku-1"
price = 1.10
category = "dairy"
device = "fridge"
slot = "milk"

[[members]]
name = "anna"
public-key = "3517338e374dbf7c24667cb632b465d0b22fe3dfc6eeb9d7d3726a9e9d1dd3c6"

[rules]
currency = "EUR"
"#;

    #[test]
    fn forgetting_an_item_with_a_pending_request_clears_it_on_the_broker() {
        let config = Config::parse(CONFIG, Path::new("/etc/larder/larder.toml")).expect("config");
        let topics = Topics::new(&config);
        let dir = std::env::temp_dir().join(format!(
            "larder-forget-{}-{}",
            std::process::id(),
            crate::keys::to_hex(&crate::keys::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut store = Store::open(&dir.join("f.db")).expect("open");
        let tx = store.transaction().expect("tx");
        tx.insert_intent(&IntentRow {
            id: "i1".into(),
            item: "milk".into(),
            state: IntentState::AwaitingApproval,
            product: "sku-1".into(),
            packages: 1,
            quantity: 1.0,
            unit_price: 1.1,
            price_ceiling: 1.21,
            currency: "EUR".into(),
            deliver_after: 0,
            deliver_before: 1,
            nonce: Some("00".into()),
            prompt_at: Some(0),
            expires_at: Some(9),
            approvals_required: 1,
            why: vec!["Milk Zq: 0.2 l left".into()],
            decided_by: None,
            created_at: 0,
            updated_at: 0,
        })
        .expect("intent");
        tx.dead_letter(
            &config.devices[0].topic,
            br#"{"slot":"milk","amount":"x"}"#,
            "bad",
            1,
        )
        .expect("dl");
        let gone =
            apply(&tx, &config, &topics, &ForgetScope::Item("milk".into()), 5).expect("forget");
        tx.commit().expect("commit");
        assert_eq!((gone.intents, gone.dead_letters), (1, 1));
        let due = store.read().due_outbox(5, 10).expect("outbox");
        assert_eq!(due.len(), 1);
        assert_eq!(
            (
                due[0].kind.as_str(),
                due[0].topic.as_str(),
                due[0].retain,
                due[0].payload.len()
            ),
            ("approval_clear", "larder/home/approvals/i1", true, 0)
        );
        let verified = crate::ledger::verify(&store.read(), None)
            .expect("walk")
            .expect("verifies");
        assert!(verified.entries >= 2);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_lock_is_exclusive_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!(
            "larder-lock-{}-{}",
            std::process::id(),
            crate::keys::to_hex(&crate::keys::random_bytes::<6>())
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
