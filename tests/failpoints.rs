//! Deterministic crashes at the commit / ack / outbox boundaries (only
//! with `--features failpoints`): the real binary is started with
//! `FAILPOINTS=<point>=return`, aborts exactly there (SIGABRT, like
//! `kill -9` at that instruction), is restarted without it, and the books
//! must balance: no acknowledged event lost, each stored once, one milk
//! intent, and upstream every copy of it is the same id and bytes.
//!
//! `cargo test --features failpoints --test integration failpoints`

use crate::attacks::ApprovalRace;
use crate::faults::flush_with_sentinel;
use crate::support::*;
use larder::protocol::approval::MemberVerdict;
use larder::store::IntentState;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

const EPOCH: u64 = 7;

/// What a crash-and-restart run produced.
struct Books {
    /// Upstream messages carrying the (one) milk intent.
    messages: usize,
    /// Redelivered events the daemon recognised as already stored.
    duplicates: u64,
}

fn crash_at(point: &str) -> Books {
    assert!(
        larder::daemon::failpoints::POINTS.contains(&point),
        "{point}"
    );
    let broker = start_broker();
    let dir = temp_dir(&format!("fp-{point}"));
    let config = TestConfig::household().write(&dir, &broker);
    let recorder = watch_across_restarts(broker.port(), &[UPSTREAM.to_string()]);
    let mut daemon = start_daemon_env(&config, &[("FAILPOINTS", &format!("{point}=return"))]);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    // Milk falls from 3 l to 0.2 l by seq 30: an auto-approved intent is
    // decided (and the relay crash points reached) mid-stream.
    let device = RetryingDevice::start(
        broker.port(),
        FRIDGE,
        EPOCH,
        1..=60,
        Duration::from_millis(5),
        |seq| (3.0 - 2.8 * seq as f64 / 30.0).max(0.2),
    );
    wait_until(
        Duration::from_secs(30),
        &format!("the daemon to abort at {point}"),
        || !daemon.alive(),
    );
    let status = daemon.wait().expect("status");
    assert_eq!(status.signal(), Some(6), "SIGABRT at {point}: {status:?}");
    assert!(
        daemon.log().contains("failpoint hit"),
        "no failpoint log line:\n{}",
        daemon.log()
    );
    let mut daemon = start_daemon(&config);
    let acked = device.join();
    assert_eq!(acked.len(), 60, "the broker took every event");
    flush_with_sentinel(broker.port(), &dir, EPOCH, 61);
    let t = tally(&db_path(&dir), "fridge", EPOCH, &acked);
    assert!(t.lost.is_empty(), "{point}: lost {:?}", t.lost);
    assert_eq!(t.stored, 61, "{point}: each event stored once (+ sentinel)");

    let db = open_db(&dir);
    wait_until(Duration::from_secs(30), "the milk intent sent", || {
        db.read().unsent_outbox().ok() == Some(0)
            && db.read().intents(10).is_ok_and(|all| {
                all.iter()
                    .any(|i| i.item == "milk" && i.state == IntentState::Sent)
            })
    });
    // Marked sent only after the broker's PUBACK: give it a moment to
    // reach the recorder.
    std::thread::sleep(Duration::from_millis(500));
    let milk: Vec<_> = db
        .read()
        .intents(10)
        .expect("intents")
        .into_iter()
        .filter(|i| i.item == "milk")
        .collect();
    assert_eq!(milk.len(), 1, "{point}: one milk intent in the database");
    let seen = recorder.on(UPSTREAM);
    let by_product = intents_by_product(&seen, &hub_public_key(&dir));
    assert_eq!(
        by_product.get("sku-milk").map(|ids| ids.len()),
        Some(1),
        "{point}: one intent id upstream: {by_product:?}"
    );
    assert!(
        seen.iter().all(|s| s.payload == seen[0].payload),
        "{point}: every copy upstream is the same bytes"
    );
    let books = Books {
        messages: seen.len(),
        duplicates: db.read().counter("duplicates").expect("counter"),
    };
    eprintln!(
        "failpoint {point}: acked {}, lost 0, stored {}, upstream messages {}, duplicates {}",
        t.acked, t.stored, books.messages, books.duplicates
    );
    assert_eq!(daemon.terminate(), Ok(Some(0)));
    books
}

/// Committed, not acked: the broker redelivers, the copy is recognised.
#[test]
fn failpoints_crash_after_commit_before_ack() {
    let books = crash_at("after_commit_before_ack");
    assert!(books.duplicates >= 1, "the unacked batch came back");
    assert_eq!(books.messages, 1);
}

/// Ack handed to the ack task, not yet to the client: same as above.
#[test]
fn failpoints_crash_between_ack_handoff_and_client() {
    let books = crash_at("ack_handoff_before_client");
    assert!(books.duplicates >= 1, "the unacked message came back");
    assert_eq!(books.messages, 1);
}

/// Intent in the outbox, not yet published: published once after restart.
#[test]
fn failpoints_crash_before_the_outbox_publish() {
    let books = crash_at("relay_before_publish");
    assert_eq!(books.messages, 1);
}

