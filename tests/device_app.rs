//! `hubdeck device` against the in-process simulator's MQTT endpoint: the device app connects
//! (TLS and WebSocket), answers methods invoked over REST and by a scheduled job, reports its
//! state, acknowledges desired changes, sends telemetry, receives cloud-to-device messages,
//! reboots, is refused with a wrong key or when disabled, registers through DPS (individual and
//! group), is re-provisioned to the second hub by `reprovision` and, refused by a hub it was
//! moved away from, registers again by itself; and a small `--fleet`.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestHub, start_hub, start_hub_with_dps};
use hubdeck::azure::device::fleet::{FleetCounters, dps_fleet_settings, fleet_ids, hub_fleet_identities, run_fleet};
use hubdeck::azure::device::reconnect::ReconnectPolicy;
use hubdeck::azure::device::runner::{DeviceEvent, DeviceSettings, IdentitySource, Reporter, run_device};
use hubdeck::azure::device::{ConnectFailure, DeviceConnectionString, DeviceError, ProvisioningSettings, TransportSettings, tls_config};
use hubdeck::azure::secret::Secret;
use hubdeck::azure::wire::{CloudToDeviceMethod, Device, DeviceProtocol, DeviceStatus, JobRequest, JobStatus, JobType};
use hubdeck::azure::{DpsClient, IfMatch, RetryPolicy};
use hubdeck::sim::Simulator;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::watch;

/// Collects what the device reports; tests wait for the event they expect.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, DeviceEvent)>>,
    cursor: Mutex<usize>,
}

impl Reporter for Recorder {
    fn report(&self, device: &str, event: DeviceEvent) {
        self.events.lock().push((device.to_owned(), event));
    }
}

impl Recorder {
    /// Waits for the next event (after the last one waited for) that `find` accepts.
    async fn wait_for<T>(&self, what: &str, mut find: impl FnMut(&DeviceEvent) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            {
                let events = self.events.lock();
                let mut cursor = self.cursor.lock();
                if let Some((index, found)) =
                    events.iter().enumerate().skip(*cursor).find_map(|(index, (_, event))| find(event).map(|found| (index, found)))
                {
                    *cursor = index + 1;
                    return found;
                }
            }
            let events: Vec<String> = self.events.lock().iter().map(|(device, event)| format!("[{device}] {event}")).collect();
            assert!(tokio::time::Instant::now() < deadline, "no {what}; events:\n{}", events.join("\n"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn printed(&self) -> String {
        self.events.lock().iter().map(|(device, event)| format!("[{device}] {event}")).collect::<Vec<_>>().join("\n")
    }
}

/// Trusting the simulator's CA, each hub's host on its own port (TLS or WebSocket).
fn transport(sim: &Simulator, websockets: bool) -> TransportSettings {
    let mut transport = TransportSettings::new(tls_config(Some(sim.ca_path())).unwrap());
    transport.websockets = websockets;
    transport.timeout = Duration::from_secs(10);
    for name in sim.hub_names() {
        let host = sim.hub_device_host_name(&name).unwrap();
        let address = if websockets { sim.hub_address(&name) } else { sim.hub_mqtt_address(&name) };
        transport.host_ports.push((host, address.unwrap().port()));
    }
    transport
}

/// The retry rules with short waits, so a test does not wait 5 s per retry.
fn quick_policy() -> ReconnectPolicy {
    ReconnectPolicy {
        retry: RetryPolicy {
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
            jitter: 0.0,
            ..ReconnectPolicy::default().retry
        },
    }
}

fn settings(sim: &Simulator, source: IdentitySource, websockets: bool) -> DeviceSettings {
    DeviceSettings {
        source,
        transport: transport(sim, websockets),
        telemetry_interval: Some(Duration::from_millis(300)),
        reboot_delay: Duration::from_millis(200),
        policy: quick_policy(),
        connect_gate: None,
    }
}

async fn create_device(hub: &TestHub, device_id: &str) -> Secret {
    let device = hub.client.create_device(&Device::new_with_generated_keys(device_id)).await.unwrap();
    device.authentication.unwrap().symmetric_key.unwrap().primary_key.unwrap()
}

fn by_connection_string(device_id: &str, key: &Secret) -> IdentitySource {
    let text = format!("HostName=localhost;DeviceId={device_id};SharedAccessKey={}", key.expose());
    IdentitySource::ConnectionString(DeviceConnectionString::parse(&text).unwrap().into())
}

struct Running {
    recorder: Arc<Recorder>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), DeviceError>>,
}

fn start(settings: DeviceSettings) -> Running {
    let recorder = Arc::new(Recorder::default());
    let (stop, stop_receiver) = watch::channel(false);
    let reporter: Arc<dyn Reporter> = recorder.clone();
    let task = tokio::spawn(run_device(settings, reporter, stop_receiver));
    Running { recorder, stop, task }
}

impl Running {
    async fn stop(self) -> String {
        self.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("stops in time").unwrap().unwrap();
        self.recorder.printed()
    }
}

fn lock_door(payload: Value) -> CloudToDeviceMethod {
    method("lockDoor", payload)
}

fn method(name: &str, payload: Value) -> CloudToDeviceMethod {
    CloudToDeviceMethod { method_name: name.into(), payload, response_timeout_in_seconds: Some(10), connect_timeout_in_seconds: Some(5) }
}

async fn connected(recorder: &Recorder) -> String {
    let endpoint = recorder.wait_for("connection", |event| match event {
        DeviceEvent::Connected { endpoint, .. } => Some(endpoint.clone()),
        _ => None,
    });
    let endpoint = endpoint.await;
    recorder.wait_for("state report", |event| matches!(event, DeviceEvent::StateReported { .. }).then_some(())).await;
    endpoint
}

/// Polls `check` until it returns `Some` (the service side has no events to wait on).
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_app_answers_methods_reports_acknowledges_sends_telemetry_and_reboots() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "door-1").await;
    hub.client.patch_twin("door-1", &json!({"tags": {"building": 43}}), IfMatch::Any).await.unwrap();
    let running = start(settings(&hub.sim, by_connection_string("door-1", &key), false));
    assert_eq!(connected(&running.recorder).await, "hub localhost");

