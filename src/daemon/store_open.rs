//! Opening the state directory (mode 0700) and the database; a corrupt
//! database file is quarantined (moved aside, never deleted) and a fresh
//! one started.

use crate::store::Store;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// Creates the state directory (mode 0700) if it is missing.
pub(super) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| {
                format!("creating state directory {} (hub.state-dir)", dir.display())
            })?;
    }
    Ok(())
}

/// Opens the database; a corrupt file is moved aside (never deleted) and a
/// fresh one started, with a loud error in the log.
pub(super) fn open_store(path: &Path, now: i64) -> anyhow::Result<Store> {
    match Store::open(path) {
        Ok(store) => Ok(store),
        Err(crate::store::StoreError::Corrupt { detail, .. }) => {
            let aside = path.with_extension(format!("db.corrupt-{now}"));
            tracing::error!(
                database = %path.display(),
                quarantined_as = %aside.display(),
                %detail,
                "DATABASE IS CORRUPT: moved aside, starting with an empty database; learned history must be rebuilt"
            );
            std::fs::rename(path, &aside)
                .with_context(|| format!("quarantining corrupt database {}", path.display()))?;
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", path.display()));
                if side.exists() {
                    let _ = std::fs::rename(&side, format!("{}{suffix}", aside.display()));
                }
            }
            Store::open(path).with_context(|| format!("opening fresh database {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| "opening the database".to_string()),
    }
}
