//! The simulated fleet seen through the API: device apps acknowledge desired changes, reject
//! what they cannot apply, and offline devices catch up when they reconnect.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use hubdeck::azure::wire::{Device, Twin};
use hubdeck::azure::{HubClient, IfMatch};
use hubdeck::sim::{FleetConfig, SimConfig, Simulator, StateLocation};
use serde_json::{Value, json};

async fn fleet(churn_every: Option<Duration>) -> (Simulator, HubClient) {
    let fleet = FleetConfig { ack_delay_min: Duration::from_millis(30), ack_delay_max: Duration::from_millis(120), churn_every };
    let sim = Simulator::start(SimConfig { port: 0, state: StateLocation::Ephemeral, fleet_size: 80, fleet, ..SimConfig::default() })
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
    let (_sim, client) = fleet(None).await;
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

#[tokio::test]
async fn offline_and_unsimulated_devices_apply_nothing() {
    let (_sim, client) = fleet(None).await;
    let offline = first(&client, "connectionState = 'Disconnected' AND status = 'enabled'").await;
    let written = client.patch_twin(&offline.device_id, &json!({"properties": {"desired": {"building": 44}}}), IfMatch::Any).await.unwrap();
    assert!(
        wait_for_ack(&client, &offline.device_id, "building", written.desired_version().unwrap(), Duration::from_millis(800))
            .await
            .is_none()
    );
    client.create_device(&Device::new_with_generated_keys("no-app")).await.unwrap();
    let written = client.patch_twin("no-app", &json!({"properties": {"desired": {"building": 44}}}), IfMatch::Any).await.unwrap();
    assert!(wait_for_ack(&client, "no-app", "building", written.desired_version().unwrap(), Duration::from_millis(500)).await.is_none());
}

#[tokio::test]
async fn offline_devices_catch_up_when_they_reconnect() {
    let (_sim, client) = fleet(Some(Duration::from_millis(100))).await;
    let offline: Vec<Twin> = client
        .query_page::<Twin>("SELECT * FROM devices WHERE connectionState = 'Disconnected' AND status = 'enabled'", Some(100), None)
        .await
        .unwrap()
        .items;
    assert!(!offline.is_empty());
    let mut versions = Vec::new();
    for twin in &offline {
        let written =
            client.patch_twin(&twin.device_id, &json!({"properties": {"desired": {"building": 44}}}), IfMatch::Any).await.unwrap();
        versions.push((twin.device_id.clone(), written.desired_version().unwrap()));
    }
    // Each churn tick brings one offline device back; it applies what it missed.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut caught_up = 0;
        for (device_id, version) in &versions {
            if wait_for_ack(&client, device_id, "building", *version, Duration::ZERO).await.is_some() {
                caught_up += 1;
            }
        }
        if caught_up > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no reconnected device caught up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
