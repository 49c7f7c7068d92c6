//! The household's approval rules (pure): given a proposed order and the
//! spending context, decide auto-approve, ask, or deny, with reasons.

use std::collections::BTreeMap;

/// What a household allows for a category of goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryPolicy {
    /// May be auto-approved within the other limits.
    Allow,
    /// Always ask a member.
    Ask,
    /// Never order.
    Deny,
}

/// A daily window (local time) in which nobody is prompted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Start, minutes after local midnight (0..1440).
    pub start_minute: u16,
    /// End, minutes after local midnight (0..1440); may be before `start`.
    pub end_minute: u16,
}

/// At most `count` orders of one item within `period_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCap {
    /// Maximum orders in the period.
    pub count: u32,
    /// Length of the sliding period in days.
    pub period_days: u32,
}

/// The household's approval rules, from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Orders whose price ceiling is at most this are auto-approved
    /// (if their category allows it and the budget holds). 0 disables.
    pub auto_approve_up_to: f64,
    /// Spending cap per calendar month; `None` for no cap.
    pub monthly_budget: Option<f64>,
    /// Per-category policy.
    pub categories: BTreeMap<String, CategoryPolicy>,
    /// Policy for categories not listed.
    pub default_policy: CategoryPolicy,
    /// When prompts must wait.
    pub quiet_hours: Option<QuietHours>,
    /// Cap on orders of one item per period.
    pub max_orders_per_item: Option<OrderCap>,
    /// Distinct members whose approval an asked order needs (at least 1).
    pub approvals_required: u32,
}

/// The order being judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Order<'a> {
    /// Item id.
    pub item: &'a str,
    /// Item category.
    pub category: &'a str,
    /// Most the order may cost (the price ceiling sent upstream).
    pub cost: f64,
}

/// What the rules need to know about now and the past.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    /// Now (Unix seconds).
    pub now: i64,
    /// Local wall-clock minutes after midnight now (0..1440).
    pub local_minute_of_day: u16,
    /// Already committed this calendar month (approved or sent orders).
    pub spent_this_month: f64,
    /// Orders of this item within the cap's period.
    pub orders_for_item_in_period: u32,
}

/// The outcome of the rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Send it without asking.
    AutoApprove,
    /// Ask the household; the prompt may not go out before `not_before`.
    Ask {
        /// Distinct member approvals needed.
        approvals_required: u32,
        /// Earliest time to prompt (end of quiet hours), Unix seconds.
        not_before: i64,
    },
    /// Do not order.
    Deny,
}

/// One rule's contribution to a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// Stable rule name, e.g. `auto-approve-up-to`, `monthly-budget`.
    pub rule: &'static str,
    /// Human-readable explanation with the figures.
    pub text: String,
}

/// A verdict and every reason that led to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What to do.
    pub verdict: Verdict,
    /// Why, most decisive first.
    pub reasons: Vec<Reason>,
}

/// Judges an order against the rules.
pub fn decide(rules: &Rules, order: &Order<'_>, ctx: &Context) -> Decision {
    let _ = (rules, order, ctx);
    todo!("rules helper")
}
