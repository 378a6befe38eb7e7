//! Time as the simulator reads it: 100 ns ticks since the Unix epoch (the service's precision)
//! for what it stores, whole seconds for SAS expiry checks.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use crate::azure::wire::Timestamp;

/// 100 ns ticks since 1970-01-01T00:00:00Z. `0` means "never".
pub type Ticks = i64;

/// The current time in ticks.
pub fn now_ticks() -> Ticks {
    ticks_from(Utc::now())
}

/// Seconds since 1970, as SAS tokens state their expiry (`se`). A clock set before 1970 reads
/// as 0, which makes every token look unexpired rather than failing every request.
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
    use super::*;

    #[test]
    fn round_trips_with_seven_digits() {
        let parsed = Timestamp::parse("2019-12-29T00:58:49.9315265Z").unwrap();
        assert_eq!(timestamp(ticks_from(parsed.0)).to_wire(), "2019-12-29T00:58:49.9315265Z");
        assert!(timestamp(0).is_never());
    }
}
