//! The approval races: the shared household (the real binary, members
//! alex and sam) with one open request for detergent, replies published
//! at the same moment from two connections, and the books afterwards.

use crate::support::*;
use larder::crypto::keys;
use larder::protocol::approval::{self, ApprovalRequest, MemberVerdict};
use larder::protocol::intent;
use larder::store::IntentState;
use std::sync::Arc;
use std::time::Duration;

/// A race over one approval request: the shared household (the real
/// binary, members alex and sam) with its open request for detergent.
pub(crate) struct ApprovalRace {
    pub(crate) home: Household,
    pub(crate) request: ApprovalRequest,
}

impl ApprovalRace {
    /// Starts the household (a request needs `approvals_required`
    /// approvals) and waits for its detergent request.
    pub(crate) fn start(tag: &str, approvals_required: u32) -> ApprovalRace {
        ApprovalRace::start_env(tag, approvals_required, &[])
    }

    /// Like `start`, with extra environment for the daemon.
    pub(crate) fn start_env(
        tag: &str,
        approvals_required: u32,
        env: &[(&str, &str)],
    ) -> ApprovalRace {
        let home = Household::start_with(
            tag,
            &["alex", "sam"],
            |config| config.set("rules", "approvals-required", approvals_required),
            env,
        );
        let request = detergent_request(home.broker.port(), &home.watcher);
        ApprovalRace { home, request }
    }

    /// `member`'s signed reply to the request.
    pub(crate) fn reply(&self, member: &str, verdict: MemberVerdict) -> Vec<u8> {
        let nonce = keys::from_hex(&self.request.nonce).expect("nonce");
        let claims =
            super::replies::claims(member, &self.request.intent, &nonce, verdict, 1_800_000_000);
        approval::sign_reply(&self.home.key(member), &claims)
    }

    /// Publishes both payloads on the reply topic from two connections
    /// released by one barrier, and waits until the daemon has handled
    /// both (recorded as an approval or refused).
    pub(crate) fn race(&self, a: Vec<u8>, b: Vec<u8>) {
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [a, b]
            .into_iter()
            .map(|payload| {
                let (barrier, port) = (barrier.clone(), self.home.broker.port());
                let topic = self.request.reply_topic.clone();
                std::thread::spawn(move || {
                    let mut p = Publisher::connect(port);
                    // Connected before the barrier, so both go out at once.
                    assert!(p.publish("test/warmup", b"x".to_vec(), false));
                    barrier.wait();
                    assert!(p.publish(&topic, payload, false));
                })
            })
            .collect();
        for h in handles {
            h.join().expect("publisher");
        }
        let db = open_db(&self.home.dir);
        wait_until(Duration::from_secs(20), "both replies handled", || {
            let recorded = db
                .read()
                .approvals(&self.request.intent)
                .map_or(0, |a| a.len());
            let refused = db.read().counter("refused_replies").unwrap_or(0) as usize;
            recorded + refused == 2
        });
    }

    /// The approvals recorded for the request.
    pub(crate) fn approvals(&self) -> Vec<larder::store::ApprovalRow> {
        open_db(&self.home.dir)
            .read()
            .approvals(&self.request.intent)
            .expect("approvals")
    }

    pub(crate) fn state(&self) -> IntentState {
        self.home.state_of(&self.request.intent)
    }

    /// Waits until nothing more can go upstream (no intent left unsent in
    /// the outbox), then returns the intent ids seen upstream (one entry
    /// per message, verified with the hub key).
    pub(crate) fn upstream_settled(&self) -> Vec<String> {
        let db = open_db(&self.home.dir);
        wait_until(Duration::from_secs(20), "the outbox drained", || {
            db.read().unsent_outbox().is_ok_and(|unsent| unsent == 0)
                && self.state() != IntentState::Approved
        });
        // The relay marks a row sent only after the broker's PUBACK, so the
        // message is at the broker; give it a moment to reach the watcher.
        std::thread::sleep(Duration::from_millis(500));
        let hub_key = hub_public_key(&self.home.dir);
        self.home
            .watcher
            .on(UPSTREAM)
            .iter()
            .map(|s| {
                intent::verify_intent(&s.payload, &hub_key)
                    .expect("verifies")
                    .id
            })
            .collect()
    }

    /// The dead-letter reasons and the daemon log both carry `reason`.
    pub(crate) fn refused_for(&self, reason: &str) {
        let reasons = dead_letter_reasons(&open_db(&self.home.dir), 10);
        assert_eq!(reasons.len(), 1, "{reasons:#?}");
        assert!(reasons[0].contains(reason), "{reasons:#?}");
        let log = self.home.daemon.log();
        assert!(
            log.lines()
                .any(|l| l.contains("refused inbound message") && l.contains(reason)),
            "no log line for {reason:?}"
        );
    }

    pub(crate) fn finish(mut self) {
        assert_eq!(
            self.home.daemon.terminate(),
            Ok(Some(0)),
            "clean exit on SIGTERM"
        );
        let (ok, text) = self.home.larder(&["ledger", "verify"]);
        assert!(ok, "ledger verify: {text}");
    }
}
