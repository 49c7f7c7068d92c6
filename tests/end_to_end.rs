//! The whole path: readings in, approved and signed intent out.

use crate::support::*;
use larder::crypto::keys::SigningKey;
use larder::protocol::intent::{self, Evidence};
use larder::store::IntentState;
use std::time::Duration;

/// (a) Level readings published with mosquitto's client → a proposal →
/// auto-approved by rule → a signed intent upstream that verifies.
#[test]
fn low_milk_readings_lead_to_an_auto_approved_signed_intent() {
    let mut home = Household::start("auto", &[]);
    let upstream = UPSTREAM.to_string();
    let hub_key = hub_public_key(&home.dir);

    milk_runs_low(home.broker.port());
    wait_until(Duration::from_secs(20), "an intent upstream", || {
        !home.watcher.on(&upstream).is_empty()
    });
    let seen = home.watcher.on(&upstream);
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

    let db = open_db(&home.dir);
    wait_until(Duration::from_secs(10), "the intent marked sent", || {
        intent_is(&db, &intent.id, IntentState::Sent)
    });
    wait_until(Duration::from_secs(10), "all three readings stored", || {
        db.read().observation_count().ok() == Some(3)
    });
    // `larder status` reads the live database beside the running daemon.
    let status = larder(&home.config, &["status"]);
    let text = text(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(text.contains("milk") && text.contains("sent"), "{text}");
    assert!(text.contains("messages"), "{text}");
    assert!(home.daemon.alive());
    assert_eq!(
        home.daemon.terminate(),
        Ok(Some(0)),
        "clean exit on SIGTERM"
    );
}

/// (b) Over the auto limit → approval request → `larder approve` → intent.
#[test]
fn an_order_over_the_limit_waits_for_a_signed_member_approval() {
    let home = Household::start("ask", &["alex"]);
    let upstream = UPSTREAM.to_string();
    let hub_key = hub_public_key(&home.dir);

    // The washer reports only 100 ml of detergent put in: far too little.
    let request = detergent_request(home.broker.port(), &home.watcher);
    assert_eq!(request.item, "detergent");
    assert!(request.price_ceiling > 8.0);
    assert!(!request.why.is_empty());
    assert!(
        home.watcher.on(&upstream).is_empty(),
        "nothing goes upstream before approval"
    );

    let key = home.dir.join("alex.key");
    let out = larder(
        &home.config,
        &["approve", &request.intent, "--key", path_str(&key)],
    );
    assert!(
        out.status.success(),
        "approve failed: {}",
        text(&out.stderr)
    );
    wait_until(
        Duration::from_secs(20),
        "the approved intent upstream",
        || !home.watcher.on(&upstream).is_empty(),
    );
    let intent =
        intent::verify_intent(&home.watcher.on(&upstream)[0].payload, &hub_key).expect("verifies");
    assert_eq!(intent.id, request.intent);
    assert!(matches!(&intent.evidence, Evidence::Members(d) if d.len() == 1));
    // The retained request is cleared once decided.
    wait_until(Duration::from_secs(10), "the request to be cleared", || {
        home.watcher
            .on(&format!("larder/testhub/approvals/{}", request.intent))
            .iter()
            .any(|s| s.payload.is_empty())
    });
}

/// `larder deny`: the signed denial closes the intent and nothing goes
/// upstream; the request is withdrawn.
#[test]
fn a_signed_denial_closes_the_intent_without_an_order() {
    let home = Household::start("deny", &["alex"]);
    let upstream = UPSTREAM.to_string();
    let request = detergent_request(home.broker.port(), &home.watcher);
    let key = home.dir.join("alex.key");
    let out = larder(
        &home.config,
        &["deny", &request.intent, "--key", path_str(&key)],
    );
    assert!(out.status.success(), "deny failed: {}", text(&out.stderr));
    let db = open_db(&home.dir);
    wait_until(Duration::from_secs(20), "the intent denied", || {
        intent_is(&db, &request.intent, IntentState::Denied)
    });
    wait_until(Duration::from_secs(10), "the request to be cleared", || {
        home.watcher
            .on(&format!("larder/testhub/approvals/{}", request.intent))
            .iter()
            .any(|s| s.payload.is_empty())
    });
    assert!(
        home.watcher.on(&upstream).is_empty(),
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
    let home = Household::start("pause", &["alex"]);
    SigningKey::create(&home.dir.join("mallory.key")).expect("key");
    let upstream = UPSTREAM.to_string();
    let signed = |args: &[&str], key: &str| {
        let key = home.dir.join(key);
        larder(&home.config, &[args, &["--key", path_str(&key)]].concat())
    };
    let out = signed(&["pause", "--for", "3d"], "alex.key");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = open_db(&home.dir);
    wait_until(Duration::from_secs(20), "the pause applied", || {
        db.read().presence().is_ok_and(|p| p.paused_since.is_some())
    });
    // Mallory's key signing as alex: refused, still paused.
    let forged = signed(&["resume", "--member", "alex"], "mallory.key");
    assert!(forged.status.success(), "the CLI only publishes");
    for (seq, level) in [(1, 1.0), (2, 0.6), (3, 0.2)] {
        mosquitto_pub(
            home.broker.port(),
            FRIDGE,
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
        home.watcher.on(&upstream).is_empty(),
        "nothing is ordered while away"
    );
    let status = larder(&home.config, &["status"]);
    assert!(text(&status.stdout).contains("household away since"));

    let out = signed(&["resume"], "alex.key");
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_until(Duration::from_secs(20), "the order after resuming", || {
        !home.watcher.on(&upstream).is_empty()
    });
    assert!(
        db.read()
            .presence()
            .expect("presence")
            .paused_since
            .is_none()
    );
    // Both commands are in the household's ledger, with who signed them.
    let shown = larder(&home.config, &["ledger", "show"]);
    let shown = text(&shown.stdout);
    assert!(
        shown.contains("pause by alex") && shown.contains("resume by alex"),
        "{shown}"
    );
}
