//! Checks of `[rules]`: amounts, approvals, expiry and cancel windows,
//! quiet hours (`HH:MM`), order caps and category policies.

use super::Check;
use crate::config::Approvals;
use crate::config::error::toml_key;
use crate::config::raw;
use crate::core::rules::{CategoryPolicy, OrderCap, QuietHours, Rules};
use std::collections::BTreeMap;

impl Check {
    /// `[rules]`, giving the core's `Rules` and the approval prompt settings.
    pub(super) fn rules(&mut self, raw: raw::Rules) -> (Rules, Approvals) {
        let auto_approve_up_to = self.number(
            "rules.auto-approve-up-to",
            raw.auto_approve_up_to,
            0.0,
            |v| v >= 0.0,
            "0 or more",
        );
        let monthly_budget = raw.monthly_budget.map(|v| {
            self.number(
                "rules.monthly-budget",
                Some(v),
                v,
                |v| v >= 0.0,
                "0 or more",
            )
        });
        let approvals_required = self.integer(
            "rules.approvals-required",
            raw.approvals_required,
            1,
            1..=1000,
        );
        let hours = self.number(
            "rules.approval-expires-after-hours",
            raw.approval_expires_after_hours,
            24.0,
            |v| v > 0.0 && v <= 8760.0,
            "greater than 0 and at most 8760 (a year)",
        );
        let request_ttl_secs = if hours.is_finite() {
            ((hours * 3600.0).round() as i64).max(1)
        } else {
            86400
        };
        let cancel_hours = self.number(
            "rules.cancel-window-hours",
            raw.cancel_window_hours,
            2.0,
            |v| (0.0..=720.0).contains(&v),
            "from 0 (no cancelling) to 720 (30 days)",
        );
        let cancel_window_secs = if cancel_hours.is_finite() {
            (cancel_hours * 3600.0).round() as i64
        } else {
            2 * 3600
        };
        let quiet_hours = raw.quiet_hours.map(|w| {
            let start = self.minute("rules.quiet-hours.start", w.start);
            let end = self.minute("rules.quiet-hours.end", w.end);
            if start == end && start != u16::MAX {
                self.problem(
                    "rules.quiet-hours",
                    "start and end are equal; remove quiet-hours for none",
                );
            }
            let valid = |m: u16| if m < 1440 { m } else { 0 };
            QuietHours {
                start_minute: valid(start),
                end_minute: valid(end),
            }
        });
        let max_orders_per_item = raw.max_orders_per_item.map(|cap| {
            let p = "rules.max-orders-per-item";
            let count = match cap.count {
                None => {
                    self.problem(format_args!("{p}.count"), "required key is missing");
                    1
                }
                v => self.integer(&format!("{p}.count"), v, 1, 1..=i64::from(u32::MAX)),
            };
            let days = match cap.days {
                None => {
                    self.problem(format_args!("{p}.days"), "required key is missing");
                    1
                }
                v => self.integer(&format!("{p}.days"), v, 1, 1..=3660),
            };
            OrderCap {
                count: u32::try_from(count).unwrap_or(1),
                period_days: u32::try_from(days).unwrap_or(1),
            }
        });
        let default_policy = match raw.default_category {
            None => CategoryPolicy::Ask,
            Some(v) => self.policy("rules.default-category", &v),
        };
        let mut categories = BTreeMap::new();
        for (name, v) in raw.categories {
            let path = format!("rules.categories.{}", toml_key(&name));
            if name.trim().is_empty() {
                self.problem(&path, "category name must not be empty");
            }
            let policy = self.policy(&path, &v);
            categories.insert(name, policy);
        }
        let rules = Rules {
            auto_approve_up_to,
            monthly_budget,
            categories,
            default_policy,
            quiet_hours,
            max_orders_per_item,
            approvals_required: u32::try_from(approvals_required).unwrap_or(1),
        };
        (
            rules,
            Approvals {
                request_ttl_secs,
                cancel_window_secs,
            },
        )
    }

    /// An order policy: `auto`/`allow`, `ask`, `never`/`deny`; a typo asks.
    pub(super) fn policy(&mut self, path: &str, value: &str) -> CategoryPolicy {
        match value {
            "allow" | "auto" => CategoryPolicy::Allow,
            "ask" => CategoryPolicy::Ask,
            "deny" | "never" => CategoryPolicy::Deny,
            other => {
                self.problem(
                    path,
                    format_args!(
                        "unknown policy {other:?}; expected \"auto\" (or \"allow\"), \"ask\" or \"never\" (or \"deny\")"
                    ),
                );
                // The safe reading of a typo: ask.
                CategoryPolicy::Ask
            }
        }
    }

    /// `HH:MM` as minutes after midnight; `u16::MAX` when wrong or missing.
    fn minute(&mut self, path: &str, value: Option<String>) -> u16 {
        let Some(text) = value else {
            self.problem(path, "required key is missing");
            return u16::MAX;
        };
        parse_hhmm(&text).unwrap_or_else(|| {
            self.problem(
                path,
                format_args!("{text:?} is not a time; expected HH:MM, 24-hour (e.g. \"22:00\")"),
            );
            u16::MAX
        })
    }
}

/// `HH:MM` (24-hour, two digits each) as minutes after midnight.
fn parse_hhmm(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}
