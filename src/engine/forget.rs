//! `larder forget`: erase what larder holds about one item or the whole
//! household, irreversibly.
//!
//! The database has one writer, so a forget is executed by whoever holds
//! the state directory's lock (`store::StateLock`):
//! - larder is running: the CLI signs a `forget` control message with a
//!   member's key and publishes it on `larder/<hub>/control`; the daemon's
//!   writer applies it in the batch transaction ([`apply`]), commits, acks,
//!   then scrubs the file (`Store::scrub`). The CLI waits until the
//!   `forget` ledger entry appears.
//! - larder is not running: the CLI takes the lock itself (so a daemon
//!   started meanwhile refuses to start), applies, commits and scrubs.
//!
//! What is erased and what is kept is in `docs/privacy.md`.

use crate::config::Config;
use crate::protocol::control::ForgetScope;
use crate::protocol::topics::Topics;
use crate::store::{self, Forgotten, Tx};

/// Applies a forget in `tx`: erases (see `Tx::forget_item` /
/// `Tx::forget_household`) and queues a clear of every retained approval
/// request of an erased intent, so the broker keeps no copy either.
pub fn apply(
    tx: &Tx<'_>,
    config: &Config,
    topics: &Topics,
    scope: &ForgetScope,
    now: i64,
) -> store::Result<Forgotten> {
    let gone = match scope {
        ForgetScope::Item(item) => {
            let mut needles = vec![item.as_str()];
            let configured = config.item(item);
            if let Some(configured) = configured {
                needles.push(configured.name.as_str());
            }
            let mut gone = tx.forget_item(item, &needles, now)?;
            // Refused events from the item's device naming its slot may
            // hold its readings too; an adapter device's state (a scale's
            // recent weights, a washer's phase) is about the item it
            // measures and goes with its key.
            if let Some(configured) = configured {
                if let Some(device) = config.devices.iter().find(|d| d.id == configured.device) {
                    gone.dead_letters +=
                        tx.forget_dead_letters_on(&device.topic, &configured.slot)?;
                    gone.key |= tx.forget_device_state(&device.id)?;
                }
            }
            gone
        }
        ForgetScope::Household => tx.forget_household(now)?,
    };
    for intent in &gone.awaiting {
        super::outbox::queue_request_clear(tx, topics, intent, now)?;
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{IntentRow, IntentState, Store};
    use std::path::Path;

    /// The shared minimal household, with a hub state directory and a
    /// milk name that a byte scan can find.
    fn config_text() -> String {
        include_str!("../../tests/fixtures/minimal.toml")
            .replace(
                "id = \"home\"\n",
                "id = \"home\"\nstate-dir = \"/nonexistent\"\n",
            )
            .replace("name = \"Milk\"", "name = \"Milk Zq\"")
    }

    #[test]
    fn forgetting_an_item_with_a_pending_request_clears_it_on_the_broker() {
        let config =
            Config::parse(&config_text(), Path::new("/etc/larder/larder.toml")).expect("config");
        let topics = Topics::new(&config);
        let dir = std::env::temp_dir().join(format!(
            "larder-forget-{}-{}",
            std::process::id(),
            crate::crypto::keys::to_hex(&crate::crypto::keys::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut store = Store::open(&dir.join("f.db")).expect("open");
        let tx = store.transaction().expect("tx");
        tx.insert_intent(&IntentRow {
            id: "i1".into(),
            item: "milk".into(),
            state: IntentState::AwaitingApproval,
            product: "sku-1".into(),
            packages: 1,
            quantity: 1.0,
            unit_price: 1.1,
            price_ceiling: 1.21,
            currency: "EUR".into(),
            deliver_after: 0,
            deliver_before: 1,
            nonce: Some("00".into()),
            prompt_at: Some(0),
            expires_at: Some(9),
            approvals_required: 1,
            why: vec!["Milk Zq: 0.2 l left".into()],
            decided_by: None,
            created_at: 0,
            updated_at: 0,
        })
        .expect("intent");
        tx.dead_letter(
            &config.devices[0].topic,
            br#"{"slot":"milk","amount":"x"}"#,
            28,
            "bad",
            1,
        )
        .expect("dl");
        let gone =
            apply(&tx, &config, &topics, &ForgetScope::Item("milk".into()), 5).expect("forget");
        tx.commit().expect("commit");
        assert_eq!((gone.intents, gone.dead_letters), (1, 1));
        let due = store.read().due_outbox(5, 10).expect("outbox");
        assert_eq!(due.len(), 1);
        assert_eq!(
            (
                due[0].kind.as_str(),
                due[0].topic.as_str(),
                due[0].retain,
                due[0].payload.len()
            ),
            ("approval_clear", "larder/home/approvals/i1", true, 0)
        );
        let verified = store
            .read()
            .verify_ledger(None)
            .expect("walk")
            .expect("verifies");
        assert!(verified.entries >= 2);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
