//! Consent and control after the decision: a member cancels a sent intent
//! inside the cancellation window (a signed cancellation with the same id
//! goes upstream), a cancel after the window is refused, and the price
//! guard holds a quote above the ceiling or a substituted product for the
//! household instead of buying it.

use crate::support::*;
use larder::crypto::keys::{self, SigningKey};
use larder::protocol::approval::ApprovalRequest;
use larder::protocol::intent::{self, CancelReason, Upstream};
use larder::store::IntentState;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const UPSTREAM: &str = "larder/testhub/upstream/intents";
const ACKS: &str = "larder/testhub/upstream/acks";
const REQUESTS: &str = "larder/testhub/approvals/";

/// A household with one member (alex, key in `alex.key`), a running
/// daemon, and a watcher on the upstream and approval topics.
struct Household {
    broker: Broker,
    dir: TempDir,
    config: std::path::PathBuf,
    watcher: Watcher,
    hub_key: [u8; 32],
    daemon: Daemon,
}

impl Household {
    fn start(name: &str, cancel_window_hours: f64) -> Household {
        let broker = Broker::start();
        let dir = TempDir::new(name);
        let alex = SigningKey::create(&dir.join("alex.key")).expect("key");
        let setup = Setup {
            members: vec![("alex".into(), keys::to_hex(&alex.public_key()))],
            cancel_window_hours,
            ..Setup::default()
        };
        let config = write_config(&dir, &broker, &setup);
        let watcher = Watcher::start(broker.port, &[UPSTREAM.to_string(), format!("{REQUESTS}+")]);
        let daemon = Daemon::start(&config);
        let hub_key = hub_public_key(&dir);
        wait_for_db(&dir);
        wait_online(broker.port, "testhub");
        Household {
            broker,
            dir,
            config,
            watcher,
            hub_key,
            daemon,
        }
    }

    /// Low milk readings → an auto-approved intent, sent; returns its id.
    fn auto_approved_milk(&self) -> String {
        for (seq, level) in [(1, 1.0), (2, 0.6), (3, 0.3)] {
            mosquitto_pub(
                self.broker.port,
                "larder/testhub/devices/fridge/events",
                &level_json("fridge", "milk", 1, seq, level),
            );
        }
        let first = self.wait_upstream(1);
        let Upstream::Intent(intent) = &first[0] else {
            panic!("expected an intent first, got {:?}", first[0]);
        };
        self.wait_state(&intent.id, IntentState::Sent);
        intent.id.clone()
    }

    /// Waits for `n` messages upstream and verifies each with the hub key.
    fn wait_upstream(&self, n: usize) -> Vec<Upstream> {
        wait_until(
            Duration::from_secs(20),
            &format!("{n} messages upstream"),
            || self.watcher.on(UPSTREAM).len() >= n,
        );
        self.watcher
            .on(UPSTREAM)
            .iter()
            .map(|seen| intent::verify_upstream(&seen.payload, &self.hub_key).expect("verifies"))
            .collect()
    }

    fn wait_state(&self, intent: &str, state: IntentState) {
        let db = open_db(&self.dir);
        wait_until(
            Duration::from_secs(20),
            &format!("intent {intent} {}", state.as_str()),
            || {
                db.read()
                    .intent(intent)
                    .ok()
                    .flatten()
                    .is_some_and(|i| i.state == state)
            },
        );
    }

    fn larder(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(LARDER)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run larder");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn signed(&self, verb: &str, intent: &str) -> (bool, String) {
        let key = self.dir.join("alex.key");
        self.larder(&[verb, intent, "--key", path_str(&key)])
    }

    fn shop_ack(&self, json: &str) {
        mosquitto_pub(self.broker.port, ACKS, json.as_bytes());
    }

    /// The retained approval requests (non-empty) seen so far, by intent.
    fn request_for(&self, intent: &str) -> Option<ApprovalRequest> {
        self.watcher
            .on(&format!("{REQUESTS}{intent}"))
            .iter()
            .rev()
            .find(|s| !s.payload.is_empty())
            .map(|s| serde_json::from_slice(&s.payload).expect("request json"))
    }

