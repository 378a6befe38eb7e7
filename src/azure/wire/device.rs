//! The `Device` identity as the registry API sends and accepts it.

use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::azure::secret::Secret;

/// Whether a device may connect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// The device may connect.
    #[default]
    Enabled,
    /// The device is refused.
    Disabled,
}

impl DeviceStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

/// Whether the device is connected right now (`PascalCase` on the wire).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConnectionState {
    /// Connected to the hub now.
    Connected,
    /// Not connected.
    #[default]
    Disconnected,
}

impl ConnectionState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "Connected",
            Self::Disconnected => "Disconnected",
        }
    }
}

/// How a device authenticates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthenticationType {
    /// Symmetric keys.
    #[default]
    Sas,
    /// Self-signed X.509 certificate thumbprints.
    SelfSigned,
    /// X.509 certificate signed by a registered CA.
    CertificateAuthority,
    /// No credential (module identities of edge devices).
    None,
}

impl AuthenticationType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sas => "sas",
            Self::SelfSigned => "selfSigned",
            Self::CertificateAuthority => "certificateAuthority",
            Self::None => "none",
        }
    }
}

/// A device's two symmetric keys. Empty keys ask the service to generate them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymmetricKey {
    /// Primary key, base64.
    #[serde(default)]
    pub primary_key: Option<Secret>,
    /// Secondary key, base64.
    #[serde(default)]
    pub secondary_key: Option<Secret>,
}

/// X.509 thumbprints for self-signed devices.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X509Thumbprint {
    /// Primary thumbprint (hex).
    #[serde(default)]
    pub primary_thumbprint: Option<String>,
    /// Secondary thumbprint (hex).
    #[serde(default)]
    pub secondary_thumbprint: Option<String>,
}

/// The `authentication` object of a device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMechanism {
    /// Symmetric keys (type `sas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symmetric_key: Option<SymmetricKey>,
    /// Thumbprints (type `selfSigned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_thumbprint: Option<X509Thumbprint>,
    /// The kind of credential.
    #[serde(rename = "type", default)]
    pub kind: AuthenticationType,
}

/// Device capabilities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCapabilities {
    /// True for `IoT` Edge devices.
    #[serde(default)]
    pub iot_edge: bool,
}

/// A device identity (`GET/PUT /devices/{id}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// The id, ≤128 characters, case-sensitive (a PUT body may omit it: the path names it).
    #[serde(default)]
    pub device_id: String,
    /// Changes each time the id is created anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
    /// The identity's etag (not the twin's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Connected or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// Enabled or disabled.
    #[serde(default)]
    pub status: DeviceStatus,
    /// Why it was disabled (free text, ≤128 chars).
    #[serde(default)]
    pub status_reason: Option<String>,
    /// When `connectionState` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state_updated_time: Option<Timestamp>,
    /// When `status` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_updated_time: Option<Timestamp>,
    /// Last time the device connected, sent or received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<Timestamp>,
    /// Cloud-to-device messages queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_message_count: Option<u64>,
    /// Keys or thumbprints the device authenticates with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationMechanism>,
    /// What the device can do (IoT Edge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<DeviceCapabilities>,
    /// Edge scope (`ms-azure-iot-edge://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_scope: Option<String>,
    /// Parent edge scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_scopes: Option<Vec<String>>,
}

impl Device {
    /// A new SAS device whose keys the service generates.
    pub fn new_with_generated_keys(device_id: impl Into<String>) -> Self {
        Self::new_with_keys(device_id, Secret::default(), Secret::default())
    }

    /// A new SAS device with the given base64 keys.
    pub fn new_with_keys(device_id: impl Into<String>, primary_key: Secret, secondary_key: Secret) -> Self {
        Self {
            device_id: device_id.into(),
            status: DeviceStatus::Enabled,
            authentication: Some(AuthenticationMechanism {
                symmetric_key: Some(SymmetricKey { primary_key: Some(primary_key), secondary_key: Some(secondary_key) }),
                x509_thumbprint: None,
                kind: AuthenticationType::Sas,
            }),
            capabilities: Some(DeviceCapabilities { iot_edge: false }),
            ..Self::default()
        }
    }

    /// The primary symmetric key, if the device has one.
    pub fn primary_key(&self) -> Option<&Secret> {
        self.symmetric_key()?.primary_key.as_ref().filter(|key| !key.is_empty())
    }

    /// The secondary symmetric key, if the device has one.
    pub fn secondary_key(&self) -> Option<&Secret> {
        self.symmetric_key()?.secondary_key.as_ref().filter(|key| !key.is_empty())
    }

    fn symmetric_key(&self) -> Option<&SymmetricKey> {
        self.authentication.as_ref()?.symmetric_key.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_service_sample_and_hides_keys_in_debug() {
        let json = r#"{"deviceId":"dev1","generationId":"637121074930370650","etag":"Nzk1MjE0NjM2",
            "connectionState":"Disconnected","status":"enabled","statusReason":null,
            "connectionStateUpdatedTime":"0001-01-01T00:00:00","statusUpdatedTime":"0001-01-01T00:00:00",
            "lastActivityTime":"0001-01-01T00:00:00","cloudToDeviceMessageCount":0,
            "authentication":{"symmetricKey":{"primaryKey":"gOAYlw==","secondaryKey":"MzE5a0=="},
                              "x509Thumbprint":{"primaryThumbprint":null,"secondaryThumbprint":null},"type":"sas"},
            "capabilities":{"iotEdge":false},"deviceScope":null}"#;
        let device: Device = serde_json::from_str(json).unwrap();
        assert_eq!(device.device_id, "dev1");
        assert_eq!(device.connection_state, Some(ConnectionState::Disconnected));
        assert!(device.last_activity_time.unwrap().is_never());
        assert_eq!(device.primary_key().unwrap().expose(), "gOAYlw==");
        assert!(!format!("{device:?}").contains("gOAYlw"));
    }

    #[test]
    fn create_body_matches_what_the_sdks_send() {
        let body = serde_json::to_value(Device::new_with_generated_keys("dev-1")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"deviceId":"dev-1","status":"enabled","statusReason":null,
                "authentication":{"symmetricKey":{"primaryKey":"","secondaryKey":""},"type":"sas"},
                "capabilities":{"iotEdge":false}})
        );
    }
}
