//! `larder status`: items, levels, days left, open intents, presence and
//! counters, read from the database; [`render_status`] is the report.

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::store::{IntentState, Store};
use crate::text::{format_time, short};
use anyhow::bail;

/// `larder status`: read-only view of the database.
pub(super) fn run(config: &Config) -> anyhow::Result<()> {
    let path = config.hub.database_path();
    if !path.exists() {
        bail!(
            "no database at {} yet: has `larder run` started with this configuration?",
            path.display()
        );
    }
    let store = Store::open_readonly(&path)?;
    let now = SystemClock.now();
    print!("{}", render_status(config, &store, now)?);
    Ok(())
}

/// The status report as text.
pub fn render_status(config: &Config, store: &Store, now: i64) -> anyhow::Result<String> {
    use std::fmt::Write;
    let engine_view = crate::engine::forecasts(config, store, now)?;
    let read = store.read();
    let mut out = String::new();
    writeln!(
        out,
        "{:<20} {:>10} {:>16} {:>10}  open intent",
        "item", "level", "use/day", "days left"
    )?;
    for (item, fc) in engine_view {
        let (level, rate, days) = match &fc {
            Some(fc) => (
                fc.level
                    .map_or("?".into(), |l| format!("{l:.2} {}", item.unit)),
                format!("{:.2}±{:.2}", fc.rate_per_day, fc.rate_sd_per_day),
                fc.days_left.map_or("-".into(), |d| format!("{d:.1}")),
            ),
            None => ("?".into(), "-".into(), "-".into()),
        };
        let open = read.open_intent(&item.id)?.map_or(String::new(), |i| {
            format!("{} {} × {}", short(&i.id), i.state.as_str(), i.packages)
        });
        writeln!(
            out,
            "{:<20} {:>10} {:>16} {:>10}  {open}",
            item.id, level, rate, days
        )?;
    }
    let presence = read.presence()?;
    if let Some(since) = presence.paused_since {
        writeln!(
            out,
            "\nhousehold away since {}{}: nothing is ordered",
            format_time(since),
            presence
                .paused_until
                .map_or(String::new(), |u| format!(" (until {})", format_time(u)))
        )?;
    }
    if let (Some(factor), Some(until)) = (presence.guests_factor, presence.guests_until) {
        if until > now {
            writeln!(out, "guests: ×{factor} until {}", format_time(until))?;
        }
    }
    let pending = read.intents_in_state(IntentState::AwaitingApproval)?;
    if !pending.is_empty() {
        writeln!(out, "\nwaiting for approval:")?;
        for i in pending {
            writeln!(
                out,
                "  {}  {} × {}  up to {:.2} {}  expires {}",
                i.id,
                i.packages,
                i.item,
                i.price_ceiling,
                i.currency,
                i.expires_at.map_or("-".into(), format_time)
            )?;
        }
    }
    let counters = read.counters()?;
    if !counters.is_empty() {
        writeln!(out, "\ncounters:")?;
        for (name, value) in counters {
            writeln!(out, "  {name:<22} {value}")?;
        }
    }
    Ok(out)
}
