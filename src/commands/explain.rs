//! `larder explain ITEM|INTENT`: the evidence behind a forecast or an
//! intent, the rule that approved or held it, and what would change the
//! decision. [`load`] reads the database (read-only); [`item`] and
//! [`intent`] are pure formatting over what it gathered.
//!
//! Honesty rule: every figure printed is either stored (readings, intents,
//! approvals, ledger) or recomputed with the same core functions the engine
//! uses (`core::forecast::forecast` / `propose`) under the *current*
//! configuration, and says so.

use crate::config::{Config, Item};
use crate::core::forecast::{self, Forecast, ItemState};
use crate::core::rules::CategoryPolicy;
use crate::engine::COOLDOWN_SECS;
use crate::ledger::LedgerRow;
use crate::ledger::{self, Kind};
use crate::store::{ApprovalRow, IntentRow, IntentState, ObservationRow, Store};
use crate::text::{format_time, short};
use anyhow::{Context as _, bail};
use std::fmt::Write as _;

/// Readings shown in an explanation.
pub const READINGS_SHOWN: u32 = 10;

/// What the database says about one item.
#[derive(Debug, Clone, Default)]
pub struct ItemEvidence {
    /// Most recent readings, newest first.
    pub readings: Vec<ObservationRow>,
    /// The learned state, if any reading arrived.
    pub state: Option<ItemState>,
    /// The item's most recent intent (open or closed).
    pub latest: Option<IntentRow>,
    /// Committed spending this calendar month (for the budget).
    pub spent_this_month: f64,
}

/// What the database says about one intent.
#[derive(Debug, Clone)]
pub struct IntentEvidence {
    /// The intent.
    pub intent: IntentRow,
    /// Accepted member replies, oldest first.
    pub approvals: Vec<ApprovalRow>,
    /// Ledger entries naming the intent, oldest first.
    pub ledger: Vec<LedgerRow>,
    /// The item's evidence now.
    pub item: ItemEvidence,
}

/// What `larder explain` was asked about.
#[derive(Debug, Clone)]
pub enum Subject<'c> {
    /// A configured item.
    Item(&'c Item, Box<ItemEvidence>),
    /// An intent (its item may no longer be configured).
    Intent(Option<&'c Item>, Box<IntentEvidence>),
}

/// Reads what an explanation needs: `target` is an item id, an intent id,
/// or a unique prefix (≥ 6 hex digits) of an intent id.
pub fn load<'c>(
    config: &'c Config,
    store: &Store,
    target: &str,
    now: i64,
) -> anyhow::Result<Subject<'c>> {
    let read = store.read();
    let month = crate::clock::month_start(&config.hub.time_zone(), now);
    let evidence = |item: &str| -> anyhow::Result<ItemEvidence> {
        Ok(ItemEvidence {
            readings: read.recent_observations(item, READINGS_SHOWN)?,
            state: read.item_state(item)?,
            latest: read.latest_intent(item)?,
            spent_this_month: read.spent_since(month)?,
        })
    };
    if let Some(item) = config.item(target) {
        return Ok(Subject::Item(item, Box::new(evidence(&item.id)?)));
    }
    let intent = match read.intent(target)? {
        Some(intent) => intent,
        None if target.len() >= 6 => {
            let mut found = read.intents_with_prefix(target, 2)?;
            match found.len() {
                1 => found.remove(0),
                0 => bail!("no item or intent {target:?} (items: {})", item_ids(config)),
                _ => bail!("{target:?} matches more than one intent; give more digits"),
            }
        }
        None => bail!("no item or intent {target:?} (items: {})", item_ids(config)),
    };
    let ledger = if read.has_ledger()? {
        read.ledger_for_intent(&intent.id)?
    } else {
        Vec::new()
    };
    let ev = Box::new(IntentEvidence {
        approvals: read.approvals(&intent.id)?,
        ledger,
        item: evidence(&intent.item)?,
        intent,
    });
    Ok(Subject::Intent(config.item(&ev.intent.item), ev))
}

/// Formats a loaded subject.
pub fn render(config: &Config, subject: &Subject<'_>, now: i64) -> String {
    match subject {
        Subject::Item(it, ev) => item(config, it, ev, now),
        Subject::Intent(it, ev) => intent(config, *it, ev, now),
    }
}

