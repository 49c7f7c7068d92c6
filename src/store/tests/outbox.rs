//! The outbox: FIFO, `not_before`, sent once, withdrawn rows still
//! recorded when their PUBACK comes, resending the latest copy.

use super::temp_db;
use crate::store::NewOutbox;

#[test]
fn outbox_is_fifo_respects_not_before_and_marks_sent_once() {
    let (_d, mut store) = temp_db();
    let tx = store.transaction().expect("tx");
    let msg = |kind, nb| NewOutbox {
        kind,
        topic: "t",
        payload: b"x",
        retain: false,
        intent_id: None,
        not_before: nb,
    };
    let a = tx.enqueue(&msg("intent", 0), 0).expect("a");
    let b = tx.enqueue(&msg("approval_request", 100), 0).expect("b");
    tx.commit().expect("c");
    let due: Vec<i64> = store
        .read()
        .due_outbox(50, 10)
        .expect("due")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(due, vec![a]);
    let tx = store.transaction().expect("tx");
    assert!(tx.mark_sent(a, 60).expect("m").is_some());
    assert!(tx.mark_sent(a, 61).expect("m").is_none());
    tx.commit().expect("c");
    let due: Vec<i64> = store
        .read()
        .due_outbox(200, 10)
        .expect("due")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(due, vec![b]);
}

#[test]
fn a_row_withdrawn_while_in_flight_is_still_recorded_as_published() {
    let (_d, mut store) = temp_db();
    let tx = store.transaction().expect("tx");
    let id = tx
        .enqueue(
            &NewOutbox {
                kind: "intent",
                topic: "up",
                payload: b"signed",
                retain: false,
                intent_id: Some("i1"),
                not_before: 0,
            },
            0,
        )
        .expect("enqueue");
    tx.commit().expect("c");
    // The relay has read the row (in flight) when the intent is
    // withdrawn; the broker's PUBACK comes after.
    let in_flight = store.read().due_outbox(10, 10).expect("due");
    assert_eq!(in_flight.len(), 1);
    let tx = store.transaction().expect("tx");
    assert_eq!(tx.cancel_unsent("i1", "intent", 5).expect("withdraw"), 1);
    tx.commit().expect("c");
    assert!(store.read().due_outbox(10, 10).expect("due").is_empty());
    assert_eq!(store.read().unsent_outbox().expect("n"), 0);
    let tx = store.transaction().expect("tx");
    assert!(tx.mark_sent(id, 6).expect("mark").is_some(), "it did leave");
    // Resending the latest copy queues the same bytes again.
    assert!(tx.resend_last("i1", "intent", 7).expect("resend"));
    assert!(!tx.resend_last("i2", "intent", 7).expect("none"));
    tx.commit().expect("c");
    let due = store.read().due_outbox(10, 10).expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload, b"signed");
}
