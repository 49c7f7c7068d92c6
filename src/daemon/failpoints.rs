//! Crash points for fault tests (`--features failpoints`; see
//! `docs/reliability.md`). Without the feature `crash_point` is empty and
//! the `fail` crate is not even linked.
//!
//! With the feature, `FAILPOINTS="<name>=return"` makes the process abort
//! at that point (SIGABRT, no destructors, no flush: like `kill -9` exactly
//! there); `panic`, `sleep(ms)`, `pause`, counts (`1*return`) and
//! sequences (`1*off->return`) are the `fail` crate's.

/// Where the daemon can be crashed (or paused), in the order a message
/// meets them.
pub const POINTS: &[&str] = &[
    // Writer: a message is in hand, the batch not yet collected (with
    // `sleep(ms)`, later messages pile up and share the batch).
    "writer_before_batch",
    // Writer: the batch transaction has committed; nothing acked yet.
    "after_commit_before_ack",
    // Ack task: an ack was handed over by the writer, not yet to the client.
    "ack_handoff_before_client",
    // Relay: an outbox row is due, not yet published.
    "relay_before_publish",
    // Relay: the broker PUBACKed the row; it is not yet marked sent.
    "relay_after_puback_before_mark",
];

/// A crash point named `name` (one of [`POINTS`]).
#[inline(always)]
pub(crate) fn crash_point(name: &str) {
    #[cfg(feature = "failpoints")]
    fail::fail_point!(name, |_| {
        tracing::error!(failpoint = name, "failpoint hit: aborting the process");
        std::process::abort()
    });
    let _ = name;
}
