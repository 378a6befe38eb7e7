//! Fault injection, off by default: throttling (429 with `Retry-After`), 503s and latency,
//! at configured rates or queued one by one (tests).

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

use super::error::HubError;
use crate::azure::wire::ErrorCode;

/// Rates and sizes of injected faults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Share of requests answered 429 (0.0..=1.0).
    pub throttle_rate: f64,
    /// Share of requests answered 503.
    pub unavailable_rate: f64,
    /// Delay added to every request.
    pub latency: Duration,
    /// `Retry-After` seconds sent with 429.
    pub retry_after_secs: u32,
}

impl FaultConfig {
    /// Checks the rates are shares.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [("--fault-429", self.throttle_rate), ("--fault-503", self.unavailable_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, not {rate}"));
            }
        }
        Ok(())
    }
}

/// One fault to inject into the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 `ThrottlingException` with this `Retry-After`.
    Throttle {
        /// The `Retry-After` sent with the 429, in seconds.
        retry_after_secs: u32,
    },
    /// 503 `ServiceUnavailable`.
    Unavailable,
}

/// Decides, per request, whether to fail it.
pub struct FaultInjector {
    config: Mutex<FaultConfig>,
    queued: Mutex<VecDeque<Fault>>,
    rng: Mutex<StdRng>,
}

impl FaultInjector {
    /// An injector with `config`, its random choices seeded for repeatable runs.
    pub fn new(config: FaultConfig, seed: u64) -> Self {
        Self { config: Mutex::new(config), queued: Mutex::new(VecDeque::new()), rng: Mutex::new(StdRng::seed_from_u64(seed)) }
    }

    /// Replaces the rates.
    pub fn set_config(&self, config: FaultConfig) {
        *self.config.lock() = config;
    }

    /// Fails the next requests with these faults, in order.
    pub fn queue(&self, faults: impl IntoIterator<Item = Fault>) {
        self.queued.lock().extend(faults);
    }

    /// The delay to add to a request.
    pub fn latency(&self) -> Duration {
        self.config.lock().latency
    }

    /// The error to answer instead of serving the request, if any.
    pub fn next_fault(&self) -> Option<HubError> {
        let fault = self.queued.lock().pop_front().or_else(|| {
            let config = self.config.lock().clone();
            let roll: f64 = self.rng.lock().random();
            if roll < config.throttle_rate {
                Some(Fault::Throttle { retry_after_secs: config.retry_after_secs })
            } else if roll < config.throttle_rate + config.unavailable_rate {
                Some(Fault::Unavailable)
            } else {
                None
            }
        })?;
        Some(match fault {
            Fault::Throttle { retry_after_secs } => HubError {
                retry_after_secs: Some(retry_after_secs),
                ..HubError::new(ErrorCode::ThrottlingException, "The request rate is too high (fault injected by the simulator)")
            },
            Fault::Unavailable => {
                HubError::new(ErrorCode::ServiceUnavailable, "The service is unavailable (fault injected by the simulator)")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_come_first_then_rates_apply() {
        let injector = FaultInjector::new(FaultConfig::default(), 1);
        injector.queue([Fault::Throttle { retry_after_secs: 3 }, Fault::Unavailable]);
        let first = injector.next_fault().unwrap();
        assert_eq!((first.status(), first.retry_after_secs), (429, Some(3)));
        assert_eq!(injector.next_fault().unwrap().status(), 503);
        assert!(injector.next_fault().is_none(), "no rates configured");
        injector.set_config(FaultConfig { throttle_rate: 0.5, retry_after_secs: 1, ..FaultConfig::default() });
        let throttled = (0..1000).filter(|_| injector.next_fault().is_some()).count();
        assert!((400..600).contains(&throttled), "{throttled}");
    }

    #[test]
    fn rates_must_be_shares() {
        assert!(FaultConfig { throttle_rate: 1.5, ..FaultConfig::default() }.validate().unwrap_err().contains("--fault-429"));
    }
}
