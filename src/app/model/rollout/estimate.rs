//! The honest estimate before a roll-out starts: how long it takes staged and all at once, how
//! many messages it costs against the hub's daily quota, and which limit is the bottleneck — from
//! the hub's tier (job device operations per second, concurrent jobs, daily messages) and DPS's
//! registration rate when the operation makes devices register again. Arithmetic only; the curves
//! are the planned cumulative devices over time for both plans.

use serde::{Deserialize, Serialize};

/// What the service measures messages in (4 KB; 0.5 KB on the free tier).
pub const MESSAGE_CHUNK_BYTES: u64 = 4096;

/// The hub's limits that shape a roll-out (from its tier and units).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubCapacity {
    /// Job device operations per second (S1: 10).
    pub job_device_ops_per_sec: f64,
    /// Jobs that may run at once (S1: 1, so waves run one after another).
    pub max_concurrent_jobs: u32,
    /// Messages per day (S1: 400 000 per unit).
    pub daily_messages: u64,
    /// Message chunk size in bytes (4 096; 512 on F1).
    pub chunk_bytes: u64,
}

impl HubCapacity {
    /// The capacity of a hub of `limits` (a tier and units); unlimited values become very large
    /// (the `dev` tier: nothing but the devices themselves sets the pace).
    pub fn from_limits(limits: &crate::azure::tier::HubLimits) -> Self {
        Self {
            job_device_ops_per_sec: limits.job_device_ops_per_sec.unwrap_or(f64::MAX),
            max_concurrent_jobs: limits.max_active_jobs.map_or(u32::MAX, |jobs| u32::try_from(jobs).unwrap_or(u32::MAX)),
            daily_messages: limits.daily_messages.unwrap_or(u64::MAX),
            chunk_bytes: limits.message_chunk_bytes as u64,
        }
    }
}

/// What one device's operation costs and does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum OperationCost {
    /// A direct method; `reregisters` when the device then registers again through DPS
    /// (`reprovision`, or a policy applied now).
    Method {
        /// Request payload bytes.
        request_bytes: u64,
        /// Expected response payload bytes.
        response_bytes: u64,
        /// The device registers with DPS afterwards.
        reregisters: bool,
    },
    /// A desired-property update.
    TwinUpdate {
        /// Patch bytes.
        patch_bytes: u64,
    },
}

/// Everything the estimate needs.
#[derive(Clone, Debug, PartialEq)]
pub struct EstimateInput {
    /// Wave sizes (their sum is the target's size).
    pub waves: Vec<usize>,
    /// The hub's limits.
    pub hub: HubCapacity,
    /// DPS registrations per minute (1 000 by default).
    pub dps_registrations_per_min: f64,
    /// The roll-out's own device-rate cap (devices per second), if any.
    pub rate_cap_per_sec: Option<f64>,
    /// Wait between waves.
    pub soak_secs: f64,
    /// Fixed cost of one job: from creation to its first device (the service's queueing) and
    /// from its last device to `completed`.
    pub job_overhead_secs: f64,
    /// How long one device takes to do the operation (answer, register again, …).
    pub device_secs: f64,
    /// The operation.
    pub operation: OperationCost,
}

/// The limit that sets the pace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bottleneck {
    /// The hub's job device operations per second.
    JobDeviceOperations,
    /// The roll-out's own rate cap.
    RateCap,
    /// DPS registrations per minute (devices register again).
    DpsRegistrations,
    /// The daily message quota runs out before the roll-out ends.
    DailyQuota,
}

impl Bottleneck {
    /// As the console says it.
    pub fn label(self) -> &'static str {
        match self {
            Self::JobDeviceOperations => "the hub's job device operations per second",
            Self::RateCap => "the roll-out's device-rate cap",
            Self::DpsRegistrations => "DPS registrations per minute",
            Self::DailyQuota => "the hub's daily message quota",
        }
    }
}

