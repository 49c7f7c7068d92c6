//! Files: scratch directories (kept with `LARDER_KEEP_TEST_DIRS`), the
//! daemon's database and hub key in a test's state directory, and a raw
//! byte scan of a directory.

pub use larder::tools::harness::ScratchDir;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A scratch directory `larder-it-<tag>-…`, removed after the test unless
/// `LARDER_KEEP_TEST_DIRS` is set.
pub fn temp_dir(tag: &str) -> ScratchDir {
    let mut dir = ScratchDir::create(&format!("larder-it-{tag}")).expect("create temp dir");
    if std::env::var_os("LARDER_KEEP_TEST_DIRS").is_some() {
        dir.keep();
    }
    dir
}

/// The daemon's database in `dir`'s state directory.
pub fn db_path(dir: &ScratchDir) -> PathBuf {
    dir.join("state").join("larder.db")
}

/// Opens the daemon's database read-only.
pub fn open_db(dir: &ScratchDir) -> larder::store::Store {
    larder::store::Store::open_readonly(&db_path(dir)).expect("open db")
}

/// Waits until the database exists and answers.
pub fn wait_for_db(dir: &ScratchDir) {
    let path = db_path(dir);
    super::wait_until(Duration::from_secs(20), "the database to exist", || {
        path.exists() && larder::store::Store::open_readonly(&path).is_ok()
    });
}

/// The hub's public key, once the daemon has created it.
pub fn hub_public_key(dir: &ScratchDir) -> [u8; 32] {
    let path = dir.join("state").join("hub.key");
    super::wait_until(Duration::from_secs(20), "the hub key", || path.exists());
    larder::crypto::keys::SigningKey::load(&path)
        .expect("hub key")
        .public_key()
}

/// Scans every regular file under `dir` (recursively) for every named
/// needle; returns (files, bytes scanned, hits as "file: needle name").
pub fn scan(dir: &Path, needles: &[(String, Vec<u8>)]) -> (usize, u64, Vec<String>) {
    let mut files = 0;
    let mut bytes = 0u64;
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).expect("read dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(content) = std::fs::read(&path) else {
                continue;
            };
            files += 1;
            bytes += content.len() as u64;
            for (what, needle) in needles {
                if content
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice())
                {
                    hits.push(format!("{}: {what}", path.display()));
                }
            }
        }
    }
    (files, bytes, hits)
}

/// A path as a command-line argument.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}
