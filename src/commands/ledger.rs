//! `larder ledger show|verify`: the ledger as lines a person reads, and
//! its hash chain checked (optionally against a head kept elsewhere).

use super::LedgerAction;
use crate::crypto::keys;
use crate::ledger::summary;
use crate::store::{Reader, Store, StoreError};
use anyhow::{Context as _, bail};

/// `larder ledger show`: the newest `limit` entries, oldest first, one line
/// each (sequence, time, kind, summary, hash prefix).
pub fn show(read: &Reader<'_>, limit: u32) -> Result<String, StoreError> {
    use std::fmt::Write as _;
    let total = read.ledger_count()?;
    let rows = read.ledger_recent(limit)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ledger: {total} entries{}",
        if (rows.len() as u64) < total {
            format!(", the newest {} shown", rows.len())
        } else {
            String::new()
        }
    );
    for row in &rows {
        let _ = writeln!(
            out,
            "#{:<6} {}  {:<9} {}  [{}]",
            row.seq,
            crate::text::format_time(row.at),
            row.kind,
            summary(row),
            keys::to_hex(&row.hash).get(..12).unwrap_or("")
        );
    }
    Ok(out)
}

/// `larder ledger show|verify`.
pub(super) fn run(store: &Store, action: LedgerAction) -> anyhow::Result<()> {
    let read = store.read();
    if !read.has_ledger()? {
        bail!(
            "{} has no ledger yet (schema older than version 2): start `larder run` once to migrate it",
            store.path().display()
        );
    }
    match action {
        LedgerAction::Show { limit } => {
            print!("{}", show(&read, limit)?);
            Ok(())
        }
        LedgerAction::Verify { head } => {
            let anchor = head
                .map(|h| {
                    keys::from_hex(&h)
                        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                        .with_context(|| format!("--head {h:?} is not 64 hex digits"))
                })
                .transpose()?;
            match read.verify_ledger(anchor)? {
                Ok(ok) if anchor.is_some() && !ok.anchor_found => bail!(
                    "ledger does not contain the expected head: its tail was rewritten or truncated \
                     ({} entries now, head {})",
                    ok.entries,
                    keys::to_hex(&ok.head)
                ),
                Ok(ok) => {
                    println!(
                        "ledger OK: {} entries, head {}{}",
                        ok.entries,
                        keys::to_hex(&ok.head),
                        if ok.redacted > 0 {
                            format!(" ({} bodies erased by recorded forgets)", ok.redacted)
                        } else {
                            String::new()
                        }
                    );
                    Ok(())
                }
                Err(broken) => bail!(
                    "ledger verification failed at entry {}: {}",
                    broken.seq,
                    broken.problem
                ),
            }
        }
    }
}
