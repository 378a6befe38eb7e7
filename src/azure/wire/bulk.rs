//! Bulk registry operations (`POST /devices`): the request items and the result.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{AuthenticationMechanism, DeviceCapabilities, DeviceStatus, TwinProperties};

/// What to do with one device in a bulk call. The service matches it case-insensitively
/// (Node sends `Update`, Python `update`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImportMode {
    /// Create; fails if it exists.
    Create,
    /// Create or update, ignoring etags.
    Update,
    /// Update only if `eTag` matches.
    UpdateIfMatchETag,
    /// Delete, ignoring etags.
    Delete,
    /// Delete only if `eTag` matches.
    DeleteIfMatchETag,
    /// Update the twin only.
    UpdateTwin,
    /// Update the twin only if `twinETag` matches.
    UpdateTwinIfMatchETag,
}

impl ImportMode {
    const ALL: [Self; 7] = [
        Self::Create,
        Self::Update,
        Self::UpdateIfMatchETag,
        Self::Delete,
        Self::DeleteIfMatchETag,
        Self::UpdateTwin,
        Self::UpdateTwinIfMatchETag,
    ];

    /// The wire spelling (Python's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::UpdateIfMatchETag => "updateIfMatchETag",
            Self::Delete => "delete",
            Self::DeleteIfMatchETag => "deleteIfMatchETag",
            Self::UpdateTwin => "updateTwin",
            Self::UpdateTwinIfMatchETag => "updateTwinIfMatchETag",
        }
    }

    /// Parses any casing.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for ImportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ImportMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ImportMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown importMode '{text}'")))
    }
}

/// One item of a bulk call (`ExportImportDevice`; note `id`, not `deviceId`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportImportDevice {
    /// The device id.
    pub id: String,
    /// Module id (modules are not supported by hubdeck's bulk helpers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_id: Option<String>,
    /// Identity etag for the `…IfMatchETag` modes. The service reads property names
    /// case-insensitively, and Node sends the device's own `etag` field.
    #[serde(rename = "eTag", alias = "etag", alias = "ETag", default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    /// What to do.
    pub import_mode: ImportMode,
    /// Status for create/update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DeviceStatus>,
    /// Status reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Credentials for create/update (empty keys are generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationMechanism>,
    /// Twin etag for `updateTwinIfMatchETag`.
    #[serde(rename = "twinETag", alias = "twinEtag", default, skip_serializing_if = "Option::is_none")]
    pub twin_e_tag: Option<String>,
    /// Tags to set with the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Map<String, Value>>,
    /// Desired properties to set with the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<TwinProperties>,
    /// What the device can do (IoT Edge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<DeviceCapabilities>,
    /// Edge scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_scope: Option<String>,
    /// Parent scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_scopes: Option<Vec<String>>,
}

impl ExportImportDevice {
    /// An item with only an id and a mode; fill in the rest as needed.
    pub fn new(id: impl Into<String>, import_mode: ImportMode) -> Self {
        Self {
            id: id.into(),
            module_id: None,
            e_tag: None,
            import_mode,
            status: None,
            status_reason: None,
            authentication: None,
            twin_e_tag: None,
            tags: None,
            properties: None,
            capabilities: None,
            device_scope: None,
            parent_scopes: None,
        }
    }
}

/// One failed item of a bulk call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRegistryOperationError {
    /// The device.
    pub device_id: String,
    /// Error code name (`DeviceAlreadyExists`, …).
    pub error_code: String,
    /// Human text.
    pub error_status: String,
    /// Module id, if any.
    #[serde(default)]
    pub module_id: Option<String>,
    /// The operation that failed.
    #[serde(default)]
    pub operation: Option<String>,
}

/// A warning on one item of a bulk call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRegistryOperationWarning {
    /// The device.
    pub device_id: String,
    /// Warning code (`DeviceRegisteredWithoutTwin`).
    pub warning_code: String,
    /// Human text.
    pub warning_status: String,
}

/// The result of a bulk call (sent with 200 when all succeeded, 400 otherwise).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkRegistryOperationResult {
    /// True when every item succeeded.
    pub is_successful: bool,
    /// Failed items.
    #[serde(default)]
    pub errors: Vec<DeviceRegistryOperationError>,
    /// Items that succeeded with a warning.
    #[serde(default)]
    pub warnings: Vec<DeviceRegistryOperationWarning>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_mode_is_case_insensitive_both_ways() {
        for (text, mode) in
            [("create", ImportMode::Create), ("Update", ImportMode::Update), ("DeleteIfMatchETag", ImportMode::DeleteIfMatchETag)]
        {
            let parsed: ImportMode = serde_json::from_value(Value::String(text.to_owned())).unwrap();
            assert_eq!(parsed, mode);
        }
        let err = serde_json::from_str::<ImportMode>("\"upsert\"").unwrap_err();
        assert!(err.to_string().contains("upsert"));
    }

    #[test]
    fn uses_id_and_capital_t_etag() {
        let mut item = ExportImportDevice::new("d1", ImportMode::DeleteIfMatchETag);
        item.e_tag = Some("abc".to_owned());
        assert_eq!(serde_json::to_value(&item).unwrap(), serde_json::json!({"id":"d1","eTag":"abc","importMode":"deleteIfMatchETag"}));
        let from_node: ExportImportDevice =
            serde_json::from_value(serde_json::json!({"id":"d1","etag":"abc","importMode":"UpdateIfMatchETag"})).unwrap();
        assert_eq!(from_node.e_tag.as_deref(), Some("abc"));
    }
}
