//! The retry policy: 429 waits for `Retry-After`, 5xx backs off exponentially (first retry
//! at least 5 s) with jitter, other 4xx are never retried.

use std::time::{Duration, SystemTime};

use chrono::DateTime;
use rand::RngExt as _;

use super::events::RetryReason;

/// Retry settings. [`RetryPolicy::default`] follows the DPS/IoT Hub retry guidance.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry of a 5xx or transport failure (the guidance says ≥ 5 s).
    pub first_backoff: Duration,
    /// Upper bound of the exponential back-off.
    pub max_backoff: Duration,
    /// Extra random share added to a back-off (0.2 = up to 20 % longer).
    pub jitter: f64,
    /// Wait after a 429 that carries no `Retry-After`.
    pub default_retry_after: Duration,
    /// A `Retry-After` longer than this is not waited for (the call fails instead).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            first_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_mins(1),
            jitter: 0.2,
            default_retry_after: Duration::from_secs(5),
            max_retry_after: Duration::from_mins(5),
        }
    }
}

/// What failed, as far as the policy cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with this status.
    Status {
        /// HTTP status.
        status: u16,
        /// Parsed `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// No connection was made: nothing reached the service, so any request may be retried.
    Connect,
    /// The connection broke or timed out after the request may have been sent.
    Interrupted {
        /// True when repeating the request cannot do anything twice.
        idempotent: bool,
    },
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// Wait, then try again.
    Retry {
        /// How long.
        wait: Duration,
        /// Why the call is retried (throttled, server error, transport).
        reason: RetryReason,
    },
    /// Report the failure.
    GiveUp,
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// Decides after attempt number `attempt` (1-based) failed.
    pub fn decide(&self, attempt: u32, failure: Failure) -> Decision {
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        match failure {
            Failure::Status { status: 429, retry_after } => {
                let wait = retry_after.unwrap_or(self.default_retry_after);
                if wait > self.max_retry_after { Decision::GiveUp } else { Decision::Retry { wait, reason: RetryReason::Throttled } }
            }
            Failure::Status { status, .. } if (500..600).contains(&status) => {
                Decision::Retry { wait: self.backoff(attempt), reason: RetryReason::ServerError(status) }
            }
            Failure::Status { .. } | Failure::Interrupted { idempotent: false } => Decision::GiveUp,
            Failure::Connect | Failure::Interrupted { idempotent: true } => {
                Decision::Retry { wait: self.backoff(attempt), reason: RetryReason::Transport }
            }
        }
    }

    /// `first_backoff × 2^(attempt-1)`, capped, plus up to `jitter` of itself: never shorter
    /// than `first_backoff`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let base = self.first_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        let share = if self.jitter > 0.0 { rand::rng().random_range(0.0..=self.jitter) } else { 0.0 };
        base + base.mul_f64(share)
    }
}

/// Parses `Retry-After`: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_waits_exactly_for_retry_after() {
        let policy = RetryPolicy::default();
        let decision = policy.decide(1, Failure::Status { status: 429, retry_after: Some(Duration::from_secs(7)) });
        assert_eq!(decision, Decision::Retry { wait: Duration::from_secs(7), reason: RetryReason::Throttled });
        let default_wait = policy.decide(1, Failure::Status { status: 429, retry_after: None });
        assert_eq!(default_wait, Decision::Retry { wait: policy.default_retry_after, reason: RetryReason::Throttled });
        let too_long = policy.decide(1, Failure::Status { status: 429, retry_after: Some(Duration::from_hours(1)) });
        assert_eq!(too_long, Decision::GiveUp);
    }

    #[test]
    fn server_errors_back_off_from_at_least_five_seconds() {
        let policy = RetryPolicy::default();
        for attempt in 1..policy.max_attempts {
            let Decision::Retry { wait, reason } = policy.decide(attempt, Failure::Status { status: 503, retry_after: None }) else {
                panic!("503 must be retried");
            };
            assert_eq!(reason, RetryReason::ServerError(503));
            let base = Duration::from_secs(5 * (1 << (attempt - 1))).min(policy.max_backoff);
            assert!(wait >= base && wait <= base.mul_f64(1.2), "attempt {attempt}: {wait:?}");
            assert!(wait >= Duration::from_secs(5));
        }
        assert_eq!(policy.decide(policy.max_attempts, Failure::Status { status: 503, retry_after: None }), Decision::GiveUp);
    }

    #[test]
    fn other_client_errors_are_never_retried() {
        let policy = RetryPolicy::default();
        for status in [400, 401, 403, 404, 409, 412, 413] {
            assert_eq!(policy.decide(1, Failure::Status { status, retry_after: None }), Decision::GiveUp, "{status}");
        }
    }

    #[test]
    fn transport_failures_retry_only_when_safe() {
        let policy = RetryPolicy::default();
        assert!(matches!(policy.decide(1, Failure::Connect), Decision::Retry { .. }));
        assert!(matches!(policy.decide(1, Failure::Interrupted { idempotent: true }), Decision::Retry { .. }));
        assert_eq!(policy.decide(1, Failure::Interrupted { idempotent: false }), Decision::GiveUp);
        assert_eq!(RetryPolicy::none().decide(1, Failure::Connect), Decision::GiveUp);
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_481);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now), Some(Duration::from_secs(9)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
