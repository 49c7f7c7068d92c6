//! The clock at the edge. The core never reads time; the daemon asks a
//! `Clock`, which is the system clock in production and a manual clock in
//! the demo and in replay.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of "now" (Unix seconds, UTC).
pub trait Clock: Send + Sync {
    /// The current time in Unix seconds.
    fn now(&self) -> i64;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}

/// Start of the calendar month containing `now` in `tz` (Unix seconds);
/// 30 days back if the date cannot be computed.
pub fn month_start(tz: &jiff::tz::TimeZone, now: i64) -> i64 {
    jiff::Timestamp::from_second(now)
        .ok()
        .map(|t| t.to_zoned_datetime(tz.clone()))
        .and_then(|z| z.first_of_month().ok())
        .and_then(|z| z.start_of_day().ok())
        .map_or(now - 30 * crate::core::DAY, |z| z.timestamp().as_second())
}

/// A clock that only moves when told to (simulated time).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: i64) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(start),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}
