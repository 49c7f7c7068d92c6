//! Formatting shared by everything a person reads: times and short ids.

/// The first 8 characters of an id, for tables.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A Unix time as `YYYY-MM-DD HH:MM` UTC.
pub fn format_time(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| t.to_string())
}
