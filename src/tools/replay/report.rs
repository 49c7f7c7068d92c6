//! The report: the item × policy summary of the per-series results, the
//! per-series and summary CSV files with the peer's columns (floats as
//! pandas writes them), and the aligned table printed on the terminal.

use super::policy::SeriesResult;
use std::fmt::Write as _;

/// One item × policy line of the summary (the peer's columns).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Item.
    pub item: String,
    /// Policy.
    pub policy: String,
    /// Series (households).
    pub series: usize,
    /// Stockout days per 100 evaluated days.
    pub stockout_days_per_100d: f64,
    /// Units served / units demanded.
    pub fill_rate: f64,
    /// Expired units as a percentage of demand.
    pub waste_pct_of_demand: f64,
    /// Orders per 30 days.
    pub orders_per_30d: f64,
    /// Approval prompts per 30 days.
    pub prompts_per_30d: f64,
    /// Median over series of mean on-hand inventory in days of demand.
    pub mean_inv_days: f64,
}

/// The item × policy summary, sorted by item then policy.
pub fn summarize(rows: &[SeriesResult]) -> Vec<SummaryRow> {
    let mut groups: Vec<((String, String), Vec<&SeriesResult>)> = Vec::new();
    for r in rows {
        let key = (r.item.clone(), r.policy.to_owned());
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
        .into_iter()
        .map(|((item, policy), g)| {
            let sum = |f: &dyn Fn(&SeriesResult) -> f64| g.iter().map(|r| f(r)).sum::<f64>();
            let days = sum(&|r| r.eval_days as f64);
            let demand = sum(&|r| r.demand);
            let mut inv: Vec<f64> = g
                .iter()
                .map(|r| r.mean_inventory / (r.demand / r.eval_days as f64))
                .collect();
            inv.sort_by(f64::total_cmp);
            let median = match inv.len() {
                0 => f64::NAN,
                n if n % 2 == 1 => inv[n / 2],
                n => 0.5 * (inv[n / 2 - 1] + inv[n / 2]),
            };
            let mut hh: Vec<&str> = g.iter().map(|r| r.household_id.as_str()).collect();
            hh.sort_unstable();
            hh.dedup();
            SummaryRow {
                item,
                policy,
                series: hh.len(),
                stockout_days_per_100d: 100.0 * sum(&|r| f64::from(r.stockout_days)) / days,
                fill_rate: 1.0 - sum(&|r| r.lost) / demand,
                waste_pct_of_demand: 100.0 * sum(&|r| r.wasted) / demand,
                orders_per_30d: 30.0 * sum(&|r| f64::from(r.orders)) / days,
                prompts_per_30d: 30.0 * sum(&|r| f64::from(r.prompts)) / days,
                mean_inv_days: median,
            }
        })
        .collect()
}

/// A float as pandas writes it (`1.0`, `0.25`, `23.214285714285708`).
fn py(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{x:?}")
    }
}

/// Rounded to 3 decimals, as the peer's summary.
fn r3(x: f64) -> String {
    py((x * 1000.0).round() / 1000.0)
}

/// The per-series CSV text (the peer's columns and order).
pub fn per_series_csv(rows: &[SeriesResult]) -> String {
    let mut out = String::from(
        "policy,eval_days,demand,stockout_days,lost,fill_rate,wasted,orders,units_ordered,prompts,mean_inventory,household_id,item\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.policy,
            r.eval_days,
            py(r.demand),
            r.stockout_days,
            py(r.lost),
            py(r.fill_rate),
            py(r.wasted),
            r.orders,
            r.units_ordered,
            r.prompts,
            py(r.mean_inventory),
            r.household_id,
            r.item
        );
    }
    out
}

/// The summary CSV text (the peer's columns).
pub fn summary_csv(rows: &[SummaryRow]) -> String {
    let mut out = String::from(
        "item,policy,series,stockout_days_per_100d,fill_rate,waste_pct_of_demand,orders_per_30d,prompts_per_30d,mean_inv_days\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            r.item,
            r.policy,
            r.series,
            r3(r.stockout_days_per_100d),
            r3(r.fill_rate),
            r3(r.waste_pct_of_demand),
            r3(r.orders_per_30d),
            r3(r.prompts_per_30d),
            r3(r.mean_inv_days)
        );
    }
    out
}

/// The summary as an aligned text table.
pub fn summary_table(rows: &[SummaryRow]) -> String {
    let mut out = format!(
        "{:<18} {:<13} {:>6} {:>8} {:>6} {:>8} {:>7} {:>8} {:>8}\n",
        "item", "policy", "series", "SO/100d", "fill", "waste%", "ord/30d", "ask/30d", "inv_days"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<18} {:<13} {:>6} {:>8.3} {:>6.3} {:>8.3} {:>7.3} {:>8.3} {:>8.3}",
            r.item,
            r.policy,
            r.series,
            r.stockout_days_per_100d,
            r.fill_rate,
            r.waste_pct_of_demand,
            r.orders_per_30d,
            r.prompts_per_30d,
            r.mean_inv_days
        );
    }
    out
}
