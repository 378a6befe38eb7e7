//! The simulator's clock: wall time that follows tokio's clock, so timeouts, schedules and
//! back-off can be tested on a paused clock, stored as 100 ns ticks (the service's precision);
//! and the plain Unix seconds SAS expiry is checked against.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use crate::azure::wire::Timestamp;

/// 100 ns ticks since 1970-01-01T00:00:00Z. `0` means "never".
pub type Ticks = i64;

/// Wall time and tokio's clock read together once; the simulator's "now" is that wall time
/// plus how far tokio's clock has moved since. On a running clock this is the wall time (less
/// any later adjustment of the system clock); on a paused clock (tests) it moves only when
/// tokio's clock is advanced, so every wait is exact.
fn anchor() -> &'static (DateTime<Utc>, tokio::time::Instant) {
    static ANCHOR: OnceLock<(DateTime<Utc>, tokio::time::Instant)> = OnceLock::new();
    ANCHOR.get_or_init(|| (Utc::now(), tokio::time::Instant::now()))
}

/// The simulator's current time.
pub fn now() -> DateTime<Utc> {
    let (wall, instant) = *anchor();
    let elapsed = tokio::time::Instant::now().saturating_duration_since(instant);
    wall + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::zero())
}

/// The current time as a wire timestamp.
pub fn now_timestamp() -> Timestamp {
    Timestamp(now())
}

/// The current time in ticks.
pub fn now_ticks() -> Ticks {
    ticks_from(now())
}

/// Seconds since 1970 on the system clock: SAS expiry is signed by clients against it.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// Converts a time to ticks.
pub fn ticks_from(time: DateTime<Utc>) -> Ticks {
    time.timestamp() * 10_000_000 + i64::from(time.timestamp_subsec_nanos() / 100)
}

/// Converts ticks to the wire timestamp; `0` becomes "never".
pub fn timestamp(ticks: Ticks) -> Timestamp {
    if ticks == 0 {
        return Timestamp::NEVER;
    }
    let secs = ticks.div_euclid(10_000_000);
    // rem_euclid(10^7) * 100 < 10^9, so it fits in u32.
    let nanos = u32::try_from(ticks.rem_euclid(10_000_000) * 100).unwrap_or(0);
    DateTime::from_timestamp(secs, nanos).map_or(Timestamp::NEVER, Timestamp)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn round_trips_with_seven_digits() {
        let parsed = Timestamp::parse("2019-12-29T00:58:49.9315265Z").unwrap();
        assert_eq!(timestamp(ticks_from(parsed.0)).to_wire(), "2019-12-29T00:58:49.9315265Z");
        assert!(timestamp(0).is_never());
    }

    #[test]
    fn follows_the_wall_clock_when_time_runs() {
        let drift = (now() - Utc::now()).num_milliseconds().abs();
        assert!(drift < 1000, "the simulator's clock is {drift} ms off the wall clock");
    }

    #[tokio::test(start_paused = true)]
    async fn moves_exactly_with_a_paused_clock() {
        let before = now();
        tokio::time::sleep(Duration::from_hours(1)).await;
        assert_eq!(now() - before, chrono::Duration::hours(1));
    }
}