    // Connected over MQTT/TLS, named as hubdeck-device, its state reported.
    let connection = hub.sim.hub().devices().list().pop().unwrap();
    assert_eq!(connection.protocol, DeviceProtocol::Mqtt);
    assert!(connection.client_type.starts_with("hubdeck-device/"), "{}", connection.client_type);
    let twin = hub.client.get_twin("door-1").await.unwrap();
    let reported = twin.reported().unwrap();
    assert_eq!(reported["doorLocked"], json!(false));
    assert!(reported["firmware"].as_str().unwrap().starts_with("hubdeck-device/"));
    assert!(reported["connectedAt"].is_string());

    // Direct methods over REST.
    let locked = hub.client.invoke_method("door-1", &lock_door(json!({"lockTime": "10m"}))).await.unwrap();
    assert_eq!(locked.status, 200, "{locked:?}");
    assert_eq!((locked.payload["doorLocked"].clone(), locked.payload["result"].clone()), (json!(true), json!("door locked for 10m")));
    eventually("the lock reported", || async {
        (hub.client.get_twin("door-1").await.unwrap().reported().unwrap()["doorLocked"] == json!(true)).then_some(())
    })
    .await;
    let bad = hub.client.invoke_method("door-1", &lock_door(json!({"lockTime": "soon"}))).await.unwrap();
    assert_eq!(bad.status, 400);
    assert!(bad.payload["error"].as_str().unwrap().contains("'soon' is not a duration"), "{}", bad.payload);
    assert_eq!(hub.client.invoke_method("door-1", &method("unlockDoor", json!({}))).await.unwrap().status, 200);
    assert_eq!(hub.client.invoke_method("door-1", &method("selfDestruct", json!({}))).await.unwrap().status, 501);
    assert_eq!(hub.client.invoke_method("door-1", &method("reprovision", json!({}))).await.unwrap().status, 400, "not started through DPS");

    // A scheduled lockDoor job on building 43: the real device's answer is in the job's results.
    let job = JobRequest {
        job_id: "lock-43".into(),
        job_type: JobType::ScheduleDeviceMethod,
        cloud_to_device_method: Some(lock_door(json!({"lockTime": "10m"}))),
        update_twin: None,
        query_condition: Some("tags.building = 43".into()),
        start_time: None,
        max_execution_time_in_seconds: Some(120),
    };
    hub.client.create_job(&job).await.unwrap();
    let finished = eventually("the job completing", || async {
        let job = hub.client.get_job("lock-43").await.unwrap();
        (job.status == JobStatus::Completed).then_some(job)
    })
    .await;
    assert_eq!(finished.device_job_statistics.unwrap().succeeded_count, 1);
    let page = hub.client.device_jobs_page("lock-43", None, None, None).await.unwrap();
    let outcome = page.items[0].outcome.as_ref().and_then(|outcome| outcome.device_method_response.clone()).unwrap();
    assert_eq!((outcome.status, outcome.payload["doorLocked"].clone()), (200, json!(true)));

