//! The DPS client against the simulated DPS over real TLS: enrollments and groups with etags,
//! paging, bulk, keys only through the attestation call, registration records; and devices
//! registering over HTTP and being re-provisioned between the two simulated hubs under each policy.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use hubdeck::azure::sas::build_token;
use hubdeck::azure::wire::{
    DeviceRegistrationState, EnrollmentGroup, IndividualEnrollment, RegistrationStatus, RegistrationSubstatus, ReprovisionPolicy,
};
use hubdeck::azure::{AzureError, BulkMode, DpsClient, HubClient, IfMatch};
use hubdeck::sim::Simulator;
use serde_json::{Value, json};

fn dps_client(sim: &Simulator) -> DpsClient {
    let options = common::options_for(sim, common::fast_retry());
    DpsClient::new(&sim.dps_connection_string("provisioningserviceowner").unwrap(), &options).unwrap()
}

fn hub_client(sim: &Simulator, name: &str) -> HubClient {
    let options = common::options_for(sim, common::fast_retry());
    HubClient::new(&sim.hub_connection_string(name, "iothubowner").unwrap(), &options).unwrap()
}

fn enrollment(id: &str, extra: &Value) -> IndividualEnrollment {
    let mut body = json!({"registrationId": id, "attestation": {"type": "symmetricKey"}});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    serde_json::from_value(body).unwrap()
}

fn status_code(error: &AzureError) -> Option<u16> {
    match error {
        AzureError::Service(service) => Some(service.status),
        _ => None,
    }
}

async fn wait_assigned(dps: &DpsClient, registration_id: &str, etag_before: Option<&str>) -> DeviceRegistrationState {
    for _ in 0..100 {
        if let Ok(record) = dps.get_registration(registration_id).await
            && record.status != RegistrationStatus::Assigning
            && record.etag.as_deref() != etag_before
        {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{registration_id} was not assigned in 10 s");
}

#[tokio::test]
async fn enrollments_and_groups_round_trip_with_etags_paging_bulk_and_hidden_keys() {
    let hub = common::start_hub_with_dps(5).await;
    let dps = dps_client(&hub.sim);
    let created = dps.put_enrollment(&enrollment("door-17", &json!({"reprovisionPolicy": ReprovisionPolicy::RESET})), None).await.unwrap();
    let keys = created.attestation.symmetric_key.clone().unwrap();
    assert!(keys.primary_key.is_some(), "PUT answers with the generated keys");
    let read = dps.get_enrollment("DOOR-17").await.unwrap();
    assert_eq!(read.settings.reprovision_policy, Some(ReprovisionPolicy::RESET));
    assert!(read.attestation.symmetric_key.clone().unwrap_or_default().primary_key.is_none(), "GET never returns keys");
    let attestation = dps.enrollment_attestation("door-17").await.unwrap();
    assert_eq!(attestation.symmetric_key.unwrap().primary_key, keys.primary_key);

    let mut change = read.clone();
    change.settings.reprovision_policy = Some(ReprovisionPolicy::NEVER);
    let stale = IfMatch::Etag("\"stale\"".to_owned());
    assert_eq!(status_code(&dps.put_enrollment(&change, Some(stale)).await.unwrap_err()), Some(412));
    let etag = read.settings.etag.clone().unwrap();
    let saved = dps.put_enrollment(&change, Some(IfMatch::Etag(etag.clone()))).await.unwrap();
    assert_eq!(saved.settings.reprovision_policy, Some(ReprovisionPolicy::NEVER));
    assert_eq!(saved.attestation.symmetric_key.unwrap().primary_key, keys.primary_key, "keys left out of an update are kept");
    assert_eq!(status_code(&dps.delete_enrollment("door-17", IfMatch::Etag(etag)).await.unwrap_err()), Some(412));

    let batch: Vec<IndividualEnrollment> = (1..=4).map(|index| enrollment(&format!("bulk-{index}"), &json!({}))).collect();
    let result = dps.bulk_enrollments(BulkMode::Create, &batch).await.unwrap();
    assert!(result.is_successful, "{result:?}");
    let again = dps.bulk_enrollments(BulkMode::Create, &batch[..2]).await.unwrap();
    assert!(!again.is_successful);
    assert_eq!(again.errors.len(), 2);
    assert_eq!(again.errors[0].registration_id.as_deref(), Some("bulk-1"));
    assert!(matches!(dps.bulk_enrollments(BulkMode::Update, &vec![batch[0].clone(); 11]).await, Err(AzureError::InvalidInput(_))));

    let mut seen = Vec::new();
    let mut continuation = None;
    loop {
        let page = dps.query_enrollments(Some(3), continuation.as_deref()).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|item| item.registration_id));
        continuation = page.continuation;
        if continuation.is_none() {
            break;
        }
    }
    for id in ["door-17", "bulk-1", "bulk-4", "b43-lobby-lock-01"] {
        assert_eq!(seen.iter().filter(|seen| seen.as_str() == id).count(), 1, "{id} appears exactly once in {seen:?}");
    }

    let group: EnrollmentGroup =
        serde_json::from_value(json!({"enrollmentGroupId": "lobby", "attestation": {"type": "symmetricKey"}})).unwrap();
    let group = dps.put_group(&group, None).await.unwrap();
    assert!(dps.get_group("lobby").await.unwrap().attestation.symmetric_key.unwrap_or_default().primary_key.is_none());
    assert!(dps.group_attestation("lobby").await.unwrap().symmetric_key.unwrap().primary_key.is_some());
    dps.delete_group("lobby", IfMatch::Etag(group.settings.etag.unwrap())).await.unwrap();
    assert_eq!(status_code(&dps.get_group("lobby").await.unwrap_err()), Some(404));
    let records = dps.query_group_registrations("building-43-locks", Some(100), None).await.unwrap();
    assert_eq!(records.items.len(), 8, "the demo group's devices registered on start");
    assert!(matches!(dps.get_enrollment("bad id").await, Err(AzureError::InvalidInput(message)) if message.contains("' '")));
}

