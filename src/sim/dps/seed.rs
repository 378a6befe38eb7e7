//! The demo enrollments of a new simulated DPS — individual enrollments and groups with each
//! re-provisioning policy (and one never saved), hashed, static and geo-latency allocation — and
//! the simulated devices that register through them on first start.

use std::sync::Arc;

use serde_json::{Value, json};

use super::service::Dps;
use crate::azure::wire::{EnrollmentGroup, IndividualEnrollment, ReprovisionPolicy, Timestamp};
use crate::sim::device_app::SimProfile;
use crate::sim::seed::DeviceKind;

struct Seeded {
    id: &'static str,
    policy: Option<ReprovisionPolicy>,
    allocation: &'static str,
    /// Index into the linked hubs, for static allocation.
    static_hub: Option<usize>,
    enabled: bool,
    initial_twin: Value,
}

fn individuals() -> Vec<(Seeded, DeviceKind)> {
    vec![
        (
            Seeded {
                id: "b43-lobby-lock-01",
                policy: Some(ReprovisionPolicy::MIGRATE),
                allocation: "hashed",
                static_hub: None,
                enabled: true,
                initial_twin: json!({"tags": {"building": 43, "room": "lobby", "deviceType": "doorLock"}, "properties": {"desired": {"autoLockSeconds": 30}}}),
            },
            DeviceKind::DoorLock,
        ),
        (
            Seeded {
                id: "b43-lobby-thermo-01",
                policy: Some(ReprovisionPolicy::RESET),
                allocation: "static",
                static_hub: Some(0),
                enabled: true,
                initial_twin: json!({"tags": {"building": 43, "room": "lobby", "deviceType": "thermostat"}, "properties": {"desired": {"targetTemperature": 21, "mode": "auto"}}}),
            },
            DeviceKind::Thermostat,
        ),
        (
            Seeded {
                id: "b43-garage-air-01",
                policy: Some(ReprovisionPolicy::NEVER),
                allocation: "geoLatency",
                static_hub: None,
                enabled: true,
                initial_twin: json!({"tags": {"building": 43, "room": "garage", "deviceType": "airQuality"}, "properties": {"desired": {"sampleIntervalSeconds": 60}}}),
            },
            DeviceKind::AirQuality,
        ),
        (
            Seeded {
                id: "legacy-meter-01",
                policy: None,
                allocation: "hashed",
                static_hub: None,
                enabled: true,
                initial_twin: json!({"tags": {"building": 41, "deviceType": "lightSwitch"}}),
            },
            DeviceKind::LightSwitch,
        ),
        (
            Seeded {
                id: "b43-spare-lock-02",
                policy: Some(ReprovisionPolicy::MIGRATE),
                allocation: "hashed",
                static_hub: None,
                enabled: false,
                initial_twin: json!({"tags": {"building": 43, "deviceType": "doorLock"}}),
            },
            DeviceKind::DoorLock,
        ),
    ]
}

fn groups() -> Vec<(Seeded, DeviceKind, &'static str, usize)> {
    vec![
        (
            Seeded {
                id: "building-43-locks",
                policy: Some(ReprovisionPolicy::MIGRATE),
                allocation: "hashed",
                static_hub: None,
                enabled: true,
                initial_twin: json!({"tags": {"building": 43, "deviceType": "doorLock", "fleet": "b43-locks"}, "properties": {"desired": {"autoLockSeconds": 60}}}),
            },
            DeviceKind::DoorLock,
            "b43-grp-lock",
            8,
        ),
        (
            Seeded {
                id: "lobby-thermostats",
                policy: Some(ReprovisionPolicy::RESET),
                allocation: "geoLatency",
                static_hub: None,
                enabled: true,
                initial_twin: json!({"tags": {"deviceType": "thermostat", "fleet": "lobbies"}, "properties": {"desired": {"targetTemperature": 22, "mode": "auto"}}}),
            },
            DeviceKind::Thermostat,
            "lobby-thermo",
            4,
        ),
        (
            Seeded {
                id: "field-kits",
                policy: Some(ReprovisionPolicy::NEVER),
                allocation: "static",
                static_hub: Some(1),
                enabled: true,
                initial_twin: json!({"tags": {"deviceType": "airQuality", "fleet": "field"}}),
            },
            DeviceKind::AirQuality,
            "field-kit",
            3,
        ),
    ]
}

fn settings_json(dps: &Dps, seeded: &Seeded) -> Value {
    let mut body = json!({
        "attestation": {"type": "symmetricKey"},
        "provisioningStatus": if seeded.enabled { "enabled" } else { "disabled" },
        "allocationPolicy": seeded.allocation,
        "initialTwin": seeded.initial_twin,
        "capabilities": {"iotEdge": false},
    });
    if let Some(policy) = seeded.policy {
        body["reprovisionPolicy"] = json!(policy);
    }
    if let Some(hub) = seeded.static_hub.and_then(|index| dps.hubs().get(index)) {
        body["iotHubs"] = json!([hub.host_name]);
    }
    body
}

/// Regions the seeded devices report, alternating so geo-latency spreads them.
const REGIONS: [&str; 2] = ["eastus", "westus2"];

/// Puts the demo enrollments in place and registers the simulated devices (done before the
/// simulator reports ready, so device counts are settled).
pub async fn seed(dps: &Arc<Dps>) {
    let now = Timestamp::now();
    let mut devices: Vec<(String, Option<&'static str>, DeviceKind)> = Vec::new();
    {
        let mut state = dps.state.lock();
        for (seeded, kind) in individuals() {
            let mut body = settings_json(dps, &seeded);
            body["registrationId"] = json!(seeded.id);
            if let Ok(enrollment) = serde_json::from_value::<IndividualEnrollment>(body)
                && state.enrollments.put(seeded.id, enrollment, None, now).is_ok()
                && seeded.id != "legacy-meter-01"
            {
                devices.push((seeded.id.to_owned(), None, kind));
            }
        }
        for (seeded, kind, prefix, count) in groups() {
            let mut body = settings_json(dps, &seeded);
            body["enrollmentGroupId"] = json!(seeded.id);
            if let Ok(group) = serde_json::from_value::<EnrollmentGroup>(body)
                && state.groups.put(seeded.id, group, None, now).is_ok()
            {
                devices.extend((1..=count).map(|index| (format!("{prefix}-{index:02}"), Some(seeded.id), kind)));
            }
        }
    }
    for (index, (registration_id, group_id, kind)) in devices.into_iter().enumerate() {
        let profile = SimProfile { kind, strict: false, provisioned: true };
        let payload = json!({"region": REGIONS[index % REGIONS.len()]});
        let registered = match dps.device_request(&registration_id, group_id, Some(payload), Some(profile)) {
            Ok(request) => dps.register_now(request).await,
            Err(error) => Err(error),
        };
        if let Err(error) = registered {
            tracing::warn!(%registration_id, %error, "a demo device could not register");
        }
    }
}
