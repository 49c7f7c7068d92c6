//! The decision figures: a household's history generated in process
//! through the daemon's own `Engine::ingest` and `Engine::decide` on
//! simulated time, and a full decision pass timed after one month and
//! after the whole history.

use super::household::{HistoryHousehold, household_config};
use super::{BenchOptions, Row, verdict};
use crate::config::Config;
use crate::crypto::keys::SigningKey;
use crate::engine::{Engine, Inbound};
use crate::store::{IntentState, Store};
use crate::tools::harness::ScratchDir;
use anyhow::bail;
use std::path::Path;
use std::time::Instant;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Simulated start of history: 2024-01-01T00:00:00Z.
const HISTORY_START: i64 = 1_704_067_200;

/// Feeds `messages` through the daemon's own ingest path at `now`, in
/// batches of 256 as the writer would.
fn ingest_all(
    engine: &Engine,
    store: &mut Store,
    messages: &[(String, Vec<u8>)],
    now: i64,
) -> anyhow::Result<()> {
    for chunk in messages.chunks(256) {
        let inbound: Vec<Inbound<'_>> = chunk
            .iter()
            .map(|(topic, payload)| Inbound {
                topic,
                payload,
                size: payload.len(),
                retain: false,
                dup: false,
            })
            .collect();
        let outcome = engine.ingest(store, &inbound, now)?;
        if outcome.refused > 0 {
            bail!("{} generated events were refused", outcome.refused);
        }
    }
    Ok(())
}

/// Closes every approved intent as delivered; returns (item index, amount).
fn deliver_approved(
    config: &Config,
    store: &mut Store,
    now: i64,
) -> anyhow::Result<Vec<(usize, f64)>> {
    let approved = store.read().intents_in_state(IntentState::Approved)?;
    let tx = store.transaction()?;
    let mut out = Vec::new();
    for intent in approved {
        tx.transition_intent(
            &intent.id,
            IntentState::Approved,
            IntentState::Delivered,
            Some("shop"),
            now,
        )?;
        if let Some(index) = config.items.iter().position(|i| i.id == intent.item) {
            out.push((index, intent.quantity));
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Times `passes` decision passes over every item; between passes the
/// orders they made are closed (untimed), so each pass decides afresh.
/// Returns (median µs per item, orders per pass).
fn time_decisions(
    engine: &Engine,
    store: &mut Store,
    passes: u32,
    now: i64,
) -> anyhow::Result<(f64, f64, usize)> {
    let items = engine.config().items.len() as f64;
    let mut per_item = Vec::new();
    let mut orders = 0;
    for _ in 0..passes {
        let start = Instant::now();
        engine.decide(store, None, now)?;
        per_item.push(start.elapsed().as_secs_f64() * 1e6 / items);
        orders = deliver_approved(engine.config(), store, now)?.len();
    }
    per_item.sort_by(f64::total_cmp);
    let median = per_item[per_item.len() / 2];
    let p90 = per_item[(per_item.len() * 9 / 10).min(per_item.len() - 1)];
    Ok((median, p90, orders))
}

/// Generates `--history-days` of history and adds the decision rows and
/// notes.
pub(super) fn decide_figures(
    options: &BenchOptions,
    work: &ScratchDir,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let dir = work.join("decide");
    std::fs::create_dir_all(&dir)?;
    let text = household_config(&dir, 1883, options.items, options.devices, true);
    let config = Config::parse(&text, &dir.join("larder.toml"))?;
    let engine = Engine::new(config.clone(), SigningKey::generate());
    let db = dir.join("history.db");
    let mut store = Store::open(&db)?;
    let mut household = HistoryHousehold::new(&config, options.devices);
    let per_day = options.readings_per_day.max(1);
    let month = 30.min(options.history_days);
    let mut short = None;
    let started = Instant::now();
    eprintln!(
        "bench: generating {} days of history for {} items",
        options.history_days, options.items
    );
    for day in 0..options.history_days {
        let midnight = HISTORY_START + i64::from(day) * DAY;
        for slot in 0..per_day {
            let at = midnight + i64::from(slot) * DAY / i64::from(per_day) + 3600;
            let messages = household.readings(day, slot == 0, per_day, at);
            ingest_all(&engine, &mut store, &messages, at)?;
        }
        let evening = midnight + 20 * 3600;
        engine.decide(&mut store, None, evening)?;
        let delivered = deliver_approved(&config, &mut store, evening)?;
        household.deliveries.extend(delivered);
        if day + 1 == month {
            short = Some(snapshot(
                &engine,
                &mut store,
                &db,
                options.passes,
                evening,
                day + 1,
            )?);
        }
        if day % 365 == 364 {
            eprintln!(
                "bench:   year {} done ({:.0} s)",
                (day + 1) / 365,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let last = HISTORY_START + i64::from(options.history_days) * DAY - 4 * 3600;
    let long = snapshot(
        &engine,
        &mut store,
        &db,
        options.passes,
        last,
        options.history_days,
    )?;
    let Some(short) = short else {
        bail!("--history-days must be at least 1");
    };
    for s in [&short, &long] {
        rows.push(Row::new(
            format!("decision per item, {} days of history", s.days),
            format!("{:.1} us", s.median_us),
            "",
        ));
    }
    let ratio = long.median_us / short.median_us;
    rows.push(Row::new(
        "  ratio long / one month",
        format!("{ratio:.3}x"),
        verdict(ratio <= 1.2, "<= 1.2x"),
    ));
    for s in [&short, &long] {
        notes.push(format!(
            "decision after {} days: median of {} passes over {} items (p90 {:.1} us/item), \
             {} orders per pass; database {:.1} MB, {} observations, {} intents",
            s.days,
            options.passes,
            options.items,
            s.p90_us,
            s.orders,
            s.db_bytes as f64 / 1e6,
            s.observations,
            s.intents
        ));
    }
    notes.push(format!(
        "a decision pass is Engine::decide in one transaction (forecast, proposal, rules with \
         budget and order-cap queries, intent + signed outbox row for each order, commit with \
         synchronous=FULL); history generated in {:.0} s through Engine::ingest",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The figures at one history length.
struct HistoryFigures {
    days: u32,
    median_us: f64,
    p90_us: f64,
    orders: usize,
    db_bytes: u64,
    observations: u64,
    intents: usize,
}

/// Times the decision passes at `now` and reads the database's size.
fn snapshot(
    engine: &Engine,
    store: &mut Store,
    db: &Path,
    passes: u32,
    now: i64,
    days: u32,
) -> anyhow::Result<HistoryFigures> {
    let (median_us, p90_us, orders) = time_decisions(engine, store, passes, now)?;
    let intents = store.read().intents(u32::MAX)?.len();
    Ok(HistoryFigures {
        days,
        median_us,
        p90_us,
        orders,
        db_bytes: std::fs::metadata(db)?.len(),
        observations: store.read().observation_count()?,
        intents,
    })
}
