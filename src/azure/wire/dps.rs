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

/// Shapes of enrollments, groups and registration records (service API 2021-10-01).
pub mod enrollment {
    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value};

    use super::{AllocationPolicy, RegistrationStatus, RegistrationSubstatus, ReprovisionPolicy};
    use crate::azure::secret::Secret;

    /// Symmetric keys of an attestation (the service generates them when empty; GET omits them).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SymmetricKeyAttestation {
        /// Primary key (base64).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub primary_key: Option<Secret>,
        /// Secondary key (base64).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub secondary_key: Option<Secret>,
    }

    /// How a device proves who it is. TPM and X.509 details are kept as sent.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AttestationMechanism {
        /// `none`, `tpm`, `x509` or `symmetricKey`.
        #[serde(rename = "type")]
        pub kind: String,
        /// Symmetric keys.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub symmetric_key: Option<SymmetricKeyAttestation>,
        /// TPM details.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tpm: Option<Value>,
        /// X.509 details.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub x509: Option<Value>,
    }

    /// The twin a device gets on its first assignment (or a reset).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InitialTwin {
        /// Tags the device's twin starts with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tags: Option<Map<String, Value>>,
        /// `{"desired": …}`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub properties: Option<InitialTwinProperties>,
    }

    /// Desired properties of an initial twin.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InitialTwinProperties {
        /// Desired properties.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub desired: Option<Map<String, Value>>,
    }

    /// What an enrollment or group has in common.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct EnrollmentSettings {
        /// `{"iotEdge": bool}`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub capabilities: Option<Value>,
        /// Legacy single hub.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub iot_hub_host_name: Option<String>,
        /// Initial twin.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub initial_twin: Option<InitialTwin>,
        /// Etag (opaque).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub etag: Option<String>,
        /// `enabled` or `disabled`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub provisioning_status: Option<String>,
        /// `None`: never saved (the legacy sticky behaviour for old devices).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reprovision_policy: Option<ReprovisionPolicy>,
        /// When the enrollment was created.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub created_date_time_utc: Option<String>,
        /// Last change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub last_updated_date_time_utc: Option<String>,
        /// Overrides the instance's default policy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allocation_policy: Option<AllocationPolicy>,
        /// Candidate hubs (host names).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub iot_hubs: Option<Vec<String>>,
        /// `{webhookUrl, apiVersion}` for custom allocation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub custom_allocation_definition: Option<Value>,
    }

    /// An individual enrollment.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct IndividualEnrollment {
        /// Registration id (case-insensitive).
        pub registration_id: String,
        /// Device id on the hub (defaults to the registration id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_id: Option<String>,
        /// The current registration, read-only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub registration_state: Option<DeviceRegistrationState>,
        /// How devices of this enrollment prove who they are.
        pub attestation: AttestationMechanism,
        /// Everything else.
        #[serde(flatten)]
        pub settings: EnrollmentSettings,
    }

    /// An enrollment group.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct EnrollmentGroup {
        /// Group id.
        pub enrollment_group_id: String,
        /// Attestation (group keys derive each device's key).
        pub attestation: AttestationMechanism,
        /// Everything else.
        #[serde(flatten)]
        pub settings: EnrollmentSettings,
    }

    /// A registration record (`GET /registrations/{id}`).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct DeviceRegistrationState {
        /// Registration id.
        pub registration_id: String,
        /// First registration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub created_date_time_utc: Option<String>,
        /// Hub host name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub assigned_hub: Option<String>,
        /// Device id on that hub.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_id: Option<String>,
        /// Where the registration is (assigning, assigned, failed, disabled).
        pub status: RegistrationStatus,
        /// Substatus (assigned only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub substatus: Option<RegistrationSubstatus>,
        /// Error code (failed only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error_code: Option<i64>,
        /// Error text (failed only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error_message: Option<String>,
        /// Last change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub last_updated_date_time_utc: Option<String>,
        /// Etag (opaque).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub etag: Option<String>,
        /// What a custom-allocation webhook returned for the device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub payload: Option<Value>,
        /// Device side, symmetric-key attestation: `{"enrollmentGroupId": …}` when a group matched.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub symmetric_key: Option<Value>,
    }

    /// A device's registration call and its polling answer (`RegistrationOperationStatus`).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RegistrationOperationStatus {
        /// Opaque id to poll with.
        pub operation_id: String,
        /// `assigning`, `assigned`, `failed` or `disabled`.
        pub status: RegistrationStatus,
        /// The result, once the operation ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub registration_state: Option<DeviceRegistrationState>,
    }

    /// One bulk enrollment call (`POST /enrollments` or `/enrollmentGroups`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct BulkEnrollmentOperation {
        /// `create`, `update`, `updateIfMatchETag` or `delete`.
        pub mode: String,
        /// Individual enrollments (at most 10).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enrollments: Option<Vec<IndividualEnrollment>>,
        /// Enrollment groups (at most 10).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enrollment_groups: Option<Vec<EnrollmentGroup>>,
    }

    /// The answer to a bulk enrollment call.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct BulkEnrollmentOperationResult {
        /// True when every item succeeded.
        pub is_successful: bool,
        /// The items that failed.
        #[serde(default)]
        pub errors: Vec<BulkEnrollmentOperationError>,
    }

    /// One failed item of a bulk call.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct BulkEnrollmentOperationError {
        /// The enrollment's registration id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub registration_id: Option<String>,
        /// The group's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enrollment_group_id: Option<String>,
        /// Six-digit code.
        pub error_code: i64,
        /// Why the item failed, in words.
        pub error_status: String,
    }

    #[cfg(test)]
    mod tests {
        use serde_json::json;

        use super::*;

        #[test]
        fn documented_bodies_parse_and_round_trip() {
            let body = json!({
                "registrationId": "my-symkey-device",
                "attestation": {"type": "symmetricKey", "symmetricKey": {"primaryKey": "cHJpbWFyeQ==", "secondaryKey": "c2Vjb25kYXJ5"}},
                "capabilities": {"iotEdge": false},
                "etag": "\"13003fea-0000-0300-0000-62d1d5e50000\"",
                "provisioningStatus": "enabled",
                "reprovisionPolicy": {"updateHubAssignment": true, "migrateDeviceData": true},
                "createdDateTimeUtc": "2022-07-05T21:27:16.8123235Z",
                "lastUpdatedDateTimeUtc": "2022-07-05T21:27:16.8123235Z"
            });
            let enrollment: IndividualEnrollment = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(enrollment.settings.reprovision_policy, Some(ReprovisionPolicy::MIGRATE));
            let keys = enrollment.attestation.symmetric_key.clone().unwrap();
            assert_eq!(keys.primary_key.unwrap().expose(), "cHJpbWFyeQ==");
            assert!(!format!("{enrollment:?}").contains("cHJpbWFyeQ=="), "keys never reach Debug output");
            assert_eq!(serde_json::to_value(&enrollment).unwrap(), body, "nothing is lost on the way back");
            let group: EnrollmentGroup = serde_json::from_value(
                json!({"enrollmentGroupId": "lobby-locks", "attestation": {"type": "symmetricKey"}, "allocationPolicy": "geoLatency"}),
            )
            .unwrap();
            assert_eq!(group.settings.allocation_policy, Some(AllocationPolicy::GeoLatency));
            assert_eq!(group.settings.reprovision_policy, None, "an unsaved policy stays unsaved");
            let state: DeviceRegistrationState = serde_json::from_value(json!({"registrationId":"VM-DM-DEV-4",
                "assignedHub":"test-hub-integration.azure-devices.net","deviceId":"VM-DM-DEV-4",
                "status":"assigned","substatus":"deviceDataMigrated"}))
            .unwrap();
            assert_eq!(state.substatus, Some(RegistrationSubstatus::DeviceDataMigrated));
        }
    }
}
