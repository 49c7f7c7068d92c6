//! `[retention]`: how long raw observations are kept.

/// Default of `retention.raw-days`.
pub const DEFAULT_RAW_DAYS: u32 = 90;

/// What larder keeps, and for how long (`[retention]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    /// Raw observations older than this many days are folded into daily
    /// aggregates (per item per day) and deleted, on the daemon's ticker.
    pub raw_days: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            raw_days: DEFAULT_RAW_DAYS,
        }
    }
}