    // A desired change is printed and acknowledged the Plug and Play way.
    let patched =
        hub.client.patch_twin("door-1", &json!({"properties": {"desired": {"autoLockSeconds": 30}}}), IfMatch::Any).await.unwrap();
    let desired_version = patched.desired_version().unwrap();
    let change = running
        .recorder
        .wait_for("desired change", |event| match event {
            DeviceEvent::DesiredChanged { change, version } => Some((change.clone(), *version)),
            _ => None,
        })
        .await;
    assert_eq!((change.0.name.as_str(), change.0.value.clone(), change.1), ("autoLockSeconds", json!(30), Some(desired_version)));
    let ack = eventually("the acknowledgement", || async {
        let twin = hub.client.get_twin("door-1").await.unwrap();
        twin.reported().unwrap().get("autoLockSeconds").cloned()
    })
    .await;
    assert_eq!((ack["value"].clone(), ack["ac"].clone(), ack["av"].clone()), (json!(30), json!(200), json!(desired_version)));

    // Telemetry lands in the hub's device-to-cloud log, with its properties.
    let event = eventually("telemetry", || async { hub.sim.hub().d2c().all().into_iter().find(|event| event.device_id == "door-1") }).await;
    assert_eq!(event.properties.system.get("$.ct").map(String::as_str), Some("application/json"));
    assert_eq!(event.properties.system.get("$.ce").map(String::as_str), Some("utf-8"));
    assert!(event.properties.application.iter().any(|(name, _)| name == "alert"), "{:?}", event.properties);
    let body: Value = serde_json::from_slice(&event.body).unwrap();
    assert!(body["temperature"].is_number() && body["doorLocked"].is_boolean(), "{body}");

    // Cloud-to-device messages arrive.
    let message = hubdeck::sim::c2d::OutgoingMessage {
        message_id: "m-1".into(),
        body: bytes::Bytes::from_static(b"open the valve"),
        properties: hubdeck::sim::mqtt::topic::MessageProperties {
            application: vec![("priority".into(), "high".into())],
            ..Default::default()
        },
        ttl: None,
    };
    hub.sim.hub().send_to_device("door-1", message).unwrap();
    let (properties, body) = running
        .recorder
        .wait_for("cloud-to-device message", |event| match event {
            DeviceEvent::CloudToDevice { properties, body } => Some((properties.clone(), body.clone())),
            _ => None,
        })
        .await;
    assert_eq!(body, "open the valve");
    assert!(properties.contains(&("priority".to_owned(), "high".to_owned())), "{properties:?}");

    // reboot: answered, away for a moment, back with lastReboot reported.
    assert_eq!(hub.client.invoke_method("door-1", &method("reboot", json!({}))).await.unwrap().status, 200);
    running.recorder.wait_for("reboot", |event| matches!(event, DeviceEvent::Rebooting { .. }).then_some(())).await;
    connected(&running.recorder).await;
    let twin = hub.client.get_twin("door-1").await.unwrap();
    assert!(twin.reported().unwrap()["lastReboot"].is_string(), "{twin:?}");

