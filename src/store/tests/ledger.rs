//! The ledger's chain rule and verifier over a real store: tampering of
//! each kind is named at its first bad entry.

use super::{temp_db, tempdir};
use crate::crypto::keys;
use crate::ledger::*;
use crate::store::{NewOutbox, Store};

/// A throwaway database removed on drop (the store closes first).
struct TempDb {
    store: Store,
    dir: tempdir::Dir,
}

impl TempDb {
    fn new() -> TempDb {
        let (dir, store) = temp_db();
        TempDb { store, dir }
    }

    /// Raw SQL on the database file, as an attacker with the file would.
    fn tamper(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.dir.path.join("t.db")).expect("open raw");
        conn.execute_batch(sql).expect("tamper");
    }

    fn verify(&self) -> Result<Verified, Broken> {
        self.store.read().verify_ledger(None).expect("db")
    }
}

fn decision(intent: &str) -> DecisionEntry {
    DecisionEntry {
        intent: intent.into(),
        item: "milk".into(),
        verdict: Outcome::AutoApproved,
        by: "rule:auto-approve-up-to".into(),
        packages: 2,
        price_ceiling: 2.2,
        currency: "EUR".into(),
        rules: vec!["auto-approve-up-to: 2.20 EUR ≤ auto-approve limit 8.00 EUR".into()],
        replies: Vec::new(),
    }
}

/// Five entries: decision, outbound, published, decision, outbound.
fn five() -> TempDb {
    let mut db = TempDb::new();
    let tx = db.store.transaction().expect("tx");
    tx.ledger_append(Kind::Decision, &decision("a"), 10)
        .expect("append");
    let id = tx
        .enqueue(
            &NewOutbox {
                kind: "intent",
                topic: "up",
                payload: b"signed",
                retain: false,
                intent_id: Some("a"),
                not_before: 10,
            },
            10,
        )
        .expect("enqueue");
    tx.mark_sent(id, 11).expect("sent");
    tx.ledger_append(Kind::Decision, &decision("b"), 12)
        .expect("append");
    tx.enqueue(
        &NewOutbox {
            kind: "approval_request",
            topic: "ask",
            payload: b"{}",
            retain: true,
            intent_id: Some("b"),
            not_before: 12,
        },
        12,
    )
    .expect("enqueue");
    tx.commit().expect("commit");
    db
}

#[test]
fn an_untouched_chain_verifies_and_reports_its_head() {
    let db = five();
    let ok = db.verify().expect("verifies");
    assert_eq!(ok.entries, 5);
    let head = db.store.read().ledger_head().expect("q").expect("head");
    assert_eq!((head.0, head.1.as_slice()), (5, ok.head.as_slice()));
    let kinds: Vec<String> = db
        .store
        .read()
        .ledger_recent(10)
        .expect("q")
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        kinds,
        ["decision", "outbound", "published", "decision", "outbound"]
    );
}

#[test]
fn an_empty_ledger_verifies() {
    let db = TempDb::new();
    assert_eq!(db.verify().expect("ok").entries, 0);
}

#[test]
fn outbound_entries_carry_the_exact_payload_and_its_digest() {
    let db = five();
    let row = &db.store.read().ledger_recent(10).expect("q")[1];
    let body: Outbound = serde_json::from_str(row.body.as_deref().expect("body")).expect("json");
    assert_eq!(body.payload, keys::to_hex(b"signed"));
    assert_eq!(body.payload_sha256, sha256_hex(b"signed"));
    assert_eq!(body.intent.as_deref(), Some("a"));
}

