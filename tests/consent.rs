//! Consent and control after the decision: a member cancels a sent intent
//! inside the cancellation window (a signed cancellation with the same id
//! goes upstream), a cancel after the window is refused, and the price
//! guard holds a quote above the ceiling or a substituted product for the
//! household instead of buying it.

use crate::support::*;
use larder::protocol::approval::ApprovalRequest;
use larder::protocol::intent::{self, CancelReason, Upstream};
use larder::store::IntentState;
use std::time::Duration;

const ACKS: &str = "larder/testhub/upstream/acks";

/// The shared household with one member (alex) and a cancellation window
/// of `cancel_window_hours`.
fn household(tag: &str, cancel_window_hours: f64) -> Household {
    Household::start_with(
        tag,
        &["alex"],
        |config| config.set("rules", "cancel-window-hours", cancel_window_hours),
        &[],
    )
}

/// Low milk readings → an auto-approved intent, sent; returns its id.
fn auto_approved_milk(home: &Household) -> String {
    milk_runs_low(home.broker.port());
    let first = wait_upstream(home, 1);
    let Upstream::Intent(intent) = &first[0] else {
        panic!("expected an intent first, got {:?}", first[0]);
    };
    home.wait_state(&intent.id, IntentState::Sent);
    intent.id.clone()
}

/// Waits for `n` messages upstream and verifies each with the hub key.
fn wait_upstream(home: &Household, n: usize) -> Vec<Upstream> {
    wait_until(
        Duration::from_secs(20),
        &format!("{n} messages upstream"),
        || home.watcher.on(UPSTREAM).len() >= n,
    );
    let hub_key = hub_public_key(&home.dir);
    home.watcher
        .on(UPSTREAM)
        .iter()
        .map(|seen| intent::verify_upstream(&seen.payload, &hub_key).expect("verifies"))
        .collect()
}

/// `larder VERB INTENT --key alex.key`.
fn signed(home: &Household, verb: &str, intent: &str) -> (bool, String) {
    let key = home.key_file("alex");
    home.larder(&[verb, intent, "--key", path_str(&key)])
}

fn shop_ack(home: &Household, json: &str) {
    mosquitto_pub(home.broker.port(), ACKS, json.as_bytes());
}

/// The latest retained approval request (non-empty) for `intent`.
fn request_for(home: &Household, intent: &str) -> Option<ApprovalRequest> {
    home.watcher
        .on(&format!("{REQUESTS}{intent}"))
        .iter()
        .rev()
        .find(|s| !s.payload.is_empty())
        .map(|s| serde_json::from_slice(&s.payload).expect("request json"))
}

