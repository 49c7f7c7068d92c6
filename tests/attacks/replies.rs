//! The reply matrix's parts: replies made by hand (any fields, any
//! algorithm, any key), the bad replies the matrix publishes with the
//! reason each must be refused for, and the loop that publishes them and
//! checks each refusal.

use crate::support::*;
use ciborium::Value;
use larder::crypto::keys::SigningKey;
use larder::protocol::approval::{self, MemberVerdict, ReplyClaims};
use std::time::Duration;

/// What `member` signs about `intent` (with `nonce`) at `issued_at`.
pub(super) fn claims(
    member: &str,
    intent: &str,
    nonce: &[u8],
    verdict: MemberVerdict,
    issued_at: i64,
) -> ReplyClaims {
    ReplyClaims {
        hub: "testhub".into(),
        intent: intent.into(),
        nonce: nonce.to_vec(),
        verdict,
        member: member.into(),
        issued_at,
    }
}

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

/// A tagged COSE_Sign1 over a map of `fields` with any algorithm label
/// and kid, signed with `key` under this hub's reply AAD (what an attacker
/// with a key, or a buggy app, can make).
fn sign_raw(
    key: &SigningKey,
    kid: &str,
    alg: coset::iana::Algorithm,
    fields: Vec<(&str, Value)>,
) -> Vec<u8> {
    use coset::TaggedCborSerializable;
    let aad = format!("{}testhub", approval::AAD_PREFIX);
    let protected = coset::HeaderBuilder::new()
        .algorithm(alg)
        .key_id(kid.as_bytes().to_vec())
        .build();
    coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(payload(fields))
        .create_signature(aad.as_bytes(), |tbs| key.sign(tbs).to_vec())
        .build()
        .to_tagged_vec()
        .expect("serialize")
}

/// One row of the matrix: what is published, and what must come of it.
pub(super) struct Attack {
    pub(super) name: &'static str,
    pub(super) topic: String,
    pub(super) payload: Vec<u8>,
    /// Counter the refusal must bump.
    pub(super) counter: &'static str,
    /// Text the dead-letter reason must contain.
    pub(super) reason: &'static str,
}

/// Publishes each attack, waits until the daemon has processed it and
/// checks that exactly this message was refused, for the expected reason.
pub(super) fn run_attacks(
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

/// Forged, misdirected and malformed replies to the request on `topic`,
/// given sam's genuine approval (`sam_ok`, signed as `genuine_sam`): each
/// with the counter it bumps and the reason it is refused for.
pub(super) fn bad_replies(
    alex: &SigningKey,
    sam: &SigningKey,
    topic: &str,
    sam_ok: &ReplyClaims,
    genuine_sam: &[u8],
) -> Vec<Attack> {
    let topic = topic.to_owned();
    let mallory = SigningKey::generate();
    let (id, nonce) = (&sam_ok.intent, &sam_ok.nonce);
    let claims = |member: &str, intent: &str, nonce: &[u8], verdict: MemberVerdict| {
        claims(member, intent, nonce, verdict, sam_ok.issued_at)
    };
    let mut forged = genuine_sam.to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 0x01; // the signature is the last field
    let mut wrong_tag = genuine_sam.to_vec();
    assert_eq!(wrong_tag[0], 0xd2, "tag 18 encodes as 0xd2");
    wrong_tag[0] = 0xd1; // tag 17: COSE_Mac0
    let other = "fedcba9876543210fedcba9876543210";
    vec![
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
            payload: approval::sign_reply(&mallory, sam_ok),
            counter: "refused_replies",
            reason: "bad signature for member \"sam\"",
        },
        Attack {
            name: "wrong key (alex's key, sam's name)",
            topic: topic.clone(),
            payload: approval::sign_reply(alex, sam_ok),
            counter: "refused_replies",
            reason: "bad signature for member \"sam\"",
        },
        Attack {
            name: "unknown member",
            topic: topic.clone(),
            payload: approval::sign_reply(
                &mallory,
                &claims("eve", id, nonce, MemberVerdict::Approve),
            ),
            counter: "refused_replies",
            reason: "unknown member \"eve\"",
        },
        Attack {
            name: "signed for another hub",
            topic: topic.clone(),
            payload: approval::sign_reply(
                sam,
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
                sam,
                "sam",
                coset::iana::Algorithm::EdDSA,
                fields(&ReplyClaims {
                    hub: "otherhub".into(),
                    ..sam_ok.clone()
                }),
            ),
            counter: "refused_replies",
            reason: "is for hub \"otherhub\"",
        },
        Attack {
            name: "wrong intent (sam's genuine reply to another intent, on this topic)",
            topic: topic.clone(),
            payload: approval::sign_reply(
                sam,
                &claims("sam", other, nonce, MemberVerdict::Approve),
            ),
            counter: "refused_replies",
            reason: "arrived on the reply topic",
        },
        Attack {
            name: "unknown intent (on its own topic)",
            topic: format!("{REQUESTS}{other}/reply"),
            payload: approval::sign_reply(
                sam,
                &claims("sam", other, nonce, MemberVerdict::Approve),
            ),
            counter: "refused_replies",
            reason: "unknown intent",
        },
        Attack {
            name: "signature algorithm ES256",
            topic: topic.clone(),
            payload: sign_raw(sam, "sam", coset::iana::Algorithm::ES256, fields(sam_ok)),
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
                sam,
                "sam",
                coset::iana::Algorithm::EdDSA,
                fields(sam_ok)
                    .into_iter()
                    .filter(|(k, _)| *k != "nonce")
                    .collect(),
            ),
            counter: "refused_replies",
            reason: "missing field \"nonce\"",
        },
        Attack {
            name: "an extra field (validly signed)",
            topic: topic.clone(),
            payload: sign_raw(
                sam,
                "sam",
                coset::iana::Algorithm::EdDSA,
                fields(sam_ok)
                    .into_iter()
                    .chain([("packages", Value::Integer(99.into()))])
                    .collect(),
            ),
            counter: "refused_replies",
            reason: "unknown field \"packages\"",
        },
        Attack {
            name: "short nonce (validly signed)",
            topic: topic.clone(),
            payload: approval::sign_reply(
                sam,
                &claims("sam", id, &nonce[..8], MemberVerdict::Approve),
            ),
            counter: "refused_replies",
            reason: "\"nonce\" must be 16 bytes",
        },
        Attack {
            name: "decision neither approve nor deny (validly signed)",
            topic: topic.clone(),
            payload: sign_raw(
                sam,
                "sam",
                coset::iana::Algorithm::EdDSA,
                fields(sam_ok)
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
            counter: "refused_replies",
            reason: "\"decision\" must be",
        },
        Attack {
            name: "kid and signed member differ",
            topic: topic.clone(),
            payload: sign_raw(alex, "alex", coset::iana::Algorithm::EdDSA, fields(sam_ok)),
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
    ]
}
