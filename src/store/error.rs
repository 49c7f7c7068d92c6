//! What can go wrong in the store: [`StoreError`] (every SQLite error
//! names the database file) and the [`Result`] alias.

use std::path::{Path, PathBuf};

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
    pub(super) fn not_a_database_is_corrupt(self) -> StoreError {
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

/// Adds the path to a rusqlite error.
pub(super) fn at(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    }
}
