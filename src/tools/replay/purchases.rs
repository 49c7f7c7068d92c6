//! Purchase histories: the `household_id,item,date,qty` events file read
//! into one series per household and item, the depletion reading of
//! purchases into daily demand, and the seeded `--max-series` sample.

use anyhow::{Context as _, bail};
use std::collections::HashMap;

/// One household × item series read from the events file.
#[derive(Debug, Clone)]
pub struct Series {
    /// Household id as written in the file.
    pub household_id: String,
    /// Item name.
    pub item: String,
    /// `(day index, qty)` purchases, one per day.
    pub purchases: Vec<(usize, f64)>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let d = it.next()?.get(..2)?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| days_from_civil(y, m, d))
}

/// Parses `household_id,item,date,qty` text into series (in order of first
/// appearance) and the calendar length in days (first to last date).
pub fn parse_events(text: &str) -> anyhow::Result<(Vec<Series>, usize)> {
    let mut rows = Vec::new();
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        bail!("empty events file");
    };
    let cols: Vec<&str> = header.trim().split(',').map(str::trim).collect();
    let find = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .with_context(|| format!("the header has no `{name}` column: {header:?}"))
    };
    let (hi, ii, di, qi) = (
        find("household_id")?,
        find("item")?,
        find("date")?,
        find("qty")?,
    );
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.trim().split(',').collect();
        let get = |i: usize| {
            f.get(i)
                .copied()
                .with_context(|| format!("line {}: too few fields", n + 1))
        };
        let date = parse_date(get(di)?).with_context(|| format!("line {}: bad date", n + 1))?;
        let qty: f64 = get(qi)?
            .trim()
            .parse()
            .with_context(|| format!("line {}: bad qty", n + 1))?;
        rows.push((get(hi)?.to_owned(), get(ii)?.to_owned(), date, qty));
    }
    let Some(start) = rows.iter().map(|r| r.2).min() else {
        bail!("no events");
    };
    let end = rows.iter().map(|r| r.2).max().unwrap_or(start);
    let n_days = (end - start + 1) as usize;
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    for (hh, item, date, qty) in rows {
        let day = (date - start) as usize;
        let i = *index.entry((hh.clone(), item.clone())).or_insert_with(|| {
            series.push(Series {
                household_id: hh,
                item,
                purchases: Vec::new(),
            });
            series.len() - 1
        });
        let p = &mut series[i].purchases;
        match p.iter_mut().find(|x| x.0 == day) {
            Some(x) => x.1 += qty,
            None => p.push((day, qty)),
        }
    }
    Ok((series, n_days))
}

/// Daily demand from purchase days, `depletion` reading: units bought on
/// purchase day `k` are consumed evenly until purchase `k + 1`; the tail
/// after the last purchase is dropped. `purchases` are `(day index, qty)`
/// with distinct days; `n_days` is the length of the calendar.
pub fn daily_demand(purchases: &[(usize, f64)], n_days: usize) -> Vec<f64> {
    let mut s = vec![0.0; n_days];
    for &(day, qty) in purchases {
        if day < n_days {
            s[day] += qty;
        }
    }
    let days: Vec<usize> = (0..n_days).filter(|&i| s[i] > 0.0).collect();
    let mut d = vec![0.0; n_days];
    for w in days.windows(2) {
        let (a, b) = (w[0], w[1]);
        let per = s[a] / (b - a) as f64;
        for x in &mut d[a..b] {
            *x += per;
        }
    }
    d.truncate(days.last().copied().unwrap_or(n_days));
    d
}

/// A seeded random sample of at most `n` series per item, in file order:
/// each series gets a pseudo-random key from (seed, household, item) and
/// the `n` smallest keys of each item are kept. The same seed keeps the
/// same series; every series is equally likely to be kept. `n = 0` keeps
/// all.
pub fn sample_per_item(series: Vec<Series>, n: usize, seed: u64) -> Vec<Series> {
    if n == 0 {
        return series;
    }
    let key = |s: &Series| {
        // FNV-1a over the seed and the series' identity.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let bytes = seed
            .to_le_bytes()
            .into_iter()
            .chain(s.household_id.bytes())
            .chain([0xff])
            .chain(s.item.bytes());
        for b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // A final avalanche so that similar ids do not sort together.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    };
    let mut keys: HashMap<&str, Vec<u64>> = HashMap::new();
    for s in &series {
        keys.entry(&s.item).or_default().push(key(s));
    }
    let cutoff: HashMap<String, u64> = keys
        .into_iter()
        .map(|(item, mut k)| {
            k.sort_unstable();
            (item.to_owned(), k[(n.min(k.len())) - 1])
        })
        .collect();
    series
        .into_iter()
        .filter(|s| cutoff.get(&s.item).is_some_and(|c| key(s) <= *c))
        .collect()
}
