//! Learned state: devices' state sealed under their keys, item states
//! written once at commit and kept in memory only when committed, states
//! sealed by older versions still read.

use super::{contains, file_bytes, learned, stored_states, temp_db, tempdir};
use crate::store::sealing::{
    ItemStateSecretJson, KeyOwner, read_key, read_or_create_key, seal_value,
};
use crate::store::{Cell, Store, Table};

#[test]
fn device_state_is_sealed_under_its_device_key_bound_to_its_device_and_exported() {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("d.db");
    let mut store = Store::open(&path).expect("open");
    let scale = r#"{"scale":{"window":[0.8765431,0.8765432],"reported_kg":0.8765431,"last_at":1800000000}}"#;
    let plug = r#"{"washer":{"phase":{"phase":"idle"},"last_watts":0.75319}}"#;
    let tx = store.transaction().expect("tx");
    tx.save_device_state("fridge-scale-q7", scale, 1_800_000_007)
        .expect("save");
    tx.save_device_state("washer-plug-q7", plug, 1_800_000_007)
        .expect("save");
    tx.commit().expect("commit");
    assert_eq!(
        store.read().device_state("fridge-scale-q7").expect("read"),
        Some(scale.to_owned())
    );
    let bytes = file_bytes(&path);
    for needle in [&b"0.8765431"[..], b"reported_kg", b"0.75319", b"1800000007"] {
        assert!(
            !contains(&bytes, needle),
            "{} in the files",
            String::from_utf8_lossy(needle)
        );
    }
    // `larder export` gets them decrypted, with the time they changed.
    let mut rows = Vec::new();
    store
        .read()
        .each_row(Table::DeviceState, |names, cells| {
            rows.push((names.to_vec(), cells));
            Ok(())
        })
        .expect("rows")
        .expect("written");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, ["device", "state", "updated_at"]);
    assert_eq!(
        rows[0].1,
        vec![
            Cell::Text("fridge-scale-q7".into()),
            Cell::Text(scale.into()),
            Cell::Integer(1_800_000_007)
        ]
    );
    // A sealed state moved to another device's row does not open.
    store
        .conn
        .execute(
            "UPDATE device_state SET sealed = (SELECT sealed FROM device_state \
             WHERE device = 'fridge-scale-q7') WHERE device = 'washer-plug-q7'",
            [],
        )
        .expect("move");
    let moved = store.read().device_state("washer-plug-q7").unwrap_err();
    assert!(
        moved.to_string().contains("device_state of washer-plug-q7"),
        "{moved}"
    );
    // Forgetting a device erases its row and its key, and only those.
    let tx = store.transaction().expect("tx");
    assert!(tx.forget_device_state("fridge-scale-q7").expect("forget"));
    assert!(!tx.forget_device_state("fridge-scale-q7").expect("again"));
    tx.commit().expect("commit");
    assert_eq!(
        store.read().device_state("fridge-scale-q7").expect("read"),
        None
    );
    assert_eq!(
        read_key(&store.conn, &path, KeyOwner::Device, "fridge-scale-q7").expect("key"),
        None
    );
    assert!(
        read_key(&store.conn, &path, KeyOwner::Device, "washer-plug-q7")
            .expect("key")
            .is_some()
    );
    // Forgetting the household erases every device's state and key.
    let tx = store.transaction().expect("tx");
    assert!(tx.forget_household(1_800_000_100).expect("forget").key);
    tx.commit().expect("commit");
    for table in ["device_state", "device_keys"] {
        let n: i64 = store
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "{table}");
    }
}

