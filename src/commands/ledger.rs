//! `larder ledger show`: the ledger as lines a person reads.

use crate::crypto::keys;
use crate::ledger::summary;
use crate::store::{Reader, StoreError};

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
