//! The MQTT watcher for the tests: the harness's [`Watcher`], started
//! with a clean session or one that survives broker restarts, and the wait
//! for a daemon to be online.

pub use larder::tools::harness::{Seen, WatchOptions, Watcher};
use std::time::Duration;

/// Records every message on `topics` (clean session).
pub fn watch(port: u16, topics: &[String]) -> Watcher {
    watch_with(port, topics, &WatchOptions::default())
}

/// Records every message on `topics` across broker restarts: a persistent
/// session, so the broker queues for it while it reconnects.
pub fn watch_across_restarts(port: u16, topics: &[String]) -> Watcher {
    let options = WatchOptions {
        resume_session: true,
        credentials: None,
    };
    watch_with(port, topics, &options)
}

/// Records every message on `topics`, connecting as `options` says.
pub fn watch_with(port: u16, topics: &[String], options: &WatchOptions) -> Watcher {
    Watcher::start(port, topics, options).expect("watcher subscribed")
}

/// Waits until the daemon for `hub` has announced itself `online` (it
/// subscribes before it announces, so events published after this are
/// delivered to it).
pub fn wait_online(port: u16, hub: &str) {
    let topic = format!("larder/{hub}/status");
    let watcher = watch(port, std::slice::from_ref(&topic));
    super::wait_until(Duration::from_secs(20), "the daemon to be online", || {
        watcher
            .on(&topic)
            .last()
            .is_some_and(|s| s.payload == b"online")
    });
}
