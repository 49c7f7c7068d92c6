//! Approval attacks: every kind of bad reply is refused with its reason and
//! none makes anything go upstream; replies racing each other give exactly
//! one outcome.
//!
//! The matrix runs the real daemon (`larder::daemon::start`, which is what
//! `larder run` calls) in process on a manual clock, against a real
//! mosquitto and a real SQLite file, because expiry and a second request for
//! the same item need a day to pass. The races run the real binary.

use crate::support::*;
use ciborium::Value;
use larder::crypto::keys::{self, SigningKey};
use larder::protocol::approval::{self, ApprovalRequest, MemberVerdict, ReplyClaims};
use larder::protocol::intent::{self, Evidence};
use larder::store::IntentState;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 86_400;

fn cbor_text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// A reply payload map with the given fields (any subset, any values).
fn payload(fields: Vec<(&str, Value)>) -> Vec<u8> {
    let map = Value::Map(fields.into_iter().map(|(k, v)| (cbor_text(k), v)).collect());
    let mut out = Vec::new();
    ciborium::into_writer(&map, &mut out).expect("cbor");
    out
}

/// The six fields a genuine reply carries.
fn fields(c: &ReplyClaims) -> Vec<(&'static str, Value)> {
    vec![
        ("hub", cbor_text(&c.hub)),
        ("iat", Value::Integer(c.issued_at.into())),
        ("nonce", Value::Bytes(c.nonce.clone())),
        ("intent", cbor_text(&c.intent)),
        ("member", cbor_text(&c.member)),
        (
            "decision",
            cbor_text(match c.verdict {
                MemberVerdict::Approve => "approve",
                MemberVerdict::Deny => "deny",
            }),
        ),
    ]
}

/// A tagged COSE_Sign1 over `payload` with any algorithm label and kid,
/// signed with `key` under the reply AAD of `hub` (what an attacker with a
/// key, or a buggy app, can make).
fn sign_raw(
    key: &SigningKey,
    kid: &str,
    alg: coset::iana::Algorithm,
    payload: Vec<u8>,
    hub: &str,
) -> Vec<u8> {
    use coset::TaggedCborSerializable;
    let aad = format!("{}{hub}", approval::AAD_PREFIX);
    let protected = coset::HeaderBuilder::new()
        .algorithm(alg)
        .key_id(kid.as_bytes().to_vec())
        .build();
    coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(aad.as_bytes(), |tbs| key.sign(tbs).to_vec())
        .build()
        .to_tagged_vec()
        .expect("serialize")
}

/// One row of the matrix: what is published, and what must come of it.
struct Attack {
    name: &'static str,
    topic: String,
    payload: Vec<u8>,
    /// Counter the refusal must bump.
    counter: &'static str,
    /// Text the dead-letter reason must contain.
    reason: &'static str,
}

