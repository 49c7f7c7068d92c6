//! `larder export`: everything larder holds about the household as one JSON
//! document (data portability). The format is documented in
//! `docs/privacy.md`; [`FORMAT`] and [`VERSION`] name it.
//!
//! The document is streamed row by row, so memory does not grow with
//! history. BLOBs are lowercase hex. Ledger bodies are kept as the exact
//! stored strings so that anyone can re-check `body_sha256` and the chain
//! from the export alone.

use crate::config::Config;
use crate::core::forecast::{self, Measure};
use crate::crypto::keys;
use crate::store::{Cell, Store, Table};
use anyhow::Context as _;
use serde_json::{Map, Value, json};
use std::io::Write;

/// The document's `format` field.
pub const FORMAT: &str = "larder-export";

/// The document's `version` field; bumped on any incompatible change.
pub const VERSION: u32 = 1;

/// Writes the export document for `config` and `store` at `now` to `out`.
pub fn write(config: &Config, store: &Store, now: i64, out: &mut dyn Write) -> anyhow::Result<()> {
    let read = store.read();
    // Written by hand so the header comes first and the big arrays can be
    // streamed after it.
    write!(
        out,
        "{{\"format\":{},\"version\":{VERSION},\"hub\":{},\"exported_at\":{now},\"exported_at_utc\":{}",
        Value::from(FORMAT),
        Value::from(config.hub.id.as_str()),
        Value::from(crate::text::format_time(now)),
    )?;

    out.write_all(b",\"members\":")?;
    let members: Vec<Value> = config
        .members
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "public_key": keys::to_hex(&m.public_key),
                "may_approve": m.may_approve,
            })
        })
        .collect();
    serde_json::to_writer(&mut *out, &members)?;

    out.write_all(b",\"items\":[")?;
    for (index, item) in config.items.iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        let state = read.item_state(&item.id)?;
        let fc = state.as_ref().map(|s| {
            let f = forecast::forecast(&item.model, s, now);
            json!({
                "level": f.level,
                "rate_per_day": f.rate_per_day,
                "rate_sd_per_day": f.rate_sd_per_day,
                "days_left": f.days_left,
                "horizon_days": f.horizon_days,
                "stockout_probability": f.stockout_probability,
            })
        });
        let m = &item.model;
        let value = json!({
            "id": item.id,
            "name": item.name,
            "unit": item.unit,
            "package_size": m.package_size,
            "product": item.product,
            "price": item.price,
            "currency": item.currency,
            "category": item.category,
            "device": item.device,
            "slot": item.slot,
            "declared_usage_per_day": m.declared_per_day,
            "measure": match m.measure { Measure::Level => "level", Measure::Consumption => "consumption" },
            "lead_time_days": m.lead_time_days,
            "review_days": m.review_days,
            "shelf_life_days": m.shelf_life_days,
            "service_level": m.service_level,
            "state": state.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
            "forecast": fc,
        });
        serde_json::to_writer(&mut *out, &value)?;
    }
    out.write_all(b"]")?;

    let mut counts = Map::new();
    let has_ledger = read.has_ledger()?;
    for table in Table::ALL {
        write!(out, ",\"{}\":[", table.name())?;
        let mut rows = 0u64;
        if table != Table::Ledger || has_ledger {
            read.each_row(table, |names, cells| {
                if rows > 0 {
                    out.write_all(b",")?;
                }
                rows += 1;
                serde_json::to_writer(&mut *out, &row_value(table, names, cells))
                    .map_err(std::io::Error::other)
            })?
            .with_context(|| format!("writing the {} rows", table.name()))?;
        }
        out.write_all(b"]")?;
        counts.insert(table.name().to_owned(), Value::from(rows));
    }
    out.write_all(b",\"counts\":")?;
    serde_json::to_writer(&mut *out, &counts)?;
    out.write_all(b"}\n")?;
    out.flush()?;
    Ok(())
}

/// One row as a JSON object; JSON-in-TEXT columns are parsed, except the
/// ledger body, which stays the exact string its digest covers.
fn row_value(table: Table, names: &[String], cells: Vec<Cell>) -> Value {
    let mut object = Map::new();
    for (name, cell) in names.iter().zip(cells) {
        let value = match cell {
            Cell::Null => Value::Null,
            Cell::Integer(n) => Value::from(n),
            Cell::Real(x) => Value::from(x),
            Cell::Hex(h) => Value::from(h),
            Cell::Text(t) => {
                let embedded = matches!(
                    (table, name.as_str()),
                    (Table::Intents, "why")
                        | (Table::ItemState, "state")
                        | (Table::DeviceState, "state")
                );
                if embedded {
                    serde_json::from_str(&t).unwrap_or(Value::String(t))
                } else {
                    Value::String(t)
                }
            }
        };
        object.insert(name.clone(), value);
    }
    Value::Object(object)
}

/// `larder export [--out FILE]`: read-only; a new file is created with
/// mode 0600 and an existing one is never overwritten.
pub fn run(
    config: &Config,
    store: &Store,
    out: Option<&std::path::Path>,
    now: i64,
) -> anyhow::Result<()> {
    match out {
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            write(config, store, now, &mut lock).context("writing the export to stdout")
        }
        Some(file) => {
            use std::os::unix::fs::OpenOptionsExt;
            let handle = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(file)
                .with_context(|| {
                    format!(
                        "creating {} (an existing export is never overwritten)",
                        file.display()
                    )
                })?;
            let mut writer = std::io::BufWriter::new(handle);
            write(config, store, now, &mut writer)
                .with_context(|| format!("writing the export to {}", file.display()))?;
            writer
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .with_context(|| format!("syncing {}", file.display()))?;
            eprintln!("export written to {} (mode 0600)", file.display());
            Ok(())
        }
    }
}
