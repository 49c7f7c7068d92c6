//! `larder simulate`: seeded synthetic households run for a year through
//! every policy of the replay harness, with what real sensors give larder:
//! fridge load cells read every evening with noise, washer cycles with
//! detergent doses, weekly rhythms and trips away (declared to larder as
//! pauses). Metrics are the replay's (`crate::tools::replay`).

use crate::tools::replay::{
    self, ItemParams, LarderRun, Policy, Rng, Sensor, SeriesResult, WARMUP, item_params,
};

/// A kind of household.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Name in the tables.
    pub name: &'static str,
    /// Multiplier on a single adult's use.
    pub size: f64,
    /// Weekend days use this many times a weekday's.
    pub weekend: f64,
    /// Trips away per year.
    pub trips: u32,
}

/// The simulated profiles.
pub const PROFILES: [Profile; 5] = [
    Profile {
        name: "single",
        size: 1.0,
        weekend: 1.2,
        trips: 1,
    },
    Profile {
        name: "couple",
        size: 1.8,
        weekend: 1.3,
        trips: 2,
    },
    Profile {
        name: "family",
        size: 3.5,
        weekend: 1.2,
        trips: 1,
    },
    Profile {
        name: "weekend-heavy",
        size: 1.5,
        weekend: 3.0,
        trips: 1,
    },
    Profile {
        name: "often-away",
        size: 1.5,
        weekend: 1.0,
        trips: 8,
    },
];

/// Items with a single adult's mean use in packs a day, and the sensor.
const ITEMS: [(&str, f64, Sensor); 5] = [
    ("milk", 0.12, Sensor::LoadCell { noise_sd: 0.02 }),
    ("eggs", 0.05, Sensor::LoadCell { noise_sd: 0.01 }),
    ("cold_cuts", 0.10, Sensor::LoadCell { noise_sd: 0.02 }),
    ("apples", 0.07, Sensor::LoadCell { noise_sd: 0.02 }),
    ("laundry_detergent", 0.03, Sensor::Doses),
];

/// One synthetic series: daily demand (zero while away) and the trips.
pub fn household(
    profile: &Profile,
    item: usize,
    days: usize,
    rng: &mut Rng,
) -> (Vec<f64>, Vec<(usize, usize)>) {
    let (_, base, sensor) = ITEMS[item];
    // Households differ: ±40 % around the profile's use.
    let rate = base * profile.size * (0.6 + 0.8 * rng.uniform());
    let mut away = Vec::new();
    for _ in 0..profile.trips {
        let start = WARMUP + (rng.uniform() * (days - WARMUP - 20) as f64) as usize;
        let len = 3 + (rng.uniform() * 9.0) as usize;
        away.push((start, (start + len).min(days)));
    }
    away.sort_unstable();
    away.dedup_by(|b, a| b.0 < a.1);
    let weekday_share = 7.0 / (5.0 + 2.0 * profile.weekend);
    let d = (0..days)
        .map(|t| {
            if away.iter().any(|&(a, b)| (a..b).contains(&t)) {
                return 0.0;
            }
            let day_rate = rate * weekday_share * if t % 7 >= 5 { profile.weekend } else { 1.0 };
            match sensor {
                // A washer cycle uses a 1/25-pack dose.
                Sensor::Doses => {
                    let cycles = day_rate * 25.0;
                    let n = (cycles + rng.normal() * cycles.sqrt()).round().max(0.0);
                    n / 25.0
                }
                // Lumpy daily use: a gamma-like spread (cv about 0.6).
                Sensor::LoadCell { .. } => (day_rate * (1.0 + 0.6 * rng.normal())).max(0.0),
            }
        })
        .collect();
    (d, away)
}

/// Runs every profile × item × household through every policy.
pub fn simulate(seed: u64, households: usize, days: usize) -> Vec<SeriesResult> {
    let days = days.max(WARMUP + 60);
    let mut rows = Vec::new();
    for (pi, profile) in PROFILES.iter().enumerate() {
        for (ii, (name, _, sensor)) in ITEMS.iter().enumerate() {
            for h in 0..households {
                let mut rng = Rng(seed ^ ((pi as u64) << 40) ^ ((ii as u64) << 32) ^ h as u64);
                let (d, away) = household(profile, ii, days, &mut rng);
                let p: ItemParams = item_params(name);
                let mu0 = replay::np_sum(&d[..WARMUP]) / WARMUP as f64;
                if mu0 <= 0.0 {
                    continue;
                }
                let run = LarderRun {
                    sensor: *sensor,
                    seed: rng.next_u64(),
                    away,
                };
                for policy in Policy::ALL {
                    let mut r = replay::run_policy(policy, &d, &p, mu0, &run);
                    r.household_id = format!("{}-{h}", profile.name);
                    r.item = (*name).to_owned();
                    rows.push(r);
                }
            }
        }
    }
    rows
}

/// `larder simulate`: prints the item × policy and profile × policy tables.
pub fn run(seed: u64, households: usize, days: usize) -> anyhow::Result<()> {
    let rows = simulate(seed, households, days);
    println!("seed {seed}, {households} households per profile, {days} days\n");
    print!("{}", replay::summary_table(&replay::summarize(&rows)));
    let by_profile: Vec<SeriesResult> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.item = r
                .household_id
                .rsplit_once('-')
                .map_or(r.item.clone(), |x| x.0.to_owned());
            r
        })
        .collect();
    println!();
    print!(
        "{}",
        replay::summary_table(&replay::summarize(&by_profile)).replacen(
            "item              ",
            "profile           ",
            1
        )
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulation_is_seeded_and_larder_keeps_households_stocked() {
        let a = simulate(7, 2, 300);
        assert_eq!(a, simulate(7, 2, 300));
        let summary = replay::summarize(&a);
        for row in summary.iter().filter(|r| r.policy == "larder") {
            assert!(row.fill_rate > 0.9, "{row:?}");
        }
    }
}
