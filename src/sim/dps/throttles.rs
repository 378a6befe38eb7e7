//! DPS's rate limits: device registrations per minute, operation-status polling 5 per 10 s per
//! device, service operations per minute; refused with 429 and `Retry-After` in seconds. Also the
//! counters of what the simulated fleet saw when it registered again (429s, retries), so a
//! benchmark can show an all-at-once re-provisioning's 429 storm against a staged one.
//!
//! Status lookups (`POST /{idScope}/registrations/{id}`) are not counted: the sources disagree
//! whether they count as registrations, and billing treats them as free.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::error::DpsError;
use crate::sim::throttle::{RetryAfter, TokenBucket};

/// DPS's published default for registrations and for service operations, per minute.
pub const DEFAULT_PER_MINUTE: u32 = 1_000;
/// Polls of one device's operation status allowed per [`POLL_WINDOW`].
pub const POLLS_PER_WINDOW: u32 = 5;
/// The polling window.
pub const POLL_WINDOW: Duration = Duration::from_secs(10);

/// DPS's rates; `None` is unlimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpsLimits {
    /// Device registrations (`PUT …/register`, HTTP and MQTT) per minute.
    pub registrations_per_min: Option<u32>,
    /// Service API operations per minute.
    pub service_ops_per_min: Option<u32>,
    /// Operation-status polls per device per 10 s.
    pub polls_per_10s: Option<u32>,
}

impl Default for DpsLimits {
    /// The service's defaults: generous enough for the demo (15 registrations) and every test.
    fn default() -> Self {
        Self {
            registrations_per_min: Some(DEFAULT_PER_MINUTE),
            service_ops_per_min: Some(DEFAULT_PER_MINUTE),
            polls_per_10s: Some(POLLS_PER_WINDOW),
        }
    }
}

impl DpsLimits {
    /// No limits.
    pub fn unlimited() -> Self {
        Self { registrations_per_min: None, service_ops_per_min: None, polls_per_10s: None }
    }
}

/// What the simulated devices saw when they registered again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetRetryCounts {
    /// 429 answers they got.
    pub throttled: u64,
    /// Registrations they tried again (after a 429 or a 5xx).
    pub retried: u64,
}

/// The live buckets and counters.
#[derive(Debug)]
pub struct DpsThrottles {
    registrations: Option<TokenBucket>,
    service_ops: Option<TokenBucket>,
    polls_per_10s: Option<u32>,
    /// One polling bucket per registration id (lowercase).
    polls: Mutex<HashMap<String, TokenBucket>>,
    fleet_throttled: AtomicU64,
    fleet_retried: AtomicU64,
}

impl DpsThrottles {
    /// Full buckets for `limits`.
    pub fn new(limits: &DpsLimits) -> Self {
        Self {
            registrations: limits.registrations_per_min.map(TokenBucket::per_minute),
            service_ops: limits.service_ops_per_min.map(TokenBucket::per_minute),
            polls_per_10s: limits.polls_per_10s,
            polls: Mutex::new(HashMap::new()),
            fleet_throttled: AtomicU64::new(0),
            fleet_retried: AtomicU64::new(0),
        }
    }

    /// Admits one device registration.
    pub fn admit_registration(&self) -> Result<(), DpsError> {
        admit(self.registrations.as_ref())
    }

    /// Admits one service operation.
    pub fn admit_service_operation(&self) -> Result<(), DpsError> {
        admit(self.service_ops.as_ref())
    }

    /// Admits one operation-status poll of `registration_id`.
    pub fn admit_poll(&self, registration_id: &str) -> Result<(), DpsError> {
        let Some(per_window) = self.polls_per_10s else { return Ok(()) };
        let mut polls = self.polls.lock();
        let bucket = polls
            .entry(registration_id.to_lowercase())
            .or_insert_with(|| TokenBucket::per_second(f64::from(per_window) / POLL_WINDOW.as_secs_f64(), f64::from(per_window)));
        admit(Some(bucket))
    }

    /// Counts a 429 a simulated device got.
    pub fn count_fleet_throttled(&self) {
        self.fleet_throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a registration a simulated device tried again.
    pub fn count_fleet_retry(&self) {
        self.fleet_retried.fetch_add(1, Ordering::Relaxed);
    }

    /// The simulated fleet's counts so far.
    pub fn fleet_counts(&self) -> FleetRetryCounts {
        FleetRetryCounts { throttled: self.fleet_throttled.load(Ordering::Relaxed), retried: self.fleet_retried.load(Ordering::Relaxed) }
    }
}

/// 429 with `Retry-After` when `bucket` is empty.
fn admit(bucket: Option<&TokenBucket>) -> Result<(), DpsError> {
    let Some(bucket) = bucket else { return Ok(()) };
    bucket.try_take(1).map_err(|RetryAfter(seconds)| DpsError {
        retry_after_secs: Some(seconds),
        ..DpsError::new(THROTTLED_CODE, "Operations are being throttled by the service.")
    })
}

/// The error code of DPS's 429 (no capture of the real one is known; 429001 mirrors the hub's).
pub const THROTTLED_CODE: u32 = 429_001;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn registrations_run_out_after_the_minute_budget() {
        let throttles = DpsThrottles::new(&DpsLimits { registrations_per_min: Some(3), ..DpsLimits::unlimited() });
        for _ in 0..3 {
            throttles.admit_registration().unwrap();
        }
        let refused = throttles.admit_registration().unwrap_err();
        assert_eq!((refused.status(), refused.code, refused.retry_after_secs), (429, 429_001, Some(20)));
        throttles.admit_service_operation().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn each_device_polls_five_times_per_ten_seconds() {
        let throttles = DpsThrottles::new(&DpsLimits::default());
        for _ in 0..5 {
            throttles.admit_poll("door-1").unwrap();
        }
        assert_eq!(throttles.admit_poll("Door-1").unwrap_err().retry_after_secs, Some(2));
        throttles.admit_poll("door-2").unwrap();
        tokio::time::advance(Duration::from_secs(2)).await;
        throttles.admit_poll("door-1").unwrap();
    }
}
