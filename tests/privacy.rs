//! Privacy: the ledger, `larder export` and `larder explain`, driven through
//! the real binary after a real auto-approved order.

use crate::support::*;
use larder::crypto::keys;
use larder::store::IntentState;
use std::time::Duration;

/// A stopped daemon's database after milk readings led to an auto-approved,
/// published intent: (dir, config, intent id, upstream payload).
fn auto_approved_order(tag: &str) -> (ScratchDir, std::path::PathBuf, String, Vec<u8>) {
    let mut home = Household::start(tag, &[]);
    let upstream = UPSTREAM.to_string();
    milk_runs_low(home.broker.port());
    wait_until(Duration::from_secs(20), "an intent upstream", || {
        !home.watcher.on(&upstream).is_empty()
    });
    let payload = home.watcher.on(&upstream)[0].payload.clone();
    let db = open_db(&home.dir);
    let intent = db
        .read()
        .open_intent("milk")
        .expect("query")
        .expect("an open milk intent");
    wait_until(Duration::from_secs(10), "the intent marked sent", || {
        intent_is(&db, &intent.id, IntentState::Sent)
    });
    drop(db);
    assert_eq!(
        home.daemon.terminate(),
        Ok(Some(0)),
        "clean exit on SIGTERM"
    );
    (home.dir, home.config, intent.id, payload)
}

/// (a) + (b): the ledger verifies, lists the outbound intent with the exact
/// bytes that went upstream, and each kind of tampering is named.
#[test]
fn the_ledger_records_the_published_intent_and_names_each_tampered_entry() {
    let (dir, config, intent, payload) = auto_approved_order("ledger");

    let verify = larder(&config, &["ledger", "verify"]);
    let out = text(&verify.stdout);
    assert!(verify.status.success(), "{out}{}", text(&verify.stderr));
    assert!(out.starts_with("ledger OK: "), "{out}");
    let head = out.trim().rsplit(' ').next().expect("head").to_owned();
    assert_eq!(head.len(), 64, "{out}");

    let show = larder(&config, &["ledger", "show", "--limit", "100"]);
    let listed = text(&show.stdout);
    assert!(show.status.success(), "{listed}");
    let short = &intent[..12];
    for expected in [
        "decision  auto_approved ".to_owned(),
        " × milk (≤ ".to_owned(),
        "by rule:auto-approve-up-to".to_owned(),
        "intent queued for larder/testhub/upstream/intents".to_owned(),
        "intent published on larder/testhub/upstream/intents".to_owned(),
        format!("intent {short}"),
    ] {
        assert!(listed.contains(&expected), "{expected:?} not in\n{listed}");
    }

    // The outbound entry carries exactly the bytes the shop received.
    let conn = rusqlite::Connection::open(db_path(&dir)).expect("open raw");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    let (outbound_seq, body): (i64, String) = conn
        .query_row(
            "SELECT seq, body FROM ledger WHERE kind = 'outbound' \
             AND json_extract(body, '$.message') = 'intent'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("an outbound intent entry");
    let body: serde_json::Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(body["payload"], keys::to_hex(&payload));
    assert_eq!(body["intent"], intent.as_str());
    let last: i64 = conn
        .query_row("SELECT MAX(seq) FROM ledger", [], |r| r.get(0))
        .expect("max");
    assert!(
        outbound_seq > 1 && outbound_seq < last,
        "{outbound_seq} of {last}"
    );
    drop(conn);

    let pristine = dir.join("pristine.db");
    std::fs::copy(db_path(&dir), &pristine).expect("backup");
    let tamper_and_verify = |sql: &str, seq: i64| {
        std::fs::copy(&pristine, db_path(&dir)).expect("restore");
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join("state").join(format!("larder.db{suffix}")));
        }
        let conn = rusqlite::Connection::open(db_path(&dir)).expect("open raw");
        conn.execute_batch(sql).expect(sql);
        drop(conn);
        let verify = larder(&config, &["ledger", "verify"]);
        let err = text(&verify.stderr);
        assert!(
            !verify.status.success(),
            "{sql}: verify passed: {}",
            text(&verify.stdout)
        );
        assert!(
            err.contains(&format!("failed at entry {seq}:")),
            "{sql}: expected entry {seq} in {err}"
        );
    };
    tamper_and_verify(
        &format!(
            "UPDATE ledger SET body = replace(body, 'upstream', 'elsewhere') WHERE seq = {outbound_seq}"
        ),
        outbound_seq,
    );
    tamper_and_verify(
        &format!("DELETE FROM ledger WHERE seq = {outbound_seq}"),
        outbound_seq,
    );
    tamper_and_verify(
        &format!(
            "UPDATE ledger SET seq = -1 WHERE seq = 1; \
             UPDATE ledger SET seq = 1 WHERE seq = {outbound_seq}; \
             UPDATE ledger SET seq = {outbound_seq} WHERE seq = -1;"
        ),
        1,
    );

    // Deleting the last entry keeps a valid prefix; the head kept from
    // before catches it.
    std::fs::copy(&pristine, db_path(&dir)).expect("restore");
    let conn = rusqlite::Connection::open(db_path(&dir)).expect("open raw");
    conn.execute_batch(&format!("DELETE FROM ledger WHERE seq = {last}"))
        .expect("truncate");
    drop(conn);
    let anchored = larder(&config, &["ledger", "verify", "--head", &head]);
    assert!(!anchored.status.success());
    assert!(
        text(&anchored.stderr).contains("does not contain the expected head"),
        "{}",
        text(&anchored.stderr)
    );
}