/// The estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Devices in the target.
    pub devices: usize,
    /// Seconds for the staged plan.
    pub staged_secs: f64,
    /// Seconds for one job over everything.
    pub all_at_once_secs: f64,
    /// Devices per second the staged plan runs at.
    pub staged_rate: f64,
    /// Messages charged.
    pub messages: u64,
    /// The hub's daily quota.
    pub daily_quota: u64,
    /// What limits the staged plan.
    pub bottleneck: Bottleneck,
    /// All at once, devices ask DPS this many times faster than it registers them (> 1: a 429
    /// storm); `None` when the operation does not register devices again.
    pub all_at_once_dps_overload: Option<f64>,
    /// Planned cumulative devices over time, staged: `[seconds, devices]`.
    pub staged_curve: Vec<[f64; 2]>,
    /// The same, all at once.
    pub all_at_once_curve: Vec<[f64; 2]>,
}

/// Computes the estimate.
pub fn estimate(input: &EstimateInput) -> Estimate {
    let devices: usize = input.waves.iter().sum();
    let hub_rate = input.hub.job_device_ops_per_sec.max(f64::MIN_POSITIVE);
    let dps_rate = match input.operation {
        OperationCost::Method { reregisters: true, .. } => Some((input.dps_registrations_per_min / 60.0).max(f64::MIN_POSITIVE)),
        _ => None,
    };
    let mut staged_rate = hub_rate;
    let mut bottleneck = Bottleneck::JobDeviceOperations;
    if let Some(cap) = input.rate_cap_per_sec.filter(|cap| *cap > 0.0 && *cap < staged_rate) {
        staged_rate = cap;
        bottleneck = Bottleneck::RateCap;
    }
    if let Some(dps) = dps_rate.filter(|dps| *dps < staged_rate) {
        staged_rate = dps;
        bottleneck = Bottleneck::DpsRegistrations;
    }
    let messages = messages(input.operation, devices, input.hub.chunk_bytes.max(1));
    if messages > input.hub.daily_messages {
        bottleneck = Bottleneck::DailyQuota;
    }

    let mut staged_curve = vec![[0.0, 0.0]];
    let (mut clock, mut covered) = (0.0_f64, 0.0_f64);
    for (index, size) in input.waves.iter().enumerate() {
        if index > 0 {
            clock += input.soak_secs;
            staged_curve.push([clock, covered]);
        }
        clock += input.job_overhead_secs / 2.0;
        staged_curve.push([clock, covered]);
        // Counts become seconds; device counts are exact in f64.
        #[allow(clippy::cast_precision_loss)]
        let wave = *size as f64;
        clock += wave / staged_rate + input.device_secs + input.job_overhead_secs / 2.0;
        covered += wave;
        staged_curve.push([clock, covered]);
    }
    // All at once the job runs at the hub's pace; devices beyond DPS's rate are refused (429)
    // and retry, so they are registered no faster than DPS allows — only with more risk.
    #[allow(clippy::cast_precision_loss)]
    let total = devices as f64;
    let all_at_once_rate = dps_rate.map_or(hub_rate, |dps| dps.min(hub_rate));
    let all_at_once_secs = if devices == 0 { 0.0 } else { input.job_overhead_secs + total / all_at_once_rate + input.device_secs };
    let all_at_once_curve =
        if devices == 0 { vec![[0.0, 0.0]] } else { vec![[0.0, 0.0], [input.job_overhead_secs / 2.0, 0.0], [all_at_once_secs, total]] };
    Estimate {
        devices,
        staged_secs: clock,
        all_at_once_secs,
        staged_rate,
        messages,
        daily_quota: input.hub.daily_messages,
        bottleneck,
        all_at_once_dps_overload: dps_rate.map(|dps| hub_rate / dps),
        staged_curve,
        all_at_once_curve,
    }
}

