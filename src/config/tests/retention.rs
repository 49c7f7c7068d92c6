//! `[retention]`: the default and its range.

use super::{MINIMAL, check, ok};
use crate::config::DEFAULT_RAW_DAYS;

#[test]
fn retention_defaults_to_90_days_and_is_checked_by_key_path() {
    assert_eq!(ok(MINIMAL).retention.raw_days, DEFAULT_RAW_DAYS);
    let text = format!("{MINIMAL}\n[retention]\nraw-days = 30\n");
    assert_eq!(ok(&text).retention.raw_days, 30);
    check(
        &format!("{MINIMAL}\n[retention]\nraw-days = 0\n"),
        &["retention.raw-days: must be between 1 and 36500, got 0"],
    );
    check(
        &format!("{MINIMAL}\n[retention]\nraw-day = 30\n"),
        &["retention.raw-day: unknown key"],
    );
}
