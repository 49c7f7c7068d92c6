//! Test helpers, by concern. What `larder bench` needs as well (mosquitto
//! on a free port, `larder run` as a child process, the MQTT watcher and
//! publisher, scratch directories) lives in the library,
//! `larder::tools::harness`; these modules re-export it and add what only
//! the tests need, as helpers that panic instead of returning errors:
//! - [`broker`]: a test broker (anonymous, persistent) or any other;
//! - [`daemon`]: the `larder` binary (`larder run` as a child, one-shot
//!   commands) and the daemon in this process on a manual clock;
//! - [`config`]: the configuration builder over `tests/fixtures/*.toml`;
//! - [`watcher`]: the MQTT watcher and the wait for a daemon online;
//! - [`devices`]: device payloads, `mosquitto_pub`, the publisher and the
//!   publishing `RetryingDevice` thread;
//! - [`books`]: what was acknowledged against what was stored and sent;
//! - [`files`]: scratch directories, the state directory's files;
//! - [`household`]: a running household with members, for the approval
//!   and consent tests.

pub mod books;
pub mod broker;
pub mod config;
pub mod daemon;
pub mod devices;
pub mod files;
pub mod household;
pub mod watcher;

pub use books::*;
pub use broker::*;
pub use config::*;
pub use daemon::{
    DaemonProcess, InProcessDaemon, LARDER, larder, start_daemon, start_daemon_env, text,
};
pub use devices::*;
pub use files::*;
pub use household::*;
pub use watcher::*;

use std::time::{Duration, Instant};

/// Polls `check` every 20 ms until it holds, or panics naming `what`.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// [`wait_until`] for async tests: sleeps on the runtime between checks.
pub async fn wait_for(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}
