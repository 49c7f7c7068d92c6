//! `larder export`: every [`Table`] row by row as [`Cell`]s, in a stable
//! order; sealed tables decrypted into their plain columns.

use super::Reader;
use crate::crypto::keys;
use crate::store::Result;
use crate::store::rows::DayAggregate;
use crate::store::sealing::{
    ItemStateSecretJson, ObservationSecret, open_device_state, open_value,
};

/// The tables `larder export` writes, in document order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Stored sensor observations.
    Observations,
    /// Newest sequence number per device.
    DeviceSeq,
    /// Learned item state (JSON).
    ItemState,
    /// Adapter devices' processing state (JSON).
    DeviceState,
    /// Daily aggregates of observations past the retention age.
    ObservationDays,
    /// Intents and their lifecycle.
    Intents,
    /// Accepted member replies.
    Approvals,
    /// Outbound messages (sent and unsent).
    Outbox,
    /// Refused inbound messages.
    DeadLetters,
    /// Counters.
    Counters,
    /// The hash-chained ledger.
    Ledger,
}

impl Table {
    /// Every exported table, in document order.
    pub const ALL: [Table; 11] = [
        Table::Observations,
        Table::DeviceSeq,
        Table::ItemState,
        Table::DeviceState,
        Table::ObservationDays,
        Table::Intents,
        Table::Approvals,
        Table::Outbox,
        Table::DeadLetters,
        Table::Counters,
        Table::Ledger,
    ];

    /// The SQL table name (also the export document's key).
    pub fn name(self) -> &'static str {
        match self {
            Table::Observations => "observations",
            Table::DeviceSeq => "device_seq",
            Table::ItemState => "item_state",
            Table::DeviceState => "device_state",
            Table::ObservationDays => "observation_days",
            Table::Intents => "intents",
            Table::Approvals => "approvals",
            Table::Outbox => "outbox",
            Table::DeadLetters => "dead_letters",
            Table::Counters => "counters",
            Table::Ledger => "ledger",
        }
    }

    /// Row order: the natural key, so exports are stable.
    fn order(self) -> &'static str {
        match self {
            Table::DeviceSeq | Table::DeviceState => "device",
            Table::ItemState => "item",
            Table::Intents => "created_at, id",
            Table::Counters => "name",
            Table::Ledger => "seq",
            _ => "id",
        }
    }
}

/// A column value as exported: BLOBs become lowercase hex text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
    /// BLOB, as lowercase hex.
    Hex(String),
}