/// Messages charged, as the service charges them: a method costs its request chunks plus its
/// response chunks (at least one each); a twin update its patch chunks plus one desired
/// notification.
pub fn messages(operation: OperationCost, devices: usize, chunk_bytes: u64) -> u64 {
    let chunks = |bytes: u64| bytes.div_ceil(chunk_bytes).max(1);
    let per_device = match operation {
        OperationCost::Method { request_bytes, response_bytes, .. } => chunks(request_bytes) + chunks(response_bytes),
        OperationCost::TwinUpdate { patch_bytes } => chunks(patch_bytes) + 1,
    };
    per_device * devices as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: HubCapacity =
        HubCapacity { job_device_ops_per_sec: 10.0, max_concurrent_jobs: 1, daily_messages: 400_000, chunk_bytes: 4096 };
    const S3: HubCapacity =
        HubCapacity { job_device_ops_per_sec: 50.0, max_concurrent_jobs: 10, daily_messages: 300_000_000, chunk_bytes: 4096 };
    const REPROVISION: OperationCost = OperationCost::Method { request_bytes: 2, response_bytes: 50, reregisters: true };

    fn input(waves: Vec<usize>, hub: HubCapacity, operation: OperationCost) -> EstimateInput {
        EstimateInput {
            waves,
            hub,
            dps_registrations_per_min: 1000.0,
            rate_cap_per_sec: None,
            soak_secs: 0.0,
            job_overhead_secs: 0.0,
            device_secs: 0.0,
            operation,
        }
    }

    #[test]
    fn the_reference_worked_examples() {
        // 100k reprovision on S1: the job's 10/s is below DPS's 16.7/s: ≈ 167 min.
        let s1 = estimate(&input(vec![100_000], S1, REPROVISION));
        assert_eq!(s1.bottleneck, Bottleneck::JobDeviceOperations);
        assert!((s1.staged_secs / 60.0 - 166.7).abs() < 0.1, "{}", s1.staged_secs / 60.0);
        assert_eq!(s1.messages, 200_000, "1-chunk request + 1-chunk response per device");
        // On S3 the job could go 50/s, DPS takes 16.7/s: ≈ 100 min, and all at once overloads DPS 3×.
        let s3 = estimate(&input(vec![100_000], S3, REPROVISION));
        assert_eq!(s3.bottleneck, Bottleneck::DpsRegistrations);
        assert!((s3.staged_secs / 60.0 - 100.0).abs() < 0.1, "{}", s3.staged_secs / 60.0);
        assert!((s3.all_at_once_dps_overload.unwrap() - 3.0).abs() < 1e-9);
        // 1M on one S1 unit: 2M messages against 400k a day.
        let million = estimate(&input(vec![1_000_000], S1, REPROVISION));
        assert_eq!((million.bottleneck, million.messages), (Bottleneck::DailyQuota, 2_000_000));
    }

    #[test]
    fn the_capacity_comes_from_the_tier_table() {
        use crate::azure::tier::{HubLimits, HubTier};
        assert_eq!(HubCapacity::from_limits(&HubLimits::for_tier(HubTier::S1, 1).unwrap()), S1);
        let s3 = HubCapacity::from_limits(&HubLimits::for_tier(HubTier::S3, 2).unwrap());
        assert_eq!((s3.job_device_ops_per_sec, s3.max_concurrent_jobs, s3.daily_messages), (100.0, 10, 600_000_000));
    }

    #[test]
    fn staged_waves_add_soak_and_overhead_and_the_curves_reach_every_device() {
        let plan = EstimateInput { soak_secs: 60.0, job_overhead_secs: 4.0, device_secs: 1.0, ..input(vec![10, 90, 900], S1, REPROVISION) };
        let estimate = estimate(&plan);
        // Three jobs of (4 s overhead + devices / 10 + 1 s) and two soaks.
        assert!((estimate.staged_secs - (3.0 * 5.0 + 100.0 + 120.0)).abs() < 1e-9, "{}", estimate.staged_secs);
        assert!((estimate.all_at_once_secs - 105.0).abs() < 1e-9, "{}", estimate.all_at_once_secs);
        assert_eq!(estimate.staged_curve.last(), Some(&[estimate.staged_secs, 1000.0]));
        assert!(estimate.staged_curve.windows(2).all(|pair| pair[1][0] >= pair[0][0] && pair[1][1] >= pair[0][1]), "monotone");
        assert_eq!(estimate.all_at_once_curve.last(), Some(&[105.0, 1000.0]));
    }

    #[test]
    fn a_rate_cap_below_the_hub_sets_the_pace_and_twin_updates_cost_a_notification() {
        let capped = estimate(&EstimateInput {
            rate_cap_per_sec: Some(2.0),
            ..input(vec![100], S1, OperationCost::TwinUpdate { patch_bytes: 5000 })
        });
        assert_eq!((capped.bottleneck, capped.staged_rate), (Bottleneck::RateCap, 2.0));
        assert_eq!(capped.messages, 300, "two 4 KB chunks of patch and one notification each");
        assert_eq!(capped.all_at_once_dps_overload, None);
        assert!(estimate(&input(Vec::new(), S1, REPROVISION)).all_at_once_secs.abs() < f64::EPSILON, "no devices, no time");
    }
}
