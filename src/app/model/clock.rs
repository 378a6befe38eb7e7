//! `Now`: the time a reducer or model method works with, read once per batch of events by the
//! app glue (`app::clock`) and passed in, so every time-dependent decision can be tested at a
//! chosen instant.

use std::time::{Duration, Instant, SystemTime};

/// A moment, on the monotonic clock (for timers and polling) and the wall clock (for what is
/// shown or sent: job start times, method history).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time, for intervals.
    pub instant: Instant,
    /// Wall-clock time, for timestamps.
    pub wall: SystemTime,
}

impl Now {
    /// The same moment `by` later on both clocks.
    #[must_use]
    pub fn later(self, by: Duration) -> Self {
        Self { instant: self.instant + by, wall: self.wall + by }
    }

    /// Seconds since the Unix epoch (0 before it).
    pub fn unix_seconds(self) -> f64 {
        self.wall.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |elapsed| elapsed.as_secs_f64())
    }

    /// The wall-clock time as UTC.
    pub fn utc(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::<chrono::Utc>::from(self.wall)
    }
}
