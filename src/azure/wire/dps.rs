//! Device Provisioning Service shapes shared by the client and the simulator: re-provisioning
//! and allocation policies, registration status and substatus.

use serde::{Deserialize, Serialize};

/// What happens when an already-assigned device registers again (`reprovisionPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReprovisionPolicy {
    /// Evaluate the hub assignment again (and move the device if allocation picks another hub).
    pub update_hub_assignment: bool,
    /// When moving, copy the device's current twin and identity; otherwise use the initial twin.
    pub migrate_device_data: bool,
}

impl ReprovisionPolicy {
    /// "Re-provision and migrate data" (the default for new enrollments).
    pub const MIGRATE: Self = Self { update_hub_assignment: true, migrate_device_data: true };
    /// "Re-provision and reset to initial config".
    pub const RESET: Self = Self { update_hub_assignment: true, migrate_device_data: false };
    /// "Never re-provision" (as the az CLI writes it).
    pub const NEVER: Self = Self { update_hub_assignment: false, migrate_device_data: false };
}

/// How DPS picks a hub (`allocationPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AllocationPolicy {
    /// Evenly weighted distribution.
    Hashed,
    /// Lowest latency.
    GeoLatency,
    /// The one hub the enrollment names.
    Static,
    /// A webhook decides.
    Custom,
}

/// A registration's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // the service's own names
pub enum RegistrationStatus {
    Unassigned,
    Assigning,
    Assigned,
    Failed,
    Disabled,
}

/// Why an assigned registration is where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RegistrationSubstatus {
    /// First assignment as far as DPS knows.
    InitialAssignment,
    /// Moved to another hub with its data; removed from the old hub.
    DeviceDataMigrated,
    /// Given the enrollment's initial state (moved, or reset in place).
    DeviceDataReset,
    /// DPS thought it was the first registration, but the device already existed on the hub.
    ReprovisionedToInitialAssignment,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wire_spellings() {
        assert_eq!(
            serde_json::to_value(ReprovisionPolicy::RESET).unwrap(),
            json!({"updateHubAssignment": true, "migrateDeviceData": false})
        );
        assert_eq!(serde_json::to_value(AllocationPolicy::GeoLatency).unwrap(), json!("geoLatency"));
        assert_eq!(serde_json::to_value(RegistrationSubstatus::DeviceDataMigrated).unwrap(), json!("deviceDataMigrated"));
        assert_eq!(
            serde_json::from_value::<RegistrationSubstatus>(json!("reprovisionedToInitialAssignment")).unwrap(),
            RegistrationSubstatus::ReprovisionedToInitialAssignment
        );
        assert_eq!(serde_json::to_value(RegistrationStatus::Assigning).unwrap(), json!("assigning"));
    }
}