#[test]
fn item_states_are_written_once_at_commit_and_kept_only_when_committed() {
    let (dir, mut store) = temp_db();
    let path = dir.path.join("t.db");
    let tx = store.transaction().expect("tx");
    tx.save_item_state("milk", &learned(1.0), 10).expect("save");
    tx.save_item_state("milk", &learned(2.0), 11).expect("save");
    // The transaction sees its own change; nothing is written yet.
    assert_eq!(tx.read().item_state("milk").expect("r"), Some(learned(2.0)));
    let rows: i64 = tx
        .query_row("SELECT COUNT(*) FROM item_state", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 0);
    tx.commit().expect("commit");
    assert_eq!(stored_states(&path), vec![("milk".into(), learned(2.0))]);
    assert_eq!(
        store.read().item_state("milk").expect("r"),
        Some(learned(2.0))
    );

    // Rolled back (dropped): neither the file nor the store keeps it.
    let tx = store.transaction().expect("tx");
    tx.save_item_state("milk", &learned(3.0), 12).expect("save");
    tx.save_item_state("eggs", &learned(4.0), 12).expect("save");
    drop(tx);
    assert_eq!(
        store.read().item_state("milk").expect("r"),
        Some(learned(2.0))
    );
    assert_eq!(store.read().item_state("eggs").expect("r"), None);
    let tx = store.transaction().expect("tx");
    assert_eq!(tx.read().item_state("milk").expect("r"), Some(learned(2.0)));
    drop(tx);
    assert_eq!(stored_states(&path), vec![("milk".into(), learned(2.0))]);
}

#[test]
fn a_commit_that_fails_for_a_full_disk_keeps_the_committed_states() {
    let (dir, mut store) = temp_db();
    let path = dir.path.join("t.db");
    let tx = store.transaction().expect("tx");
    tx.save_item_state("milk", &learned(1.0), 10).expect("save");
    tx.commit().expect("commit");
    // The disk is full: the file cannot grow by a page.
    let pages: i64 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("pages");
    store
        .conn
        .execute_batch(&format!("PRAGMA max_page_count = {pages}"))
        .expect("cap");
    let tx = store.transaction().expect("tx");
    tx.save_item_state("milk", &learned(2.0), 11).expect("save");
    for n in 0..300 {
        tx.save_item_state(&format!("item-{n}"), &learned(5.0), 11)
            .expect("save");
    }
    assert!(tx.commit().is_err(), "the commit must fail on a full disk");
    assert_eq!(
        store.read().item_state("milk").expect("r"),
        Some(learned(1.0))
    );
    assert_eq!(store.read().item_state("item-7").expect("r"), None);
    let tx = store.transaction().expect("tx");
    assert_eq!(tx.read().item_state("milk").expect("r"), Some(learned(1.0)));
    drop(tx);
    assert_eq!(stored_states(&path), vec![("milk".into(), learned(1.0))]);
    // The retry, once there is room, commits the new states.
    store
        .conn
        .execute_batch("PRAGMA max_page_count = 1000000")
        .expect("uncap");
    let tx = store.transaction().expect("tx");
    tx.save_item_state("milk", &learned(2.0), 12).expect("save");
    tx.commit().expect("commit");
    assert_eq!(
        store.read().item_state("milk").expect("r"),
        Some(learned(2.0))
    );
    assert_eq!(stored_states(&path), vec![("milk".into(), learned(2.0))]);
}

#[test]
fn an_item_state_sealed_through_json_values_still_reads() {
    // How every state was written before the writer kept them in
    // memory: `serde_json::Value` (sorted keys) inside the sealed JSON.
    let (dir, store) = temp_db();
    let path = dir.path.join("t.db");
    let key = read_or_create_key(&store.conn, &path, KeyOwner::Item, "milk").expect("key");
    let old = ItemStateSecretJson {
        state: serde_json::to_value(learned(2.5)).expect("value"),
        updated_at: 7,
    };
    let sealed = seal_value(
        &path,
        &key,
        &crate::crypto::seal::item_state_aad("milk"),
        &old,
        "item_state",
    )
    .expect("seal");
    store
        .conn
        .execute(
            "INSERT INTO item_state (item, sealed) VALUES ('milk', ?1)",
            [sealed],
        )
        .expect("insert");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(
        store.read().item_state("milk").expect("r"),
        Some(learned(2.5))
    );
    // A state written now exports with the same fields.
    let mut store = store;
    let tx = store.transaction().expect("tx");
    tx.save_item_state("eggs", &learned(2.5), 8).expect("save");
    tx.commit().expect("commit");
    let mut exported = Vec::new();
    store
        .read()
        .each_row(Table::ItemState, |_, cells| {
            exported.push(cells);
            Ok(())
        })
        .expect("rows")
        .expect("export");
    let text = |cells: &[Cell]| match &cells[1] {
        Cell::Text(t) => serde_json::from_str::<serde_json::Value>(t).expect("json"),
        other => panic!("{other:?}"),
    };
    assert_eq!(text(&exported[0]), text(&exported[1]));
}
