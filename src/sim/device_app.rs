//! What a simulated device's app does with desired properties: it checks each changed setting
//! against its own rules and acknowledges it in reported properties the IoT Plug and Play way,
//! `{"value", "ac", "av", "ad"}`: the value it now uses, a status code (200 accepted, 400
//! rejected), the desired `$version` it applied, and a description.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::clock::Ticks;
use super::prop_tree::{Meta, PropTree, PropValue};
use super::record::DeviceRecord;
use super::seed::DeviceKind;
use crate::azure::wire::{ConnectionState, DeviceStatus, MethodResult};

/// How a simulated device behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimProfile {
    /// What the device is.
    pub kind: DeviceKind,
    /// Rejects settings it does not know (most devices echo them back).
    #[serde(default)]
    pub strict: bool,
    /// Registered through DPS: it holds its enrollment key and registers again when it
    /// reboots or is asked to (`reprovision`).
    #[serde(default)]
    pub provisioned: bool,
}

impl SimProfile {
    /// Accepts or rejects one top-level desired setting, with the reason.
    pub fn judge(self, key: &str, value: &Value) -> Result<(), String> {
        let in_range = |low: f64, high: f64, unit: &str, whole: bool| match value.as_f64() {
            Some(number) if (low..=high).contains(&number) && (!whole || number.fract() == 0.0) => Ok(()),
            Some(number) => Err(format!("{key} {number} is outside {low}..{high} {unit}")),
            None => Err(format!("{key} must be a number")),
        };
        match (self.kind, key) {
            (DeviceKind::Thermostat, "targetTemperature") => in_range(15.0, 28.0, "°C", false),
            (DeviceKind::Thermostat, "mode") => match value.as_str() {
                Some("auto" | "heat" | "cool" | "off") => Ok(()),
                _ => Err(format!("mode {value} is not one of auto, heat, cool, off")),
            },
            (DeviceKind::DoorLock, "autoLockSeconds") => in_range(5.0, 300.0, "seconds", true),
            (DeviceKind::AirQuality, "sampleIntervalSeconds") => in_range(10.0, 3600.0, "seconds", true),
            _ if self.strict => Err(format!("unsupported setting '{key}'")),
            _ => Ok(()),
        }
    }
}

impl SimProfile {
    /// How the device app answers a direct method: every simulated device locks and unlocks
    /// (the demo scenario) and reboots; anything else gets 501, as device SDK apps answer
    /// methods they have no handler for.
    pub fn answer_method(self, method_name: &str, payload: &Value) -> MethodResult {
        let ok = |text: String| MethodResult { status: 200, payload: json!({"Response": text, "request": payload}) };
        match method_name {
            "lockDoor" | "unlockDoor" => ok(format!("{method_name} called successfully")),
            "reboot" => ok("reboot started; the device reconnects shortly".to_owned()),
            "reprovision" if self.provisioned => ok("registering again with the Device Provisioning Service".to_owned()),
            "reprovision" => MethodResult {
                status: 400,
                payload: json!({"Response": "this device was not provisioned through DPS, so it has no enrollment to register with"}),
            },
            other => MethodResult {
                status: 501,
                payload: json!({"Response": format!("method '{other}' is not implemented by this {} device", self.kind.tag())}),
            },
        }
    }
}

/// The desired `$version` a reported acknowledgement says was applied, if it is one.
pub fn acknowledged_version(reported: &PropTree, key: &str) -> Option<u64> {
    match reported.get(&[key, "av"]) {
        Some(PropValue::Leaf(scalar)) => scalar.to_json().as_u64(),
        _ => None,
    }
}

/// True when the device app has settings it has not acknowledged yet.
pub fn has_pending(record: &DeviceRecord) -> bool {
    record
        .twin
        .desired
        .entries
        .iter()
        .any(|entry| acknowledged_version(&record.twin.reported, &entry.key).is_none_or(|acked| acked < entry.meta.version))
}

/// True when the device is in a state to run its app (simulated, enabled, connected).
pub fn is_running(record: &DeviceRecord) -> bool {
    record.simulated.is_some() && record.status == DeviceStatus::Enabled && record.connection_state == ConnectionState::Connected
}

/// Applies every unacknowledged desired setting and writes the acknowledgements into reported.
/// Returns false when there was nothing to do (or the device is not running).
pub fn acknowledge(record: &mut DeviceRecord, now: Ticks) -> bool {
    let Some(profile) = record.simulated.filter(|_| is_running(record)) else {
        return false;
    };
    let version = record.twin.desired_version;
    let mut acks = Map::new();
    for entry in &record.twin.desired.entries {
        let key: &str = &entry.key;
        if acknowledged_version(&record.twin.reported, key).is_some_and(|acked| acked >= entry.meta.version) {
            continue;
        }
        let value = entry.value.to_json();
        let ack = match profile.judge(key, &value) {
            Ok(()) => json!({"value": value, "ac": 200, "av": version, "ad": "completed"}),
            Err(reason) => {
                json!({"value": current_value(&record.twin.reported, key), "ac": 400, "av": version, "ad": format!("error: {reason}")})
            }
        };
        acks.insert(key.to_owned(), ack);
    }
    if acks.is_empty() {
        return false;
    }
    let meta = Meta { updated: now, version: 0 };
    // Replace each acknowledgement whole: a merge would keep stale keys of an object value.
    let clear: Map<String, Value> = acks.keys().map(|key| (key.clone(), Value::Null)).collect();
    record.twin.reported.merge(&clear, meta);
    record.twin.reported.merge(&acks, meta);
    record.twin.reported_version += 1;
    record.twin.version += 1;
    record.last_activity = now;
    true
}

