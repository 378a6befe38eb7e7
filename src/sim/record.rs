//! One device as the simulator stores it (identity + twin), and its wire forms.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::clock::{Ticks, timestamp};
use super::prop_tree::{Meta, PropTree};
use crate::azure::secret::Secret;
use crate::azure::wire::{
    AuthenticationMechanism, AuthenticationType, ConnectionState, Device, DeviceCapabilities, DeviceStatus, SymmetricKey, X509Thumbprint,
};

/// Credentials of a device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRecord {
    /// Credential kind.
    pub kind: AuthenticationType,
    /// Primary key (sas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<Secret>,
    /// Secondary key (sas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_key: Option<Secret>,
    /// Primary thumbprint (selfSigned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_thumbprint: Option<String>,
    /// Secondary thumbprint (selfSigned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_thumbprint: Option<String>,
}

/// The twin half of a device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TwinRecord {
    /// Counter behind the twin etag (base64 of 8 big-endian bytes).
    pub etag: u64,
    /// Twin `version`.
    pub version: u64,
    /// `tags`.
    pub tags: PropTree,
    /// `properties.desired`.
    pub desired: PropTree,
    /// desired `$version`.
    pub desired_version: u64,
    /// `properties.reported`.
    pub reported: PropTree,
    /// reported `$version`.
    pub reported_version: u64,
}

impl TwinRecord {
    /// A new twin as the service creates it: etag 1, version 2, both `$version`s 1, no tags.
    pub fn new(now: Ticks) -> Self {
        Self {
            etag: 1,
            version: 2,
            tags: PropTree::default(),
            desired: PropTree::new(Meta { updated: now, version: 1 }),
            desired_version: 1,
            reported: PropTree::new(Meta { updated: now, version: 0 }),
            reported_version: 1,
        }
    }

    /// The etag as sent (`AAAAAAAAAAE=`).
    pub fn etag_wire(&self) -> String {
        BASE64.encode(self.etag.to_be_bytes())
    }
}

/// A registered device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Device id.
    pub device_id: String,
    /// Generation id, new each time the id is created.
    pub generation_id: u64,
    /// Number behind the identity etag (base64 of its decimal text).
    pub etag: u64,
    /// Enabled or disabled.
    pub status: DeviceStatus,
    /// Why the status was set, as the caller gave it.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// When status last changed (0 = never).
    pub status_updated: Ticks,
    /// Connected or not.
    pub connection_state: ConnectionState,
    /// When it last changed (0 = never).
    pub connection_state_updated: Ticks,
    /// Last activity (0 = never).
    pub last_activity: Ticks,
    /// Keys or thumbprints the device authenticates with.
    pub auth: AuthRecord,
    /// `IoT` Edge device.
    #[serde(default)]
    pub iot_edge: bool,
    /// Edge scope.
    #[serde(default)]
    pub device_scope: Option<String>,
    /// Parent scopes.
    #[serde(default)]
    pub parent_scopes: Vec<String>,
    /// The twin.
    pub twin: TwinRecord,
    /// Set for devices of the simulated fleet: they run a device app that answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<super::device_app::SimProfile>,
}

impl DeviceRecord {
    /// The identity etag as sent (`Nzk1MjE0NjM2`).
    pub fn etag_wire(&self) -> String {
        BASE64.encode(self.etag.to_string())
    }

    /// The identity as `GET /devices/{id}` answers it.
    pub fn to_device(&self) -> Device {
        Device {
            device_id: self.device_id.clone(),
            generation_id: Some(self.generation_id.to_string()),
            etag: Some(self.etag_wire()),
            connection_state: Some(self.connection_state),
            status: self.status,
            status_reason: self.status_reason.clone(),
            connection_state_updated_time: Some(timestamp(self.connection_state_updated)),
            status_updated_time: Some(timestamp(self.status_updated)),
            last_activity_time: Some(timestamp(self.last_activity)),
            cloud_to_device_message_count: Some(0),
            authentication: Some(self.authentication()),
            capabilities: Some(DeviceCapabilities { iot_edge: self.iot_edge }),
            device_scope: self.device_scope.clone(),
            parent_scopes: (!self.parent_scopes.is_empty()).then(|| self.parent_scopes.clone()),
        }
    }

    fn authentication(&self) -> AuthenticationMechanism {
        AuthenticationMechanism {
            symmetric_key: Some(SymmetricKey {
                primary_key: self.auth.primary_key.clone(),
                secondary_key: self.auth.secondary_key.clone(),
            }),
            x509_thumbprint: Some(X509Thumbprint {
                primary_thumbprint: self.auth.primary_thumbprint.clone(),
                secondary_thumbprint: self.auth.secondary_thumbprint.clone(),
            }),
            kind: self.auth.kind,
        }
    }

    /// The twin as `GET /twins/{id}` and queries answer it (parsed back from [`super::twin_json::TwinJson`], the
    /// one definition of its shape). For tests; the server writes `TwinJson` directly.
    #[cfg(test)]
    pub fn to_twin(&self) -> crate::azure::wire::Twin {
        serde_json::to_value(super::twin_json::TwinJson(self)).and_then(serde_json::from_value).unwrap_or_else(|error| {
            unreachable!("TwinJson always produces a Twin: {error}");
        })
    }
}