#[test]
fn a_member_cancels_a_sent_intent_inside_the_window_and_the_shop_gets_a_signed_cancel() {
    let mut home = household("cancel", 2.0);
    let id = auto_approved_milk(&home);

    let (ok, text) = signed(&home, "cancel", &id);
    assert!(ok, "larder cancel: {text}");
    let upstream = wait_upstream(&home, 2);
    match &upstream[1] {
        Upstream::Cancel(cancel) => {
            assert_eq!(cancel.id, id, "the same idempotency key");
            assert_eq!(cancel.reason, CancelReason::Household);
            assert_eq!(cancel.hub, "testhub");
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
    home.wait_state(&id, IntentState::Cancelled);

    // Cancelling again is refused with a reason, and nothing more leaves.
    let (ok, text) = signed(&home, "cancel", &id);
    assert!(ok, "the CLI publishes; the daemon decides: {text}");
    home.dead_letter_says("is cancelled; only a pending or sent intent");
    home.drained();
    assert_eq!(home.watcher.on(UPSTREAM).len(), 2);
    let db = open_db(&home.dir);

    // A shop that goes on with it anyway gets the cancellation again.
    shop_ack(
        &home,
        &format!(r#"{{"intent":"{id}","status":"accepted"}}"#),
    );
    let upstream = wait_upstream(&home, 3);
    assert!(
        matches!(&upstream[2], Upstream::Cancel(c) if c.id == id),
        "{:?}",
        upstream[2]
    );
    assert_eq!(db.read().counter("acks_for_withdrawn").expect("counter"), 1);

    // A request still waiting for approval is cancelled without anything
    // going upstream, and its retained request is cleared.
    mosquitto_pub(home.broker.port(), WASHER, &detergent_added(100.0));
    let mut pending = None;
    wait_until(Duration::from_secs(20), "a detergent request", || {
        pending = db.read().open_intent("detergent").ok().flatten();
        pending.is_some()
    });
    let pending = pending.expect("pending");
    assert_eq!(pending.state, IntentState::AwaitingApproval);
    wait_until(Duration::from_secs(20), "its request published", || {
        request_for(&home, &pending.id).is_some()
    });
    let (ok, text) = signed(&home, "cancel", &pending.id);
    assert!(ok, "{text}");
    home.wait_state(&pending.id, IntentState::Cancelled);
    wait_until(Duration::from_secs(20), "the request cleared", || {
        home.watcher
            .on(&format!("{REQUESTS}{}", pending.id))
            .iter()
            .any(|s| s.payload.is_empty())
    });
    // A delivery for an intent that never left is refused.
    shop_ack(
        &home,
        &format!(r#"{{"intent":"{}","status":"delivered"}}"#, pending.id),
    );
    home.dead_letter_says("before it ever left larder");
    home.drained();
    assert_eq!(home.watcher.on(UPSTREAM).len(), 3, "nothing more upstream");
    let shown = home.ledger_verifies();
    assert!(shown.contains("member_cancelled"), "{shown}");
    // No new order for milk right after the household cancelled one.
    assert!(db.read().open_intent("milk").expect("read").is_none());
    assert!(home.daemon.alive());
}

#[test]
fn a_cancel_after_the_window_is_refused_and_the_order_stands() {
    // A one-second window (0.0003 h), then wait it out.
    let home = household("cancel-late", 0.0003);
    let id = auto_approved_milk(&home);
    std::thread::sleep(Duration::from_millis(2500));

    let (ok, text) = signed(&home, "cancel", &id);
    assert!(ok, "larder cancel: {text}");
    home.dead_letter_says("cancellation window");
    home.drained();
    let db = open_db(&home.dir);
    assert_eq!(
        db.read().intent(&id).expect("read").expect("row").state,
        IntentState::Sent,
        "the order stands"
    );
    assert_eq!(home.watcher.on(UPSTREAM).len(), 1, "no cancellation left");
    assert_eq!(db.read().counter("refused_controls").expect("counter"), 1);
}

#[test]
fn the_price_guard_holds_a_dear_quote_or_a_substitute_for_the_household() {
    let mut home = household("guard", 2.0);
    let id = auto_approved_milk(&home);
    let db = open_db(&home.dir);
    let ceiling = db
        .read()
        .intent(&id)
        .expect("read")
        .expect("row")
        .price_ceiling;

    // A quote within the ceiling changes nothing.
    shop_ack(
        &home,
        &format!(
            r#"{{"intent":"{id}","status":"quoted","total":{ceiling},"currency":"EUR","product":"sku-milk"}}"#
        ),
    );
    // Above it: held, a signed cancellation goes upstream, and a
    // replacement at the quoted price waits for a member.
    let dear = ceiling + 1.25;
    shop_ack(
        &home,
        &format!(r#"{{"intent":"{id}","status":"quoted","total":{dear},"currency":"EUR"}}"#),
    );
    let upstream = wait_upstream(&home, 2);
    match &upstream[1] {
        Upstream::Cancel(cancel) => {
            assert_eq!(cancel.id, id);
            assert_eq!(cancel.reason, CancelReason::PriceAboveCeiling);
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
    home.wait_state(&id, IntentState::Held);
    let replacement = db
        .read()
        .open_intent("milk")
        .expect("read")
        .expect("a replacement waits for the household");
    assert_eq!(replacement.state, IntentState::AwaitingApproval);
    assert!((replacement.price_ceiling - dear).abs() < 0.006);
    wait_until(Duration::from_secs(20), "the replacement's request", || {
        request_for(&home, &replacement.id).is_some()
    });
    let request = request_for(&home, &replacement.id).expect("request");
    assert!(
        request.why.iter().any(|w| w.contains("price guard")),
        "{:?}",
        request.why
    );
    // A member sees it with `larder pending`...
    let (ok, pending) = home.larder(&["pending", "--timeout", "10"]);
    assert!(ok, "{pending}");
    assert!(pending.contains(&replacement.id), "{pending}");
    assert!(pending.contains("price guard"), "{pending}");
    // ...and approves it: a new intent at the quoted price goes out.
    let (ok, text) = signed(&home, "approve", &replacement.id);
    assert!(ok, "{text}");
    let upstream = wait_upstream(&home, 3);
    let Upstream::Intent(reissued) = &upstream[2] else {
        panic!("expected the approved replacement, got {:?}", upstream[2]);
    };
    assert_eq!(reissued.id, replacement.id);
    assert!((reissued.price_ceiling - dear).abs() < 0.006);
    home.wait_state(&replacement.id, IntentState::Sent);

    // The shop then accepts it with another product: held again.
    shop_ack(
        &home,
        &format!(
            r#"{{"intent":"{}","status":"accepted","product":"sku-oat-milk"}}"#,
            replacement.id
        ),
    );
    let upstream = wait_upstream(&home, 4);
    match &upstream[3] {
        Upstream::Cancel(cancel) => {
            assert_eq!(cancel.id, replacement.id);
            assert_eq!(cancel.reason, CancelReason::SubstitutedProduct);
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
    home.wait_state(&replacement.id, IntentState::Held);
    let substitute = db
        .read()
        .open_intent("milk")
        .expect("read")
        .expect("a substitute waits for the household");
    assert_eq!(substitute.product, "sku-oat-milk");
    assert_eq!(substitute.state, IntentState::AwaitingApproval);
    // The shop delivers the held order after all: the substitute waiting
    // for the household is withdrawn (else the item would come twice).
    shop_ack(
        &home,
        &format!(r#"{{"intent":"{}","status":"delivered"}}"#, replacement.id),
    );
    home.wait_state(&replacement.id, IntentState::Delivered);
    home.wait_state(&substitute.id, IntentState::Cancelled);
    assert_eq!(db.read().counter("price_guard_holds").expect("counter"), 2);
    let shown = home.ledger_verifies();
    assert!(
        shown.contains("price_held") && shown.contains("shop_quoted"),
        "{shown}"
    );
    assert!(home.daemon.alive());
}
