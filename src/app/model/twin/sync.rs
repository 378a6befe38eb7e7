//! Whether a device has applied a desired property: from the desired node's
//! `$lastUpdatedVersion`, the device's acknowledgement (`{"value","ac","av","ad"}`, the IoT Plug
//! and Play convention) or, for devices that report plain values, the value itself.

use serde_json::Value;

use crate::azure::wire::{ConnectionState, Twin};

/// A desired leaf's state on the device.
#[derive(Clone, Debug, PartialEq)]
pub enum SyncState {
    /// The device reports the desired value.
    InSync,
    /// The device has not acknowledged this `$version` yet.
    Pending,
    /// The device answered with another value (rejected, or reports something else).
    Different {
        /// What it reports (`None`: nothing).
        reported: Option<Value>,
        /// Its explanation, when it gave one (`ad`).
        reason: Option<String>,
    },
    /// Not applied, and the device is offline.
    Offline,
}

impl SyncState {
    /// Badge text.
    pub fn label(&self) -> &'static str {
        match self {
            Self::InSync => "in sync",
            Self::Pending => "pending",
            Self::Different { .. } => "device reports a different value",
            Self::Offline => "device offline",
        }
    }
}

/// The state of desired `path` (keys from the desired root) with value `desired` in `twin`.
pub fn leaf_state(twin: &Twin, path: &[String], desired: &Value) -> SyncState {
    let online = twin.connection_state == Some(ConnectionState::Connected);
    let keys: Vec<&str> = path.iter().map(String::as_str).collect();
    let written_by = twin.desired_metadata(&keys).and_then(|meta| meta.last_updated_version).or_else(|| twin.desired_version());
    let Some((top, rest)) = path.split_first() else {
        return SyncState::Pending;
    };
    let reported = twin.reported().and_then(|reported| reported.get(top));
    let acknowledgement = reported.filter(|value| value.get("av").is_some());
    if let Some(ack) = acknowledgement {
        let applied = ack.get("av").and_then(Value::as_u64).unwrap_or(0);
        if written_by.is_some_and(|version| applied < version) {
            return if online { SyncState::Pending } else { SyncState::Offline };
        }
        let value = rest.iter().try_fold(ack.get("value"), |node, key| Ok::<_, ()>(node.and_then(|node| node.get(key)))).ok().flatten();
        let accepted = ack.get("ac").and_then(Value::as_u64).is_none_or(|code| (200..300).contains(&code));
        return if accepted && value == Some(desired) {
            SyncState::InSync
        } else {
            SyncState::Different { reported: value.cloned(), reason: ack.get("ad").and_then(Value::as_str).map(str::to_owned) }
        };
    }
    // A device that reports plain values: only the value tells.
    let value = rest.iter().try_fold(reported, |node, key| Ok::<_, ()>(node.and_then(|node| node.get(key)))).ok().flatten();
    match value {
        Some(value) if value == desired => SyncState::InSync,
        None if online => SyncState::Pending,
        None => SyncState::Offline,
        Some(other) => SyncState::Different { reported: Some(other.clone()), reason: None },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn twin(connected: bool, desired_version: u64, reported: &Value) -> Twin {
        serde_json::from_value(json!({
            "deviceId": "d", "connectionState": if connected { "Connected" } else { "Disconnected" },
            "properties": {
                "desired": {"targetTemperature": 22, "fan": {"speed": 2}, "$version": desired_version,
                    "$metadata": {"$lastUpdatedVersion": desired_version,
                        "targetTemperature": {"$lastUpdatedVersion": desired_version},
                        "fan": {"$lastUpdatedVersion": 3, "speed": {"$lastUpdatedVersion": 3}}}},
                "reported": reported
            }
        }))
        .unwrap()
    }

    fn path(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|key| (*key).to_owned()).collect()
    }

    #[test]
    fn acknowledgements_decide() {
        let target = path(&["targetTemperature"]);
        let acked = twin(true, 5, &json!({"targetTemperature": {"value": 22, "ac": 200, "av": 5, "ad": "completed"}}));
        assert_eq!(leaf_state(&acked, &target, &json!(22)), SyncState::InSync);
        let older = twin(true, 6, &json!({"targetTemperature": {"value": 21, "ac": 200, "av": 5}}));
        assert_eq!(leaf_state(&older, &target, &json!(22)), SyncState::Pending);
        let offline = twin(false, 6, &json!({"targetTemperature": {"value": 21, "ac": 200, "av": 5}}));
        assert_eq!(leaf_state(&offline, &target, &json!(22)), SyncState::Offline);
        let rejected = twin(true, 6, &json!({"targetTemperature": {"value": 21, "ac": 400, "av": 6, "ad": "error: out of range"}}));
        assert_eq!(
            leaf_state(&rejected, &target, &json!(22)),
            SyncState::Different { reported: Some(json!(21)), reason: Some("error: out of range".into()) }
        );
    }

    #[test]
    fn nested_leaves_use_their_own_version() {
        let speed = path(&["fan", "speed"]);
        let acked = twin(true, 9, &json!({"fan": {"value": {"speed": 2}, "ac": 200, "av": 3}}));
        assert_eq!(leaf_state(&acked, &speed, &json!(2)), SyncState::InSync, "fan was last written at $version 3");
    }

    #[test]
    fn plain_reported_values_are_compared() {
        let target = path(&["targetTemperature"]);
        assert_eq!(leaf_state(&twin(true, 2, &json!({"targetTemperature": 22})), &target, &json!(22)), SyncState::InSync);
        assert_eq!(leaf_state(&twin(true, 2, &json!({})), &target, &json!(22)), SyncState::Pending);
        assert_eq!(leaf_state(&twin(false, 2, &json!({})), &target, &json!(22)), SyncState::Offline);
        assert!(matches!(leaf_state(&twin(true, 2, &json!({"targetTemperature": 19})), &target, &json!(22)), SyncState::Different { .. }));
    }
}
