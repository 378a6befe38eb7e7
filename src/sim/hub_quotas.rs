//! One hub's live quotas, built from its [`HubLimits`]: the identity-registry and query buckets
//! (429 `ThrottlingException` with `Retry-After` when empty), the pace of job device operations,
//! and the daily message meter (403002 `IotHubQuotaExceeded` once used up). A limit that is
//! `None` costs nothing, so the `dev` tier behaves exactly as an unlimited simulator.

use super::clock;
use super::error::HubError;
use super::message_meter::MessageMeter;
use super::throttle::{RetryAfter, TokenBucket};
use super::tier::HubLimits;
use crate::azure::wire::ErrorCode;

/// A hub's throttles and meter.
#[derive(Debug)]
pub struct HubQuotas {
    registry: Option<TokenBucket>,
    queries: Option<TokenBucket>,
    job_device_ops: Option<TokenBucket>,
    meter: MessageMeter,
}

impl HubQuotas {
    /// The quotas `limits` describe, every bucket full.
    pub fn new(limits: &HubLimits) -> Self {
        Self {
            registry: limits.registry_ops_per_min.map(TokenBucket::per_minute),
            queries: limits.queries_per_min.map(TokenBucket::per_minute),
            // A burst of one: jobs run at their pace from the first device on.
            job_device_ops: limits.job_device_ops_per_sec.map(|per_sec| TokenBucket::per_second(per_sec, 1.0)),
            meter: MessageMeter::new(limits.daily_messages, limits.message_chunk_bytes),
        }
    }

    /// No limits.
    pub fn unlimited() -> Self {
        Self::new(&HubLimits::unlimited())
    }

    /// Admits `operations` identity-registry operations (a bulk call: one per device).
    pub fn admit_registry(&self, operations: u32) -> Result<(), HubError> {
        admit(self.registry.as_ref(), operations, "identity registry operations")
    }

    /// Admits one query.
    pub fn admit_query(&self) -> Result<(), HubError> {
        admit(self.queries.as_ref(), 1, "queries")
    }

    /// Waits for the next job device operation's turn at the tier's pace.
    pub async fn pace_job_device_operation(&self) {
        if let Some(bucket) = &self.job_device_ops {
            bucket.take_one().await;
        }
    }

    /// The daily message meter.
    pub fn meter(&self) -> &MessageMeter {
        &self.meter
    }

    /// 403002 when today's messages are used up.
    pub fn check_messages(&self) -> Result<(), HubError> {
        self.meter.check(clock::now()).map_err(|exhausted| HubError::new(ErrorCode::IotHubQuotaExceeded, exhausted.to_string()))
    }

    /// Counts `messages` against today.
    pub fn charge_messages(&self, messages: u64) {
        self.meter.charge(messages, clock::now());
    }
}

/// 429 `ThrottlingException` with `Retry-After` when `bucket` cannot give `count` tokens now.
fn admit(bucket: Option<&TokenBucket>, count: u32, what: &str) -> Result<(), HubError> {
    let Some(bucket) = bucket else { return Ok(()) };
    bucket.try_take(count).map_err(|RetryAfter(seconds)| HubError {
        retry_after_secs: Some(seconds),
        ..HubError::new(
            ErrorCode::ThrottlingException,
            format!("The request has been throttled: the hub's {what} per minute are used up. Wait {seconds} seconds and try again."),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::tier::HubTier;

    #[tokio::test(start_paused = true)]
    async fn an_s1_registry_allows_100_a_minute_then_429_with_retry_after() {
        let quotas = HubQuotas::new(&HubLimits::for_tier(HubTier::S1, 1).unwrap());
        quotas.admit_registry(50).unwrap(); // a bulk of 50 devices
        quotas.admit_registry(50).unwrap();
        let throttled = quotas.admit_registry(50).unwrap_err();
        assert_eq!((throttled.status(), throttled.code.number()), (429, 429_001));
        assert_eq!(throttled.retry_after_secs, Some(30));
        for _ in 0..20 {
            quotas.admit_query().unwrap();
        }
        assert_eq!(quotas.admit_query().unwrap_err().retry_after_secs, Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn the_dev_tier_never_refuses() {
        let quotas = HubQuotas::unlimited();
        for _ in 0..10_000 {
            quotas.admit_registry(100).unwrap();
            quotas.admit_query().unwrap();
        }
        quotas.charge_messages(u64::MAX);
        quotas.check_messages().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_meter_answers_403002() {
        let quotas = HubQuotas::new(&HubLimits { daily_messages: Some(2), ..HubLimits::unlimited() });
        quotas.charge_messages(2);
        let refused = quotas.check_messages().unwrap_err();
        assert_eq!((refused.status(), refused.code.number(), refused.code.name()), (403, 403_002, "IotHubQuotaExceeded"));
    }
}
