//! Forgetting: everything held about one item or about the whole
//! household, in one transaction recorded by a `forget` ledger entry (the
//! caller commits, then runs `Store::scrub`), and dead letters that name a
//! forgotten item's slot.

use super::Tx;
use crate::crypto::keys;
use crate::ledger;
use crate::store::Result;
use crate::store::cache::TxState;
use crate::store::rows::{Forgotten, IntentState};
use rusqlite::params;

/// Whether `text` names `needle` as a whole identifier or phrase: not as
/// part of a longer id (forgetting `milk` must not erase `oat-milk`'s
/// record).
pub(in crate::store) fn mentions(text: &str, needle: &str) -> bool {
    let id_char = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(id_char) && !after.is_some_and(id_char)
    })
}

impl Tx<'_> {
    /// Erases everything held about one item, in this transaction (the
    /// caller commits, then runs [`Store::scrub`]): its observations, daily
    /// aggregates, forecaster state and key; its intents with their
    /// approvals and outbox rows; dead letters containing any of `needles`
    /// (the item's id and name); and the bodies of ledger entries about its
    /// intents or naming a needle as a whole word (or as a hex-encoded JSON
    /// string, as in outbound payloads), recorded by a `forget` entry with
    /// scope `item` that never names the item.
    ///
    /// [`Store::scrub`]: crate::store::Store::scrub
    pub fn forget_item(&self, item: &str, needles: &[&str], now: i64) -> Result<Forgotten> {
        let err = self.err();
        let mut intents: Vec<(String, String)> = {
            let mut stmt = self
                .tx
                .prepare("SELECT id, state FROM intents WHERE item = ?1")
                .map_err(&err)?;
            stmt.query_map([item], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(&err)?
        };
        intents.sort();
        let ids: Vec<&str> = intents.iter().map(|(id, _)| id.as_str()).collect();
        let mut needles: Vec<String> = needles
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| (*n).to_owned())
            .collect();
        if !needles.iter().any(|n| n == item) {
            needles.push(item.to_owned());
        }
        let redacted = self.redact_ledger(|body| {
            let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
            let field = |name: &str| {
                parsed
                    .as_ref()
                    .and_then(|v| v.get(name))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            field("item").is_some_and(|i| i == item)
                || field("intent").is_some_and(|i| ids.contains(&i.as_str()))
                || needles.iter().any(|n| {
                    mentions(body, n) || body.contains(&keys::to_hex(format!("\"{n}\"").as_bytes()))
                })
        })?;
        let mut gone = Forgotten {
            redacted: redacted.len(),
            awaiting: intents
                .iter()
                .filter(|(_, state)| state == IntentState::AwaitingApproval.as_str())
                .map(|(id, _)| id.clone())
                .collect(),
            ..Forgotten::default()
        };
        for id in &ids {
            gone.approvals += self
                .tx
                .execute("DELETE FROM approvals WHERE intent_id = ?1", [id])
                .map_err(&err)? as u64;
            gone.outbox += self
                .tx
                .execute("DELETE FROM outbox WHERE intent_id = ?1", [id])
                .map_err(&err)? as u64;
        }
        gone.intents = self
            .tx
            .execute("DELETE FROM intents WHERE item = ?1", [item])
            .map_err(&err)? as u64;
        gone.observations = self
            .tx
            .execute("DELETE FROM observations WHERE item = ?1", [item])
            .map_err(&err)? as u64;
        gone.days = self
            .tx
            .execute("DELETE FROM observation_days WHERE item = ?1", [item])
            .map_err(&err)? as u64;
        self.tx
            .execute("DELETE FROM item_state WHERE item = ?1", [item])
            .map_err(&err)?;
        // An unwritten state of the item goes too, and its key; committing
        // forgets the store's copies.
        self.pending.borrow_mut().keys.insert(item.to_owned(), None);
        self.pending.borrow_mut().items.insert(
            item.to_owned(),
            TxState {
                state: None,
                unwritten: None,
            },
        );
        gone.key = self
            .tx
            .execute("DELETE FROM item_keys WHERE item = ?1", [item])
            .map_err(&err)?
            > 0;
        for needle in &needles {
            gone.dead_letters += self
                .tx
                .execute(
                    "DELETE FROM dead_letters WHERE instr(payload, CAST(?1 AS BLOB)) > 0 \
                     OR instr(reason, ?1) > 0 OR instr(topic, ?1) > 0",
                    [needle],
                )
                .map_err(&err)? as u64;
        }
        gone.ledger_seq = self.ledger_append(
            ledger::Kind::Forget,
            &ledger::Forget {
                scope: "item".into(),
                redacted,
            },
            now,
        )?;
        Ok(gone)
    }

    /// Erases everything held about the household, in this transaction (the
    /// caller commits, then runs [`Store::scrub`]): every observation,
    /// aggregate, state, key, intent, approval, outbox row, dead letter,
    /// device position, counter and the presence; every ledger body except
    /// earlier forget records, recorded by a `forget` entry with scope
    /// `household`. Kept: the ledger chain itself (times, kinds, digests)
    /// and each member's last control time (replay protection).
    ///
    /// [`Store::scrub`]: crate::store::Store::scrub
    pub fn forget_household(&self, now: i64) -> Result<Forgotten> {
        let err = self.err();
        let redacted = self.redact_ledger(|_| true)?;
        let count = |table: &str| -> Result<u64> {
            Ok(self
                .tx
                .execute(&format!("DELETE FROM {table}"), [])
                .map_err(&err)? as u64)
        };
        let mut gone = Forgotten {
            redacted: redacted.len(),
            ..Forgotten::default()
        };
        gone.awaiting = self
            .read()
            .intents_in_state(IntentState::AwaitingApproval)?
            .into_iter()
            .map(|i| i.id)
            .collect();
        gone.approvals = count("approvals")?;
        gone.outbox = count("outbox")?;
        gone.intents = count("intents")?;
        gone.observations = count("observations")?;
        gone.days = count("observation_days")?;
        // Adapter devices' filter state (scale readings, washer phase).
        count("device_state")?;
        let device_keys = count("device_keys")?;
        count("item_state")?;
        {
            let mut pending = self.pending.borrow_mut();
            pending.items.clear();
            pending.keys.clear();
            pending.all_erased = true;
        }
        gone.key = count("item_keys")? + device_keys > 0;
        gone.dead_letters = count("dead_letters")?;
        count("device_seq")?;
        count("presence")?;
        count("counters")?;
        gone.ledger_seq = self.ledger_append(
            ledger::Kind::Forget,
            &ledger::Forget {
                scope: "household".into(),
                redacted,
            },
            now,
        )?;
        Ok(gone)
    }

    /// Deletes dead letters that arrived on `topic` and whose payload holds
    /// `needle` (a forgotten item's slot on its device); returns how many.
    pub fn forget_dead_letters_on(&self, topic: &str, needle: &str) -> Result<u64> {
        Ok(self
            .tx
            .execute(
                "DELETE FROM dead_letters WHERE topic = ?1 AND instr(payload, CAST(?2 AS BLOB)) > 0",
                params![topic, needle],
            )
            .map_err(self.err())? as u64)
    }
}
