//! Unit tests of `larder explain`: each explanation over hand-made
//! evidence, against `tests/fixtures/explain-milk.toml`.

use super::*;
use crate::core::DAY;
use crate::core::forecast;
use crate::ledger;
use crate::store::IntentState;
use std::path::Path;

const NOW: i64 = 1_767_225_600; // 2026-01-01 00:00 UTC

fn config(category_policy: &str) -> Config {
    let text = include_str!("../../../tests/fixtures/explain-milk.toml")
        .replace("{key}", &crate::crypto::keys::to_hex(&[3u8; 32]))
        .replace("{category_policy}", category_policy);
    Config::parse(&text, Path::new("test.toml")).expect("valid test config")
}

fn milk_state(level: f64) -> ItemState {
    let cfg = config("allow");
    let model = &cfg.items[0].model;
    let mut state = ItemState::default();
    for day in 0..10 {
        forecast::observe(
            model,
            &mut state,
            &crate::core::Observation {
                at: NOW - (10 - day) * DAY,
                kind: crate::core::ObservationKind::Level,
                amount: 5.0 - 0.3 * day as f64,
            },
        );
    }
    forecast::observe(
        model,
        &mut state,
        &crate::core::Observation {
            at: NOW - 60,
            kind: crate::core::ObservationKind::Level,
            amount: level,
        },
    );
    state
}

fn reading(amount: f64) -> ObservationRow {
    ObservationRow {
        device: "fridge".into(),
        kind: "level".into(),
        amount,
        observed_at: NOW - 60,
    }
}

fn intent_row(state: IntentState, decided_by: Option<&str>) -> IntentRow {
    IntentRow {
        id: "0123456789abcdef0123456789abcdef".into(),
        item: "milk".into(),
        state,
        product: "sku-milk".into(),
        packages: 2,
        quantity: 2.0,
        unit_price: 1.0,
        price_ceiling: 2.2,
        currency: "EUR".into(),
        deliver_after: NOW + DAY,
        deliver_before: NOW + 3 * DAY,
        nonce: None,
        prompt_at: None,
        expires_at: Some(NOW + DAY),
        approvals_required: 1,
        why: vec![
            "0.3 left, using 0.3 ± 0.01 a day: empty in 1 day".into(),
            "2.20 ≤ auto-approve limit 8.00".into(),
        ],
        decided_by: decided_by.map(str::to_owned),
        created_at: NOW - 30,
        updated_at: NOW - 20,
    }
}

fn decision_entry(verdict: ledger::Outcome, rules: &[&str]) -> LedgerRow {
    let body = serde_json::to_string(&ledger::DecisionEntry {
        intent: "0123456789abcdef0123456789abcdef".into(),
        item: "milk".into(),
        verdict,
        by: "rule:auto-approve-up-to".into(),
        packages: 2,
        price_ceiling: 2.2,
        currency: "EUR".into(),
        rules: rules.iter().map(|r| (*r).to_owned()).collect(),
        replies: Vec::new(),
    })
    .expect("json");
    LedgerRow {
        seq: 7,
        at: NOW - 30,
        kind: "decision".into(),
        body_sha256: ledger::sha256(body.as_bytes()).to_vec(),
        body: Some(body),
        prev_hash: vec![0; 32],
        hash: vec![1; 32],
    }
}

#[test]
fn an_item_with_plenty_left_says_when_it_would_reorder() {
    let cfg = config("allow");
    let ev = ItemEvidence {
        readings: vec![reading(4.0)],
        state: Some(milk_state(4.0)),
        latest: None,
        spent_this_month: 0.0,
    };
    let text = item(&cfg, &cfg.items[0], &ev, NOW);
    assert!(text.contains("level      4 l"), "{text}");
    assert!(text.contains("level      4 l"), "{text}");
    assert!(text.contains(" ± "), "{text}");
    assert!(text.contains("no reorder now"), "{text}");
    assert!(
        text.contains("it reorders when the level falls below about"),
        "{text}"
    );
    assert!(text.contains("from fridge"), "{text}");
}

#[test]
fn the_reorder_level_is_where_the_core_starts_proposing() {
    let cfg = config("allow");
    let it = &cfg.items[0];
    let state = milk_state(4.0);
    let at = forecast::reorder_level(&it.model, &state, 4.0, NOW).expect("some level proposes");
    let propose_at = |l: f64| {
        let mut s = state.clone();
        s.level = Some(l);
        s.level_at = NOW;
        forecast::propose(&it.model, &forecast::forecast(&it.model, &s, NOW)).is_some()
    };
    assert!(propose_at(at - 0.01) && !propose_at(at + 0.01), "{at}");
}

