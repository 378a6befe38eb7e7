//! A token bucket on tokio's clock (so tests run on the paused clock): a rate, a burst, and
//! either "go ahead" or "retry after N seconds" (rounded up, as `Retry-After` is whole seconds).

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Refused: come back after this many whole seconds (at least 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub u32);

/// A rate limit shared by every caller.
#[derive(Debug)]
pub struct TokenBucket {
    /// Tokens added per second.
    per_sec: f64,
    /// Most tokens held (the burst).
    capacity: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    /// `per_sec` tokens a second, at most `burst` at once; starts full.
    pub fn per_second(per_sec: f64, burst: f64) -> Self {
        let capacity = burst.max(1.0);
        Self {
            per_sec: per_sec.max(f64::MIN_POSITIVE),
            capacity,
            state: Mutex::new(BucketState { tokens: capacity, refilled: Instant::now() }),
        }
    }

    /// `per_min` tokens a minute; the burst is a whole minute's worth, as the service applies
    /// its throttles "in minute ranges".
    pub fn per_minute(per_min: u32) -> Self {
        Self::per_second(f64::from(per_min) / 60.0, f64::from(per_min))
    }

    /// Takes `count` tokens, or tells how long until they are there (nothing is taken then).
    /// A request larger than the burst waits for a full bucket and takes it all.
    pub fn try_take(&self, count: u32) -> Result<(), RetryAfter> {
        let wanted = f64::from(count).min(self.capacity);
        let mut state = self.state.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.per_sec).min(self.capacity);
        state.refilled = now;
        if state.tokens + 1e-9 >= wanted {
            state.tokens = (state.tokens - wanted).max(0.0);
            return Ok(());
        }
        let seconds = ((wanted - state.tokens) / self.per_sec).ceil().max(1.0);
        // Clamped to the u32 range first, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Err(RetryAfter(seconds.min(f64::from(u32::MAX)) as u32))
    }

    /// Takes one token, waiting for it (the job engine's pacing). Waits are exact on tokio's
    /// clock: tokens are reserved ahead, so concurrent callers queue one after another.
    pub async fn take_one(&self) {
        let wait = {
            let mut state = self.state.lock();
            let now = Instant::now();
            let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
            state.tokens = (state.tokens + elapsed * self.per_sec).min(self.capacity);
            state.refilled = now;
            state.tokens -= 1.0;
            // A negative balance is a reservation: the caller waits until it is paid back.
            if state.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::try_from_secs_f64(-state.tokens / self.per_sec).unwrap_or(Duration::MAX)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_minute_budget_is_spent_then_refills_at_its_rate() {
        let bucket = TokenBucket::per_minute(120); // 2 a second
        for _ in 0..120 {
            bucket.try_take(1).unwrap();
        }
        assert_eq!(bucket.try_take(1), Err(RetryAfter(1)));
        assert_eq!(bucket.try_take(5), Err(RetryAfter(3)), "2.5 s rounded up");
        tokio::time::advance(Duration::from_millis(500)).await;
        bucket.try_take(1).unwrap();
        assert!(bucket.try_take(1).is_err());
        tokio::time::advance(Duration::from_mins(1)).await;
        for _ in 0..120 {
            bucket.try_take(1).unwrap();
        }
        assert!(bucket.try_take(1).is_err(), "the bucket holds one minute at most");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_larger_than_the_burst_takes_a_full_bucket() {
        let bucket = TokenBucket::per_minute(100);
        bucket.try_take(150).unwrap();
        assert_eq!(bucket.try_take(50), Err(RetryAfter(30)));
    }

    #[tokio::test(start_paused = true)]
    async fn pacing_ten_a_second_takes_exactly_n_over_ten_seconds() {
        let bucket = Arc::new(TokenBucket::per_second(10.0, 1.0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let bucket = Arc::clone(&bucket);
                tokio::spawn(async move { bucket.take_one().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // The first goes at once (a full bucket of one); 49 more at 10/s.
        assert_eq!(start.elapsed(), Duration::from_millis(4_900));
    }

    proptest! {
        #[test]
        fn never_more_than_burst_plus_rate_times_time(per_min in 1u32..2_000, steps in proptest::collection::vec(0u64..5_000, 1..60)) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            runtime.block_on(async {
                let bucket = TokenBucket::per_minute(per_min);
                let start = Instant::now();
                let mut taken = 0u64;
                for step in steps {
                    tokio::time::advance(Duration::from_millis(step)).await;
                    while bucket.try_take(1).is_ok() {
                        taken += 1;
                    }
                    let RetryAfter(seconds) = bucket.try_take(1).unwrap_err();
                    prop_assert!(seconds >= 1);
                    prop_assert!(f64::from(seconds) <= 60.0 / f64::from(per_min) + 1.0);
                    let allowed = f64::from(per_min) + start.elapsed().as_secs_f64() * f64::from(per_min) / 60.0;
                    #[allow(clippy::cast_precision_loss)]
                    let taken_f = taken as f64;
                    prop_assert!(taken_f <= allowed + 1e-6, "{taken} > {allowed}");
                }
                Ok(())
            })?;
        }
    }
}
