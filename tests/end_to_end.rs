//! The whole path: readings in, approved and signed intent out.

use crate::support::*;
use larder::approval::{self, ReplyClaims, Verdict};
use larder::intent::{self, Evidence};
use larder::keys::{self, SigningKey};
use larder::store::IntentState;
use std::process::Command;
use std::time::Duration;

/// (a) Level readings published with mosquitto's client → a proposal →
/// auto-approved by rule → a signed intent upstream that verifies.
#[test]
fn low_milk_readings_lead_to_an_auto_approved_signed_intent() {
    let broker = Broker::start();
    let dir = TempDir::new("auto");
    let config = write_config(&dir, &broker, &Setup::default());
    let upstream = "larder/testhub/upstream/intents".to_string();
    let watcher = Watcher::start(broker.port, std::slice::from_ref(&upstream));
    let mut daemon = Daemon::start(&config);
    let hub_key = hub_public_key(&dir);
    wait_for_db(&dir);
    wait_online(broker.port, "testhub");

    let topic = "larder/testhub/devices/fridge/events";
    for (seq, level) in [(1, 1.0), (2, 0.6), (3, 0.3)] {
        mosquitto_pub(
            broker.port,
            topic,
            &level_json("fridge", "milk", 1, seq, level),
        );
    }
    wait_until(Duration::from_secs(20), "an intent upstream", || {
        !watcher.on(&upstream).is_empty()
    });
    let seen = watcher.on(&upstream);
    let intent = intent::verify_intent(&seen[0].payload, &hub_key).expect("hub signature verifies");
    assert_eq!(intent.product, "sku-milk");
    assert!(intent.packages >= 1);
    assert!(intent.price_ceiling <= 8.0);
    assert!(
        matches!(intent.evidence, Evidence::Rule(_)),
        "{:?}",
        intent.evidence
    );
    // Another key does not verify it.
    assert!(intent::verify_intent(&seen[0].payload, &[7u8; 32]).is_err());

    let db = open_db(&dir);
    wait_until(Duration::from_secs(10), "the intent marked sent", || {
        db.read()
            .intent(&intent.id)
            .ok()
            .flatten()
            .is_some_and(|i| i.state == IntentState::Sent)
    });
    wait_until(Duration::from_secs(10), "all three readings stored", || {
        db.read().observation_count().ok() == Some(3)
    });
    // `larder status` reads the live database beside the running daemon.
    let status = Command::new(LARDER)
        .arg("--config")
        .arg(&config)
        .arg("status")
        .output()
        .expect("larder status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(text.contains("milk") && text.contains("sent"), "{text}");
    assert!(text.contains("messages"), "{text}");
    assert!(daemon.alive());
    assert_eq!(daemon.terminate(), Some(0), "clean exit on SIGTERM");
}

/// (b) Over the auto limit → approval request → `larder approve` → intent.
#[test]
fn an_order_over_the_limit_waits_for_a_signed_member_approval() {
    let broker = Broker::start();
    let dir = TempDir::new("ask");
    let alex = SigningKey::create(&dir.join("alex.key")).expect("key");
    let setup = Setup {
        members: vec![("alex".into(), keys::to_hex(&alex.public_key()))],
        ..Setup::default()
    };
    let config = write_config(&dir, &broker, &setup);
    let upstream = "larder/testhub/upstream/intents".to_string();
    let requests = "larder/testhub/approvals/+".to_string();
    let watcher = Watcher::start(broker.port, &[upstream.clone(), requests]);
    let _daemon = Daemon::start(&config);
    let hub_key = hub_public_key(&dir);
    wait_for_db(&dir);
    wait_online(broker.port, "testhub");

    // The washer reports only 100 ml of detergent put in: far too little.
    let added = detergent_added(100.0);
    mosquitto_pub(broker.port, "larder/testhub/devices/washer/events", &added);
    wait_until(Duration::from_secs(20), "an approval request", || {
        !watcher.under("larder/testhub/approvals/").is_empty()
    });
    let request: approval::ApprovalRequest =
        serde_json::from_slice(&watcher.under("larder/testhub/approvals/")[0].payload)
            .expect("request json");
    assert_eq!(request.item, "detergent");
    assert!(request.price_ceiling > 8.0);
    assert!(!request.why.is_empty());
    assert!(
        watcher.on(&upstream).is_empty(),
        "nothing goes upstream before approval"
    );

    let out = Command::new(LARDER)
        .arg("--config")
        .arg(&config)
        .args(["approve", &request.intent, "--key"])
        .arg(dir.join("alex.key"))
        .output()
        .expect("larder approve");
    assert!(
        out.status.success(),
        "approve failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(
        Duration::from_secs(20),
        "the approved intent upstream",
        || !watcher.on(&upstream).is_empty(),
    );
    let intent =
        intent::verify_intent(&watcher.on(&upstream)[0].payload, &hub_key).expect("verifies");
    assert_eq!(intent.id, request.intent);
    assert!(matches!(&intent.evidence, Evidence::Members(d) if d.len() == 1));
    // The retained request is cleared once decided.
    wait_until(Duration::from_secs(10), "the request to be cleared", || {
        watcher
            .on(&format!("larder/testhub/approvals/{}", request.intent))
            .iter()
            .any(|s| s.payload.is_empty())
    });
}

/// (c) Forged, replayed, expired and unknown-member replies are refused
/// with a reason, and none produces an intent. Runs the real daemon in
/// process on a manual clock so expiry needs no waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_expired_and_unknown_replies_are_refused() {
    let broker = Broker::start();
    let dir = TempDir::new("attack");
    let alex = SigningKey::create(&dir.join("alex.key")).expect("key");
    let sam = SigningKey::create(&dir.join("sam.key")).expect("key");
    let mallory = SigningKey::create(&dir.join("mallory.key")).expect("key");
    let setup = Setup {
        members: vec![
            ("alex".into(), keys::to_hex(&alex.public_key())),
            ("sam".into(), keys::to_hex(&sam.public_key())),
        ],
        approvals_required: 2,
        expires_hours: 1.0,
        ..Setup::default()
    };
    let path = write_config(&dir, &broker, &setup);
    let config = larder::config::Config::load(&path).expect("config");
    let upstream = "larder/testhub/upstream/intents".to_string();
    let watcher = Watcher::start(
        broker.port,
        &[upstream.clone(), "larder/testhub/approvals/+".into()],
    );
    let start = 1_800_000_000;
    // A retained reply waiting on the broker before larder subscribes: the
    // broker hands it over flagged retained, and it must be refused (a
    // retained reply would otherwise be replayed at every subscribe).
    let stale = approval::sign_reply(
        &sam,
        &ReplyClaims {
            hub: "testhub".into(),
            intent: "0123456789abcdef0123456789abcdef".into(),
            nonce: vec![0; 16],
            verdict: Verdict::Approve,
            member: "sam".into(),
            issued_at: start,
        },
    );
    let port = broker.port;
    tokio::task::spawn_blocking(move || {
        let mut p = Publisher::connect(port);
        assert!(p.publish(
            "larder/testhub/approvals/0123456789abcdef0123456789abcdef/reply",
            stale,
            true
        ));
    })
    .await
    .expect("retained reply");
    let clock = std::sync::Arc::new(larder::clock::ManualClock::new(start));
    let running = larder::daemon::start(
        config,
        clock.clone(),
        larder::daemon::Options {
            tick_every: None,
            ..Default::default()
        },
    )
    .await
    .expect("daemon");
    tokio::task::spawn_blocking(move || wait_online(port, "testhub"))
        .await
        .expect("online");
    let mut publisher = tokio::task::spawn_blocking(move || {
        let mut p = Publisher::connect(broker.port);
        let added = detergent_added(100.0);
        assert!(p.publish("larder/testhub/devices/washer/events", added, false));
        (p, broker)
    })
    .await
    .expect("publish");
    wait_for(Duration::from_secs(20), "an approval request", || {
        !watcher.under("larder/testhub/approvals/").is_empty()
    })
    .await;
    let request: approval::ApprovalRequest =
        serde_json::from_slice(&watcher.under("larder/testhub/approvals/")[0].payload)
            .expect("request");
    let nonce = keys::from_hex(&request.nonce).expect("nonce");
    let claims = |member: &str, intent: &str| ReplyClaims {
        hub: "testhub".into(),
        intent: intent.into(),
        nonce: nonce.clone(),
        verdict: Verdict::Approve,
        member: member.into(),
        issued_at: start,
    };
    let topic = request.reply_topic.clone();
    let alex_reply = approval::sign_reply(&alex, &claims("alex", &request.intent));
    let attacks: Vec<(&str, String, Vec<u8>, bool)> = vec![
        // A genuine first approval (1 of 2): accepted, no intent yet.
        ("genuine", topic.clone(), alex_reply.clone(), false),
        // The same envelope again: replay.
        ("replay", topic.clone(), alex_reply.clone(), false),
        // Sam's name, mallory's key: forged.
        (
            "forged",
            topic.clone(),
            approval::sign_reply(&mallory, &claims("sam", &request.intent)),
            false,
        ),
        // Someone not in the household.
        (
            "unknown",
            topic.clone(),
            approval::sign_reply(&mallory, &claims("eve", &request.intent)),
            false,
        ),
        // Sam's genuine approval of a different intent, on this topic.
        (
            "wrong intent",
            topic.clone(),
            approval::sign_reply(&sam, &claims("sam", "00000000000000000000000000000000")),
            false,
        ),
    ];
    let count = attacks.len();
    publisher = tokio::task::spawn_blocking(move || {
        for (_, topic, payload, retain) in attacks {
            assert!(publisher.0.publish(&topic, payload, retain));
        }
        publisher
    })
    .await
    .expect("publish attacks");
    let db = open_db(&dir);
    wait_for(Duration::from_secs(20), "every attack processed", || {
        running.processed() >= 2 + count as u64
    })
    .await;
    let refused = db.read().counter("refused_replies").expect("counter");
    assert_eq!(
        refused, 5,
        "replay, forged, unknown, wrong intent, retained"
    );
    let reasons: Vec<String> = db
        .read()
        .dead_letters(10)
        .expect("dead letters")
        .into_iter()
        .map(|d| d.reason)
        .collect();
    for needle in [
        "replay",
        "bad signature",
        "unknown member",
        "arrived on the reply topic",
        "retained",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "no refusal mentions {needle:?}: {reasons:#?}"
        );
    }

    // Expired: two hours later sam's genuine approval comes too late.
    clock.set(start + 2 * 3600);
    let sam_late = approval::sign_reply(&sam, &claims("sam", &request.intent));
    let kept = tokio::task::spawn_blocking(move || {
        assert!(publisher.0.publish(&topic, sam_late, false));
        publisher
    })
    .await
    .expect("publish late");
    wait_for(Duration::from_secs(20), "the late reply processed", || {
        running.processed() >= 3 + count as u64
    })
    .await;
    assert_eq!(db.read().counter("refused_replies").expect("counter"), 6);
    let last = db.read().dead_letters(1).expect("dl").remove(0).reason;
    assert!(last.contains("expired"), "{last}");
    running.tick().await.expect("tick");
    let row = db.read().intent(&request.intent).expect("q").expect("row");
    assert_eq!(row.state, IntentState::Expired);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        watcher.on(&upstream).is_empty(),
        "no intent may go upstream"
    );
    running.stop().await.expect("stop");
    // The publisher owns a runtime: drop it (and the broker) off the async context.
    tokio::task::spawn_blocking(move || drop(kept))
        .await
        .expect("drop");
}

