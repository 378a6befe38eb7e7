//! Registry and service statistics.

use serde::{Deserialize, Serialize};

/// `GET /statistics/devices`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatistics {
    /// All devices.
    pub total_device_count: u64,
    /// Enabled devices.
    pub enabled_device_count: u64,
    /// Disabled devices.
    pub disabled_device_count: u64,
}

/// `GET /statistics/service`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatistics {
    /// Devices connected right now.
    pub connected_device_count: u64,
}