fn item_ids(config: &Config) -> String {
    config
        .items
        .iter()
        .map(|i| i.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The explanation of an item: evidence, forecast, and when it would reorder.
pub fn item(config: &Config, item: &Item, ev: &ItemEvidence, now: i64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}): {}, {} {} a package at {:.2} {}, category {}",
        item.id,
        item.name,
        item.product,
        num(item.model.package_size),
        item.unit,
        item.price,
        item.currency,
        item.category
    );
    evidence(&mut out, item, ev, now);
    let fc = ev
        .state
        .as_ref()
        .map(|s| forecast::forecast(&item.model, s, now));
    let _ = writeln!(out, "\nwhat would change the decision:");
    let open = ev.latest.as_ref().filter(|i| i.state.is_open());
    if let Some(open) = open {
        let _ = writeln!(
            out,
            "  - intent {} is {}: no new proposal until it closes (`larder explain {}`)",
            short(&open.id),
            open.state.as_str(),
            open.id
        );
        return out;
    }
    if let Some(closed) = ev.latest.as_ref().filter(|i| {
        matches!(
            i.state,
            IntentState::Denied
                | IntentState::Refused
                | IntentState::Expired
                | IntentState::Rejected
        ) && now - i.updated_at < COOLDOWN_SECS
    }) {
        let _ = writeln!(
            out,
            "  - intent {} was {} at {}: larder waits until {} before proposing again",
            short(&closed.id),
            closed.state.as_str(),
            format_time(closed.updated_at),
            format_time(closed.updated_at + COOLDOWN_SECS)
        );
    }
    let (Some(state), Some(fc)) = (&ev.state, fc) else {
        let _ = writeln!(
            out,
            "  - nothing is known yet: a first reading from {} slot {} starts the forecast",
            item.device, item.slot
        );
        return out;
    };
    reorder_advice(&mut out, config, item, state, &fc, ev, now);
    out
}

/// The readings and the forecast, shared by both explanations.
fn evidence(out: &mut String, item: &Item, ev: &ItemEvidence, now: i64) {
    let unit = &item.unit;
    let _ = writeln!(out, "\nevidence (most recent readings, newest first):");
    if ev.readings.is_empty() {
        let _ = writeln!(out, "  (no readings stored)");
    }
    for r in &ev.readings {
        let _ = writeln!(
            out,
            "  {}  {:<8} {:>10} {unit}  from {}",
            format_time(r.observed_at),
            r.kind,
            num(r.amount),
            r.device
        );
    }
    if let Some(declared) = item.model.declared_per_day {
        let _ = writeln!(
            out,
            "  declared usage: {} {unit} a day (the prior, before data takes over)",
            num(declared)
        );
    }
    let Some(state) = &ev.state else {
        return;
    };
    let fc = forecast::forecast(&item.model, state, now);
    let _ = writeln!(out, "\nforecast now (core::forecast on the stored state):");
    let _ = writeln!(
        out,
        "  level      {}",
        fc.level
            .map_or("unknown".into(), |l| format!("{} {unit}", num(l)))
    );
    let _ = writeln!(
        out,
        "  use        {} ± {} {unit} a day ({} days of data, {} censored, data weight {:.0}%)",
        num(fc.rate_per_day),
        num(fc.rate_sd_per_day),
        state.sample_days,
        state.censored_days,
        state.data_weight * 100.0
    );
    let _ = writeln!(
        out,
        "  days left  {}",
        fc.days_left.map_or("-".into(), |d| format!("{d:.1}"))
    );
    let _ = writeln!(
        out,
        "  stock-out  {:.1}% within {:.1} days (lead time + review); target ≤ {:.1}%",
        fc.stockout_probability * 100.0,
        fc.horizon_days,
        tolerated(item) * 100.0
    );
}

/// Tolerated stock-out risk as the household configured it.
fn tolerated(item: &Item) -> f64 {
    (1.0 - item.model.service_level).clamp(0.0, 1.0)
}

