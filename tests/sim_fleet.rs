//! The simulated fleet seen through the API: device apps acknowledge desired changes and reject
//! what they cannot apply. (Offline devices, devices without an app and reconnections are
//! tested on a paused clock next to the fleet, in `src/sim/fleet.rs`.)

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use hubdeck::azure::wire::Twin;
use hubdeck::azure::{HubClient, IfMatch};
use hubdeck::sim::{FleetConfig, SimConfig, Simulator, StateLocation};
use serde_json::{Value, json};

async fn fleet() -> (Simulator, HubClient) {
    let fleet = FleetConfig { ack_delay_min: Duration::from_millis(30), ack_delay_max: Duration::from_millis(120), churn_every: None };
    let sim = Simulator::start(SimConfig {
        port: 0,
        mqtt_port: Some(0),
        state: StateLocation::Ephemeral,
        fleet_size: 80,
        fleet,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = common::client_with(&sim, "iothubowner", common::fast_retry(), None);
    (sim, client)
}

async fn first(client: &HubClient, condition: &str) -> Twin {
    let page = client.query_page::<Twin>(&format!("SELECT * FROM devices WHERE {condition}"), Some(1), None).await.unwrap();
    page.items.into_iter().next().unwrap_or_else(|| panic!("no device matches {condition}"))
}

async fn wait_for_ack(client: &HubClient, device_id: &str, key: &str, version: u64, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let twin = client.get_twin(device_id).await.unwrap();
        let ack = twin.reported().and_then(|reported| reported.get(key)).cloned();
        if ack.as_ref().and_then(|ack| ack.get("av")).and_then(Value::as_u64).is_some_and(|acked| acked >= version) {
            return ack;
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_online_device_acknowledges_what_it_accepts_and_rejects_the_rest() {
    let (_sim, client) = fleet().await;
    let thermostat = first(&client, "tags.deviceType = 'thermostat' AND connectionState = 'Connected' AND status = 'enabled'").await;
    let accepted = client
        .patch_twin(&thermostat.device_id, &json!({"properties": {"desired": {"targetTemperature": 23}}}), IfMatch::Any)
        .await
        .unwrap();
    let version = accepted.desired_version().unwrap();
    let ack =
        wait_for_ack(&client, &thermostat.device_id, "targetTemperature", version, Duration::from_secs(5)).await.expect("acknowledged");
    assert_eq!(ack, json!({"value": 23, "ac": 200, "av": version, "ad": "completed"}));

    let rejected = client
        .patch_twin(&thermostat.device_id, &json!({"properties": {"desired": {"targetTemperature": 40}}}), IfMatch::Any)
        .await
        .unwrap();
    let version = rejected.desired_version().unwrap();
    let ack = wait_for_ack(&client, &thermostat.device_id, "targetTemperature", version, Duration::from_secs(5)).await.expect("answered");
    assert_eq!(ack["ac"], json!(400));
    assert_eq!(ack["value"], json!(23), "the device keeps the value it had");
    assert!(ack["ad"].as_str().unwrap().starts_with("error: targetTemperature 40 is outside"));
    let twin = client.get_twin(&thermostat.device_id).await.unwrap();
    assert_eq!(twin.etag, rejected.etag, "a device's reported write does not change the twin etag");
}