    /// Waits until the relay has published everything queued, so a count
    /// of what went upstream is final.
    fn drained(&self) {
        let db = open_db(&self.dir);
        wait_until(Duration::from_secs(20), "the outbox drained", || {
            db.read().unsent_outbox().ok() == Some(0)
        });
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Waits for a dead letter whose reason contains `what`.
    fn dead_letter_says(&self, what: &str) {
        let db = open_db(&self.dir);
        wait_until(Duration::from_secs(20), what, || {
            db.read()
                .dead_letters(20)
                .unwrap_or_default()
                .iter()
                .any(|d| d.reason.contains(what))
        });
    }

    fn ledger_verifies(&self) -> String {
        let (ok, text) = self.larder(&["ledger", "verify"]);
        assert!(ok, "ledger verify: {text}");
        let (ok, shown) = self.larder(&["ledger", "show"]);
        assert!(ok, "ledger show: {shown}");
        shown
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_member_cancels_a_sent_intent_inside_the_window_and_the_shop_gets_a_signed_cancel() {
    let mut home = Household::start("cancel", 2.0);
    let id = home.auto_approved_milk();

    let (ok, text) = home.signed("cancel", &id);
    assert!(ok, "larder cancel: {text}");
    let upstream = home.wait_upstream(2);
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
    let (ok, text) = home.signed("cancel", &id);
    assert!(ok, "the CLI publishes; the daemon decides: {text}");
    home.dead_letter_says("is cancelled; only a pending or sent intent");
    home.drained();
    assert_eq!(home.watcher.on(UPSTREAM).len(), 2);
    let db = open_db(&home.dir);

    // A shop that goes on with it anyway gets the cancellation again.
    home.shop_ack(&format!(r#"{{"intent":"{id}","status":"accepted"}}"#));
    let upstream = home.wait_upstream(3);
    assert!(
        matches!(&upstream[2], Upstream::Cancel(c) if c.id == id),
        "{:?}",
        upstream[2]
    );
    assert_eq!(db.read().counter("acks_for_withdrawn").expect("counter"), 1);

    // A request still waiting for approval is cancelled without anything
    // going upstream, and its retained request is cleared.
    mosquitto_pub(
        home.broker.port,
        "larder/testhub/devices/washer/events",
        &detergent_added(100.0),
    );
    let mut pending = None;
    wait_until(Duration::from_secs(20), "a detergent request", || {
        pending = db.read().open_intent("detergent").ok().flatten();
        pending.is_some()
    });
    let pending = pending.expect("pending");
    assert_eq!(pending.state, IntentState::AwaitingApproval);
    wait_until(Duration::from_secs(20), "its request published", || {
        home.request_for(&pending.id).is_some()
    });
    let (ok, text) = home.signed("cancel", &pending.id);
    assert!(ok, "{text}");
    home.wait_state(&pending.id, IntentState::Cancelled);
    wait_until(Duration::from_secs(20), "the request cleared", || {
        home.watcher
            .on(&format!("{REQUESTS}{}", pending.id))
            .iter()
            .any(|s| s.payload.is_empty())
    });
    // A delivery for an intent that never left is refused.
    home.shop_ack(&format!(
        r#"{{"intent":"{}","status":"delivered"}}"#,
        pending.id
    ));
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
    let home = Household::start("cancel-late", 0.0003);
    let id = home.auto_approved_milk();
    std::thread::sleep(Duration::from_millis(2500));

    let (ok, text) = home.signed("cancel", &id);
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
    let mut home = Household::start("guard", 2.0);
    let id = home.auto_approved_milk();
    let db = open_db(&home.dir);
    let ceiling = db
        .read()
        .intent(&id)
        .expect("read")
        .expect("row")
        .price_ceiling;

    // A quote within the ceiling changes nothing.
    home.shop_ack(&format!(
        r#"{{"intent":"{id}","status":"quoted","total":{ceiling},"currency":"EUR","product":"sku-milk"}}"#
    ));
    // Above it: held, a signed cancellation goes upstream, and a
    // replacement at the quoted price waits for a member.
    let dear = ceiling + 1.25;
    home.shop_ack(&format!(
        r#"{{"intent":"{id}","status":"quoted","total":{dear},"currency":"EUR"}}"#
    ));
    let upstream = home.wait_upstream(2);
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
        home.request_for(&replacement.id).is_some()
    });
    let request = home.request_for(&replacement.id).expect("request");
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
    let (ok, text) = home.signed("approve", &replacement.id);
    assert!(ok, "{text}");
    let upstream = home.wait_upstream(3);
    let Upstream::Intent(reissued) = &upstream[2] else {
        panic!("expected the approved replacement, got {:?}", upstream[2]);
    };
    assert_eq!(reissued.id, replacement.id);
    assert!((reissued.price_ceiling - dear).abs() < 0.006);
    home.wait_state(&replacement.id, IntentState::Sent);

    // The shop then accepts it with another product: held again.
    home.shop_ack(&format!(
        r#"{{"intent":"{}","status":"accepted","product":"sku-oat-milk"}}"#,
        replacement.id
    ));
    let upstream = home.wait_upstream(4);
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
    home.shop_ack(&format!(
        r#"{{"intent":"{}","status":"delivered"}}"#,
        replacement.id
    ));
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
