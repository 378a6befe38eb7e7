//! The daily message meter: messages charged as the service charges them (in chunks of 4 KB, or
//! 0.5 KB on the free tier; a direct method costs its request's chunks plus its response's, at
//! least one each), refused once the day's quota is used, until the next 00:00 UTC.

use chrono::{DateTime, NaiveDate, Utc};
use parking_lot::Mutex;

/// The day's quota is used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the hub's daily message quota of {limit} messages is used up until 00:00 UTC")]
pub struct QuotaExhausted {
    /// The quota.
    pub limit: u64,
}

/// Messages a hub sent and received today.
#[derive(Debug)]
pub struct MessageMeter {
    /// Messages a day; `None`: unmetered.
    limit: Option<u64>,
    chunk_bytes: usize,
    used: Mutex<(NaiveDate, u64)>,
}

impl MessageMeter {
    /// A meter of `limit` messages a day counted in `chunk_bytes` chunks.
    pub fn new(limit: Option<u64>, chunk_bytes: usize) -> Self {
        Self { limit, chunk_bytes: chunk_bytes.max(1), used: Mutex::new((NaiveDate::MIN, 0)) }
    }

    /// Messages a body of `bytes` costs: one per started chunk, an empty one costs one.
    pub fn chunks(&self, bytes: usize) -> u64 {
        u64::try_from(bytes.div_ceil(self.chunk_bytes).max(1)).unwrap_or(u64::MAX)
    }

    /// What a direct method (or a job's method call) costs: request plus response chunks.
    pub fn method_cost(&self, request_bytes: usize, response_bytes: usize) -> u64 {
        self.chunks(request_bytes) + self.chunks(response_bytes)
    }

    /// Refuses when the day's quota is already used; the charge comes after the work.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), QuotaExhausted> {
        let Some(limit) = self.limit else { return Ok(()) };
        let mut used = self.used.lock();
        roll_over(&mut used, now);
        if used.1 >= limit { Err(QuotaExhausted { limit }) } else { Ok(()) }
    }

    /// Counts `messages` against today (the last call of a day may go over, as the service's
    /// meter lags).
    pub fn charge(&self, messages: u64, now: DateTime<Utc>) {
        if self.limit.is_none() {
            return;
        }
        let mut used = self.used.lock();
        roll_over(&mut used, now);
        used.1 = used.1.saturating_add(messages);
    }

    /// Messages used today.
    pub fn used_today(&self, now: DateTime<Utc>) -> u64 {
        let mut used = self.used.lock();
        roll_over(&mut used, now);
        used.1
    }
}

/// A new UTC day starts from zero.
fn roll_over(used: &mut (NaiveDate, u64), now: DateTime<Utc>) {
    let today = now.date_naive();
    if used.0 != today {
        *used = (today, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn bodies_cost_one_message_per_started_chunk() {
        let meter = MessageMeter::new(Some(10), 4096);
        assert_eq!([0, 1, 4096, 4097, 8192, 8193].map(|bytes| meter.chunks(bytes)), [1, 1, 1, 2, 2, 3]);
        // "A job resulting in 1000 method calls with 1-KB requests and empty-payload responses is
        // charged 2000 messages."
        assert_eq!(1000 * meter.method_cost(1024, 0), 2000);
        let free = MessageMeter::new(Some(10), 512);
        assert_eq!(free.chunks(1024), 2);
        assert_eq!(free.method_cost(1024, 513), 4);
    }

    #[test]
    fn an_exhausted_quota_refuses_until_midnight_utc() {
        let meter = MessageMeter::new(Some(3), 4096);
        let evening = at("2026-12-01T23:59:00Z");
        meter.check(evening).unwrap();
        meter.charge(2, evening);
        meter.check(evening).unwrap();
        meter.charge(2, evening);
        assert_eq!(meter.check(evening), Err(QuotaExhausted { limit: 3 }));
        assert_eq!(meter.used_today(evening), 4);
        assert!(meter.check(at("2026-12-01T23:59:59.999Z")).is_err());
        let midnight = at("2026-12-02T00:00:00Z");
        meter.check(midnight).unwrap();
        assert_eq!(meter.used_today(midnight), 0);
    }

    #[test]
    fn without_a_limit_nothing_is_counted() {
        let meter = MessageMeter::new(None, 4096);
        let now = at("2026-12-01T12:00:00Z");
        meter.charge(u64::MAX, now);
        meter.check(now).unwrap();
        assert_eq!(meter.used_today(now), 0);
    }
}
