//! Forgetting: none of an item's bytes left in the files, `milk` is not
//! `oat-milk`, the states held in memory go with it.

use super::{contains, file_bytes, intent, learned, obs, stored_states, temp_db, tempdir};
use crate::core::forecast::ItemState;
use crate::store::sealing::{KeyOwner, read_key};
use crate::store::write::mentions;
use crate::store::{IntentState, NewOutbox, Store};

#[test]
fn forgetting_an_item_leaves_none_of_its_bytes_in_the_files() {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("f.db");
    let mut store = Store::open(&path).expect("open");
    let tx = store.transaction().expect("tx");
    for seq in 1..=40 {
        tx.insert_observation(&obs("oat-milk-zx81", seq, "level", 1.23456, 1_800_000_000))
            .expect("i");
        tx.insert_observation(&obs("rye-9", 100 + seq, "level", 4.5, 1_800_000_000))
            .expect("i");
    }
    tx.save_item_state("oat-milk-zx81", &ItemState::default(), 5)
        .expect("s");
    let mut row = intent("a1", "oat-milk-zx81", IntentState::AwaitingApproval);
    row.why = vec!["Oat Barista Zx81 is low".into()];
    tx.insert_intent(&row).expect("intent");
    tx.enqueue(
        &NewOutbox {
            kind: "approval_request",
            topic: "larder/h/approvals/a1",
            payload: b"{\"item\":\"oat-milk-zx81\"}",
            retain: true,
            intent_id: Some("a1"),
            not_before: 0,
        },
        5,
    )
    .expect("enqueue");
    tx.dead_letter("t", b"{\"slot\":\"oat-milk-zx81\"}", 23, "bad", 5)
        .expect("dl");
    tx.commit().expect("commit");
    let before = file_bytes(&path);
    assert!(
        !contains(&before, &1.23456f64.to_le_bytes()),
        "levels are sealed"
    );
    assert!(
        contains(&before, b"oat-milk-zx81"),
        "the scan can see the item"
    );

    let tx = store.transaction().expect("tx");
    let gone = tx
        .forget_item("oat-milk-zx81", &["Oat Barista Zx81"], 6)
        .expect("forget");
    tx.commit().expect("commit");
    store.scrub().expect("scrub");
    assert_eq!(
        (
            gone.observations,
            gone.intents,
            gone.outbox,
            gone.dead_letters,
            gone.key
        ),
        (40, 1, 1, 1, true)
    );
    assert_eq!(gone.awaiting, vec!["a1".to_string()]);
    let bytes = file_bytes(&path);
    for needle in [
        &b"oat-milk-zx81"[..],
        b"Oat Barista Zx81",
        b"6f61742d6d696c6b",
    ] {
        assert!(
            !contains(&bytes, needle),
            "{:?} survived",
            String::from_utf8_lossy(needle)
        );
    }
    // The other item is intact and the ledger still verifies.
    assert_eq!(
        store
            .read()
            .recent_observations("rye-9", 100)
            .expect("q")
            .len(),
        40
    );
    let verified = store
        .read()
        .verify_ledger(None)
        .expect("walk")
        .expect("the chain verifies");
    assert_eq!(verified.redacted, 1);
}