/// Publishes each attack, waits until the daemon has processed it and
/// checks that exactly this message was refused, for the expected reason.
fn run_attacks(
    publisher: &mut Publisher,
    running: &larder::daemon::Running,
    db: &larder::store::Store,
    attacks: Vec<Attack>,
) {
    for attack in attacks {
        let before = running.processed();
        let counter_before = db.read().counter(attack.counter).expect("counter");
        assert!(
            publisher.publish(&attack.topic, attack.payload, false),
            "{}: broker did not acknowledge",
            attack.name
        );
        wait_until(
            Duration::from_secs(20),
            &format!("{} processed", attack.name),
            || running.processed() > before,
        );
        assert_eq!(
            db.read().counter(attack.counter).expect("counter"),
            counter_before + 1,
            "{}: {} not bumped",
            attack.name,
            attack.counter
        );
        let last = db.read().dead_letters(1).expect("dead letters").remove(0);
        assert_eq!(last.topic, attack.topic, "{}", attack.name);
        assert!(
            last.reason.contains(attack.reason),
            "{}: reason {:?} does not mention {:?}",
            attack.name,
            last.reason,
            attack.reason
        );
    }
}

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
    let mallory = SigningKey::generate();
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
        &ReplyClaims {
            hub: "testhub".into(),
            intent: "0123456789abcdef0123456789abcdef".into(),
            nonce: vec![0; 16],
            verdict: MemberVerdict::Approve,
            member: "sam".into(),
            issued_at: start,
        },
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
    let claims = |member: &str, intent: &str, nonce: &[u8], verdict: MemberVerdict| ReplyClaims {
        hub: "testhub".into(),
        intent: intent.into(),
        nonce: nonce.to_vec(),
        verdict,
        member: member.into(),
        issued_at: start,
    };
    let sam_ok = claims("sam", &id, &nonce, MemberVerdict::Approve);
    let genuine_sam = approval::sign_reply(&sam, &sam_ok);
    let mut forged = genuine_sam.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01; // the signature is the last field
    let mut wrong_tag = genuine_sam.clone();
    assert_eq!(wrong_tag[0], 0xd2, "tag 18 encodes as 0xd2");
    wrong_tag[0] = 0xd1; // tag 17: COSE_Mac0
    let other = "fedcba9876543210fedcba9876543210";
    let attacks = vec![
        Attack {
            name: "forged signature (a bit of sam's signature flipped)",
            topic: topic.clone(),
            payload: forged,
            counter: "refused_replies",
            reason: "bad signature for member \"sam\"",
        },
        Attack {
            name: "wrong key (mallory signs as sam)",
            topic: topic.clone(),
            payload: approval::sign_reply(&mallory, &sam_ok),
            counter: "refused_replies",
            reason: "bad signature for member \"sam\"",
        },
        Attack {
            name: "wrong key (alex's key, sam's name)",
            topic: topic.clone(),
            payload: approval::sign_reply(&alex, &sam_ok),
            counter: "refused_replies",
            reason: "bad signature for member \"sam\"",
        },
        Attack {
            name: "unknown member",
            topic: topic.clone(),
            payload: approval::sign_reply(
                &mallory,
                &claims("eve", &id, &nonce, MemberVerdict::Approve),
            ),
            counter: "refused_replies",
            reason: "unknown member \"eve\"",
        },
        Attack {
            name: "signed for another hub",
            topic: topic.clone(),
            payload: approval::sign_reply(
                &sam,
                &ReplyClaims {
                    hub: "otherhub".into(),
                    ..sam_ok.clone()
                },
            ),
            counter: "refused_replies",
            reason: "bad signature for member \"sam\"",
        },
        Attack {
            name: "another hub's name under this hub's AAD",
            topic: topic.clone(),
            payload: sign_raw(
                &sam,
                "sam",
                coset::iana::Algorithm::EdDSA,
                payload(fields(&ReplyClaims {
                    hub: "otherhub".into(),
                    ..sam_ok.clone()
                })),
                "testhub",
            ),
            counter: "refused_replies",
            reason: "is for hub \"otherhub\"",
        },
        Attack {
            name: "wrong intent (sam's genuine reply to another intent, on this topic)",
            topic: topic.clone(),
            payload: approval::sign_reply(
                &sam,
                &claims("sam", other, &nonce, MemberVerdict::Approve),
            ),
            counter: "refused_replies",
            reason: "arrived on the reply topic",
        },
        Attack {
            name: "unknown intent (on its own topic)",
            topic: format!("{REQUESTS}{other}/reply"),
            payload: approval::sign_reply(
                &sam,
                &claims("sam", other, &nonce, MemberVerdict::Approve),
            ),
            counter: "refused_replies",
            reason: "unknown intent",
        },
        Attack {
            name: "signature algorithm ES256",
            topic: topic.clone(),
            payload: sign_raw(
                &sam,
                "sam",
                coset::iana::Algorithm::ES256,
                payload(fields(&sam_ok)),
                "testhub",
            ),
            counter: "refused_replies",
            reason: "unsupported signature algorithm",
        },
        Attack {
            name: "truncated CBOR",
            topic: topic.clone(),
            payload: genuine_sam[..genuine_sam.len() / 2].to_vec(),
            counter: "refused_replies",
            reason: "malformed reply: not CBOR",
        },
        Attack {
            name: "wrong COSE tag (17, COSE_Mac0)",
            topic: topic.clone(),
            payload: wrong_tag,
            counter: "refused_replies",
            reason: "CBOR tag 17 is not COSE_Sign1",
        },
        Attack {
            name: "JSON instead of COSE",
            topic: topic.clone(),
            payload: br#"{"decision":"approve","member":"sam"}"#.to_vec(),
            counter: "refused_replies",
            reason: "malformed reply",
        },
        Attack {
            name: "missing nonce (validly signed)",
            topic: topic.clone(),
            payload: sign_raw(
                &sam,
                "sam",
                coset::iana::Algorithm::EdDSA,
                payload(
                    fields(&sam_ok)
                        .into_iter()
                        .filter(|(k, _)| *k != "nonce")
                        .collect(),
                ),
                "testhub",
            ),
            counter: "refused_replies",
            reason: "missing field \"nonce\"",
        },
        Attack {
            name: "an extra field (validly signed)",
            topic: topic.clone(),
            payload: sign_raw(
                &sam,
                "sam",
                coset::iana::Algorithm::EdDSA,
                payload(
                    fields(&sam_ok)
                        .into_iter()
                        .chain([("packages", Value::Integer(99.into()))])
                        .collect(),
                ),
                "testhub",
            ),
            counter: "refused_replies",
            reason: "unknown field \"packages\"",
        },
        Attack {
            name: "short nonce (validly signed)",
            topic: topic.clone(),
            payload: approval::sign_reply(
                &sam,
                &claims("sam", &id, &nonce[..8], MemberVerdict::Approve),
            ),
            counter: "refused_replies",
            reason: "\"nonce\" must be 16 bytes",
        },
        Attack {
            name: "decision neither approve nor deny (validly signed)",
            topic: topic.clone(),
            payload: sign_raw(
                &sam,
                "sam",
                coset::iana::Algorithm::EdDSA,
                payload(
                    fields(&sam_ok)
                        .into_iter()
                        .map(|(k, v)| {
                            if k == "decision" {
                                (k, cbor_text("yes"))
                            } else {
                                (k, v)
                            }
                        })
                        .collect(),
                ),
                "testhub",
            ),
            counter: "refused_replies",
            reason: "\"decision\" must be",
        },
        Attack {
            name: "kid and signed member differ",
            topic: topic.clone(),
            payload: sign_raw(
                &alex,
                "alex",
                coset::iana::Algorithm::EdDSA,
                payload(fields(&sam_ok)),
                "testhub",
            ),
            counter: "refused_replies",
            reason: "member does not match key id",
        },
        Attack {
            name: "oversize (5000 bytes)",
            topic: topic.clone(),
            payload: vec![0xa0; 5000],
            counter: "refused_oversize",
            reason: "exceeds mqtt.max-payload-bytes",
        },
    ];
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

