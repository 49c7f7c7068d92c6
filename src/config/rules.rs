//! What `[rules]` adds to the core's `Rules`: the approval prompt settings,
//! and which order policy applies to a category or an item.

use super::{Config, Item};
use crate::core::rules::CategoryPolicy;

/// Approval prompt settings.
#[derive(Debug, Clone)]
pub struct Approvals {
    /// How long a prompt stays answerable, in seconds.
    pub request_ttl_secs: i64,
    /// How long after an intent is approved a member may still cancel it,
    /// in seconds (`rules.cancel-window-hours`).
    pub cancel_window_secs: i64,
}

impl Config {
    /// The policy the rules apply to `category` (its own or the default).
    pub fn policy_for(&self, category: &str) -> CategoryPolicy {
        self.rules
            .categories
            .get(category)
            .copied()
            .unwrap_or(self.rules.default_policy)
    }

    /// The policy the rules apply to `item`: its own `order`, else its
    /// category's.
    pub fn policy_for_item(&self, item: &Item) -> CategoryPolicy {
        item.order
            .unwrap_or_else(|| self.policy_for(&item.category))
    }
}
