//! The simple reorder rule on a forecast (`propose`: order up to the
//! horizon's demand at the service level, capped by shelf life) and the
//! level at which it starts proposing (`reorder_level`).

use super::model::{
    Forecast, ItemModel, ItemState, Proposal, clean_days, horizon_days, service_level,
};
use super::normal::inverse_normal_cdf;
use super::outlook::forecast;
use super::reason_text::{days, num, percent};

/// Whether to reorder now, and how many whole packages.
///
/// `None` when the level is unknown, nothing is being used, the package size
/// is not positive, or the chance of running out within the horizon is at
/// most `1 - service_level`. The order-up-to level is
/// `rate * H + z * rate_sd * sqrt(H)` (day-to-day variability only: the
/// forecast does not carry the uncertainty of the mean), and the result is
/// capped by what is used within the shelf life.
pub fn propose(model: &ItemModel, forecast: &Forecast) -> Option<Proposal> {
    let level = forecast.level?;
    let rate = forecast.rate_per_day;
    let package = model.package_size;
    if !(rate > 0.0 && rate.is_finite() && package > 0.0 && package.is_finite()) {
        return None;
    }
    let service = service_level(model);
    let tolerated = 1.0 - service;
    // Strictly above the tolerated risk (a NaN probability never triggers).
    let at_risk = forecast.stockout_probability > tolerated;
    if !at_risk {
        return None;
    }

    let horizon = horizon_days(model);
    let sd_h = forecast.rate_sd_per_day.max(0.0) * horizon.sqrt();
    let order_up_to = rate * horizon + inverse_normal_cdf(service) * sd_h;
    let need = order_up_to - level;
    // `as u32` saturates, so an absurd need cannot wrap.
    let mut packages = ((need / package).ceil().max(1.0)) as u32;

    let mut reasons = vec![
        format!(
            "{} left, using {} ± {} a day: empty in {}",
            num(level),
            num(rate),
            num(forecast.rate_sd_per_day),
            days(forecast.days_left.unwrap_or(level / rate)),
        ),
        format!(
            "a delivery takes {}; {} chance of running out within {} (target ≤ {})",
            days(clean_days(model.lead_time_days)),
            percent(forecast.stockout_probability),
            days(horizon),
            percent(tolerated),
        ),
        format!(
            "order-up-to {} for {} at {} service: {} more → {} × {}",
            num(order_up_to),
            days(horizon),
            percent(service),
            num(need.max(0.0)),
            packages,
            num(package),
        ),
    ];

    if let Some(shelf) = model.shelf_life_days.filter(|s| s.is_finite() && *s >= 0.0) {
        let usable = rate * shelf;
        let max_packages = ((usable / package).floor().max(1.0)) as u32;
        if packages > max_packages {
            packages = max_packages;
            reasons.push(format!(
                "capped at {} × {}: only {} is used within the {} shelf life",
                packages,
                num(package),
                num(usable),
                days(shelf),
            ));
        }
    }

    Some(Proposal { packages, reasons })
}

/// The highest level at which the core would propose an order now (found by
/// bisection with `forecast` + `propose`), or `None` if none below `level`.
pub fn reorder_level(model: &ItemModel, state: &ItemState, level: f64, now: i64) -> Option<f64> {
    let proposes = |l: f64| {
        let mut s = state.clone();
        s.level = Some(l);
        s.level_at = now;
        propose(model, &forecast(model, &s, now)).is_some()
    };
    if !proposes(0.0) {
        return None;
    }
    let (mut low, mut high) = (0.0, level);
    for _ in 0..48 {
        let mid = (low + high) / 2.0;
        if proposes(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(low)
}
