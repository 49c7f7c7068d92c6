//! How figures are written in proposal reasons: quantities, days and
//! percentages.

/// A quantity with two decimals.
pub(super) fn num(x: f64) -> String {
    format!("{x:.2}")
}

/// A duration in days, e.g. `1 day`, `2 days`, `1.5 days`.
pub(super) fn days(d: f64) -> String {
    let text = format!("{d:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    if text == "1" {
        "1 day".to_owned()
    } else {
        format!("{text} days")
    }
}

/// A probability as a percentage, with a decimal below 10%.
pub(super) fn percent(p: f64) -> String {
    let pct = p * 100.0;
    let text = if pct < 10.0 {
        format!("{pct:.1}")
    } else {
        format!("{pct:.0}")
    };
    format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
}