impl Reader<'_> {
    /// Number of rows in a table.
    pub fn row_count(&self, table: Table) -> Result<u64> {
        if table == Table::ItemState {
            self.write_pending_states()?;
        }
        self.conn
            .query_row(&format!("SELECT COUNT(*) FROM {}", table.name()), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Calls `f` with the column names and cells of every row of `table`,
    /// in a stable order, one row at a time (for `larder export`).
    pub fn each_row(
        &self,
        table: Table,
        mut f: impl FnMut(&[String], Vec<Cell>) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        use rusqlite::types::ValueRef;
        if matches!(
            table,
            Table::Observations | Table::ItemState | Table::ObservationDays
        ) {
            if table == Table::ItemState {
                self.write_pending_states()?;
            }
            return self.each_sealed_row(table, f);
        }
        if table == Table::DeviceState {
            return self.each_device_state_row(f);
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT * FROM {} ORDER BY {}",
                table.name(),
                table.order()
            ))
            .map_err(self.err())?;
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let mut cells = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                cells.push(match row.get_ref(i).map_err(self.err())? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Integer(n),
                    ValueRef::Real(x) => Cell::Real(x),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Hex(keys::to_hex(b)),
                });
            }
            if let Err(e) = f(&names, cells) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// `each_row` for `device_state`: decrypted, as `device, state,
    /// updated_at`.
    fn each_device_state_row(
        &self,
        mut f: impl FnMut(&[String], Vec<Cell>) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let columns: Vec<String> = ["device", "state", "updated_at"]
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        let mut stmt = self
            .conn
            .prepare("SELECT device, sealed FROM device_state ORDER BY device")
            .map_err(self.err())?;
        let mut rows = stmt.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let device: String = row.get(0).map_err(self.err())?;
            let sealed: Vec<u8> = row.get(1).map_err(self.err())?;
            let secret = open_device_state(self.conn, self.path, &device, &sealed)?;
            let cells = vec![
                Cell::Text(device),
                Cell::Text(secret.state),
                Cell::Integer(secret.updated_at),
            ];
            if let Err(e) = f(&columns, cells) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// `each_row` for the sealed tables: rows are decrypted and exported
    /// with their plain columns (the export format predates encryption).
    fn each_sealed_row(
        &self,
        table: Table,
        mut f: impl FnMut(&[String], Vec<Cell>) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let (columns, sql) = match table {
            Table::Observations => (
                names(&[
                    "id",
                    "device",
                    "epoch",
                    "seq",
                    "item",
                    "kind",
                    "amount",
                    "observed_at",
                    "received_at",
                ]),
                "SELECT id, item, sealed, device, epoch, seq FROM observations ORDER BY id",
            ),
            Table::ItemState => (
                names(&["item", "state", "updated_at"]),
                "SELECT 0, item, sealed, '', 0, 0 FROM item_state ORDER BY item",
            ),
            _ => (
                names(&[
                    "id",
                    "item",
                    "day",
                    "count",
                    "consumed",
                    "added",
                    "removed",
                    "last_level",
                    "last_level_at",
                ]),
                "SELECT id, item, sealed, '', 0, 0 FROM observation_days ORDER BY id",
            ),
        };
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let mut rows = stmt.query([]).map_err(self.err())?;
        let mut keys: std::collections::HashMap<String, Option<Vec<u8>>> = Default::default();
        while let Some(row) = rows.next().map_err(self.err())? {
            let id: i64 = row.get(0).map_err(self.err())?;
            let item: String = row.get(1).map_err(self.err())?;
            let sealed: Vec<u8> = row.get(2).map_err(self.err())?;
            if !keys.contains_key(&item) {
                let key = self.memory.key(self.conn, self.path, &item)?;
                keys.insert(item.clone(), key);
            }
            let key = keys.get(&item).and_then(|k| k.as_deref());
            let cells = match table {
                Table::Observations => {
                    let device: String = row.get(3).map_err(self.err())?;
                    let epoch: i64 = row.get(4).map_err(self.err())?;
                    let seq: i64 = row.get(5).map_err(self.err())?;
                    let o: ObservationSecret = open_value(
                        self.path,
                        key,
                        &crate::crypto::seal::observation_aad(
                            &item,
                            &device,
                            epoch as u64,
                            seq as u64,
                        ),
                        &sealed,
                        &format!("observation {id}"),
                    )?;
                    vec![
                        Cell::Integer(id),
                        Cell::Text(device),
                        Cell::Integer(epoch),
                        Cell::Integer(seq),
                        Cell::Text(item),
                        Cell::Text(o.kind),
                        Cell::Real(o.amount),
                        Cell::Integer(o.observed_at),
                        Cell::Integer(o.received_at),
                    ]
                }
                Table::ItemState => {
                    let s: ItemStateSecretJson = open_value(
                        self.path,
                        key,
                        &crate::crypto::seal::item_state_aad(&item),
                        &sealed,
                        &format!("item_state of {item}"),
                    )?;
                    vec![
                        Cell::Text(item),
                        Cell::Text(s.state.to_string()),
                        Cell::Integer(s.updated_at),
                    ]
                }
                _ => {
                    let d: DayAggregate = open_value(
                        self.path,
                        key,
                        &crate::crypto::seal::day_aad(&item, id),
                        &sealed,
                        &format!("observation_days row {id}"),
                    )?;
                    let opt_real = |v: Option<f64>| v.map_or(Cell::Null, Cell::Real);
                    vec![
                        Cell::Integer(id),
                        Cell::Text(item),
                        Cell::Integer(d.day),
                        Cell::Integer(d.count as i64),
                        Cell::Real(d.consumed),
                        Cell::Real(d.added),
                        Cell::Real(d.removed),
                        opt_real(d.last_level),
                        d.last_level_at.map_or(Cell::Null, Cell::Integer),
                    ]
                }
            };
            if let Err(e) = f(&columns, cells) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}
