//! The harness `larder bench` and the integration tests share, written
//! once: mosquitto on a free port ([`broker`]), `larder run` as a child
//! process ([`daemon`]), an MQTT subscriber that records what it sees
//! ([`watcher`]), a QoS 1 publisher that counts PUBACKs ([`publisher`]) and
//! a scratch directory ([`scratch`]).
//!
//! Everything here is synchronous: each MQTT client drives its connection
//! on a thread of its own (`connection`), so a caller needs no async
//! runtime (and may be a plain `#[test]`). Fallible steps return
//! [`HarnessError`]; the tests wrap them in helpers that panic
//! (`tests/support/`). Nothing in the daemon uses this module.

pub mod broker;
mod connection;
pub mod daemon;
pub mod publisher;
pub mod scratch;
pub mod watcher;

pub use broker::Broker;
pub use daemon::{DaemonProcess, NotStopped};
pub use publisher::Publisher;
pub use scratch::ScratchDir;
pub use watcher::{Seen, WatchOptions, Watcher};

use std::process::Command;
use std::time::{Duration, Instant};

/// What went wrong in the harness, with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file, directory or process could not be created or read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (`starting mosquitto`, `creating /tmp/x`).
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Something did not happen in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it was awaited.
        after: Duration,
    },
    /// A process or the broker did something other than expected.
    #[error("{0}")]
    Failed(String),
}

impl HarnessError {
    /// An [`HarnessError::Io`] for `what`.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> HarnessError {
        HarnessError::Io {
            what: what.into(),
            source,
        }
    }
}

/// Sends `SIG<name>` to `pid` (with `kill`, as a shell would).
pub(crate) fn send_signal(pid: u32, name: &str) -> std::io::Result<()> {
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .map(|_| ())
}

/// Polls `check` every `every` until it holds (true) or `timeout` passes
/// (false).
pub(crate) fn poll_until(
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// A client id no other client of this process uses: `<prefix>-<hex>`.
pub(crate) fn client_id(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        crate::crypto::keys::to_hex(&crate::crypto::keys::random_bytes::<4>())
    )
}
