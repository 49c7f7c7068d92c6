//! The explanation of an intent, pure formatting over its gathered
//! evidence: what and why, the rules' verdict, member replies, the ledger
//! trail, the item's evidence now, and what would have changed the outcome.

use super::IntentEvidence;
use super::item_report::evidence;
use crate::config::{Config, Item};
use crate::core::rules::CategoryPolicy;
use crate::ledger::{self, Kind};
use crate::store::IntentState;
use crate::text::format_time;
use std::fmt::Write as _;

/// The explanation of an intent: what, why, who decided, the ledger trail,
/// the evidence now, and what would change the decision.
pub fn intent(config: &Config, item: Option<&Item>, ev: &IntentEvidence, now: i64) -> String {
    let i = &ev.intent;
    let mut out = String::new();
    let name = item.map_or(i.item.as_str(), |it| it.name.as_str());
    let _ = writeln!(
        out,
        "intent {}: {} × {} ({}), up to {:.2} {}",
        i.id, i.packages, name, i.product, i.price_ceiling, i.currency
    );
    let _ = writeln!(
        out,
        "state {} since {}; proposed {}",
        i.state.as_str(),
        format_time(i.updated_at),
        format_time(i.created_at)
    );
    let _ = writeln!(
        out,
        "decided by {}",
        i.decided_by.as_deref().unwrap_or(match i.state {
            IntentState::AwaitingApproval => "nobody yet (awaiting approval)",
            _ => "-",
        })
    );

    // Split `why` into the forecast's reasons and the rules' (the ledger's
    // decision entry names the rule reasons).
    let rule_texts: Vec<(String, String)> = ev
        .ledger
        .iter()
        .filter(|e| e.kind == Kind::Decision.as_str())
        .filter_map(|e| serde_json::from_str::<ledger::DecisionEntry>(e.body.as_deref()?).ok())
        .flat_map(|d| d.rules)
        .filter_map(|r| {
            r.split_once(": ")
                .map(|(rule, text)| (rule.to_owned(), text.to_owned()))
        })
        .collect();
    let is_rule = |why: &str| rule_texts.iter().any(|(_, t)| t == why);
    let _ = writeln!(out, "\nwhy it was proposed (forecast when proposed):");
    for why in i.why.iter().filter(|w| !is_rule(w)) {
        let _ = writeln!(out, "  - {why}");
    }
    if !rule_texts.is_empty() {
        let _ = writeln!(out, "\nthe rules' verdict:");
        for (rule, text) in &rule_texts {
            let _ = writeln!(out, "  - [{rule}] {text}");
        }
    }
    if !ev.approvals.is_empty() || i.approvals_required > 0 {
        let _ = writeln!(
            out,
            "\nmember replies ({} approval{} required):",
            i.approvals_required,
            if i.approvals_required == 1 { "" } else { "s" }
        );
        if ev.approvals.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for a in &ev.approvals {
            let _ = writeln!(
                out,
                "  - {} {} at {} (signed reply sha256 {})",
                a.member,
                a.verdict,
                format_time(a.received_at),
                crate::crypto::keys::to_hex(&a.digest)
            );
        }
    }
    if !ev.ledger.is_empty() {
        let _ = writeln!(out, "\nledger trail:");
        for e in &ev.ledger {
            let _ = writeln!(
                out,
                "  #{:<5} {}  {:<9} {}",
                e.seq,
                format_time(e.at),
                e.kind,
                ledger::summary(e)
            );
        }
    }
    if let Some(item) = item {
        evidence(&mut out, item, &ev.item, now);
    }
    let _ = writeln!(
        out,
        "\nwhat would change the decision (under the current rules):"
    );
    for line in changes(config, item, ev, now) {
        let _ = writeln!(out, "  - {line}");
    }
    out
}

/// Plain statements of what would have led to a different outcome.
fn changes(config: &Config, item: Option<&Item>, ev: &IntentEvidence, now: i64) -> Vec<String> {
    let i = &ev.intent;
    let rules = &config.rules;
    let limit = rules.auto_approve_up_to;
    let ceiling = i.price_ceiling;
    let category = item.map(|it| it.category.as_str());
    let policy = item.map(|it| config.policy_for_item(it));
    let headroom = rules.monthly_budget.map(|b| b - ev.item.spent_this_month);
    let mut lines = Vec::new();
    let by_rule = i
        .decided_by
        .as_deref()
        .is_some_and(|d| d.starts_with("rule:"));
    match i.state {
        IntentState::Refused => {
            lines.push(format!(
                "{} refused it; see the rules' verdict above",
                i.decided_by.as_deref().unwrap_or("a rule")
            ));
            if policy == Some(CategoryPolicy::Deny) {
                lines.push(match item.and_then(|it| it.order) {
                    Some(_) => "the item's own order policy is never; setting its `order` to ask or auto would let larder propose it".to_owned(),
                    None => format!(
                        "category {:?} is set to never; setting it to ask or auto in [rules.categories] would let larder propose it",
                        category.unwrap_or("")
                    ),
                });
            }
            if let Some(cap) = rules.max_orders_per_item {
                lines.push(format!(
                    "the per-item cap allows {} orders in {} days",
                    cap.count, cap.period_days
                ));
            }
        }
        _ if by_rule => {
            lines.push(format!(
                "auto-approved: ceiling {ceiling:.2} ≤ auto-approve limit {limit:.2} and category {:?} allows it",
                category.unwrap_or("?")
            ));
            lines.push(format!(
                "a ceiling above {limit:.2}, the category set to ask, or budget headroom below {ceiling:.2} would have asked a member instead"
            ));
        }
        _ => {
            match policy {
                Some(CategoryPolicy::Ask) => lines.push(format!(
                    "category {:?} is set to ask: every order in it needs a member; setting it to allow would let the auto-approve limit {limit:.2} apply",
                    category.unwrap_or("")
                )),
                Some(CategoryPolicy::Allow) if ceiling > limit => lines.push(format!(
                    "ceiling {ceiling:.2} > auto-approve limit {limit:.2}: a limit of at least {ceiling:.2}, or a smaller order, would auto-approve it"
                )),
                Some(CategoryPolicy::Allow) if limit <= 0.0 => {
                    lines.push("auto-approval is off (limit 0)".to_owned())
                }
                _ => {}
            }
            let approves = ev
                .approvals
                .iter()
                .filter(|a| a.verdict == "approve")
                .count();
            match i.state {
                IntentState::AwaitingApproval => {
                    lines.push(format!(
                        "{approves} of {} approvals so far; {} more approval(s) send it, one denial stops it",
                        i.approvals_required,
                        (i.approvals_required as usize).saturating_sub(approves)
                    ));
                    if let Some(expires) = i.expires_at {
                        lines.push(format!(
                            "unanswered, it expires at {}{}",
                            format_time(expires),
                            if now > expires {
                                " (already past; the next tick expires it)"
                            } else {
                                ""
                            }
                        ));
                    }
                }
                IntentState::Denied => lines.push(format!(
                    "{} denied it; larder waits a day after a denial before proposing again",
                    i.decided_by.as_deref().unwrap_or("a member")
                )),
                IntentState::Expired => lines.push(
                    "nobody answered in time; an answer before the expiry would have decided it"
                        .to_owned(),
                ),
                _ => {}
            }
        }
    }
    if let Some(headroom) = headroom {
        lines.push(format!(
            "monthly budget headroom now {headroom:.2} {} the ceiling {ceiling:.2}",
            if ceiling <= headroom { "≥" } else { "<" }
        ));
    }
    lines
}