#[test]
fn each_kind_of_tampering_names_the_first_bad_entry() {
    let check = |sql: &str, seq: i64, problem: fn(&Problem) -> bool| {
        let db = five();
        db.tamper(sql);
        let broken = db.verify().expect_err(sql);
        assert_eq!(broken.seq, seq, "{sql}: {broken:?}");
        assert!(problem(&broken.problem), "{sql}: {broken:?}");
    };
    check(
        "UPDATE ledger SET body = replace(body, '2.2', '9.9') WHERE seq = 4",
        4,
        |p| *p == Problem::BodyEdited,
    );
    check("UPDATE ledger SET at = at + 1 WHERE seq = 2", 2, |p| {
        *p == Problem::HashMismatch
    });
    check("DELETE FROM ledger WHERE seq = 3", 3, |p| {
        *p == Problem::Missing { next: 4 }
    });
    check("DELETE FROM ledger WHERE seq = 1", 1, |p| {
        matches!(p, Problem::Missing { .. })
    });
    check(
        "UPDATE ledger SET seq = -2 WHERE seq = 2; UPDATE ledger SET seq = 2 WHERE seq = 4; \
         UPDATE ledger SET seq = 4 WHERE seq = -2;",
        2,
        |p| *p == Problem::BrokenLink,
    );
    check("UPDATE ledger SET body = NULL WHERE seq = 5", 5, |p| {
        *p == Problem::ErasedWithoutForget
    });
}

#[test]
fn a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link() {
    let db = five();
    // Recompute entry 2's digest and hash as a careful forger would.
    let row = db.store.read().ledger_recent(10).expect("q")[1].clone();
    let body = row.body.expect("body").replace("\"up\"", "\"elsewhere\"");
    let digest = sha256(body.as_bytes());
    let hash = entry_hash(&row.prev_hash, 2, row.at, &row.kind, &digest);
    db.tamper(&format!(
        "UPDATE ledger SET body = '{body}', body_sha256 = x'{}', hash = x'{}' WHERE seq = 2",
        keys::to_hex(&digest),
        keys::to_hex(&hash)
    ));
    let broken = db.verify().expect_err("detected");
    assert_eq!((broken.seq, broken.problem), (3, Problem::BrokenLink));
}

#[test]
fn an_anchor_detects_a_rewritten_tail() {
    let db = five();
    let head = db.verify().expect("ok").head;
    assert!(
        db.store
            .read()
            .verify_ledger(Some(head))
            .expect("db")
            .expect("ok")
            .anchor_found
    );
    db.tamper("DELETE FROM ledger WHERE seq = 5");
    let ok = db
        .store
        .read()
        .verify_ledger(Some(head))
        .expect("db")
        .expect("prefix ok");
    assert_eq!(ok.entries, 4);
    assert!(
        !ok.anchor_found,
        "the truncated tail is noticed by the anchor"
    );
}

#[test]
fn a_body_erased_by_a_recorded_forget_still_verifies() {
    let mut db = five();
    db.tamper("UPDATE ledger SET body = NULL WHERE seq IN (1, 2)");
    let tx = db.store.transaction().expect("tx");
    tx.ledger_append(
        Kind::Forget,
        &Forget {
            scope: "item".into(),
            redacted: vec![1, 2],
        },
        20,
    )
    .expect("append");
    tx.commit().expect("commit");
    let ok = db.verify().expect("verifies");
    assert_eq!((ok.entries, ok.redacted), (6, 2));
}

#[test]
fn withdrawn_prompts_are_recorded() {
    let mut db = five();
    let tx = db.store.transaction().expect("tx");
    assert_eq!(tx.cancel_unsent("b", "approval_request", 13).expect("c"), 1);
    tx.commit().expect("commit");
    let last = db.store.read().ledger_recent(1).expect("q").remove(0);
    assert_eq!(last.kind, "withdrawn");
    assert!(summary(&last).contains("approval_request withdrawn"));
    db.verify().expect("verifies");
}

#[test]
fn summaries_read_as_sentences() {
    let db = five();
    let rows = db.store.read().ledger_recent(10).expect("q");
    let lines: Vec<String> = rows.iter().map(summary).collect();
    assert!(
        lines[0].starts_with("auto_approved 2 × milk (≤ 2.20 EUR) by rule:auto-approve-up-to"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("intent queued for up (6 bytes"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("intent published on up"),
        "{}",
        lines[2]
    );
    assert!(lines[4].contains("[retained]"), "{}", lines[4]);
}