/// For an item without an open intent: would it reorder now, and if not,
/// at what level.
fn reorder_advice(
    out: &mut String,
    config: &Config,
    item: &Item,
    state: &ItemState,
    fc: &Forecast,
    ev: &ItemEvidence,
    now: i64,
) {
    let unit = &item.unit;
    if let Some(proposal) = forecast::propose(&item.model, fc) {
        let cost = item.price * f64::from(proposal.packages);
        let _ = writeln!(
            out,
            "  - the forecast asks for {} × {} now (about {:.2} {}); the next decision tick proposes it:",
            proposal.packages, item.product, cost, item.currency
        );
        for reason in &proposal.reasons {
            let _ = writeln!(out, "      {reason}");
        }
        rule_outlook(out, config, item, cost, ev.spent_this_month);
        return;
    }
    let Some(level) = fc.level else {
        let _ = writeln!(
            out,
            "  - no level is known yet: a level reading (or a delivery) is needed"
        );
        return;
    };
    if fc.rate_per_day <= 0.0 {
        let _ = writeln!(
            out,
            "  - no consumption is estimated, so no stock-out is expected; declaring usage in the configuration gives a prior"
        );
        return;
    }
    let _ = writeln!(
        out,
        "  - no reorder now: stock-out risk {:.1}% is within the target {:.1}%",
        fc.stockout_probability * 100.0,
        tolerated(item) * 100.0
    );
    if let Some(at) = forecast::reorder_level(&item.model, state, level, now) {
        let days = (level - at) / fc.rate_per_day;
        let _ = writeln!(
            out,
            "  - it reorders when the level falls below about {} {unit} (in about {:.1} days at {} {unit} a day)",
            num(at),
            days.max(0.0),
            num(fc.rate_per_day)
        );
    }
}

/// How the current rules would treat an order of `cost`.
fn rule_outlook(out: &mut String, config: &Config, item: &Item, cost: f64, spent: f64) {
    let rules = &config.rules;
    let policy = config.policy_for_item(item);
    let ceiling = cost * (1.0 + config.upstream.price_tolerance);
    let whose = match item.order {
        Some(_) => format!("item {:?}'s own order policy", item.id),
        None => format!("category {:?}", item.category),
    };
    let verdict = match policy {
        CategoryPolicy::Deny => format!("{whose} is never: it would be refused"),
        CategoryPolicy::Ask => format!("{whose} is ask: a member would be asked"),
        CategoryPolicy::Allow if ceiling <= rules.auto_approve_up_to => format!(
            "ceiling about {:.2} ≤ auto-approve limit {:.2}: it would be auto-approved (budget permitting)",
            ceiling, rules.auto_approve_up_to
        ),
        CategoryPolicy::Allow => format!(
            "ceiling about {:.2} > auto-approve limit {:.2}: a member would be asked",
            ceiling, rules.auto_approve_up_to
        ),
    };
    let _ = writeln!(out, "  - under the current rules: {verdict}");
    budget_line(out, config, ceiling, spent);
}

fn budget_line(out: &mut String, config: &Config, ceiling: f64, spent: f64) {
    if let Some(budget) = config.rules.monthly_budget {
        let headroom = budget - spent;
        let _ = writeln!(
            out,
            "  - monthly budget {:.2}: {:.2} committed, headroom {:.2} {} {:.2}",
            budget,
            spent,
            headroom,
            if ceiling <= headroom { "≥" } else { "<" },
            ceiling
        );
    } else {
        let _ = writeln!(out, "  - no monthly budget is set");
    }
}

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
        .filter_map(|e| serde_json::from_str::<ledger::Decision>(e.body.as_deref()?).ok())
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

