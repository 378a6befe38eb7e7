//! Hub tiers: what a tier and unit count allow ([`HubLimits`]), as one decision table taken from
//! the service's published quotas and throttles (IoT Hub "Quotas and throttling" and "Choose the
//! right tier": max concurrent jobs, job device operations, identity-registry operations, queries,
//! daily messages, max units). `dev` is the simulator's own tier without limits, the default, so
//! the first-run demo and every test run unthrottled. The simulator enforces this table and the
//! console's roll-out estimate plans with it.

use std::fmt;
use std::str::FromStr;

/// An IoT Hub tier (`dev`: the simulator without limits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HubTier {
    /// No limits (not a service tier).
    #[default]
    Dev,
    /// Free: one unit, 8 000 messages of 0.5 KB a day, S1's throttles.
    F1,
    /// Standard 1.
    S1,
    /// Standard 2.
    S2,
    /// Standard 3.
    S3,
}

impl HubTier {
    /// The name the service (and `--tier`) uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::F1 => "F1",
            Self::S1 => "S1",
            Self::S2 => "S2",
            Self::S3 => "S3",
        }
    }
}

impl fmt::Display for HubTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HubTier {
    type Err = TierError;

    fn from_str(text: &str) -> Result<Self, TierError> {
        match text.to_ascii_lowercase().as_str() {
            "dev" => Ok(Self::Dev),
            "f1" | "free" => Ok(Self::F1),
            "s1" => Ok(Self::S1),
            "s2" => Ok(Self::S2),
            "s3" => Ok(Self::S3),
            _ => Err(TierError::UnknownTier(text.to_owned())),
        }
    }
}

/// A tier or unit count the service would not accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TierError {
    /// Not a tier name.
    #[error("'{0}' is not a hub tier; use dev, F1, S1, S2 or S3")]
    UnknownTier(String),
    /// Too few or too many units for the tier.
    #[error("a {tier} hub has 1 to {max} units, not {units}")]
    Units {
        /// The tier.
        tier: HubTier,
        /// The units asked for.
        units: u32,
        /// The tier's maximum.
        max: u32,
    },
}

/// What a hub allows; `None` is unlimited.
#[derive(Clone, Debug, PartialEq)]
pub struct HubLimits {
    /// Jobs queued, scheduled or running at once (more get 429004).
    pub max_active_jobs: Option<usize>,
    /// Per-device operations (method calls, twin updates) jobs make, per second.
    pub job_device_ops_per_sec: Option<f64>,
    /// Identity-registry operations (create, get, list, update, delete; a bulk call counts one
    /// per device) per minute.
    pub registry_ops_per_min: Option<u32>,
    /// Queries per minute.
    pub queries_per_min: Option<u32>,
    /// Messages a day (all units together).
    pub daily_messages: Option<u64>,
    /// The size one message is metered in (4 KB; 0.5 KB on the free tier).
    pub message_chunk_bytes: usize,
}

impl HubLimits {
    /// No limits at all (the `dev` tier).
    pub fn unlimited() -> Self {
        Self {
            max_active_jobs: None,
            job_device_ops_per_sec: None,
            registry_ops_per_min: None,
            queries_per_min: None,
            daily_messages: None,
            message_chunk_bytes: FULL_CHUNK_BYTES,
        }
    }

    /// The limits of `units` units of `tier`: the whole table in one place.
    pub fn for_tier(tier: HubTier, units: u32) -> Result<Self, TierError> {
        let max_units = match tier {
            HubTier::Dev => u32::MAX,
            HubTier::F1 => 1,
            HubTier::S1 | HubTier::S2 => 200,
            HubTier::S3 => 10,
        };
        if units == 0 || units > max_units {
            return Err(TierError::Units { tier, units, max: max_units });
        }
        let u = units;
        // (max jobs, job device ops/s, registry ops/min, queries/min, messages/unit/day, chunk)
        let (jobs, job_ops, registry, queries, daily_per_unit, chunk) = match tier {
            HubTier::Dev => return Ok(Self::unlimited()),
            HubTier::F1 => (1, 10.0, 100 * u, 20 * u, 8_000, FREE_CHUNK_BYTES),
            HubTier::S1 => (1, 10.0, 100 * u, 20 * u, 400_000, FULL_CHUNK_BYTES),
            HubTier::S2 => (5, f64::from(u).max(10.0), 100 * u, 20 * u, 6_000_000, FULL_CHUNK_BYTES),
            HubTier::S3 => (10, 50.0 * f64::from(u), 5_000 * u, 1_000 * u, 300_000_000, FULL_CHUNK_BYTES),
        };
        Ok(Self {
            max_active_jobs: Some(jobs),
            job_device_ops_per_sec: Some(job_ops),
            registry_ops_per_min: Some(registry),
            queries_per_min: Some(queries),
            daily_messages: Some(daily_per_unit * u64::from(u)),
            message_chunk_bytes: chunk,
        })
    }
}

