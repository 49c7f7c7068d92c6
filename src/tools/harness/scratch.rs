//! A scratch directory under the system's temporary directory, removed
//! with everything in it when dropped, unless asked to keep it.

use super::HarnessError;
use std::path::{Path, PathBuf};

/// A directory this process made and (by default) removes on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    remove_on_drop: bool,
}

impl ScratchDir {
    /// Creates `<tmp>/<prefix>-<pid>-<random hex>`.
    pub fn create(prefix: &str) -> Result<ScratchDir, HarnessError> {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            crate::crypto::keys::to_hex(&crate::crypto::keys::random_bytes::<4>())
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| HarnessError::io(format!("creating {}", path.display()), e))?;
        Ok(ScratchDir {
            path,
            remove_on_drop: true,
        })
    }

    /// Creates the directory `name` inside this one; it goes when this one
    /// goes (dropping it removes nothing).
    pub fn subdir(&self, name: &str) -> Result<ScratchDir, HarnessError> {
        let path = self.path.join(name);
        std::fs::create_dir_all(&path)
            .map_err(|e| HarnessError::io(format!("creating {}", path.display()), e))?;
        Ok(ScratchDir {
            path,
            remove_on_drop: false,
        })
    }

    /// Leaves the directory on disk when dropped.
    pub fn keep(&mut self) {
        self.remove_on_drop = false;
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
