//! Encryption at rest: a random key per item (`item_keys`: its
//! observations, state and daily aggregates) and per adapter device
//! (`device_keys`: its processing state), read or created by one pair of
//! functions over [`KeyOwner`]; values sealed and opened as JSON bound to
//! their row (associated data from `crypto::seal`); and what each sealed
//! column holds.

use super::connection::Cached;
use super::error::{Result, StoreError, at};
use crate::core::forecast::ItemState;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// Whose keys a key table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyOwner {
    /// Items, in `item_keys`.
    Item,
    /// Adapter devices, in `device_keys`.
    Device,
}

impl KeyOwner {
    /// The statement reading an owner's key.
    fn select_sql(self) -> &'static str {
        match self {
            KeyOwner::Item => "SELECT key FROM item_keys WHERE item = ?1",
            KeyOwner::Device => "SELECT key FROM device_keys WHERE device = ?1",
        }
    }

    /// The statement storing a new key.
    fn insert_sql(self) -> &'static str {
        match self {
            KeyOwner::Item => "INSERT INTO item_keys (item, key) VALUES (?1, ?2)",
            KeyOwner::Device => "INSERT INTO device_keys (device, key) VALUES (?1, ?2)",
        }
    }
}

/// The item's or device's key, if it has one.
pub(super) fn read_key(
    conn: &Connection,
    path: &Path,
    owner: KeyOwner,
    id: &str,
) -> Result<Option<Vec<u8>>> {
    conn.query_row_cached(owner.select_sql(), [id], |r| r.get(0))
        .optional()
        .map_err(at(path))
}

/// The item's or device's key, created (random) on first use in this
/// transaction.
pub(super) fn read_or_create_key(
    conn: &Connection,
    path: &Path,
    owner: KeyOwner,
    id: &str,
) -> Result<Vec<u8>> {
    if let Some(key) = read_key(conn, path, owner, id)? {
        return Ok(key);
    }
    let key = crate::crypto::seal::new_key();
    conn.execute_cached(owner.insert_sql(), params![id, &key[..]])
        .map_err(at(path))?;
    Ok(key.to_vec())
}

/// Seals `value` as JSON under `key`, bound to `aad`.
pub(super) fn seal_value(
    path: &Path,
    key: &[u8],
    aad: &[u8],
    value: &impl serde::Serialize,
    what: &str,
) -> Result<Vec<u8>> {
    let plain = serde_json::to_vec(value).map_err(|e| StoreError::Decode {
        path: path.to_owned(),
        detail: format!("{what}: {e}"),
    })?;
    crate::crypto::seal::seal(key, aad, &plain).ok_or_else(|| StoreError::Decode {
        path: path.to_owned(),
        detail: format!("{what}: the item key in item_keys is malformed"),
    })
}

/// Opens a sealed JSON value; `what` names the row in errors.
pub(super) fn open_value<T: serde::de::DeserializeOwned>(
    path: &Path,
    key: Option<&[u8]>,
    aad: &[u8],
    sealed: &[u8],
    what: &str,
) -> Result<T> {
    let bad = |detail: String| StoreError::Decode {
        path: path.to_owned(),
        detail: format!("{what}: {detail}"),
    };
    let key = key.ok_or_else(|| bad("no key for this item in item_keys".into()))?;
    let plain = crate::crypto::seal::open(key, aad, sealed)
        .ok_or_else(|| bad("cannot decrypt (wrong key, moved or tampered row)".into()))?;
    serde_json::from_slice(&plain).map_err(|e| bad(e.to_string()))
}

/// Opens a device's sealed state under its key.
pub(super) fn open_device_state(
    conn: &Connection,
    path: &Path,
    device: &str,
    sealed: &[u8],
) -> Result<DeviceStateSecret> {
    let what = format!("device_state of {device}");
    let Some(key) = read_key(conn, path, KeyOwner::Device, device)? else {
        return Err(StoreError::Decode {
            path: path.to_owned(),
            detail: format!("{what}: no key for this device in device_keys"),
        });
    };
    open_value(
        path,
        Some(&key),
        &crate::crypto::seal::device_state_aad(device),
        sealed,
        &what,
    )
}

/// Seals a device's state under its key, created on first use.
pub(super) fn seal_device_state(
    conn: &Connection,
    path: &Path,
    device: &str,
    secret: &DeviceStateSecret,
) -> Result<Vec<u8>> {
    let key = read_or_create_key(conn, path, KeyOwner::Device, device)?;
    seal_value(
        path,
        &key,
        &crate::crypto::seal::device_state_aad(device),
        secret,
        &format!("device_state of {device}"),
    )
}

/// The sealed part of an observation row (see `seal`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct ObservationSecret {
    pub(super) kind: String,
    pub(super) amount: f64,
    pub(super) observed_at: i64,
    pub(super) received_at: i64,
}

/// The sealed content of a `device_state` row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct DeviceStateSecret {
    /// `adapters::DeviceState` as JSON.
    pub(super) state: String,
    pub(super) updated_at: i64,
}

/// The sealed content of an `item_state` row, as the writer reads it:
/// `{"state": ItemState, "updated_at": seconds}` in JSON (`updated_at` is
/// only exported). Rows written before the writer cached states went
/// through `serde_json::Value` (keys sorted) and read the same way
/// (`store::tests::state::an_item_state_sealed_through_json_values_still_reads`).
#[derive(Debug, Clone, serde::Deserialize)]
pub(super) struct ItemStateSecret {
    pub(super) state: ItemState,
}

/// [`ItemStateSecret`] as written, without copying the state.
#[derive(serde::Serialize)]
pub(super) struct ItemStateSecretRef<'a> {
    pub(super) state: &'a ItemState,
    pub(super) updated_at: i64,
}

/// An `item_state` row's content with the state left as JSON: migration 4
/// seals old plaintext rows this way, and `larder export` prints it as is.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct ItemStateSecretJson {
    pub(super) state: serde_json::Value,
    pub(super) updated_at: i64,
}