/// A race over one approval request: the shared household (the real
/// binary, members alex and sam) with its open request for detergent.
pub(crate) struct ApprovalRace {
    pub(crate) home: Household,
    pub(crate) request: ApprovalRequest,
}

impl ApprovalRace {
    fn start(tag: &str, approvals_required: u32) -> ApprovalRace {
        ApprovalRace::start_env(tag, approvals_required, &[])
    }

    /// Like `start`, with extra environment for the daemon.
    pub(crate) fn start_env(
        tag: &str,
        approvals_required: u32,
        env: &[(&str, &str)],
    ) -> ApprovalRace {
        let home = Household::start(
            tag,
            &["alex", "sam"],
            |config| config.set("rules", "approvals-required", approvals_required),
            env,
        );
        let request = detergent_request(home.broker.port(), &home.watcher);
        ApprovalRace { home, request }
    }

    pub(crate) fn reply(&self, member: &str, verdict: MemberVerdict) -> Vec<u8> {
        approval::sign_reply(
            &self.home.key(member),
            &ReplyClaims {
                hub: "testhub".into(),
                intent: self.request.intent.clone(),
                nonce: keys::from_hex(&self.request.nonce).expect("nonce"),
                verdict,
                member: member.into(),
                issued_at: 1_800_000_000,
            },
        )
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
        let db = open_db(&self.home.dir);
        let reasons: Vec<String> = db
            .read()
            .dead_letters(10)
            .expect("dl")
            .into_iter()
            .map(|d| d.reason)
            .collect();
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
    let approvals = open_db(&h.home.dir)
        .read()
        .approvals(&h.request.intent)
        .expect("a");
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
    let approvals = open_db(&h.home.dir)
        .read()
        .approvals(&h.request.intent)
        .expect("a");
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
    let approvals = open_db(&h.home.dir)
        .read()
        .approvals(&h.request.intent)
        .expect("a");
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