/// `larder deny`: the signed denial closes the intent and nothing goes
/// upstream; the request is withdrawn.
#[test]
fn a_signed_denial_closes_the_intent_without_an_order() {
    let broker = Broker::start();
    let dir = TempDir::new("deny");
    let alex = SigningKey::create(&dir.join("alex.key")).expect("key");
    let setup = Setup {
        members: vec![("alex".into(), keys::to_hex(&alex.public_key()))],
        ..Setup::default()
    };
    let config = write_config(&dir, &broker, &setup);
    let upstream = "larder/testhub/upstream/intents".to_string();
    let watcher = Watcher::start(
        broker.port,
        &[upstream.clone(), "larder/testhub/approvals/+".into()],
    );
    let _daemon = Daemon::start(&config);
    wait_for_db(&dir);
    wait_online(broker.port, "testhub");
    mosquitto_pub(
        broker.port,
        "larder/testhub/devices/washer/events",
        &detergent_added(100.0),
    );
    wait_until(Duration::from_secs(20), "an approval request", || {
        !watcher.under("larder/testhub/approvals/").is_empty()
    });
    let request: approval::ApprovalRequest =
        serde_json::from_slice(&watcher.under("larder/testhub/approvals/")[0].payload)
            .expect("request json");
    let out = Command::new(LARDER)
        .arg("--config")
        .arg(&config)
        .args(["deny", &request.intent, "--key"])
        .arg(dir.join("alex.key"))
        .output()
        .expect("larder deny");
    assert!(
        out.status.success(),
        "deny failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = open_db(&dir);
    wait_until(Duration::from_secs(20), "the intent denied", || {
        db.read()
            .intent(&request.intent)
            .ok()
            .flatten()
            .is_some_and(|i| i.state == IntentState::Denied)
    });
    wait_until(Duration::from_secs(10), "the request to be cleared", || {
        watcher
            .on(&format!("larder/testhub/approvals/{}", request.intent))
            .iter()
            .any(|s| s.payload.is_empty())
    });
    assert!(
        watcher.on(&upstream).is_empty(),
        "a denial sends nothing upstream"
    );
    let row = db.read().intent(&request.intent).expect("q").expect("row");
    assert_eq!(row.decided_by.as_deref(), Some("member:alex"));
}

/// Presence: a member's signed `larder pause` stops ordering (readings that
/// would trigger an order do not), a forged or replayed command is refused,
/// and `larder resume` lets the order through.
#[test]
fn a_paused_household_gets_no_orders_until_a_member_resumes() {
    let broker = Broker::start();
    let dir = TempDir::new("pause");
    let alex = SigningKey::create(&dir.join("alex.key")).expect("key");
    SigningKey::create(&dir.join("mallory.key")).expect("key");
    let setup = Setup {
        members: vec![("alex".into(), keys::to_hex(&alex.public_key()))],
        ..Setup::default()
    };
    let config = write_config(&dir, &broker, &setup);
    let upstream = "larder/testhub/upstream/intents".to_string();
    let watcher = Watcher::start(broker.port, std::slice::from_ref(&upstream));
    let _daemon = Daemon::start(&config);
    wait_for_db(&dir);
    wait_online(broker.port, "testhub");
    let larder = |args: &[&str], key: &str| {
        Command::new(LARDER)
            .arg("--config")
            .arg(&config)
            .args(args)
            .arg("--key")
            .arg(dir.join(key))
            .output()
            .expect("larder")
    };
    let out = larder(&["pause", "--for", "3d"], "alex.key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = open_db(&dir);
    wait_until(Duration::from_secs(20), "the pause applied", || {
        db.read().presence().is_ok_and(|p| p.paused_since.is_some())
    });
    // Mallory's key signing as alex: refused, still paused.
    let forged = larder(&["resume", "--member", "alex"], "mallory.key");
    assert!(forged.status.success(), "the CLI only publishes");
    let topic = "larder/testhub/devices/fridge/events";
    for (seq, level) in [(1, 1.0), (2, 0.6), (3, 0.2)] {
        mosquitto_pub(
            broker.port,
            topic,
            &level_json("fridge", "milk", 1, seq, level),
        );
    }
    wait_until(
        Duration::from_secs(20),
        "readings and the forged resume processed",
        || {
            db.read().observation_count().ok() == Some(3)
                && db.read().counter("refused_controls").ok() == Some(1)
        },
    );
    assert!(
        db.read()
            .presence()
            .expect("presence")
            .paused_since
            .is_some()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        watcher.on(&upstream).is_empty(),
        "nothing is ordered while away"
    );
    let status = Command::new(LARDER)
        .arg("--config")
        .arg(&config)
        .arg("status")
        .output()
        .expect("status");
    assert!(String::from_utf8_lossy(&status.stdout).contains("household away since"));

    let out = larder(&["resume"], "alex.key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(Duration::from_secs(20), "the order after resuming", || {
        !watcher.on(&upstream).is_empty()
    });
    assert!(
        db.read()
            .presence()
            .expect("presence")
            .paused_since
            .is_none()
    );
    // Both commands are in the household's ledger, with who signed them.
    let shown = Command::new(LARDER)
        .arg("--config")
        .arg(&config)
        .args(["ledger", "show"])
        .output()
        .expect("ledger show");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("pause by alex") && shown.contains("resume by alex"),
        "{shown}"
    );
}
