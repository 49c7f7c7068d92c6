//! Checks of `[[items]]` and `rules.currency`: required keys, one currency,
//! order policy, levels, the device and slot that measure each item (one
//! item per slot), and the forecasting model.

use super::Check;
use crate::config::{DEFAULT_VENDOR, Device, Item, raw};
use crate::core::forecast::{ItemModel, Measure};
use std::collections::HashMap;

impl Check {
    /// `rules.currency`, checked here because items are checked against it.
    pub(super) fn currency(&mut self, rules: &raw::Rules, have_items: bool) -> Option<String> {
        match &rules.currency {
            None if have_items => {
                self.problem(
                    "rules.currency",
                    "required key is missing (items have prices)",
                );
                None
            }
            None => None,
            Some(c) if !is_currency(c) => {
                self.problem(
                    "rules.currency",
                    format_args!(
                        "{c:?} is not an ISO 4217 code (3 upper-case letters, e.g. \"EUR\")"
                    ),
                );
                None
            }
            Some(c) => Some(c.clone()),
        }
    }

    /// `[[items]]`, each checked against `devices` and `rules.currency`.
    pub(super) fn items(
        &mut self,
        raw: Vec<raw::Item>,
        devices: &[Device],
        currency: Option<&str>,
    ) -> Vec<Item> {
        if raw.is_empty() {
            self.problem("items", "at least one [[items]] entry is required");
        }
        let mut out = Vec::with_capacity(raw.len());
        for (i, it) in raw.into_iter().enumerate() {
            let p = |key: &str| format!("items[{i}].{key}");
            let id = self.ident(&p("id"), it.id, 64);
            let name = self.required(&p("name"), it.name);
            let unit = self.required(&p("unit"), it.unit);
            let package_size = match it.package_size {
                None => {
                    self.problem(p("package-size"), "required key is missing");
                    1.0
                }
                v => self.number(&p("package-size"), v, 1.0, |v| v > 0.0, "greater than 0"),
            };
            let product = self.required(&p("product"), it.product);
            let price = match it.price {
                None => {
                    self.problem(p("price"), "required key is missing");
                    0.0
                }
                v => self.number(&p("price"), v, 0.0, |v| v >= 0.0, "0 or more"),
            };
            let item_currency = match it.currency {
                None => currency.unwrap_or_default().to_owned(),
                Some(c) => {
                    if !is_currency(&c) {
                        self.problem(
                            p("currency"),
                            format_args!(
                                "{c:?} is not an ISO 4217 code (3 upper-case letters, e.g. \"EUR\")"
                            ),
                        );
                    } else if let Some(rc) = currency.filter(|rc| *rc != c) {
                        self.problem(
                            p("currency"),
                            format_args!(
                                "{c:?} differs from rules.currency {rc:?}; budgets are kept in one currency"
                            ),
                        );
                    }
                    c
                }
            };
            let category = self.required(&p("category"), it.category);
            let order = it.order.map(|v| self.policy(&p("order"), &v));
            let min_level = it
                .min_level
                .map(|v| self.number(&p("min-level"), Some(v), 0.0, |v| v >= 0.0, "0 or more"));
            let desired_level = it
                .desired_level
                .map(|v| self.number(&p("desired-level"), Some(v), 0.0, |v| v >= 0.0, "0 or more"));
            if let (Some(min), Some(desired)) = (min_level, desired_level) {
                if desired < min {
                    self.problem(
                        p("desired-level"),
                        format_args!("{desired} is below min-level {min}"),
                    );
                }
            }
            let vendor = match it.vendor {
                None => DEFAULT_VENDOR.to_owned(),
                Some(v) => self.ident(&p("vendor"), Some(v), 64),
            };
            let device = self.required(&p("device"), it.device);
            if !device.is_empty() && !devices.iter().any(|d| d.id == device) {
                self.problem(
                    p("device"),
                    format_args!("unknown device {device:?}; configure it under [[devices]]"),
                );
            }
            let slot = self.required(&p("slot"), it.slot);
            if let Some(slots) = devices
                .iter()
                .find(|d| d.id == device)
                .and_then(Device::slots)
            {
                if !slot.is_empty() && !slots.contains(&slot.as_str()) {
                    self.problem(
                        p("slot"),
                        format_args!(
                            "device {device:?} ({}) can never report slot {slot:?}; it reports {}",
                            devices
                                .iter()
                                .find(|d| d.id == device)
                                .map_or("", |d| d.format.name()),
                            if slots.is_empty() {
                                "nothing".to_owned()
                            } else {
                                slots
                                    .iter()
                                    .map(|s| format!("{s:?}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    );
                }
            }
            let measure = match it.measure.as_deref() {
                None | Some("level") => Measure::Level,
                Some("consumption") => Measure::Consumption,
                Some(other) => {
                    self.problem(
                        p("measure"),
                        format_args!(
                            "unknown measure {other:?}; expected \"level\" or \"consumption\""
                        ),
                    );
                    Measure::Level
                }
            };
            let lead_time_days = self.number(
                &p("lead-time-days"),
                it.lead_time_days,
                1.0,
                |v| v >= 0.0,
                "0 or more",
            );
            let review_days = self.number(
                &p("review-days"),
                it.review_days,
                3.0,
                |v| v > 0.0,
                "greater than 0",
            );
            let shelf_life_days = it.shelf_life_days.map(|v| {
                self.number(
                    &p("shelf-life-days"),
                    Some(v),
                    v,
                    |v| v > 0.0,
                    "greater than 0",
                )
            });
            let service_level = self.number(
                &p("service-level"),
                it.service_level,
                0.95,
                |v| (0.5..=0.999).contains(&v),
                "between 0.5 and 0.999",
            );
            let declared_per_day = it
                .declared_usage
                .map(|u| self.usage(&p("declared-usage"), u));
            let noise = self.number(
                &p("noise"),
                it.noise,
                0.02 * package_size,
                |v| v >= 0.0,
                "0 or more",
            );
            if noise.is_finite() && package_size > 0.0 && noise >= package_size {
                self.problem(
                    p("noise"),
                    format_args!(
                        "{noise} must be smaller than package-size {package_size}, or restocks would look like noise"
                    ),
                );
            }
            out.push(Item {
                id,
                name,
                unit,
                product,
                price,
                currency: item_currency,
                category,
                order,
                min_level,
                desired_level,
                vendor,
                device,
                slot,
                model: ItemModel {
                    package_size,
                    lead_time_days,
                    review_days,
                    shelf_life_days,
                    service_level,
                    declared_per_day,
                    measure,
                    noise,
                },
            });
        }
        self.unique("items", "id", out.iter().map(|it| it.id.as_str()));
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        let mut duplicates = Vec::new();
        for (i, it) in out.iter().enumerate() {
            if it.device.is_empty() || it.slot.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(&(it.device.as_str(), it.slot.as_str())) {
                duplicates.push(format!(
                    "items[{i}].slot: slot {:?} of device {:?} is already measured by items[{first}]",
                    it.slot, it.device
                ));
            } else {
                seen.insert((&it.device, &it.slot), i);
            }
        }
        self.problems.extend(duplicates);
        out
    }

    /// `declared-usage` in units per day.
    fn usage(&mut self, path: &str, raw: raw::Usage) -> f64 {
        let amount = match raw.amount {
            None => {
                self.problem(format_args!("{path}.amount"), "required key is missing");
                0.0
            }
            v => self.number(&format!("{path}.amount"), v, 0.0, |v| v >= 0.0, "0 or more"),
        };
        let days = match raw.per.as_deref() {
            Some("day") => 1.0,
            Some("week") => 7.0,
            Some("month") => 30.0,
            None => {
                self.problem(format_args!("{path}.per"), "required key is missing");
                1.0
            }
            Some(other) => {
                self.problem(
                    format_args!("{path}.per"),
                    format_args!(
                        "unknown period {other:?}; expected \"day\", \"week\" or \"month\""
                    ),
                );
                1.0
            }
        };
        amount / days
    }
}

/// Whether `s` looks like an ISO 4217 code: three upper-case ASCII letters.
fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}