#[test]
fn forgetting_milk_leaves_oat_milk_alone() {
    assert!(mentions(r#"{"item":"milk"}"#, "milk"));
    assert!(mentions("Milk 1 L: low", "Milk 1 L"));
    assert!(!mentions(r#"{"item":"oat-milk"}"#, "milk"));
    assert!(!mentions("milky", "milk"));
    let (_d, mut store) = temp_db();
    let tx = store.transaction().expect("tx");
    for (id, item) in [("a", "milk"), ("b", "oat-milk")] {
        tx.insert_intent(&intent(id, item, IntentState::AwaitingApproval))
            .expect("intent");
        let payload = format!(r#"{{"item":"{item}"}}"#);
        tx.enqueue(
            &NewOutbox {
                kind: "approval_request",
                topic: &format!("larder/h/approvals/{id}"),
                payload: payload.as_bytes(),
                retain: true,
                intent_id: Some(id),
                not_before: 0,
            },
            1,
        )
        .expect("enqueue");
    }
    let gone = tx.forget_item("milk", &["milk"], 2).expect("forget");
    tx.commit().expect("commit");
    assert_eq!((gone.intents, gone.outbox, gone.redacted), (1, 1, 1));
    let left = store.read().due_outbox(5, 10).expect("outbox");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].intent_id.as_deref(), Some("b"));
    assert!(store.read().intent("b").expect("q").is_some());
    store
        .read()
        .verify_ledger(None)
        .expect("walk")
        .expect("verifies");
}

#[test]
fn forgetting_drops_the_states_held_in_memory() {
    let (dir, mut store) = temp_db();
    let path = dir.path.join("t.db");
    let tx = store.transaction().expect("tx");
    for item in ["eggs", "milk", "oat-milk"] {
        tx.save_item_state(item, &learned(1.0), 10).expect("save");
    }
    tx.commit().expect("commit");
    // A change not yet written, then the forget, in one transaction.
    let tx = store.transaction().expect("tx");
    tx.save_item_state("milk", &learned(2.0), 11).expect("save");
    tx.forget_item("milk", &["milk"], 11).expect("forget");
    assert_eq!(tx.read().item_state("milk").expect("r"), None);
    tx.commit().expect("commit");
    assert_eq!(store.read().item_state("milk").expect("r"), None);
    assert_eq!(
        stored_states(&path),
        vec![
            ("eggs".into(), learned(1.0)),
            ("oat-milk".into(), learned(1.0))
        ]
    );
    // A forget that rolls back forgets nothing.
    let tx = store.transaction().expect("tx");
    tx.forget_item("eggs", &["eggs"], 12).expect("forget");
    drop(tx);
    assert_eq!(
        store.read().item_state("eggs").expect("r"),
        Some(learned(1.0))
    );
    // The household: everything, even what the transaction changed
    // before; what it learns afterwards is kept.
    let tx = store.transaction().expect("tx");
    tx.save_item_state("eggs", &learned(3.0), 13).expect("save");
    tx.forget_household(13).expect("forget");
    assert_eq!(tx.read().item_state("eggs").expect("r"), None);
    assert_eq!(tx.read().item_state("oat-milk").expect("r"), None);
    tx.save_item_state("tea", &learned(4.0), 13).expect("save");
    tx.commit().expect("commit");
    assert_eq!(store.read().item_state("eggs").expect("r"), None);
    assert_eq!(store.read().item_state("oat-milk").expect("r"), None);
    assert_eq!(
        store.read().item_state("tea").expect("r"),
        Some(learned(4.0))
    );
    assert_eq!(stored_states(&path), vec![("tea".into(), learned(4.0))]);
    // An item learned again after its forget gets a new key, not the
    // erased one still in memory: a fresh handle reads it.
    let erased_key = read_key(&store.conn, &path, KeyOwner::Item, "tea").expect("key");
    let tx = store.transaction().expect("tx");
    tx.forget_item("tea", &["tea"], 14).expect("forget");
    tx.commit().expect("commit");
    let tx = store.transaction().expect("tx");
    tx.save_item_state("tea", &learned(5.0), 15).expect("save");
    tx.insert_observation(&obs("tea", 1, "level", 5.0, 15))
        .expect("observation");
    tx.commit().expect("commit");
    assert_ne!(
        read_key(&store.conn, &path, KeyOwner::Item, "tea").expect("key"),
        erased_key
    );
    assert_eq!(stored_states(&path), vec![("tea".into(), learned(5.0))]);
    let fresh = Store::open_readonly(&path).expect("open");
    assert_eq!(
        fresh
            .read()
            .recent_observations("tea", 5)
            .expect("read")
            .len(),
        1
    );
}