/// Published and PUBACKed, not yet marked sent: re-sent after restart with
/// the same id and bytes (the shop dedupes on the id), never a new intent.
#[test]
fn failpoints_crash_after_puback_before_marking_sent() {
    let books = crash_at("relay_after_puback_before_mark");
    assert_eq!(
        books.messages, 2,
        "the one publish before the crash and the re-send"
    );
}

/// The daemon's writer pauses (2 s) on the first race reply, so both
/// replies of a race land in one batch, i.e. one transaction; returns the
/// household once both are handled. Asserts they did share a batch.
fn race_in_one_batch(
    tag: &str,
    approvals: u32,
    a: MemberVerdict,
    b: MemberVerdict,
) -> ApprovalRace {
    // Batch 1 is the washer event; the pause hits batch 2 only.
    let h = ApprovalRace::start_env(
        tag,
        approvals,
        &[(
            "FAILPOINTS",
            "writer_before_batch=1*off->1*sleep(2000)->off",
        )],
    );
    let (first, second) = (h.reply("alex", a), h.reply("sam", b));
    h.race(first, second);
    let log = h.home.daemon.log();
    assert!(
        log.lines()
            .any(|l| l.contains("batch committed") && l.contains("messages=2")),
        "the two replies did not share a batch:\n{}",
        log.lines()
            .filter(|l| l.contains("batch committed")
                || l.contains("refused")
                || l.contains("approved"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    h
}

/// Two approvals for a one-approval request in the same transaction: one
/// is recorded and orders, the other is refused; one message upstream.
#[test]
fn failpoints_two_approvals_in_one_batch_order_exactly_once() {
    let h = race_in_one_batch(
        "fp-race-approve",
        1,
        MemberVerdict::Approve,
        MemberVerdict::Approve,
    );
    let ids = h.upstream_settled();
    assert_eq!(h.state(), IntentState::Sent);
    assert_eq!(ids, vec![h.request.intent.clone()]);
    let approvals = h.approvals();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    h.refused_for("not awaiting approval");
    h.finish();
}

/// An approval and a denial in the same transaction: the first decides,
/// the second is refused, nothing else changes.
#[test]
fn failpoints_approve_and_deny_in_one_batch_have_one_outcome() {
    let h = race_in_one_batch(
        "fp-race-deny",
        1,
        MemberVerdict::Approve,
        MemberVerdict::Deny,
    );
    let ids = h.upstream_settled();
    let approvals = h.approvals();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    match approvals[0].verdict.as_str() {
        "approve" => {
            assert_eq!(h.state(), IntentState::Sent);
            assert_eq!(ids, vec![h.request.intent.clone()]);
        }
        _ => {
            assert_eq!(h.state(), IntentState::Denied);
            assert!(ids.is_empty(), "{ids:?}");
        }
    }
    h.refused_for("not awaiting approval");
    h.finish();
}

/// Both approvals of a two-approval request in one transaction: both are
/// recorded, the quorum is reached once, one message upstream.
#[test]
fn failpoints_a_quorum_completed_in_one_batch_orders_once() {
    let h = race_in_one_batch(
        "fp-race-quorum",
        2,
        MemberVerdict::Approve,
        MemberVerdict::Approve,
    );
    let ids = h.upstream_settled();
    assert_eq!(h.state(), IntentState::Sent);
    assert_eq!(ids, vec![h.request.intent.clone()]);
    let approvals = h.approvals();
    assert_eq!(approvals.len(), 2, "{approvals:?}");
    h.finish();
}

/// A broker redelivery of an adapter payload is taken once: larder dies
/// after committing a Home Connect `ProgramFinished` (hcpy's flattened
/// object, no timestamp) and before acknowledging it; on restart mosquitto
/// sends it again with MQTT's DUP flag, larder finds its digest among the
/// device's recent payloads and counts a duplicate, not a second wash.
#[test]
fn failpoints_a_redelivered_adapter_payload_is_taken_once() {
    use crate::devices::{HOMECONNECT, HUB, data, devices_config, observations};
    let broker = start_broker();
    let dir = temp_dir("fp-adapter-redelivery");
    let config = devices_config().write(&dir, &broker);
    let mut daemon = start_daemon_env(&config, &[("FAILPOINTS", "after_commit_before_ack=return")]);
    wait_for_db(&dir);
    wait_online(broker.port(), HUB);
    mosquitto_pub(broker.port(), HOMECONNECT, &data("homeconnect-hcpy.json"));
    wait_until(
        Duration::from_secs(30),
        "the daemon to abort after the commit",
        || !daemon.alive(),
    );
    let status = daemon.wait().expect("status");
    assert_eq!(status.signal(), Some(6), "SIGABRT: {status:?}");

    let _daemon = start_daemon(&config);
    let db = open_db(&dir);
    wait_until(Duration::from_secs(30), "the redelivery recognised", || {
        db.read().counter("duplicates").ok() == Some(1)
    });
    let tabs = observations(&db, "tabs");
    assert_eq!(tabs.len(), 1, "one wash, one tab: {tabs:?}");
    assert_eq!(db.read().counter("washer_finished_repeated").ok(), Some(0));
}
