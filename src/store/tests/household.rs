//! Dead letters (a bounded prefix kept) and counters.

use super::temp_db;
use crate::store::DEAD_LETTER_KEEP_BYTES;

#[test]
fn dead_letters_keep_a_bounded_prefix_and_counters_add_up() {
    let (_d, mut store) = temp_db();
    let tx = store.transaction().expect("tx");
    tx.dead_letter("t", &vec![0u8; 10_000], 10_000, "too big", 1)
        .expect("dl");
    tx.bump("dead_letters", 1).expect("b");
    tx.bump("dead_letters", 2).expect("b");
    tx.commit().expect("c");
    let kept: i64 = store
        .conn
        .query_row("SELECT length(payload) FROM dead_letters", [], |r| r.get(0))
        .expect("q");
    assert_eq!(kept, DEAD_LETTER_KEEP_BYTES as i64);
    assert_eq!(store.read().counter("dead_letters").expect("c"), 3);
    assert_eq!(store.read().dead_letters(5).expect("d")[0].size, 10_000);
}