/// A number without needless digits.
fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `larder explain`: the explanation of `target` as text.
pub fn run(config: &Config, store: &Store, target: &str, now: i64) -> anyhow::Result<String> {
    let subject =
        load(config, store, target, now).with_context(|| format!("explaining {target:?}"))?;
    Ok(render(config, &subject, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::DAY;
    use std::path::Path;

    const NOW: i64 = 1_767_225_600; // 2026-01-01 00:00 UTC

    fn config(category_policy: &str) -> Config {
        let text = include_str!("../../tests/fixtures/explain-milk.toml")
            .replace("{key}", &crate::crypto::keys::to_hex(&[3u8; 32]))
            .replace("{category_policy}", category_policy);
        Config::parse(&text, Path::new("test.toml")).expect("valid test config")
    }

    fn milk_state(level: f64) -> ItemState {
        let cfg = config("allow");
        let model = &cfg.items[0].model;
        let mut state = ItemState::default();
        for day in 0..10 {
            forecast::observe(
                model,
                &mut state,
                &crate::core::Observation {
                    at: NOW - (10 - day) * DAY,
                    kind: crate::core::ObservationKind::Level,
                    amount: 5.0 - 0.3 * day as f64,
                },
            );
        }
        forecast::observe(
            model,
            &mut state,
            &crate::core::Observation {
                at: NOW - 60,
                kind: crate::core::ObservationKind::Level,
                amount: level,
            },
        );
        state
    }

    fn reading(amount: f64) -> ObservationRow {
        ObservationRow {
            device: "fridge".into(),
            kind: "level".into(),
            amount,
            observed_at: NOW - 60,
        }
    }

    fn intent_row(state: IntentState, decided_by: Option<&str>) -> IntentRow {
        IntentRow {
            id: "0123456789abcdef0123456789abcdef".into(),
            item: "milk".into(),
            state,
            product: "sku-milk".into(),
            packages: 2,
            quantity: 2.0,
            unit_price: 1.0,
            price_ceiling: 2.2,
            currency: "EUR".into(),
            deliver_after: NOW + DAY,
            deliver_before: NOW + 3 * DAY,
            nonce: None,
            prompt_at: None,
            expires_at: Some(NOW + DAY),
            approvals_required: 1,
            why: vec![
                "0.3 left, using 0.3 ± 0.01 a day: empty in 1 day".into(),
                "2.20 ≤ auto-approve limit 8.00".into(),
            ],
            decided_by: decided_by.map(str::to_owned),
            created_at: NOW - 30,
            updated_at: NOW - 20,
        }
    }

    fn decision_entry(verdict: ledger::Outcome, rules: &[&str]) -> LedgerRow {
        let body = serde_json::to_string(&ledger::Decision {
            intent: "0123456789abcdef0123456789abcdef".into(),
            item: "milk".into(),
            verdict,
            by: "rule:auto-approve-up-to".into(),
            packages: 2,
            price_ceiling: 2.2,
            currency: "EUR".into(),
            rules: rules.iter().map(|r| (*r).to_owned()).collect(),
            replies: Vec::new(),
        })
        .expect("json");
        LedgerRow {
            seq: 7,
            at: NOW - 30,
            kind: "decision".into(),
            body_sha256: ledger::sha256(body.as_bytes()).to_vec(),
            body: Some(body),
            prev_hash: vec![0; 32],
            hash: vec![1; 32],
        }
    }

    #[test]
    fn an_item_with_plenty_left_says_when_it_would_reorder() {
        let cfg = config("allow");
        let ev = ItemEvidence {
            readings: vec![reading(4.0)],
            state: Some(milk_state(4.0)),
            latest: None,
            spent_this_month: 0.0,
        };
        let text = item(&cfg, &cfg.items[0], &ev, NOW);
        assert!(text.contains("level      4 l"), "{text}");
        assert!(text.contains("level      4 l"), "{text}");
        assert!(text.contains(" ± "), "{text}");
        assert!(text.contains("no reorder now"), "{text}");
        assert!(
            text.contains("it reorders when the level falls below about"),
            "{text}"
        );
        assert!(text.contains("from fridge"), "{text}");
    }

    #[test]
    fn the_reorder_level_is_where_the_core_starts_proposing() {
        let cfg = config("allow");
        let it = &cfg.items[0];
        let state = milk_state(4.0);
        let at = forecast::reorder_level(&it.model, &state, 4.0, NOW).expect("some level proposes");
        let propose_at = |l: f64| {
            let mut s = state.clone();
            s.level = Some(l);
            s.level_at = NOW;
            forecast::propose(&it.model, &forecast::forecast(&it.model, &s, NOW)).is_some()
        };
        assert!(propose_at(at - 0.01) && !propose_at(at + 0.01), "{at}");
    }

    #[test]
    fn a_low_item_shows_the_proposal_and_how_the_rules_would_treat_it() {
        let cfg = config("ask");
        let ev = ItemEvidence {
            readings: vec![reading(0.2)],
            state: Some(milk_state(0.2)),
            latest: None,
            spent_this_month: 10.0,
        };
        let text = item(&cfg, &cfg.items[0], &ev, NOW);
        assert!(
            text.contains("the next decision tick proposes it"),
            "{text}"
        );
        assert!(text.contains("category \"dairy\" is ask"), "{text}");
        assert!(text.contains("headroom 40.00"), "{text}");
    }

    #[test]
    fn an_item_without_readings_says_what_is_missing() {
        let cfg = config("allow");
        let text = item(&cfg, &cfg.items[0], &ItemEvidence::default(), NOW);
        assert!(text.contains("(no readings stored)"), "{text}");
        assert!(
            text.contains("a first reading from fridge slot milk"),
            "{text}"
        );
    }

    #[test]
    fn an_auto_approved_intent_names_its_rule_and_the_alternatives() {
        let cfg = config("allow");
        let ev = IntentEvidence {
            intent: intent_row(IntentState::Sent, Some("rule:auto-approve-up-to")),
            approvals: Vec::new(),
            ledger: vec![decision_entry(
                ledger::Outcome::AutoApproved,
                &["auto-approve-up-to: 2.20 ≤ auto-approve limit 8.00"],
            )],
            item: ItemEvidence {
                readings: vec![reading(0.3)],
                state: Some(milk_state(0.3)),
                latest: None,
                spent_this_month: 2.2,
            },
        };
        let text = intent(&cfg, Some(&cfg.items[0]), &ev, NOW);
        assert!(
            text.contains("decided by rule:auto-approve-up-to"),
            "{text}"
        );
        assert!(
            text.contains("[auto-approve-up-to] 2.20 ≤ auto-approve limit 8.00"),
            "{text}"
        );
        assert!(text.contains("- 0.3 left, using"), "{text}");
        // The rule's reason is listed under the verdict, not as a forecast reason.
        let forecast_part = text.split("the rules' verdict").next().expect("first part");
        assert!(!forecast_part.contains("auto-approve limit"), "{text}");
        assert!(text.contains("#7"), "{text}");
        assert!(text.contains("would have asked a member instead"), "{text}");
        assert!(text.contains("headroom now 47.80"), "{text}");
    }

    #[test]
    fn a_held_intent_says_what_would_release_it() {
        let cfg = config("allow");
        let mut row = intent_row(IntentState::AwaitingApproval, None);
        row.price_ceiling = 12.5;
        let ev = IntentEvidence {
            intent: row,
            approvals: Vec::new(),
            ledger: Vec::new(),
            item: ItemEvidence::default(),
        };
        let text = intent(&cfg, Some(&cfg.items[0]), &ev, NOW);
        assert!(text.contains("decided by nobody yet"), "{text}");
        assert!(
            text.contains("ceiling 12.50 > auto-approve limit 8.00"),
            "{text}"
        );
        assert!(text.contains("0 of 1 approvals so far"), "{text}");
        assert!(text.contains("(none)"), "{text}");
    }

    #[test]
    fn a_member_decision_lists_who_and_when() {
        let cfg = config("ask");
        let ev = IntentEvidence {
            intent: intent_row(IntentState::Denied, Some("member:alex")),
            approvals: vec![ApprovalRow {
                intent_id: "0123456789abcdef0123456789abcdef".into(),
                member: "alex".into(),
                verdict: "deny".into(),
                digest: vec![0xab; 32],
                envelope: vec![1, 2, 3],
                received_at: NOW - 20,
            }],
            ledger: Vec::new(),
            item: ItemEvidence::default(),
        };
        let text = intent(&cfg, Some(&cfg.items[0]), &ev, NOW);
        assert!(text.contains("alex deny at 2025-12-31 23:59 UTC"), "{text}");
        assert!(text.contains("member:alex denied it"), "{text}");
        assert!(text.contains("category \"dairy\" is set to ask"), "{text}");
    }
}