/// A device registering over HTTP the way the Node SDK does: PUT register, poll the operation.
async fn register_over_http(sim: &Simulator, registration_id: &str, key: &[u8]) -> Value {
    register_with_api(sim, registration_id, key, "2019-03-31").await
}

/// The same, speaking `api_version`.
async fn register_with_api(sim: &Simulator, registration_id: &str, key: &[u8], api_version: &str) -> Value {
    let scope = sim.dps().id_scope().to_owned();
    let resource = format!("{scope}/registrations/{registration_id}");
    let token = build_token(&resource, key, hubdeck::sim::clock::unix_now() + 3600, Some("registration"));
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(sim.ca_path()).unwrap()).unwrap())
        .build()
        .unwrap();
    let base = format!("https://{}/{scope}/registrations/{registration_id}", sim.host_name());
    let started = http
        .put(format!("{base}/register?api-version={api_version}"))
        .header("Authorization", token.expose())
        .json(&json!({"registrationId": registration_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 202);
    assert_eq!(started.headers()["retry-after"], "1");
    let operation: Value = started.json().await.unwrap();
    assert_eq!(operation["status"], "assigning");
    let operation_id = operation["operationId"].as_str().unwrap().to_owned();
    for _ in 0..100 {
        let polled = http
            .get(format!("{base}/operations/{operation_id}?api-version={api_version}"))
            .header("Authorization", token.expose())
            .send()
            .await
            .unwrap();
        let status = polled.status().as_u16();
        // DPS allows 5 polls per 10 s per device; a client polling faster is told when to come back.
        let retry_after = polled.headers().get("retry-after").and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        let body: Value = polled.json().await.unwrap();
        if status == 200 {
            return body;
        }
        if status == 429 {
            tokio::time::sleep(Duration::from_secs(retry_after.unwrap())).await;
            continue;
        }
        assert_eq!((status, body["status"].as_str()), (202, Some("assigning")));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the registration did not finish");
}

fn key_of(enrollment: &IndividualEnrollment) -> Vec<u8> {
    hubdeck::azure::sas::decode_key(enrollment.attestation.symmetric_key.as_ref().unwrap().primary_key.as_ref().unwrap()).unwrap()
}

#[tokio::test]
async fn re_registration_migrates_resets_or_keeps_the_device_as_the_policy_says() {
    let hub = common::start_hub_with_dps(5).await;
    let (sim, dps) = (&hub.sim, dps_client(&hub.sim));
    let east_host = sim.hub_device_host_name("contoso-east").unwrap();
    let west_host = sim.hub_device_host_name("contoso-west").unwrap();
    let (east, west) = (hub_client(sim, "contoso-east"), hub_client(sim, "contoso-west"));
    let initial = json!({"tags": {"site": "lobby"}, "properties": {"desired": {"autoLockSeconds": 30}}});
    let created = dps
        .put_enrollment(
            &enrollment("door-42", &json!({"reprovisionPolicy": ReprovisionPolicy::MIGRATE, "allocationPolicy": "static", "iotHubs": [east_host], "initialTwin": initial})),
            None,
        )
        .await
        .unwrap();
    let key = key_of(&created);

    // First registration: created on east with the initial twin and the attested key.
    let first = register_over_http(sim, "door-42", &key).await;
    assert_eq!(first["status"], "assigned");
    assert_eq!(first["registrationState"]["assignedHub"], east_host.as_str());
    assert_eq!(first["registrationState"]["substatus"], "initialAssignment");
    let device = east.get_device("door-42").await.unwrap();
    assert_eq!(
        device.authentication.unwrap().symmetric_key.unwrap().primary_key,
        created.attestation.symmetric_key.clone().unwrap().primary_key
    );
    let twin = east.get_twin("door-42").await.unwrap();
    assert_eq!(twin.tags.as_ref().unwrap()["site"], "lobby");

    // The operator changes the twin on east, then points the enrollment at west: migrate keeps the twin.
    east.patch_twin("door-42", &json!({"tags": {"site": "garage"}}), IfMatch::Any).await.unwrap();
    let current = dps.get_enrollment("door-42").await.unwrap();
    let mut to_west = current.clone();
    to_west.settings.iot_hubs = Some(vec![west_host.clone()]);
    dps.put_enrollment(&to_west, Some(IfMatch::Etag(current.settings.etag.unwrap()))).await.unwrap();
    let moved = register_over_http(sim, "door-42", &key).await;
    assert_eq!(moved["registrationState"]["assignedHub"], west_host.as_str());
    assert_eq!(moved["registrationState"]["substatus"], "deviceDataMigrated");
    assert_eq!(status_code(&east.get_device("door-42").await.unwrap_err()), Some(404), "gone from the old hub");
    assert_eq!(west.get_twin("door-42").await.unwrap().tags.unwrap()["site"], "garage", "its data came along");

    // Reset to initial config on the same hub: the twin goes back to the enrollment's.
    west.patch_twin("door-42", &json!({"tags": {"site": "roof"}, "properties": {"desired": {"autoLockSeconds": 99}}}), IfMatch::Any)
        .await
        .unwrap();
    let current = dps.get_enrollment("door-42").await.unwrap();
    let mut reset = current.clone();
    reset.settings.reprovision_policy = Some(ReprovisionPolicy::RESET);
    dps.put_enrollment(&reset, Some(IfMatch::Etag(current.settings.etag.unwrap()))).await.unwrap();
    let reset_result = register_over_http(sim, "door-42", &key).await;
    assert_eq!(reset_result["registrationState"]["substatus"], "deviceDataReset");
    let twin = west.get_twin("door-42").await.unwrap();
    assert_eq!(twin.tags.unwrap()["site"], "lobby");
    assert_eq!(twin.properties.unwrap().desired.unwrap()["autoLockSeconds"], 30);

    // Never: pointed back at east, the device stays on west untouched.
    west.patch_twin("door-42", &json!({"tags": {"site": "kept"}}), IfMatch::Any).await.unwrap();
    let current = dps.get_enrollment("door-42").await.unwrap();
    let mut never = current.clone();
    never.settings.reprovision_policy = Some(ReprovisionPolicy::NEVER);
    never.settings.iot_hubs = Some(vec![east_host.clone()]);
    dps.put_enrollment(&never, Some(IfMatch::Etag(current.settings.etag.unwrap()))).await.unwrap();
    let kept = register_over_http(sim, "door-42", &key).await;
    assert_eq!(kept["registrationState"]["assignedHub"], west_host.as_str());
    assert_eq!(west.get_twin("door-42").await.unwrap().tags.unwrap()["site"], "kept");
    let record = dps.get_registration("door-42").await.unwrap();
    assert_eq!(record.assigned_hub.as_deref(), Some(west_host.as_str()));

    // Reset while moving: identity removed from west, east gets the initial twin.
    let current = dps.get_enrollment("door-42").await.unwrap();
    let mut move_reset = current.clone();
    move_reset.settings.reprovision_policy = Some(ReprovisionPolicy::RESET);
    dps.put_enrollment(&move_reset, Some(IfMatch::Etag(current.settings.etag.unwrap()))).await.unwrap();
    let moved_reset = register_over_http(sim, "door-42", &key).await;
    assert_eq!(moved_reset["registrationState"]["assignedHub"], east_host.as_str());
    assert_eq!(moved_reset["registrationState"]["substatus"], "deviceDataReset");
    assert_eq!(status_code(&west.get_device("door-42").await.unwrap_err()), Some(404));
    assert_eq!(east.get_twin("door-42").await.unwrap().tags.unwrap()["site"], "lobby");

    // Deleting the record leaves the device on its hub; the next registration finds it there.
    let record = dps.get_registration("door-42").await.unwrap();
    dps.delete_registration("door-42", IfMatch::Etag(record.etag.unwrap())).await.unwrap();
    east.get_device("door-42").await.expect("door-42 is on east");
    let again = register_over_http(sim, "door-42", &key).await;
    assert_eq!(
        again["registrationState"]["substatus"], "initialAssignment",
        "reprovisionedToInitialAssignment exists from api-version 2019-04-15; this device speaks 2019-03-31"
    );
}

#[tokio::test]
async fn wrong_keys_disabled_enrollments_and_group_devices() {
    let hub = common::start_hub_with_dps(5).await;
    let (sim, dps) = (&hub.sim, dps_client(&hub.sim));
    let created = dps.put_enrollment(&enrollment("door-9", &json!({"provisioningStatus": "disabled"})), None).await.unwrap();
    let scope = sim.dps().id_scope().to_owned();
    let token =
        build_token(&format!("{scope}/registrations/door-9"), b"not-the-key", hubdeck::sim::clock::unix_now() + 60, Some("registration"));
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(sim.ca_path()).unwrap()).unwrap())
        .build()
        .unwrap();
    let refused = http
        .put(format!("https://{}/{scope}/registrations/door-9/register?api-version=2019-03-31", sim.host_name()))
        .header("Authorization", token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errorCode"], 401_002);
    assert!(body["message"].as_str().unwrap().contains("signature does not match"));

    let disabled = register_over_http(sim, "door-9", &key_of(&created)).await;
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(dps.get_registration("door-9").await.unwrap().status, RegistrationStatus::Disabled);

    // A demo group device re-registers through its derived key when asked (the `reprovision` method).
    let record = dps.get_registration("b43-grp-lock-01").await.unwrap();
    assert_eq!(record.status, RegistrationStatus::Assigned);
    assert_eq!(record.substatus, Some(RegistrationSubstatus::InitialAssignment));
    let host = record.assigned_hub.clone().unwrap();
    let name = if host == sim.hub_device_host_name("contoso-east").unwrap() { "contoso-east" } else { "contoso-west" };
    let client = hub_client(sim, name);
    let method = hubdeck::azure::wire::CloudToDeviceMethod {
        method_name: "reprovision".to_owned(),
        payload: Value::Null,
        response_timeout_in_seconds: Some(30),
        connect_timeout_in_seconds: Some(5),
    };
    let answer = client.invoke_method("b43-grp-lock-01", &method).await.unwrap();
    assert_eq!(answer.status, 200);
    let after = wait_assigned(&dps, "b43-grp-lock-01", record.etag.as_deref()).await;
    assert_eq!(after.assigned_hub, Some(host), "same hash, same hub");
    let fleet_device = client.query_page::<Value>("SELECT * FROM devices", Some(1), None).await.unwrap();
    assert!(!fleet_device.items.is_empty());
}

#[tokio::test]
async fn custom_allocation_asks_the_webhook_and_a_dead_webhook_fails_the_registration_clearly() {
    let hub = common::start_hub_with_dps(5).await;
    let (sim, dps) = (&hub.sim, dps_client(&hub.sim));
    let west_host = sim.hub_device_host_name("contoso-west").unwrap();
    let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::<Value>::new()));
    let answer = json!({"iotHubHostName": west_host, "initialTwin": {"tags": {"shelf": "A7"}}, "payload": {"welcome": "to west"}});
    let app = axum::Router::new().route(
        "/allocate",
        axum::routing::post({
            let seen = std::sync::Arc::clone(&seen);
            move |body: axum::body::Bytes| {
                let seen = std::sync::Arc::clone(&seen);
                let answer = answer.to_string();
                async move {
                    seen.lock().push(serde_json::from_slice(&body).unwrap());
                    ([(axum::http::header::CONTENT_TYPE, "application/json")], answer)
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/allocate", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });

    let custom = json!({"allocationPolicy": "custom", "customAllocationDefinition": {"webhookUrl": url, "apiVersion": "2021-10-01"}});
    let created = dps.put_enrollment(&enrollment("shelf-7", &custom), None).await.unwrap();
    let result = register_over_http(sim, "shelf-7", &key_of(&created)).await;
    assert_eq!(result["status"], "assigned", "{result}");
    assert_eq!(result["registrationState"]["assignedHub"], west_host.as_str());
    assert_eq!(result["registrationState"]["payload"], json!({"welcome": "to west"}));
    let twin = hub_client(sim, "contoso-west").get_twin("shelf-7").await.unwrap();
    assert_eq!(twin.tags.unwrap()["shelf"], "A7", "the webhook's initial twin wins");
    let request = seen.lock()[0].clone();
    assert_eq!(request["deviceRuntimeContext"]["registrationId"], "shelf-7");
    assert_eq!(request["individualEnrollment"]["registrationId"], "shelf-7");
    assert!(request["individualEnrollment"]["attestation"]["symmetricKey"]["primaryKey"].is_null(), "keys are never sent to the webhook");
    assert_eq!(request["linkedHubs"].as_array().unwrap().len(), 2);

    let dead = json!({"allocationPolicy": "custom", "customAllocationDefinition": {"webhookUrl": "http://127.0.0.1:9/allocate", "apiVersion": "2021-10-01"}});
    let created = dps.put_enrollment(&enrollment("shelf-8", &dead), None).await.unwrap();
    let failed = register_over_http(sim, "shelf-8", &key_of(&created)).await;
    assert_eq!(failed["status"], "failed");
    let message = failed["registrationState"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("http://127.0.0.1:9/allocate could not be reached"), "{message}");
    assert_eq!(failed["registrationState"]["errorCode"], 400_211);
}

#[tokio::test]
async fn without_a_saved_policy_old_devices_stick_and_new_ones_migrate() {
    let hub = common::start_hub_with_dps(5).await;
    let (sim, dps) = (&hub.sim, dps_client(&hub.sim));
    let east_host = sim.hub_device_host_name("contoso-east").unwrap();
    let west_host = sim.hub_device_host_name("contoso-west").unwrap();
    let created =
        dps.put_enrollment(&enrollment("meter-1", &json!({"allocationPolicy": "static", "iotHubs": [east_host]})), None).await.unwrap();
    assert_eq!(created.settings.reprovision_policy, None);
    let key = key_of(&created);
    register_with_api(sim, "meter-1", &key, "2018-04-01").await;
    let mut to_west = dps.get_enrollment("meter-1").await.unwrap();
    to_west.settings.iot_hubs = Some(vec![west_host.clone()]);
    let etag = to_west.settings.etag.clone().unwrap();
    dps.put_enrollment(&to_west, Some(IfMatch::Etag(etag))).await.unwrap();
    let old = register_with_api(sim, "meter-1", &key, "2018-04-01").await;
    assert_eq!(old["registrationState"]["assignedHub"], east_host.as_str(), "legacy devices go back to the same hub");
    let new = register_with_api(sim, "meter-1", &key, "2021-10-01").await;
    assert_eq!(new["registrationState"]["assignedHub"], west_host.as_str(), "newer devices get the default: migrate");
    assert_eq!(new["registrationState"]["substatus"], "deviceDataMigrated");
}

#[tokio::test]
async fn a_rebooting_dps_device_registers_again_and_dps_state_survives_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let config = || hubdeck::sim::SimConfig {
        port: 0,
        mqtt_port: Some(0),
        state: hubdeck::sim::StateLocation::Dir(state.path().to_owned()),
        fleet_size: 3,
        methods: hubdeck::sim::methods::MethodConfig { reboot_offline: Duration::from_millis(200), ..Default::default() },
        ..hubdeck::sim::SimConfig::default()
    };
    let sim = Simulator::start(config()).await.unwrap();
    let dps = dps_client(&sim);
    let record = dps.get_registration("b43-grp-lock-02").await.unwrap();
    let host = record.assigned_hub.clone().unwrap();
    let name = if host == sim.hub_device_host_name("contoso-east").unwrap() { "contoso-east" } else { "contoso-west" };
    let method = hubdeck::azure::wire::CloudToDeviceMethod {
        method_name: "reboot".to_owned(),
        payload: Value::Null,
        response_timeout_in_seconds: Some(30),
        connect_timeout_in_seconds: Some(5),
    };
    assert_eq!(hub_client(&sim, name).invoke_method("b43-grp-lock-02", &method).await.unwrap().status, 200);
    let after = wait_assigned(&dps, "b43-grp-lock-02", record.etag.as_deref()).await;
    assert_ne!(after.last_updated_date_time_utc, record.last_updated_date_time_utc, "it registered again after the reboot");
    let keys_before = dps.group_attestation("building-43-locks").await.unwrap();
    sim.shutdown().await;

    let sim = Simulator::start(config()).await.unwrap();
    let dps = dps_client(&sim);
    assert_eq!(dps.group_attestation("building-43-locks").await.unwrap(), keys_before, "keys survive");
    let record = dps.get_registration("b43-grp-lock-02").await.unwrap();
    let new_host = sim.hub_device_host_name(name).unwrap();
    assert_eq!(record.assigned_hub.as_deref(), Some(new_host.as_str()), "records follow their hub to its new port");
    hub_client(&sim, name).get_device("b43-grp-lock-02").await.expect("the device is on the hub its record names");
    assert_eq!(dps.query_group_registrations("building-43-locks", None, None).await.unwrap().items.len(), 8, "not seeded twice");
}