/// The standard tiers meter messages in 4 KB chunks.
pub const FULL_CHUNK_BYTES: usize = 4 * 1024;
/// The free tier meters them in 0.5 KB chunks.
pub const FREE_CHUNK_BYTES: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_published_limits() {
        let s1 = HubLimits::for_tier(HubTier::S1, 1).unwrap();
        assert_eq!(s1.max_active_jobs, Some(1));
        assert_eq!(s1.job_device_ops_per_sec, Some(10.0));
        assert_eq!((s1.registry_ops_per_min, s1.queries_per_min), (Some(100), Some(20)));
        assert_eq!((s1.daily_messages, s1.message_chunk_bytes), (Some(400_000), 4096));

        let s1x3 = HubLimits::for_tier(HubTier::S1, 3).unwrap();
        assert_eq!((s1x3.registry_ops_per_min, s1x3.queries_per_min, s1x3.daily_messages), (Some(300), Some(60), Some(1_200_000)));
        assert_eq!(s1x3.job_device_ops_per_sec, Some(10.0), "S1 jobs do not scale with units");

        let f1 = HubLimits::for_tier(HubTier::F1, 1).unwrap();
        assert_eq!((f1.max_active_jobs, f1.daily_messages, f1.message_chunk_bytes), (Some(1), Some(8_000), 512));

        let s2 = HubLimits::for_tier(HubTier::S2, 1).unwrap();
        assert_eq!((s2.max_active_jobs, s2.job_device_ops_per_sec, s2.daily_messages), (Some(5), Some(10.0), Some(6_000_000)));
        assert_eq!(HubLimits::for_tier(HubTier::S2, 25).unwrap().job_device_ops_per_sec, Some(25.0), "max(10/s, 1/s/unit)");

        let s3x2 = HubLimits::for_tier(HubTier::S3, 2).unwrap();
        assert_eq!(s3x2.max_active_jobs, Some(10));
        assert_eq!(s3x2.job_device_ops_per_sec, Some(100.0));
        assert_eq!((s3x2.registry_ops_per_min, s3x2.queries_per_min), (Some(10_000), Some(2_000)));
        assert_eq!(s3x2.daily_messages, Some(600_000_000));

        assert_eq!(HubLimits::for_tier(HubTier::Dev, 1).unwrap(), HubLimits::unlimited());
    }

    #[test]
    fn units_outside_the_tier_are_refused_by_name() {
        for (tier, units, max) in [(HubTier::F1, 2, 1), (HubTier::S1, 201, 200), (HubTier::S2, 0, 200), (HubTier::S3, 11, 10)] {
            let error = HubLimits::for_tier(tier, units).unwrap_err();
            assert_eq!(error, TierError::Units { tier, units, max });
            assert!(error.to_string().contains(&format!("1 to {max} units")), "{error}");
        }
        assert!(HubLimits::for_tier(HubTier::S3, 10).is_ok());
    }

    #[test]
    fn tier_names_parse_case_insensitively() {
        assert_eq!("s1".parse::<HubTier>().unwrap(), HubTier::S1);
        assert_eq!("F1".parse::<HubTier>().unwrap(), HubTier::F1);
        assert_eq!("dev".parse::<HubTier>().unwrap(), HubTier::Dev);
        assert!("B1".parse::<HubTier>().unwrap_err().to_string().contains("'B1' is not a hub tier"));
    }
}
