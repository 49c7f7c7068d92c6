//! Approval attacks: every kind of bad reply is refused with its reason and
//! none makes anything go upstream; replies racing each other give exactly
//! one outcome.
//!
//! The matrix runs the real daemon (`larder::daemon::start`, which is what
//! `larder run` calls) in process on a manual clock, against a real
//! mosquitto and a real SQLite file, because expiry and a second request for
//! the same item need a day to pass. The races run the real binary.

mod race;
mod replies;

pub(crate) use race::ApprovalRace;

use crate::support::*;
use larder::crypto::keys::{self, SigningKey};
use larder::protocol::approval::{self, MemberVerdict, ReplyClaims};
use larder::protocol::intent::{self, Evidence};
use larder::store::IntentState;
use replies::{Attack, run_attacks};
use std::time::Duration;

const DAY: i64 = 86_400;

/// Forged signature, wrong key, unknown member, other hub, wrong intent,
/// unknown intent, bad algorithm, malformed envelopes (truncated, wrong
/// tag, not CBOR, missing and extra fields, short nonce, bad decision),
/// oversize, retained, replay, expired, stale nonce (from the closed
/// earlier request for the same item) and a late reply to the closed
/// request: each refused with its reason, and nothing goes upstream. A
/// genuine quorum afterwards does send exactly one intent (positive
/// control for the upstream watcher).
#[test]
fn every_bad_reply_is_refused_with_its_reason_and_orders_nothing() {
    let broker = start_broker();
    let dir = temp_dir("attacks");
    let alex = SigningKey::create(&dir.join("alex.key")).expect("key");
    let sam = SigningKey::create(&dir.join("sam.key")).expect("key");
    let path = TestConfig::household()
        .member("alex", &alex.public_key())
        .member("sam", &sam.public_key())
        .set("rules", "approvals-required", 2)
        .set("rules", "approval-expires-after-hours", 1)
        .write(&dir, &broker);
    let config = larder::config::Config::load(&path).expect("config");
    let watcher = watch(broker.port(), &[UPSTREAM.into(), format!("{REQUESTS}+")]);
    let start = 1_800_000_000;
    let mut publisher = Publisher::connect(broker.port());

    // A genuine reply left retained on the broker before larder subscribes:
    // handed over flagged retained, it must be refused (it would otherwise
    // be replayed at every subscribe).
    let retained_topic = "larder/testhub/approvals/0123456789abcdef0123456789abcdef/reply";
    let retained = approval::sign_reply(
        &sam,
        &replies::claims(
            "sam",
            "0123456789abcdef0123456789abcdef",
            &[0; 16],
            MemberVerdict::Approve,
            start,
        ),
    );
    assert!(publisher.publish(retained_topic, retained, true));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let InProcessDaemon { running, clock } = rt.block_on(daemon::start(config, start));
    let db = open_db(&dir);
    wait_until(
        Duration::from_secs(20),
        "the retained reply refused",
        || db.read().counter("refused_replies").ok() == Some(1),
    );
    let first = db.read().dead_letters(1).expect("dl").remove(0);
    assert_eq!(first.topic, retained_topic);
    assert!(first.reason.contains("retained"), "{}", first.reason);

    // The washer reports far too little detergent: a request (2 approvals).
    assert!(publisher.publish(WASHER, detergent_added(100.0), false));
    let request = first_request(&watcher);
    assert_eq!(request.item, "detergent");
    let id = request.intent.clone();
    let nonce = keys::from_hex(&request.nonce).expect("nonce");
    let topic = request.reply_topic.clone();
    let claims = |member: &str, intent: &str, nonce: &[u8], verdict: MemberVerdict| {
        replies::claims(member, intent, nonce, verdict, start)
    };
    let sam_ok = claims("sam", &id, &nonce, MemberVerdict::Approve);
    let genuine_sam = approval::sign_reply(&sam, &sam_ok);
    let attacks = replies::bad_replies(&alex, &sam, &topic, &sam_ok, &genuine_sam);
    let count = attacks.len();
    run_attacks(&mut publisher, &running, &db, attacks);

    // A genuine first approval (1 of 2), then the same envelope again.
    let genuine_alex =
        approval::sign_reply(&alex, &claims("alex", &id, &nonce, MemberVerdict::Approve));
    let before = running.processed();
    assert!(publisher.publish(&topic, genuine_alex.clone(), false));
    wait_until(Duration::from_secs(20), "alex's approval", || {
        running.processed() > before
    });
    assert_eq!(db.read().approvals(&id).expect("approvals").len(), 1);
    run_attacks(
        &mut publisher,
        &running,
        &db,
        vec![
            Attack {
                name: "replay (alex's envelope again)",
                topic: topic.clone(),
                payload: genuine_alex.clone(),
                counter: "refused_replies",
                reason: "replayed reply: alex already answered",
            },
            Attack {
                name: "alex changes his mind (deny after approve)",
                topic: topic.clone(),
                payload: approval::sign_reply(
                    &alex,
                    &claims("alex", &id, &nonce, MemberVerdict::Deny),
                ),
                counter: "refused_replies",
                reason: "replayed reply: alex already answered",
            },
        ],
    );

    // Two hours later sam's genuine approval comes too late.
    clock.set(start + 2 * 3600);
    run_attacks(
        &mut publisher,
        &running,
        &db,
        vec![Attack {
            name: "expired",
            topic: topic.clone(),
            payload: genuine_sam.clone(),
            counter: "refused_replies",
            reason: "expired",
        }],
    );
    rt.block_on(running.tick()).expect("tick");
    let first_row = db.read().intent(&id).expect("q").expect("row");
    assert_eq!(first_row.state, IntentState::Expired);

    // A day later (snooze and cooldown over) larder asks again for the
    // same item: a new intent with a new nonce.
    clock.set(start + 2 * 3600 + DAY + 3600);
    rt.block_on(running.tick()).expect("tick");
    wait_until(Duration::from_secs(20), "a second request", || {
        approval_requests(&watcher).iter().any(|r| r.intent != id)
    });
    let second = approval_requests(&watcher)
        .into_iter()
        .find(|r| r.intent != id)
        .expect("second request");
    assert_eq!(second.item, "detergent");
    assert_ne!(second.nonce, request.nonce);
    let id2 = second.intent.clone();
    let nonce2 = keys::from_hex(&second.nonce).expect("nonce");
    let now2 = start + 2 * 3600 + DAY + 3600;
    let claims2 = |member: &str, intent: &str, nonce: &[u8]| ReplyClaims {
        issued_at: now2,
        ..claims(member, intent, nonce, MemberVerdict::Approve)
    };
    run_attacks(
        &mut publisher,
        &running,
        &db,
        vec![
            Attack {
                name: "stale nonce (the closed first request's, on the new intent)",
                topic: second.reply_topic.clone(),
                payload: approval::sign_reply(&sam, &claims2("sam", &id2, &nonce)),
                counter: "refused_replies",
                reason: "stale or wrong nonce",
            },
            Attack {
                name: "late reply to the closed first request",
                topic: topic.clone(),
                payload: approval::sign_reply(&sam, &claims2("sam", &id, &nonce)),
                counter: "refused_replies",
                reason: "is expired, not awaiting approval",
            },
        ],
    );
    let refused = count + 2 + 1 + 2 - 1; // all but the oversize one
    assert_eq!(
        db.read().counter("refused_replies").expect("counter"),
        1 + refused as u64,
        "the retained reply and every attack but the oversize one"
    );
    // Nothing so far may have gone upstream or changed an intent.
    std::thread::sleep(Duration::from_millis(300));
    assert!(watcher.on(UPSTREAM).is_empty(), "no intent may go upstream");
    assert_eq!(db.read().approvals(&id).expect("approvals").len(), 1);
    assert!(db.read().approvals(&id2).expect("approvals").is_empty());
    assert_eq!(
        db.read().intent(&id2).expect("q").expect("row").state,
        IntentState::AwaitingApproval
    );
    assert!(
        db.read()
            .due_outbox(i64::MAX, 1000)
            .expect("outbox")
            .iter()
            .all(|r| r.kind != "intent")
            && db.read().sent_outbox_of_kind("intent").expect("outbox") == 0,
        "no intent in the outbox"
    );

    // Positive control: the genuine quorum on the new request orders once.
    for (key, member) in [(&alex, "alex"), (&sam, "sam")] {
        assert!(publisher.publish(
            &second.reply_topic,
            approval::sign_reply(key, &claims2(member, &id2, &nonce2)),
            false
        ));
    }
    wait_until(Duration::from_secs(20), "the approved intent sent", || {
        intent_is(&db, &id2, IntentState::Sent)
    });
    wait_until(Duration::from_secs(10), "the intent upstream", || {
        !watcher.on(UPSTREAM).is_empty()
    });
    let hub_key = hub_public_key(&dir);
    let seen = watcher.on(UPSTREAM);
    assert_eq!(seen.len(), 1, "exactly one message upstream");
    let sent = intent::verify_intent(&seen[0].payload, &hub_key).expect("verifies");
    assert_eq!(sent.id, id2);
    assert!(matches!(&sent.evidence, Evidence::Members(d) if d.len() == 2));
    rt.block_on(running.stop()).expect("stop");
    let out = larder(&path, &["ledger", "verify"]);
    assert!(
        out.status.success(),
        "ledger verify: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Two members approve the same one-approval request at the same moment:
/// one approval is recorded and orders, the other is refused as late; one
/// message upstream.
#[test]
fn two_approvals_at_once_order_exactly_once() {
    let h = ApprovalRace::start("race-approve", 1);
    h.race(
        h.reply("alex", MemberVerdict::Approve),
        h.reply("sam", MemberVerdict::Approve),
    );
    let ids = h.upstream_settled();
    assert_eq!(h.state(), IntentState::Sent);
    assert_eq!(
        ids,
        vec![h.request.intent.clone()],
        "one message, this intent"
    );
    let approvals = h.approvals();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    h.refused_for("not awaiting approval");
    h.finish();
}

/// An approval and a denial at the same moment: whichever the daemon
/// handles first decides; the other is refused; the intent, the approvals
/// table and the upstream agree.
#[test]
fn an_approval_and_a_denial_at_once_have_one_outcome() {
    let h = ApprovalRace::start("race-deny", 1);
    h.race(
        h.reply("alex", MemberVerdict::Approve),
        h.reply("sam", MemberVerdict::Deny),
    );
    let ids = h.upstream_settled();
    let approvals = h.approvals();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    let row = open_db(&h.home.dir)
        .read()
        .intent(&h.request.intent)
        .expect("q")
        .expect("row");
    match approvals[0].verdict.as_str() {
        "approve" => {
            assert_eq!(row.state, IntentState::Sent);
            assert_eq!(row.decided_by.as_deref(), Some("members"));
            assert_eq!(ids, vec![h.request.intent.clone()]);
        }
        "deny" => {
            assert_eq!(row.state, IntentState::Denied);
            assert_eq!(row.decided_by.as_deref(), Some("member:sam"));
            assert!(ids.is_empty(), "a denial sends nothing: {ids:?}");
        }
        other => panic!("verdict {other}"),
    }
    h.refused_for("not awaiting approval");
    h.finish();
}

/// The same reply published twice at once (two-approval request): one is
/// recorded, the copy is refused as a replay, nothing is ordered.
#[test]
fn the_same_reply_twice_at_once_counts_once() {
    let h = ApprovalRace::start("race-dup", 2);
    let reply = h.reply("alex", MemberVerdict::Approve);
    h.race(reply.clone(), reply);
    let approvals = h.approvals();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    h.refused_for("replayed reply: alex already answered");
    assert_eq!(h.state(), IntentState::AwaitingApproval);
    // Sam completes the quorum: exactly one order.
    mosquitto_pub(
        h.home.broker.port(),
        &h.request.reply_topic,
        &h.reply("sam", MemberVerdict::Approve),
    );
    wait_until(Duration::from_secs(20), "the order", || {
        h.state() == IntentState::Sent
    });
    assert_eq!(h.upstream_settled(), vec![h.request.intent.clone()]);
    h.finish();
}
