//! The simulator's MQTT device endpoint, driven by a bare MQTT client the way the device SDKs
//! drive it: CONNECT checks, twin get/patch, desired pushes from every service path, direct
//! methods from REST and from jobs, telemetry into the device-to-cloud log, cloud-to-device
//! delivery, connection state, takeover, hostile input, WebSocket, and DPS over MQTT.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::mqtt::{Seen, TestDevice, Via, connect, device_password, device_username, in_an_hour};
use common::{TestHub, start_hub};
use hubdeck::azure::IfMatch;
use hubdeck::azure::secret::Secret;
use hubdeck::azure::wire::{CloudToDeviceMethod, ConnectionState, Device, DeviceProtocol, DeviceStatus, JobRequest, JobStatus, JobType};
use hubdeck::sim::c2d::{FeedbackStatus, OutgoingMessage};
use rumqttc::{ConnectReturnCode, QoS, SubscribeReasonCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Creates a device over REST and returns its primary key.
async fn create_device(hub: &TestHub, device_id: &str) -> Secret {
    let device = hub.client.create_device(&Device::new_with_generated_keys(device_id)).await.unwrap();
    device.authentication.unwrap().symmetric_key.unwrap().primary_key.unwrap()
}

fn mqtt(hub: &TestHub) -> Via {
    Via::Tls(hub.sim.mqtt_address().expect("the MQTT endpoint listens"))
}

/// Connects `device_id` with its key over `via` and waits for CONNACK.
async fn connect_device(hub: &TestHub, via: Via, device_id: &str, key: &Secret) -> TestDevice {
    let mut device = connect(
        via,
        hub.sim.ca_path(),
        device_id,
        &device_username("localhost", device_id),
        &device_password("localhost", device_id, key, in_an_hour()),
    );
    assert_eq!(device.connack().await, ConnectReturnCode::Success);
    device
}

const TWIN_TOPICS: [&str; 3] = ["$iothub/twin/res/#", "$iothub/methods/POST/#", "$iothub/twin/PATCH/properties/desired/#"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_gets_its_twin_reports_receives_desired_changes_and_answers_methods() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "door-1").await;
    let mut device = connect_device(&hub, mqtt(&hub), "door-1", &key).await;
    assert_eq!(device.subscribe(&TWIN_TOPICS).await, vec![SubscribeReasonCode::Success(QoS::AtLeastOnce); 3]);

    // Connected, with how, in the registry and on the simulator's own route.
    let listed = hub.client.get_device("door-1").await.unwrap();
    assert_eq!(listed.connection_state, Some(ConnectionState::Connected), "{listed:?}");
    let query = "SELECT deviceId, connectionState, lastActivityTime FROM devices WHERE connectionState = 'Connected'";
    let connected = hub.client.query_page::<Value>(query, None, None).await.unwrap().items;
    assert_eq!(connected.iter().map(|row| row["deviceId"].clone()).collect::<Vec<_>>(), [json!("door-1")], "{connected:?}");
    assert_ne!(connected[0]["lastActivityTime"], json!("0001-01-01T00:00:00Z"), "activity is recorded: {connected:?}");
    let connections = hub.sim.hub().devices().list();
    assert_eq!(connections.len(), 1);
    assert_eq!((connections[0].protocol, connections[0].client_type.as_str()), (DeviceProtocol::Mqtt, "azure-iot-device-py/2.14.0(test)"));

    // Reported patch: 204 with the new $version, visible to the service.
    device
        .client
        .publish("$iothub/twin/PATCH/properties/reported/?$rid=1", QoS::AtLeastOnce, false, r#"{"firmware":"2.1"}"#)
        .await
        .unwrap();
    let answer = device.publish_to("$iothub/twin/res/").await;
    assert_eq!(answer.topic, "$iothub/twin/res/204/?$rid=1&$version=2");
    let twin = hub.client.get_twin("door-1").await.unwrap();
    assert_eq!(twin.reported().unwrap()["firmware"], json!("2.1"));

    // A reported patch breaking the key rules gets the service's 400 on the response topic.
    device.client.publish("$iothub/twin/PATCH/properties/reported/?$rid=2", QoS::AtLeastOnce, false, r#"{"$bad":1}"#).await.unwrap();
    let refused = device.publish_to("$iothub/twin/res/").await;
    assert_eq!(refused.topic, "$iothub/twin/res/400/?$rid=2");
    let body: Value = serde_json::from_slice(&refused.payload).unwrap();
    assert_eq!(body["errorCode"], json!(400_004), "{body}");

    // Desired changes by REST PATCH, then by a twin-update job, are pushed as patches.
    hub.client.patch_twin("door-1", &json!({"properties": {"desired": {"autoLockSeconds": 30}}}), IfMatch::Any).await.unwrap();
    let pushed = device.publish_to("$iothub/twin/PATCH/properties/desired/").await;
    assert_eq!(pushed.topic, "$iothub/twin/PATCH/properties/desired/?$version=2");
    assert_eq!(serde_json::from_slice::<Value>(&pushed.payload).unwrap(), json!({"autoLockSeconds": 30, "$version": 2}));
    let job = JobRequest {
        job_id: "twin-job".into(),
        job_type: JobType::ScheduleUpdateTwin,
        cloud_to_device_method: None,
        update_twin: Some(json!({"etag": "*", "properties": {"desired": {"building": 43, "floor": 3}}})),
        query_condition: Some("deviceId = 'door-1'".into()),
        start_time: None,
        max_execution_time_in_seconds: Some(60),
    };
    hub.client.create_job(&job).await.unwrap();
    let pushed = device.publish_to("$iothub/twin/PATCH/properties/desired/").await;
    assert_eq!(serde_json::from_slice::<Value>(&pushed.payload).unwrap(), json!({"building": 43, "floor": 3, "$version": 3}));

    // Twin GET answers both sections with their versions.
    device.client.publish("$iothub/twin/GET/?$rid=3", QoS::AtLeastOnce, false, " ").await.unwrap();
    let got = device.publish_to("$iothub/twin/res/200/?$rid=3").await;
    let got: Value = serde_json::from_slice(&got.payload).unwrap();
    assert_eq!((got["desired"]["floor"].clone(), got["desired"]["$version"].clone()), (json!(3), json!(3)));
    assert_eq!(got["reported"]["firmware"], json!("2.1"));

    // A direct method over REST reaches the device, and its answer comes back.
    let invoking = {
        let client = hub.sim.hub().clone();
        tokio::spawn(async move {
            let method = CloudToDeviceMethod {
                method_name: "lockDoor".into(),
                payload: json!({"lockTime": "10m"}),
                response_timeout_in_seconds: Some(30),
                connect_timeout_in_seconds: None,
            };
            hubdeck::sim::methods::invoke(&client, "door-1", &method).await
        })
    };
    let request = device.publish_to("$iothub/methods/POST/lockDoor/").await;
    assert_eq!(serde_json::from_slice::<Value>(&request.payload).unwrap(), json!({"lockTime": "10m"}));
    let rid = request.topic.split("$rid=").nth(1).unwrap().to_owned();
    device.client.publish(format!("$iothub/methods/res/200/?$rid={rid}"), QoS::AtLeastOnce, false, r#"{"locked":"10m"}"#).await.unwrap();
    let answer = invoking.await.unwrap().unwrap();
    assert_eq!((answer.status, answer.payload), (200, json!({"locked": "10m"})));

    // Leaving disconnects it.
    device.client.disconnect().await.unwrap();
    device.closed().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = hub.client.get_device("door-1").await.unwrap().connection_state;
        if state == Some(ConnectionState::Disconnected) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {state:?} after leaving");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hub.sim.hub().devices().list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_method_job_reaches_the_real_device_and_records_its_answer() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "door-43").await;
    hub.client.patch_twin("door-43", &json!({"tags": {"building": 43}}), IfMatch::Any).await.unwrap();
    let mut device = connect_device(&hub, mqtt(&hub), "door-43", &key).await;
    device.subscribe(&["$iothub/methods/POST/#"]).await;
    let job = JobRequest {
        job_id: "lock-43".into(),
        job_type: JobType::ScheduleDeviceMethod,
        cloud_to_device_method: Some(CloudToDeviceMethod {
            method_name: "lockDoor".into(),
            payload: json!({"lockTime": "10m"}),
            response_timeout_in_seconds: Some(30),
            connect_timeout_in_seconds: Some(0),
        }),
        update_twin: None,
        query_condition: Some("tags.building = 43".into()),
        start_time: None,
        max_execution_time_in_seconds: Some(120),
    };
    hub.client.create_job(&job).await.unwrap();
    let request = device.publish_to("$iothub/methods/POST/lockDoor/").await;
    let rid = request.topic.split("$rid=").nth(1).unwrap().to_owned();
    device.client.publish(format!("$iothub/methods/res/200/?$rid={rid}"), QoS::AtLeastOnce, false, r#"{"locked":true}"#).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let finished = loop {
        let job = hub.client.get_job("lock-43").await.unwrap();
        if job.status == JobStatus::Completed {
            break job;
        }
        assert!(tokio::time::Instant::now() < deadline, "job not completed: {job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished.device_job_statistics.unwrap().succeeded_count, 1);
    let page = hub.client.device_jobs_page("lock-43", None, None, None).await.unwrap();
    let outcome = page.items[0].outcome.as_ref().and_then(|outcome| outcome.device_method_response.clone()).unwrap();
    assert_eq!((outcome.status, outcome.payload), (200, json!({"locked": true})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_expired_tokens_unknown_and_disabled_devices_are_not_authorized() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "d1").await;
    let other_key = create_device(&hub, "d2").await;
    let refused = |password: String, device_id: &'static str| {
        let ca = hub.sim.ca_path().to_owned();
        let via = mqtt(&hub);
        async move {
            let mut device = connect(via, &ca, device_id, &device_username("localhost", device_id), &password);
            device.connack().await
        }
    };
    assert_eq!(refused(device_password("localhost", "d1", &other_key, in_an_hour()), "d1").await, ConnectReturnCode::NotAuthorized);
    assert_eq!(refused(device_password("localhost", "d1", &key, 1_000_000), "d1").await, ConnectReturnCode::NotAuthorized);
    assert_eq!(refused(device_password("localhost", "ghost", &key, in_an_hour()), "ghost").await, ConnectReturnCode::NotAuthorized);
    assert_eq!(refused(device_password("otherhub", "d1", &key, in_an_hour()), "d1").await, ConnectReturnCode::NotAuthorized);

    // Disabling a connected device closes its connection; it cannot come back while disabled.
    let mut connected = connect_device(&hub, mqtt(&hub), "d1", &key).await;
    let mut disabled = hub.client.get_device("d1").await.unwrap();
    disabled.status = DeviceStatus::Disabled;
    hub.client.update_device(&disabled, IfMatch::Any).await.unwrap();
    connected.closed().await;
    assert_eq!(refused(device_password("localhost", "d1", &key, in_an_hour()), "d1").await, ConnectReturnCode::NotAuthorized);
    assert!(hub.sim.hub().devices().list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_takes_over_and_the_first_is_closed() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "d1").await;
    let mut first = connect_device(&hub, mqtt(&hub), "d1", &key).await;
    let _second = connect_device(&hub, mqtt(&hub), "d1", &key).await;
    first.closed().await;
    assert_eq!(hub.sim.hub().devices().list().len(), 1);
    assert_eq!(hub.client.get_device("d1").await.unwrap().connection_state, Some(ConnectionState::Connected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_lands_in_the_device_to_cloud_log_with_its_properties() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "sensor-1").await;
    let mut device = connect_device(&hub, mqtt(&hub), "sensor-1", &key).await;
    let topic = "devices/sensor-1/messages/events/%24.mid=msg-1&%24.ct=application%2Fjson&%24.ce=utf-8&alert=true";
    device.client.publish(topic, QoS::AtLeastOnce, false, r#"{"temperature":21.5}"#).await.unwrap();
    device.expect("PUBACK", |seen| matches!(seen, Seen::PubAck(_)).then_some(())).await;
    device.client.publish("devices/sensor-1/messages/events/", QoS::AtMostOnce, false, "plain").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hub.sim.hub().d2c().all().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "QoS 0 message not logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = hub.sim.hub().d2c().all();
    let first = &events[0];
    assert_eq!((first.device_id.as_str(), first.sequence_number, &first.body[..]), ("sensor-1", 0, &br#"{"temperature":21.5}"#[..]));
    assert_eq!(first.properties.system.get("$.mid").map(String::as_str), Some("msg-1"));
    assert_eq!(first.properties.system.get("$.ct").map(String::as_str), Some("application/json"));
    assert_eq!(first.properties.application, vec![("alert".to_owned(), "true".to_owned())]);
    assert_eq!(events[1].sequence_number, 1, "same device, same partition, next sequence number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_to_device_messages_are_delivered_and_completed_by_puback() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "d1").await;
    let message = OutgoingMessage {
        message_id: "m-1".into(),
        body: bytes::Bytes::from_static(b"open the valve"),
        properties: hubdeck::sim::mqtt::topic::MessageProperties {
            application: vec![("priority".into(), "high".into())],
            ..Default::default()
        },
        ttl: None,
    };
    // Queued before the device is there, delivered once it subscribes.
    hub.sim.hub().send_to_device("d1", message).unwrap();
    assert!(hub.sim.hub().send_to_device("ghost", OutgoingMessage::default()).is_err(), "unknown devices get no messages");
    let mut device = connect_device(&hub, mqtt(&hub), "d1", &key).await;
    device.subscribe(&["devices/d1/messages/devicebound/#"]).await;
    let delivered = device.publish_to("devices/d1/messages/devicebound/").await;
    assert_eq!(&delivered.payload[..], b"open the valve");
    assert!(delivered.topic.contains("%24.mid=m-1") && delivered.topic.contains("priority=high"), "{}", delivered.topic);
    assert!(delivered.topic.contains("%24.to=%2Fdevices%2Fd1%2Fmessages%2FdeviceBound"), "{}", delivered.topic);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hub.sim.hub().c2d().depth("d1") > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the PUBACK did not complete the message");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hub.sim.hub().c2d().feedback().iter().map(|feedback| feedback.status).collect::<Vec<_>>(), [FeedbackStatus::Success]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_devices_topics_unknown_topics_and_oversize_messages_close_only_that_connection() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "bad").await;
    let good_key = create_device(&hub, "good").await;
    let mut good = connect_device(&hub, mqtt(&hub), "good", &good_key).await;

    let mut bad = connect_device(&hub, mqtt(&hub), "bad", &key).await;
    let codes = bad.subscribe(&["devices/good/messages/devicebound/#", "#", "devices/bad/messages/devicebound/#"]).await;
    assert_eq!(codes, [SubscribeReasonCode::Failure, SubscribeReasonCode::Failure, SubscribeReasonCode::Success(QoS::AtLeastOnce)]);
    bad.client.publish("devices/good/messages/events/", QoS::AtLeastOnce, false, "spoofed").await.unwrap();
    bad.closed().await;

    let mut bad = connect_device(&hub, mqtt(&hub), "bad", &key).await;
    bad.client.publish("some/unknown/topic", QoS::AtMostOnce, false, "x").await.unwrap();
    bad.closed().await;

    let mut bad = connect_device(&hub, mqtt(&hub), "bad", &key).await;
    bad.client.publish("devices/bad/messages/events/", QoS::AtLeastOnce, false, vec![b'x'; 256 * 1024 + 1]).await.unwrap();
    bad.closed().await;
    assert!(hub.sim.hub().d2c().all().is_empty(), "nothing from the misbehaving device was accepted");

    // Raw garbage on a fresh TLS connection: closed, the endpoint keeps serving.
    let address = hub.sim.mqtt_address().unwrap();
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(common::mqtt::tls_config(hub.sim.ca_path()));
    let mut tls = connector.connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    tls.write_all(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]).await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut rest)).await.expect("closed in time");
    assert!(read.is_err() || rest.is_empty(), "garbage got an answer: {rest:?}");

    // The well-behaved device was never affected.
    good.client.publish("devices/good/messages/events/", QoS::AtLeastOnce, false, "still here").await.unwrap();
    good.expect("PUBACK", |seen| matches!(seen, Seen::PubAck(_)).then_some(())).await;
    assert_eq!(hub.sim.hub().devices().list().iter().map(|info| info.device_id.as_str()).collect::<Vec<_>>(), ["good"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_over_websocket_on_the_https_port_works_like_tls() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "ws-1").await;
    let mut device = connect_device(&hub, Via::WebSocket(hub.sim.address()), "ws-1", &key).await;
    assert_eq!(hub.sim.hub().devices().list()[0].protocol, DeviceProtocol::MqttWebSocket);
    device.subscribe(&["$iothub/twin/res/#"]).await;
    device.client.publish("$iothub/twin/GET/?$rid=ws", QoS::AtLeastOnce, false, " ").await.unwrap();
    let answer = device.publish_to("$iothub/twin/res/200/?$rid=ws").await;
    assert!(serde_json::from_slice::<Value>(&answer.payload).unwrap()["desired"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_registers_through_dps_over_mqtt_and_connects_to_its_hub() {
    let hub = common::start_hub_with_dps(0).await;
    let dps_client = hubdeck::azure::DpsClient::new(
        &hub.sim.dps_connection_string("provisioningserviceowner").unwrap(),
        &common::options_for(&hub.sim, common::fast_retry()),
    )
    .unwrap();
    let registration_id = "mqtt-reg-1";
    let enrollment = serde_json::from_value(json!({"registrationId": registration_id, "attestation": {"type": "symmetricKey"}})).unwrap();
    let created = dps_client.put_enrollment(&enrollment, None).await.unwrap();
    let device_key = created.attestation.symmetric_key.unwrap().primary_key.unwrap();
    let dps = hub.sim.dps();
    let scope = dps.id_scope().to_owned();
    let resource = hubdeck::azure::sas::encode_component(&format!("{scope}/registrations/{registration_id}"));
    let password = hubdeck::azure::sas::build_token(
        &resource,
        &hubdeck::azure::sas::decode_key(&device_key).unwrap(),
        in_an_hour(),
        Some("registration"),
    );
    let username = format!("{scope}/registrations/{registration_id}/api-version=2019-03-31&ClientVersion=test");
    let mut registering = connect(mqtt(&hub), hub.sim.ca_path(), registration_id, &username, password.expose());
    assert_eq!(registering.connack().await, ConnectReturnCode::Success);
    registering.subscribe(&["$dps/registrations/res/#"]).await;
    let body = json!({"registrationId": registration_id}).to_string();
    registering.client.publish("$dps/registrations/PUT/iotdps-register/?$rid=r1", QoS::AtLeastOnce, false, body).await.unwrap();
    let accepted = registering.publish_to("$dps/registrations/res/").await;
    assert!(accepted.topic.starts_with("$dps/registrations/res/202/?$rid=r1&retry-after="), "{}", accepted.topic);
    let operation_id = serde_json::from_slice::<Value>(&accepted.payload).unwrap()["operationId"].as_str().unwrap().to_owned();
    let assigned = loop {
        let topic = format!("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=r2&operationId={operation_id}");
        registering.client.publish(topic, QoS::AtLeastOnce, false, " ").await.unwrap();
        let answer = registering.publish_to("$dps/registrations/res/").await;
        let status: Value = serde_json::from_slice(&answer.payload).unwrap();
        if answer.topic.starts_with("$dps/registrations/res/200/") {
            break status;
        }
        // DPS allows 5 polls per 10 s per device; faster polling is told when to come back.
        if let Some((_, seconds)) = answer.topic.split_once("res/429/").and_then(|(_, rest)| rest.rsplit_once("&retry-after=")) {
            tokio::time::sleep(Duration::from_secs(seconds.parse().unwrap())).await;
            continue;
        }
        assert!(answer.topic.starts_with("$dps/registrations/res/202/"), "{}: {status}", answer.topic);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Polling on at once runs through the device's 5 polls per 10 s: 429 with `&retry-after=`.
    let mut throttled = None;
    for attempt in 0..7 {
        let topic = format!("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=p{attempt}&operationId={operation_id}");
        registering.client.publish(topic, QoS::AtLeastOnce, false, " ").await.unwrap();
        let answer = registering.publish_to("$dps/registrations/res/").await;
        if answer.topic.starts_with("$dps/registrations/res/429/") {
            throttled = Some(answer.topic);
            break;
        }
    }
    let throttled = throttled.expect("the sixth poll within 10 s is throttled");
    let seconds: u32 = throttled.rsplit_once("&retry-after=").unwrap().1.parse().unwrap();
    assert!((1..=2).contains(&seconds), "{throttled}");
    assert_eq!(assigned["status"], json!("assigned"), "{assigned}");
    let assigned_hub = assigned["registrationState"]["assignedHub"].as_str().unwrap().to_owned();
    let hub_name =
        hub.sim.hub_names().into_iter().find(|name| hub.sim.hub_device_host_name(name).as_deref() == Some(assigned_hub.as_str())).unwrap();
    assert!(!assigned_hub.contains(':'), "devices cannot take a port: {assigned_hub}");

    // With the same key, the device connects to the hub DPS chose.
    let hub_mqtt = Via::Tls(hub.sim.hub_mqtt_address(&hub_name).unwrap());
    let password = device_password(&assigned_hub, registration_id, &device_key, in_an_hour());
    let mut device = connect(hub_mqtt, hub.sim.ca_path(), registration_id, &device_username(&assigned_hub, registration_id), &password);
    assert_eq!(device.connack().await, ConnectReturnCode::Success);
    assert!(hub.sim.hub_named(&hub_name).unwrap().devices().is_connected(registration_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_daily_quota_telemetry_closes_the_connection() {
    let limits = hubdeck::sim::tier::HubLimits { daily_messages: Some(2), ..hubdeck::sim::tier::HubLimits::unlimited() };
    let config = hubdeck::sim::SimConfig {
        port: 0,
        mqtt_port: Some(0),
        state: hubdeck::sim::StateLocation::Ephemeral,
        fleet_size: 0,
        dps_demo: false,
        limits,
        ..hubdeck::sim::SimConfig::default()
    };
    let sim = hubdeck::sim::Simulator::start(config).await.unwrap();
    let client = common::client_with(&sim, "iothubowner", common::fast_retry(), None);
    let hub = TestHub { sim, client, events: std::sync::Arc::default() };
    let key = create_device(&hub, "sensor-1").await;
    let mut device = connect_device(&hub, mqtt(&hub), "sensor-1", &key).await;
    // Two one-chunk messages use the day's quota; the third is refused by closing the connection.
    for _ in 0..2 {
        device.client.publish("devices/sensor-1/messages/events/", QoS::AtLeastOnce, false, "21.5").await.unwrap();
        device.expect("PUBACK", |seen| matches!(seen, Seen::PubAck(_)).then_some(())).await;
    }
    device.client.publish("devices/sensor-1/messages/events/", QoS::AtLeastOnce, false, "21.6").await.unwrap();
    device.closed().await;
    assert_eq!(hub.sim.hub().d2c().all().len(), 2);
}
