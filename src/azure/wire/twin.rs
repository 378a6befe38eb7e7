//! The device twin document as the service formats it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{AuthenticationType, ConnectionState, DeviceCapabilities, DeviceStatus, Timestamp, X509Thumbprint};

/// `properties` of a twin: `desired` and `reported`, each with `$metadata` and `$version`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TwinProperties {
    /// Written by the back end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Map<String, Value>>,
    /// Written by the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Map<String, Value>>,
}

/// A device (or module) twin (`GET /twins/{id}`, query results).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Twin {
    /// The device id.
    pub device_id: String,
    /// The module id, for module twins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_id: Option<String>,
    /// The twin's etag (base64 of a counter); send it in `If-Match` to update safely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The identity's etag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_etag: Option<String>,
    /// Identity status (read-only copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DeviceStatus>,
    /// Why it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_update_time: Option<Timestamp>,
    /// Connected or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// Last activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<Timestamp>,
    /// Queued cloud-to-device messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_message_count: Option<u64>,
    /// Credential kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_type: Option<AuthenticationType>,
    /// X.509 thumbprints (self-signed devices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_thumbprint: Option<X509Thumbprint>,
    /// Plug and Play model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Twin version: increments on every change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Back-end-only metadata; absent until set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Map<String, Value>>,
    /// Desired and reported properties.
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

/// The `$metadata` of one node of desired or reported properties.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeMetadata {
    /// `$lastUpdated`.
    pub last_updated: Option<Timestamp>,
    /// `$lastUpdatedVersion` (desired only): the desired `$version` that last wrote the node.
    pub last_updated_version: Option<u64>,
}

/// The values of a section without the service's `$metadata` and `$version`.
pub fn section_values(section: Option<&Map<String, Value>>) -> Map<String, Value> {
    section
        .map(|map| map.iter().filter(|(key, _)| !key.starts_with('$')).map(|(key, value)| (key.clone(), value.clone())).collect())
        .unwrap_or_default()
}

fn metadata_at(section: Option<&Map<String, Value>>, path: &[&str]) -> Option<NodeMetadata> {
    let mut node = section?.get("$metadata")?;
    for key in path {
        node = node.get(key)?;
    }
    Some(NodeMetadata {
        last_updated: node.get("$lastUpdated").and_then(Value::as_str).and_then(Timestamp::parse),
        last_updated_version: node.get("$lastUpdatedVersion").and_then(Value::as_u64),
    })
}

impl Twin {
    /// `$metadata` of the desired node at `path` (keys from the desired root; empty = the root).
    pub fn desired_metadata(&self, path: &[&str]) -> Option<NodeMetadata> {
        metadata_at(self.desired(), path)
    }

    /// `$metadata` of the reported node at `path`.
    pub fn reported_metadata(&self, path: &[&str]) -> Option<NodeMetadata> {
        metadata_at(self.reported(), path)
    }

    /// `properties.desired`, if present.
    pub fn desired(&self) -> Option<&Map<String, Value>> {
        self.properties.as_ref()?.desired.as_ref()
    }

    /// `properties.reported`, if present.
    pub fn reported(&self) -> Option<&Map<String, Value>> {
        self.properties.as_ref()?.reported.as_ref()
    }

    /// `$version` of desired properties.
    pub fn desired_version(&self) -> Option<u64> {
        self.desired()?.get("$version")?.as_u64()
    }

    /// `$version` of reported properties.
    pub fn reported_version(&self) -> Option<u64> {
        self.reported()?.get("$version")?.as_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fresh_twin_from_the_docs() {
        let json = r#"{"deviceId":"myEdgeDevice","etag":"AAAAAAAAAAE=","deviceEtag":"NTgwMDg5MDAz",
         "status":"enabled","statusUpdateTime":"0001-01-01T00:00:00Z","connectionState":"Disconnected",
         "lastActivityTime":"0001-01-01T00:00:00Z","cloudToDeviceMessageCount":0,"authenticationType":"sas",
         "x509Thumbprint":{"primaryThumbprint":null,"secondaryThumbprint":null},"version":2,
         "properties":{"desired":{"$metadata":{"$lastUpdated":"2019-12-29T00:58:49.9315265Z"},"$version":1},
                       "reported":{"$metadata":{"$lastUpdated":"2019-12-29T00:58:49.9315265Z"},"$version":1}},
         "capabilities":{"iotEdge":true}}"#;
        let twin: Twin = serde_json::from_str(json).unwrap();
        assert_eq!(twin.version, Some(2));
        assert_eq!(twin.desired_version(), Some(1));
        assert_eq!(twin.reported_version(), Some(1));
        assert!(twin.tags.is_none());
        assert!(twin.capabilities.unwrap().iot_edge);
    }

    #[test]
    fn metadata_of_nested_nodes() {
        let twin: Twin = serde_json::from_value(serde_json::json!({"deviceId": "d",
            "properties": {"desired": {"thermostat": {"target": 21}, "$version": 4,
                "$metadata": {"$lastUpdated": "2026-01-01T00:00:00.0000000Z", "$lastUpdatedVersion": 4,
                    "thermostat": {"$lastUpdated": "2026-01-01T00:00:00.0000000Z", "$lastUpdatedVersion": 4,
                        "target": {"$lastUpdated": "2025-12-31T00:00:00.0000000Z", "$lastUpdatedVersion": 3}}}}}}))
        .unwrap();
        let target = twin.desired_metadata(&["thermostat", "target"]).unwrap();
        assert_eq!(target.last_updated_version, Some(3));
        assert_eq!(target.last_updated.unwrap().to_wire(), "2025-12-31T00:00:00.0000000Z");
        assert_eq!(twin.desired_metadata(&[]).unwrap().last_updated_version, Some(4));
        assert_eq!(twin.desired_metadata(&["missing"]), None);
        assert_eq!(section_values(twin.desired()).keys().collect::<Vec<_>>(), vec!["thermostat"]);
    }
}
