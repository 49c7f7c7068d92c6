//! `[[items]]`: the items larder keeps stocked, with their price, policy,
//! vendor, the device slot that measures them and their forecasting model.

use crate::core::forecast::ItemModel;
use crate::core::rules::CategoryPolicy;

/// The vendor of items that name none (`items[].vendor`).
pub const DEFAULT_VENDOR: &str = "default";

/// One stocked item.
#[derive(Debug, Clone)]
pub struct Item {
    /// Item id (`[A-Za-z0-9_-]`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unit of amounts (e.g. `l`, `g`, `pcs`).
    pub unit: String,
    /// Product / SKU the shop knows.
    pub product: String,
    /// Price of one package.
    pub price: f64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Category for the approval rules.
    pub category: String,
    /// The item's own order policy (`items[].order`), overriding its
    /// category's.
    pub order: Option<CategoryPolicy>,
    /// Reorder whenever the usable stock falls below this (`min-level`, in
    /// the item's unit), whatever the forecast says.
    pub min_level: Option<f64>,
    /// Orders fill up to at least this (`desired-level`, in the item's unit).
    pub desired_level: Option<f64>,
    /// Who delivers it (`items[].vendor`, default `"default"`): one order
    /// of a vendor tops up its other items that would be needed soon.
    pub vendor: String,
    /// Device that measures it.
    pub device: String,
    /// Slot on that device.
    pub slot: String,
    /// Forecasting parameters.
    pub model: ItemModel,
}
