//! The engine's read-only view for reports: every item with its forecast.

use crate::config::Config;

/// Every item with its current forecast (`None` before any observation).
pub fn forecasts(
    config: &Config,
    store: &crate::store::Store,
    now: i64,
) -> anyhow::Result<Vec<(crate::config::Item, Option<crate::core::forecast::Forecast>)>> {
    let read = store.read();
    config
        .items
        .iter()
        .map(|item| {
            let fc = read
                .item_state(&item.id)?
                .map(|s| crate::core::forecast::forecast(&item.model, &s, now));
            Ok((item.clone(), fc))
        })
        .collect()
}