/// The value the device uses now: from an earlier acknowledgement, or a plain reported value.
fn current_value(reported: &PropTree, key: &str) -> Value {
    match reported.get(&[key]) {
        Some(PropValue::Object(_)) => reported.get(&[key, "value"]).map_or(Value::Null, PropValue::to_json),
        Some(leaf) => leaf.to_json(),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::seed::demo_fleet;

    fn thermostat() -> DeviceRecord {
        let mut fleet = demo_fleet(60, 3, 1_000);
        let index = fleet
            .iter()
            .position(|record| record.simulated.is_some_and(|profile| profile.kind == DeviceKind::Thermostat && !profile.strict))
            .unwrap();
        let mut record = fleet.swap_remove(index);
        record.connection_state = ConnectionState::Connected;
        record.status = DeviceStatus::Enabled;
        record
    }

    fn set_desired(record: &mut DeviceRecord, patch: Value) {
        record.twin.desired_version += 1;
        let Value::Object(patch) = patch else { unreachable!() };
        record.twin.desired.merge(&patch, Meta { updated: 5_000, version: record.twin.desired_version });
    }

    fn reported(record: &DeviceRecord) -> Value {
        Value::Object(record.twin.reported.to_values())
    }

    #[test]
    fn seeded_devices_start_in_sync() {
        for record in demo_fleet(200, 9, 1_000) {
            assert!(!has_pending(&record), "{} starts with unacknowledged settings", record.device_id);
        }
    }

    #[test]
    fn accepted_settings_are_echoed_with_the_applied_version() {
        let mut record = thermostat();
        set_desired(&mut record, json!({"targetTemperature": 22.5, "building": 44}));
        assert!(has_pending(&record));
        let reported_before = record.twin.reported_version;
        assert!(acknowledge(&mut record, 9_000));
        let version = record.twin.desired_version;
        let reported = reported(&record);
        assert_eq!(reported["targetTemperature"], json!({"value": 22.5, "ac": 200, "av": version, "ad": "completed"}));
        assert_eq!(reported["building"]["value"], json!(44), "unknown settings are echoed by ordinary devices");
        assert_eq!(record.twin.reported_version, reported_before + 1);
        assert_eq!(record.last_activity, 9_000);
        assert!(!has_pending(&record));
        assert!(!acknowledge(&mut record, 10_000), "nothing left to do");
    }

    #[test]
    fn out_of_range_values_are_rejected_keeping_the_old_value() {
        let mut record = thermostat();
        let old = reported(&record)["targetTemperature"]["value"].clone();
        set_desired(&mut record, json!({"targetTemperature": 35}));
        acknowledge(&mut record, 9_000);
        let ack = &reported(&record)["targetTemperature"];
        assert_eq!(ack["ac"], json!(400));
        assert_eq!(ack["value"], old);
        assert!(ack["ad"].as_str().unwrap().starts_with("error: targetTemperature 35 is outside 15..28"), "{ack}");
    }

    #[test]
    fn offline_or_disabled_devices_apply_nothing() {
        let mut record = thermostat();
        set_desired(&mut record, json!({"mode": "heat"}));
        record.connection_state = ConnectionState::Disconnected;
        assert!(!acknowledge(&mut record, 9_000));
        assert!(has_pending(&record));
        record.connection_state = ConnectionState::Connected;
        record.status = DeviceStatus::Disabled;
        assert!(!acknowledge(&mut record, 9_000));
        record.status = DeviceStatus::Enabled;
        assert!(acknowledge(&mut record, 9_000), "applies once running again");
    }

    #[test]
    fn strict_devices_reject_unknown_settings() {
        let profile = SimProfile { kind: DeviceKind::DoorLock, strict: true, provisioned: false };
        assert!(profile.judge("building", &json!(44)).unwrap_err().contains("unsupported setting 'building'"));
        assert_eq!(profile.judge("autoLockSeconds", &json!(30)), Ok(()));
        assert!(profile.judge("autoLockSeconds", &json!(30.5)).is_err());
        assert_eq!(SimProfile { kind: DeviceKind::DoorLock, strict: false, provisioned: false }.judge("building", &json!(44)), Ok(()));
    }

    #[test]
    fn object_values_are_replaced_not_merged() {
        let mut record = thermostat();
        set_desired(&mut record, json!({"schedule": {"weekday": 21, "weekend": 19}}));
        acknowledge(&mut record, 9_000);
        set_desired(&mut record, json!({"schedule": {"weekend": null}}));
        acknowledge(&mut record, 10_000);
        assert_eq!(reported(&record)["schedule"]["value"], json!({"weekday": 21}));
    }
}
