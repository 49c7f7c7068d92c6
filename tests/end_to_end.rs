//! The whole path: readings in, approved and signed intent out.

use crate::support::*;
use larder::crypto::keys::{self, SigningKey};
use larder::protocol::approval;
use larder::protocol::intent::{self, Evidence};
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