#[test]
fn a_low_item_shows_the_proposal_and_how_the_rules_would_treat_it() {
    let cfg = config("ask");
    let ev = ItemEvidence {
        readings: vec![reading(0.2)],
        state: Some(milk_state(0.2)),
        latest: None,
        spent_this_month: 10.0,
    };
    let text = item(&cfg, &cfg.items[0], &ev, NOW);
    assert!(
        text.contains("the next decision tick proposes it"),
        "{text}"
    );
    assert!(text.contains("category \"dairy\" is ask"), "{text}");
    assert!(text.contains("headroom 40.00"), "{text}");
}

#[test]
fn an_item_without_readings_says_what_is_missing() {
    let cfg = config("allow");
    let text = item(&cfg, &cfg.items[0], &ItemEvidence::default(), NOW);
    assert!(text.contains("(no readings stored)"), "{text}");
    assert!(
        text.contains("a first reading from fridge slot milk"),
        "{text}"
    );
}

#[test]
fn an_auto_approved_intent_names_its_rule_and_the_alternatives() {
    let cfg = config("allow");
    let ev = IntentEvidence {
        intent: intent_row(IntentState::Sent, Some("rule:auto-approve-up-to")),
        approvals: Vec::new(),
        ledger: vec![decision_entry(
            ledger::Outcome::AutoApproved,
            &["auto-approve-up-to: 2.20 ≤ auto-approve limit 8.00"],
        )],
        item: ItemEvidence {
            readings: vec![reading(0.3)],
            state: Some(milk_state(0.3)),
            latest: None,
            spent_this_month: 2.2,
        },
    };
    let text = intent(&cfg, Some(&cfg.items[0]), &ev, NOW);
    assert!(
        text.contains("decided by rule:auto-approve-up-to"),
        "{text}"
    );
    assert!(
        text.contains("[auto-approve-up-to] 2.20 ≤ auto-approve limit 8.00"),
        "{text}"
    );
    assert!(text.contains("- 0.3 left, using"), "{text}");
    // The rule's reason is listed under the verdict, not as a forecast reason.
    let forecast_part = text.split("the rules' verdict").next().expect("first part");
    assert!(!forecast_part.contains("auto-approve limit"), "{text}");
    assert!(text.contains("#7"), "{text}");
    assert!(text.contains("would have asked a member instead"), "{text}");
    assert!(text.contains("headroom now 47.80"), "{text}");
}

#[test]
fn a_held_intent_says_what_would_release_it() {
    let cfg = config("allow");
    let mut row = intent_row(IntentState::AwaitingApproval, None);
    row.price_ceiling = 12.5;
    let ev = IntentEvidence {
        intent: row,
        approvals: Vec::new(),
        ledger: Vec::new(),
        item: ItemEvidence::default(),
    };
    let text = intent(&cfg, Some(&cfg.items[0]), &ev, NOW);
    assert!(text.contains("decided by nobody yet"), "{text}");
    assert!(
        text.contains("ceiling 12.50 > auto-approve limit 8.00"),
        "{text}"
    );
    assert!(text.contains("0 of 1 approvals so far"), "{text}");
    assert!(text.contains("(none)"), "{text}");
}

#[test]
fn a_member_decision_lists_who_and_when() {
    let cfg = config("ask");
    let ev = IntentEvidence {
        intent: intent_row(IntentState::Denied, Some("member:alex")),
        approvals: vec![ApprovalRow {
            intent_id: "0123456789abcdef0123456789abcdef".into(),
            member: "alex".into(),
            verdict: "deny".into(),
            digest: vec![0xab; 32],
            envelope: vec![1, 2, 3],
            received_at: NOW - 20,
        }],
        ledger: Vec::new(),
        item: ItemEvidence::default(),
    };
    let text = intent(&cfg, Some(&cfg.items[0]), &ev, NOW);
    assert!(text.contains("alex deny at 2025-12-31 23:59 UTC"), "{text}");
    assert!(text.contains("member:alex denied it"), "{text}");
    assert!(text.contains("category \"dairy\" is set to ask"), "{text}");
}
