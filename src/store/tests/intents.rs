//! Intents: one open per item, transitions only from the expected state, a
//! member's reply counted once.

use super::{intent, temp_db};
use crate::store::{ApprovalRow, IntentState};

#[test]
fn an_item_has_at_most_one_open_intent() {
    let (_d, mut store) = temp_db();
    let tx = store.transaction().expect("tx");
    tx.insert_intent(&intent("a", "milk", IntentState::Approved))
        .expect("first");
    assert!(
        tx.insert_intent(&intent("b", "milk", IntentState::AwaitingApproval))
            .is_err()
    );
    tx.insert_intent(&intent("c", "eggs", IntentState::Sent))
        .expect("other item");
    assert!(
        tx.transition_intent("a", IntentState::Approved, IntentState::Delivered, None, 9)
            .expect("t")
    );
    tx.insert_intent(&intent("d", "milk", IntentState::AwaitingApproval))
        .expect("after close");
    tx.commit().expect("commit");
    let open = store.read().open_intent("milk").expect("q").expect("some");
    assert_eq!(open.id, "d");
}

#[test]
fn a_transition_from_the_wrong_state_changes_nothing() {
    let (_d, mut store) = temp_db();
    let tx = store.transaction().expect("tx");
    tx.insert_intent(&intent("a", "milk", IntentState::Denied))
        .expect("i");
    assert!(
        !tx.transition_intent(
            "a",
            IntentState::AwaitingApproval,
            IntentState::Approved,
            None,
            9
        )
        .expect("t")
    );
    assert_eq!(
        tx.read().intent("a").expect("q").expect("row").state,
        IntentState::Denied
    );
}

#[test]
fn a_member_reply_counts_once() {
    let (_d, mut store) = temp_db();
    let tx = store.transaction().expect("tx");
    tx.insert_intent(&intent("a", "milk", IntentState::AwaitingApproval))
        .expect("i");
    let reply = ApprovalRow {
        intent_id: "a".into(),
        member: "alex".into(),
        verdict: "approve".into(),
        digest: vec![1; 32],
        envelope: vec![2; 10],
        received_at: 3,
    };
    assert!(tx.record_approval(&reply).expect("first"));
    assert!(!tx.record_approval(&reply).expect("second"));
}