    let printed = running.stop().await;
    assert!(!printed.contains(key.expose()), "the key was printed:\n{printed}");
    assert!(!printed.contains("SharedAccessSignature"), "a token was printed:\n{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_app_works_over_websocket() {
    let hub = start_hub(0).await;
    let key = create_device(&hub, "ws-door").await;
    let running = start(settings(&hub.sim, by_connection_string("ws-door", &key), true));
    connected(&running.recorder).await;
    assert_eq!(hub.sim.hub().devices().list()[0].protocol, DeviceProtocol::MqttWebSocket);
    let locked = hub.client.invoke_method("ws-door", &lock_door(json!({"lockTime": "30s"}))).await.unwrap();
    assert_eq!(locked.status, 200);
    running.recorder.wait_for("telemetry", |event| matches!(event, DeviceEvent::TelemetrySent { .. }).then_some(())).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_a_disabled_device_is_refused_and_not_retried() {
    let hub = start_hub(0).await;
    create_device(&hub, "door-x").await;
    // Keep the stop sender: a dropped sender means "stop".
    let (_stop, stop) = watch::channel(false);
    let wrong = Secret::new("d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMTI=");
    let refused =
        run_device(settings(&hub.sim, by_connection_string("door-x", &wrong), false), Arc::new(Recorder::default()), stop.clone());
    let error = tokio::time::timeout(Duration::from_secs(20), refused).await.expect("gives up at once").unwrap_err();
    assert!(matches!(error, DeviceError::Connect(ConnectFailure::NotAuthorized { .. })), "{error}");

    let key = create_device(&hub, "door-off").await;
    let mut device = hub.client.get_device("door-off").await.unwrap();
    device.status = DeviceStatus::Disabled;
    hub.client.update_device(&device, IfMatch::Any).await.unwrap();
    let recorder = Arc::new(Recorder::default());
    let refused = run_device(settings(&hub.sim, by_connection_string("door-off", &key), true), recorder.clone(), stop);
    let error = tokio::time::timeout(Duration::from_secs(20), refused).await.expect("gives up at once").unwrap_err();
    assert!(matches!(error, DeviceError::Connect(ConnectFailure::NotAuthorized { .. })), "{error}");
    assert!(recorder.printed().contains("gave up: hub localhost refused the device: not authorized"), "{}", recorder.printed());
}

fn dps_client(sim: &Simulator) -> DpsClient {
    DpsClient::new(&sim.dps_connection_string("provisioningserviceowner").unwrap(), &common::options_for(sim, common::fast_retry()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_dps_the_device_is_assigned_re_provisioned_by_reprovision_and_re_registers_when_refused() {
    let hub = start_hub_with_dps(0).await;
    let sim = &hub.sim;
    let dps = dps_client(sim);
    let east_host = sim.hub_device_host_name("contoso-east").unwrap();
    let west_host = sim.hub_device_host_name("contoso-west").unwrap();
    let enrollment = serde_json::from_value(json!({
        "registrationId": "dps-door-1",
        "attestation": {"type": "symmetricKey"},
        "allocationPolicy": "static",
        "iotHubs": [east_host],
        "reprovisionPolicy": {"updateHubAssignment": true, "migrateDeviceData": true},
    }))
    .unwrap();
    let created = dps.put_enrollment(&enrollment, None).await.unwrap();
    let device_key = created.attestation.symmetric_key.clone().unwrap().primary_key.unwrap();
    let source = IdentitySource::Dps(ProvisioningSettings {
        provisioning_host: "localhost".into(),
        id_scope: sim.dps().id_scope().to_owned(),
        registration_id: "dps-door-1".into(),
        device_key,
    });
    let running = start(settings(sim, source, false));
    let assigned = running
        .recorder
        .wait_for("assignment", |event| match event {
            DeviceEvent::Provisioned { assigned_hub, device_id } => Some((assigned_hub.clone(), device_id.clone())),
            _ => None,
        })
        .await;
    assert_eq!(assigned, (east_host.clone(), "dps-door-1".to_owned()));
    assert_eq!(connected(&running.recorder).await, format!("hub {east_host}"));
    assert!(sim.hub_named("contoso-east").unwrap().devices().is_connected("dps-door-1"));

    // The policy moves it to the second hub; `reprovision` makes it register again and go there.
    let current = dps.get_enrollment("dps-door-1").await.unwrap();
    let mut to_west = current.clone();
    to_west.settings.iot_hubs = Some(vec![west_host.clone()]);
    dps.put_enrollment(&to_west, Some(IfMatch::Etag(current.settings.etag.clone().unwrap()))).await.unwrap();
    let east = common::client_with(sim, "iothubowner", common::fast_retry(), None);
    let answer = east.invoke_method("dps-door-1", &method("reprovision", json!({}))).await.unwrap();
    assert_eq!(answer.status, 200);
    let moved = running
        .recorder
        .wait_for("re-assignment", |event| match event {
            DeviceEvent::Provisioned { assigned_hub, .. } => Some(assigned_hub.clone()),
            _ => None,
        })
        .await;
    assert_eq!(moved, west_host);
    assert_eq!(connected(&running.recorder).await, format!("hub {west_host}"));
    assert!(sim.hub_named("contoso-west").unwrap().devices().is_connected("dps-door-1"));

    // Moved back by the operator while connected: west deletes it (the connection drops), the
    // device is refused there when it reconnects, and registers again through DPS by itself.
    let current = dps.get_enrollment("dps-door-1").await.unwrap();
    let mut to_east = current.clone();
    to_east.settings.iot_hubs = Some(vec![east_host.clone()]);
    dps.put_enrollment(&to_east, Some(IfMatch::Etag(current.settings.etag.clone().unwrap()))).await.unwrap();
    let west_client = hubdeck::azure::HubClient::new(
        &sim.hub_connection_string("contoso-west", "iothubowner").unwrap(),
        &common::options_for(sim, common::fast_retry()),
    )
    .unwrap();
    west_client.delete_device("dps-door-1", IfMatch::Any).await.unwrap();
    sim.hub_named("contoso-west").unwrap().devices().close("dps-door-1");
    running
        .recorder
        .wait_for("refusal leading to DPS", |event| match event {
            DeviceEvent::Retrying(note) => matches!(note.failure, ConnectFailure::NotAuthorized { .. }).then_some(()),
            _ => None,
        })
        .await;
    let back = running
        .recorder
        .wait_for("assignment after the refusal", |event| match event {
            DeviceEvent::Provisioned { assigned_hub, .. } => Some(assigned_hub.clone()),
            _ => None,
        })
        .await;
    assert_eq!(back, east_host);
    assert_eq!(connected(&running.recorder).await, format!("hub {east_host}"));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_from_the_hub_and_a_fleet_from_a_dps_group_connect_and_are_counted() {
    let hub = start_hub_with_dps(0).await;
    let sim = &hub.sim;
    // From the hub: two exist already (their keys are read), the rest are created in bulk.
    let existing = create_device(&hub, "bench-1").await;
    create_device(&hub, "bench-2").await;
    let ids = fleet_ids("bench-", 12);
    let identities = hub_fleet_identities(&hub.client, hub.client.host_name(), &ids).await.unwrap();
    assert_eq!(identities.len(), 12);
    assert_eq!(identities[0].key, existing);
    assert!(identities.iter().all(|identity| identity.host_name == "localhost"));
    let mut template = settings(sim, IdentitySource::ConnectionString(identities[0].clone()), false);
    template.telemetry_interval = Some(Duration::from_millis(500));
    let counters = Arc::new(FleetCounters::default());
    let (stop, stop_receiver) = watch::channel(false);
    let sources = identities.into_iter().map(IdentitySource::ConnectionString).collect();
    let fleet = tokio::spawn({
        let (template, counters) = (template.clone(), Arc::clone(&counters));
        async move { run_fleet(sources, &template, 4, counters, stop_receiver).await }
    });
    eventually("the hub fleet connected", || async { (counters.snapshot(12).connected == 12).then_some(()) }).await;
    assert_eq!(hub.sim.hub().devices().count(), 12);
    assert_eq!(hub.client.invoke_method("bench-7", &lock_door(json!({"lockTime": "1m"}))).await.unwrap().status, 200);
    eventually("methods and messages counted", || async {
        let snapshot = counters.snapshot(12);
        (snapshot.methods == 1 && snapshot.messages >= 12).then_some(())
    })
    .await;
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(20), fleet).await.expect("the fleet stops").unwrap();
    assert_eq!(counters.snapshot(12).connected, 0);

    // From a DPS symmetric-key group: keys derived from the group key.
    let dps = dps_client(sim);
    let group_key = Secret::generate_key(hubdeck::azure::secret::DPS_KEY_BYTES);
    let group = serde_json::from_value(json!({
        "enrollmentGroupId": "bench-group",
        "attestation": {"type": "symmetricKey", "symmetricKey": {"primaryKey": group_key.expose(), "secondaryKey": group_key.expose()}},
    }))
    .unwrap();
    dps.put_group(&group, None).await.unwrap();
    let registrations = dps_fleet_settings("localhost", sim.dps().id_scope(), &group_key, &fleet_ids("grp-", 5)).unwrap();
    let counters = Arc::new(FleetCounters::default());
    let (stop, stop_receiver) = watch::channel(false);
    let fleet = tokio::spawn({
        let counters = Arc::clone(&counters);
        let sources = registrations.into_iter().map(IdentitySource::Dps).collect();
        async move { run_fleet(sources, &template, 3, counters, stop_receiver).await }
    });
    eventually("the DPS fleet connected", || async {
        let snapshot = counters.snapshot(5);
        (snapshot.connected == 5 && snapshot.provisioned == 5).then_some(())
    })
    .await;
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(20), fleet).await.expect("the fleet stops").unwrap();
}
