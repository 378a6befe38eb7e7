//! The demo fleet: door locks, thermostats, light switches and air-quality sensors spread over
//! buildings and floors, with realistic tags and reported properties. Deterministic per seed.

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::clock::Ticks;
use super::device_app::SimProfile;
use super::prop_tree::Meta;
use super::record::{AuthRecord, DeviceRecord, TwinRecord};
use super::registry::generate_key;
use crate::azure::wire::{AuthenticationType, ConnectionState, DeviceStatus};

/// Devices seeded on first start unless `--devices` says otherwise.
pub const DEFAULT_FLEET_SIZE: usize = 300;

const TICKS_PER_SEC: i64 = 10_000_000;

/// What a simulated device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceKind {
    /// `doorLock`.
    DoorLock,
    /// `thermostat`.
    Thermostat,
    /// `lightSwitch`.
    LightSwitch,
    /// `airQuality`.
    AirQuality,
}

impl DeviceKind {
    fn pick(roll: u32) -> Self {
        match roll % 20 {
            0..=7 => Self::DoorLock,
            8..=13 => Self::Thermostat,
            14..=16 => Self::LightSwitch,
            _ => Self::AirQuality,
        }
    }

    /// The `tags.deviceType` value.
    pub fn tag(self) -> &'static str {
        match self {
            Self::DoorLock => "doorLock",
            Self::Thermostat => "thermostat",
            Self::LightSwitch => "lightSwitch",
            Self::AirQuality => "airQuality",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Self::DoorLock => "lock",
            Self::Thermostat => "therm",
            Self::LightSwitch => "light",
            Self::AirQuality => "air",
        }
    }
}

const SITES: [(&str, &str); 3] = [("Redmond", "westus2"), ("Dublin", "northeurope"), ("Singapore", "southeastasia")];
const FIRMWARE: [&str; 5] = ["1.2.0", "1.4.2", "1.4.2", "2.0.1", "2.1.0"];

/// Builds `count` devices from `seed`, stamped at `now`.
pub fn demo_fleet(count: usize, seed: u64, now: Ticks) -> Vec<DeviceRecord> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count).map(|index| demo_device(&mut rng, index, now)).collect()
}

fn demo_device(rng: &mut StdRng, index: usize, now: Ticks) -> DeviceRecord {
    let kind = DeviceKind::pick(rng.random_range(0..20));
    let building: u32 = rng.random_range(40..=45);
    let floor: u32 = rng.random_range(1..=6);
    let room = floor * 100 + rng.random_range(1..=40);
    let (site, region) = SITES[(building as usize) % SITES.len()];
    let device_id = format!("b{building}-f{floor}-{}-{:05}", kind.short(), index + 1);
    let connected = rng.random_bool(0.88);
    let seen_secs_ago: i64 = if connected { rng.random_range(1..600) } else { rng.random_range(3600..14 * 86_400) };
    let last_activity = now - seen_secs_ago * TICKS_PER_SEC;
    let enabled = rng.random_bool(0.97);
    let strict = rng.random_bool(0.05);
    let tags = json!({
        "building": building,
        "floor": floor,
        "room": room,
        "deviceType": kind.tag(),
        "site": site,
        "region": region,
    });
    let firmware = FIRMWARE[rng.random_range(0..FIRMWARE.len())];
    let (desired, mut reported) = kind_properties(rng, kind, firmware);
    // Writable settings are reported as acknowledgements of desired $version 2 (in sync).
    for (key, value) in &desired {
        reported.insert(key.clone(), json!({"value": value, "ac": 200, "av": 2, "ad": "completed"}));
    }
    let mut twin = TwinRecord::new(now - 30 * 86_400 * TICKS_PER_SEC);
    let created = Meta { updated: now - 30 * 86_400 * TICKS_PER_SEC, version: 0 };
    twin.tags.merge(&object(tags), created);
    if !desired.is_empty() {
        twin.desired_version = 2;
        twin.desired.merge(&desired, Meta { updated: now - 7 * 86_400 * TICKS_PER_SEC, version: 2 });
    }
    twin.reported_version = rng.random_range(5..200);
    twin.reported.merge(&reported, Meta { updated: last_activity, version: 0 });
    twin.version = twin.desired_version + twin.reported_version;
    twin.etag = 3;
    DeviceRecord {
        generation_id: 638_000_000_000_000_000 + index as u64,
        etag: 700_000_000 + index as u64,
        device_id,
        status: if enabled { DeviceStatus::Enabled } else { DeviceStatus::Disabled },
        status_reason: (!enabled).then(|| "Decommissioned pending replacement".to_owned()),
        status_updated: if enabled { 0 } else { now - 2 * 86_400 * TICKS_PER_SEC },
        connection_state: if connected && enabled { ConnectionState::Connected } else { ConnectionState::Disconnected },
        connection_state_updated: last_activity,
        last_activity,
        auth: AuthRecord {
            kind: AuthenticationType::Sas,
            primary_key: Some(generate_key()),
            secondary_key: Some(generate_key()),
            ..AuthRecord::default()
        },
        iot_edge: false,
        device_scope: None,
        parent_scopes: Vec::new(),
        twin,
        simulated: Some(SimProfile { kind, strict, provisioned: false }),
    }
}