/// (c) + (d): the export is one JSON document that matches the database,
/// and explain prints the evidence and the rule.
#[test]
fn export_round_trips_the_database_and_explain_names_the_evidence_and_rule() {
    let (dir, config, intent, _payload) = auto_approved_order("export");
    let db = open_db(&dir);
    let observations = db.read().observation_count().expect("count");
    let ledger_entries = db.read().ledger_count().expect("count");
    drop(db);

    let file = dir.join("export.json");
    let export = larder(&config, &["export", "--out", file.to_str().expect("utf8")]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("one JSON document");
    assert_eq!(doc["format"], "larder-export");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["hub"], "testhub");
    assert_eq!(
        doc["observations"].as_array().expect("array").len() as u64,
        observations
    );
    assert_eq!(doc["counts"]["observations"], observations);
    assert_eq!(doc["counts"]["ledger"], ledger_entries);
    let intents: Vec<&str> = doc["intents"]
        .as_array()
        .expect("intents")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert_eq!(intents, [intent.as_str()]);
    let milk = &doc["items"][0];
    assert_eq!(milk["id"], "milk");
    assert_eq!(milk["package_size"], 1.0);
    assert!(milk["forecast"]["rate_per_day"].as_f64().expect("rate") > 0.0);
    assert!(
        doc["outbox"]
            .as_array()
            .expect("outbox")
            .iter()
            .any(|o| o["kind"] == "intent")
    );
    // Ledger bodies are exported verbatim: their digests re-check.
    for entry in doc["ledger"].as_array().expect("ledger") {
        let body = entry["body"].as_str().expect("body");
        assert_eq!(
            entry["body_sha256"],
            larder::ledger::sha256_hex(body.as_bytes())
        );
    }
    // Never overwritten.
    let again = larder(&config, &["export", "--out", file.to_str().expect("utf8")]);
    assert!(!again.status.success());
    // Stdout works too and is the same kind of document.
    let stdout = larder(&config, &["export"]);
    let doc2: serde_json::Value = serde_json::from_slice(&stdout.stdout).expect("json on stdout");
    assert_eq!(doc2["counts"], doc["counts"]);

    let item = larder(&config, &["explain", "milk"]);
    let out = text(&item.stdout);
    assert!(item.status.success(), "{out}{}", text(&item.stderr));
    for expected in [
        "evidence",
        "level",
        "from fridge",
        " ± ",
        "days left",
        &intent[..8],
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }

    for target in [intent.as_str(), &intent[..10]] {
        let explained = larder(&config, &["explain", target]);
        let out = text(&explained.stdout);
        assert!(
            explained.status.success(),
            "{out}{}",
            text(&explained.stderr)
        );
        for expected in [
            "decided by rule:auto-approve-up-to",
            "[auto-approve-up-to]",
            "≤ auto-approve limit 8.00",
            "ledger trail",
            "from fridge",
            "still good within",
            "what would change the decision",
        ] {
            assert!(out.contains(expected), "{expected:?} not in\n{out}");
        }
    }

    let unknown = larder(&config, &["explain", "caviar"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("items: milk, detergent"),
        "{}",
        text(&unknown.stderr)
    );
}

/// A held order approved by a member: the ledger records the ask, the
/// member's signed approval (with the same digest the shop sees), the
/// request and its clearing, and the intent; explain names the member.
#[test]
fn a_member_approval_is_in_the_ledger_and_explained_with_who_and_when() {
    let mut home = Household::start("member", &["alex"]);
    let upstream = UPSTREAM.to_string();
    let hub_key = hub_public_key(&home.dir);
    let request = detergent_request(home.broker.port(), &home.watcher);

    // While held, explain says what would release it.
    let held = larder(&home.config, &["explain", &request.intent]);
    let out = text(&held.stdout);
    assert!(held.status.success(), "{out}{}", text(&held.stderr));
    assert!(out.contains("decided by nobody yet"), "{out}");
    assert!(out.contains("0 of 1 approvals so far"), "{out}");
    assert!(
        out.contains("category \"household\" is set to ask"),
        "{out}"
    );

    let key = home.dir.join("alex.key");
    let approve = larder(
        &home.config,
        &["approve", &request.intent, "--key", path_str(&key)],
    );
    assert!(approve.status.success(), "{}", text(&approve.stderr));
    wait_until(Duration::from_secs(20), "the intent upstream", || {
        !home.watcher.on(&upstream).is_empty()
    });
    let sent =
        larder::protocol::intent::verify_intent(&home.watcher.on(&upstream)[0].payload, &hub_key)
            .expect("verifies");
    let larder::protocol::intent::Evidence::Members(digests) = &sent.evidence else {
        panic!("member evidence expected: {:?}", sent.evidence);
    };
    let db = open_db(&home.dir);
    wait_until(
        Duration::from_secs(10),
        "the clear and the intent published",
        || {
            db.read()
                .ledger_recent(100)
                .expect("ledger")
                .iter()
                .filter(|e| e.kind == "published")
                .count()
                >= 3
        },
    );
    drop(db);
    assert_eq!(home.daemon.terminate(), Ok(Some(0)));

    let verify = larder(&home.config, &["ledger", "verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let show = text(&larder(&home.config, &["ledger", "show"]).stdout);
    let digest = keys::to_hex(&digests[0]);
    for expected in [
        "asked 1 × detergent",
        "member_approved 1 × detergent",
        "by member:alex",
        "approved 1 × detergent",
        "approval_request published on larder/testhub/approvals/",
        "approval_clear published",
        "intent published on larder/testhub/upstream/intents",
    ] {
        assert!(show.contains(expected), "{expected:?} not in\n{show}");
    }
    let explained = text(&larder(&home.config, &["explain", &request.intent]).stdout);
    for expected in [
        "decided by members",
        "alex approve at ",
        digest.as_str(),
        "[category] category 'household' always asks a member",
        "[approvals-required] needs 1 member's approval",
    ] {
        assert!(
            explained.contains(expected),
            "{expected:?} not in\n{explained}"
        );
    }
}

/// Egress minimisation: capture everything larder publishes during a run
/// with an auto-approved and a member-approved order, and check that what
/// goes upstream carries only the documented fields and nothing about the
/// household (member names, device ids, slots, levels, item names).
#[test]
fn only_the_closed_intent_field_list_goes_upstream() {
    let broker = start_broker();
    let dir = temp_dir("egress");
    let alex = larder::crypto::keys::SigningKey::create(&dir.join("alex.key")).expect("key");
    let config = TestConfig::household()
        .member("alex", &alex.public_key())
        .write(&dir, &broker);
    let everything = watch(broker.port(), &["#".to_string()]);
    let _daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    milk_runs_low(broker.port());
    let request = detergent_request(broker.port(), &everything);
    let key = dir.join("alex.key");
    let approved = larder(
        &config,
        &["approve", &request.intent, "--key", path_str(&key)],
    );
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    let upstream = UPSTREAM;
    wait_until(Duration::from_secs(20), "two intents upstream", || {
        everything.on(upstream).len() >= 2
    });
    // The member takes the detergent order back: a cancellation goes too.
    let cancelled = larder(
        &config,
        &["cancel", &request.intent, "--key", path_str(&key)],
    );
    assert!(cancelled.status.success(), "{}", text(&cancelled.stderr));
    wait_until(Duration::from_secs(20), "the cancellation upstream", || {
        everything.on(upstream).len() >= 3
    });
    std::thread::sleep(Duration::from_millis(500));

    let allowed = [
        "v",
        "id",
        "hub",
        "product",
        "packages",
        "price_ceiling",
        "currency",
        "deliver_after",
        "deliver_before",
        "evidence",
        "iat",
    ];
    let allowed_in_cancel = ["v", "id", "hub", "iat", "action", "reason"];
    let mut kinds = Vec::new();
    let forbidden = [
        "alex",
        "fridge",
        "washer",
        "milk\"",
        "detergent\"",
        "Milk 1 L",
        "level",
        "amount",
        "dose",
        "slot",
        "device",
        "rate",
        "days_left",
    ];
    let hub_key = hub_public_key(&dir);
    for seen in everything.on(upstream) {
        // The signed payload is the whole message: decode its CBOR map.
        let message = larder::protocol::intent::verify_upstream(&seen.payload, &hub_key)
            .expect("a hub-signed intent or cancellation");
        let allowed: &[&str] = match message {
            larder::protocol::intent::Upstream::Intent(_) => {
                kinds.push("intent");
                &allowed
            }
            larder::protocol::intent::Upstream::Cancel(_) => {
                kinds.push("cancel");
                &allowed_in_cancel
            }
        };
        let envelope: ciborium::Value =
            ciborium::de::from_reader(seen.payload.as_slice()).expect("cbor");
        let ciborium::Value::Tag(18, inner) = envelope else {
            panic!("not a tagged COSE_Sign1")
        };
        let ciborium::Value::Array(parts) = *inner else {
            panic!("not a COSE array")
        };
        let ciborium::Value::Bytes(payload) = &parts[2] else {
            panic!("no attached payload")
        };
        let map: ciborium::Value = ciborium::de::from_reader(payload.as_slice()).expect("map");
        let ciborium::Value::Map(entries) = map else {
            panic!("payload is not a map")
        };
        for (key, _) in &entries {
            let ciborium::Value::Text(key) = key else {
                panic!("non-text key")
            };
            assert!(
                allowed.contains(&key.as_str()),
                "undocumented field {key:?} upstream"
            );
        }
        let bytes = String::from_utf8_lossy(&seen.payload).into_owned();
        for needle in forbidden {
            assert!(
                !bytes.contains(needle),
                "{needle:?} leaked upstream: {bytes:?}"
            );
        }
    }
    assert_eq!(kinds, ["intent", "intent", "cancel"]);
    // Nothing else larder publishes leaves the hub's own topic space, but
    // for its Home Assistant discovery document on the local broker.
    for seen in &everything.all() {
        let ours = seen.topic.starts_with("larder/testhub/")
            || seen.topic == "homeassistant/device/larder_testhub/config";
        assert!(ours, "unexpected topic {}", seen.topic);
    }
}
