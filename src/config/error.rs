//! What goes wrong reading a configuration, and how each problem names its
//! place: every problem is reported at once as `key.path: problem`, with
//! array entries written `items[2].device` and keys written as TOML would.

use std::path::PathBuf;

/// Everything wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has wrong types.
    #[error("parsing config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said (it names the key).
        message: String,
    },
    /// The file parsed but has problems; each entry is `key.path: problem`.
    #[error("invalid config {path}:\n  {}", problems.join("\n  "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem, named by key path.
        problems: Vec<String>,
    },
}

/// Whether `s` is non-empty and only `[A-Za-z0-9_-]`.
pub(super) fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A TOML key as it would be written: bare if possible, else quoted.
pub(super) fn toml_key(key: &str) -> String {
    if is_ident(key) {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// `serde_ignored`'s path as a config key path: `items[2].device`.
pub(super) fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        Path::Map { parent, key } => {
            let parent = key_path(parent);
            if parent.is_empty() {
                toml_key(key)
            } else {
                format!("{parent}.{}", toml_key(key))
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => key_path(parent),
    }
}