/// Desired and reported properties typical of each kind of device.
fn kind_properties(rng: &mut StdRng, kind: DeviceKind, firmware: &str) -> (Map<String, Value>, Map<String, Value>) {
    let battery = rng.random_range(8..=100);
    let rssi = -rng.random_range(40..=90);
    let connectivity = json!({"type": if rng.random_bool(0.8) { "wifi" } else { "ethernet" }, "rssi": rssi});
    match kind {
        DeviceKind::DoorLock => {
            let auto_lock = [15, 30, 60][rng.random_range(0..3)];
            (
                object(json!({"autoLockSeconds": auto_lock})),
                object(
                    json!({"firmware": firmware, "battery": battery, "lockState": if rng.random_bool(0.8) { "locked" } else { "unlocked" },
                    "connectivity": connectivity}),
                ),
            )
        }
        DeviceKind::Thermostat => {
            let target = f64::from(rng.random_range(38..=46_u32)) / 2.0;
            // Within ±2 °C of the target, one decimal.
            let temperature = (target * 10.0 + f64::from(rng.random_range(-20..=20_i32))).round() / 10.0;
            (
                object(json!({"targetTemperature": target, "mode": "auto"})),
                object(json!({"firmware": firmware, "temperature": temperature, "targetTemperature": target, "mode": "auto",
                    "humidity": rng.random_range(25..=60), "connectivity": connectivity})),
            )
        }
        DeviceKind::LightSwitch => (
            Map::new(),
            object(
                json!({"firmware": firmware, "on": rng.random_bool(0.4), "dimLevel": rng.random_range(0..=100), "connectivity": connectivity}),
            ),
        ),
        DeviceKind::AirQuality => (
            object(json!({"sampleIntervalSeconds": 60})),
            object(json!({"firmware": firmware, "co2ppm": rng.random_range(380..=1400), "pm25": rng.random_range(1..=40),
                "battery": battery, "sampleIntervalSeconds": 60, "connectivity": connectivity})),
        ),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn fleet_is_deterministic_unique_and_realistic() {
        let a = demo_fleet(500, 7, 1_000 * TICKS_PER_SEC * 1_000_000);
        let b = demo_fleet(500, 7, 1_000 * TICKS_PER_SEC * 1_000_000);
        let ids: Vec<&str> = a.iter().map(|record| record.device_id.as_str()).collect();
        assert_eq!(ids, b.iter().map(|record| record.device_id.as_str()).collect::<Vec<_>>());
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 500);
        let kinds: HashSet<String> =
            a.iter().map(|record| record.twin.tags.to_values()["deviceType"].as_str().unwrap().to_owned()).collect();
        assert_eq!(kinds.len(), 4);
        let connected = a.iter().filter(|record| record.connection_state == ConnectionState::Connected).count();
        assert!((350..480).contains(&connected), "{connected}");
        assert!(a.iter().all(|record| record.twin.reported.to_values().contains_key("firmware")));
    }
}
