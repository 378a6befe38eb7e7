//! Direct methods and scheduled jobs through the client against the simulator: device answers,
//! offline and slow devices, the job state machine, per-device results, limits, and jobs
//! surviving a restart.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use hubdeck::azure::HubClient;
use hubdeck::azure::wire::{CloudToDeviceMethod, DeviceJobStatus, JobRequest, JobResponse, JobStatus, JobType, Timestamp, Twin};
use hubdeck::sim::jobs::JobsConfig;
use hubdeck::sim::methods::MethodConfig;
use hubdeck::sim::{SimConfig, Simulator, StateLocation};
use serde_json::json;

fn config(state: StateLocation, methods: MethodConfig, jobs: JobsConfig) -> SimConfig {
    SimConfig { port: 0, mqtt_port: Some(0), state, fleet_size: 300, methods, jobs, ..SimConfig::default() }
}

fn quick_jobs() -> JobsConfig {
    JobsConfig { queue_delay: Duration::from_millis(100), ..JobsConfig::default() }
}

fn no_slow_devices() -> MethodConfig {
    MethodConfig {
        slow_per_mille: 0,
        answer_delay_min: Duration::from_millis(5),
        answer_delay_max: Duration::from_millis(30),
        ..MethodConfig::default()
    }
}

async fn start(config: SimConfig) -> (Simulator, HubClient) {
    let sim = Simulator::start(config).await.unwrap();
    let client = common::client_with(&sim, "iothubowner", common::fast_retry(), None);
    (sim, client)
}

async fn twins(client: &HubClient, condition: &str) -> Vec<Twin> {
    client.query_page::<Twin>(&format!("SELECT * FROM devices WHERE {condition}"), Some(1000), None).await.unwrap().items
}

fn lock_door(timeout_secs: u64) -> CloudToDeviceMethod {
    CloudToDeviceMethod {
        method_name: "lockDoor".into(),
        payload: json!({"lockTime": "10m"}),
        response_timeout_in_seconds: Some(timeout_secs),
        connect_timeout_in_seconds: None,
    }
}

fn method_job(job_id: &str, condition: &str, start: Option<String>) -> JobRequest {
    JobRequest {
        job_id: job_id.into(),
        job_type: JobType::ScheduleDeviceMethod,
        cloud_to_device_method: Some(lock_door(5)),
        update_twin: None,
        query_condition: Some(condition.into()),
        start_time: start,
        max_execution_time_in_seconds: Some(3600),
    }
}

async fn wait_for_status(client: &HubClient, job_id: &str, wanted: JobStatus, within: Duration) -> JobResponse {
    let deadline = Instant::now() + within;
    loop {
        let job = client.get_job(job_id).await.unwrap();
        if job.status == wanted {
            return job;
        }
        assert!(Instant::now() < deadline, "job {job_id} is {:?}, not {wanted:?}: {job:#?}", job.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn direct_methods_answer_like_devices_and_the_hub_do() {
    let (_sim, client) = start(config(StateLocation::Ephemeral, no_slow_devices(), quick_jobs())).await;
    let online = &twins(&client, "connectionState = 'Connected' AND status = 'enabled'").await[0];
    let answer = client.invoke_method(&online.device_id, &lock_door(10)).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.payload["Response"], json!("lockDoor called successfully"));
    let unknown = CloudToDeviceMethod { method_name: "selfDestruct".into(), ..lock_door(10) };
    assert_eq!(client.invoke_method(&online.device_id, &unknown).await.unwrap().status, 501, "the device has no handler");

    let offline = &twins(&client, "connectionState = 'Disconnected'").await[0];
    let error = client.invoke_method(&offline.device_id, &lock_door(10)).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.service().unwrap().code.as_deref(), Some("DeviceNotOnline"), "{error}");
    let missing = client.invoke_method("no-such-device", &lock_door(10)).await.unwrap_err();
    assert_eq!(missing.service().unwrap().code.as_deref(), Some("DeviceNotFound"));
    let too_short = client.invoke_method(&online.device_id, &lock_door(4)).await.unwrap_err();
    assert_eq!(too_short.status(), Some(400));
    assert!(too_short.to_string().contains("between 5 and 300"), "{too_short}");
}

#[tokio::test]
async fn a_slow_device_times_out_with_504_and_is_not_retried() {
    let methods = MethodConfig { slow_per_mille: 1000, slow_answer: Duration::from_mins(1), ..MethodConfig::default() };
    let (_sim, client) = start(config(StateLocation::Ephemeral, methods, quick_jobs())).await;
    let online = &twins(&client, "connectionState = 'Connected' AND status = 'enabled'").await[0];
    let started = Instant::now();
    let error = client.invoke_method(&online.device_id, &lock_door(5)).await.unwrap_err();
    assert_eq!(error.status(), Some(504));
    assert_eq!(error.service().unwrap().code.as_deref(), Some("GatewayTimeout"));
    assert!(started.elapsed() < Duration::from_secs(9), "one attempt only: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_lock_door_job_runs_on_the_queried_devices() {
    let (_sim, client) = start(config(StateLocation::Ephemeral, no_slow_devices(), quick_jobs())).await;
    let targets = twins(&client, "tags.building = 43").await;
    let offline = targets.iter().filter(|twin| twin.connection_state != Some(hubdeck::azure::wire::ConnectionState::Connected)).count();
    assert!(offline > 0 && offline < targets.len(), "the demo fleet has offline devices in building 43");
    let created = client.create_job(&method_job("lock-b43", "tags.building = 43", None)).await.unwrap();
    assert_eq!(created.status, JobStatus::Queued);
    let done = wait_for_status(&client, "lock-b43", JobStatus::Completed, Duration::from_secs(20)).await;
    let stats = done.device_job_statistics.unwrap();
    assert_eq!(stats.device_count, targets.len() as u64);
    assert_eq!(stats.failed_count, offline as u64, "offline devices fail");
    assert_eq!(stats.succeeded_count + stats.failed_count, stats.device_count);
    assert!(done.end_time.is_some());

    let mut rows = Vec::new();
    let mut continuation = None;
    loop {
        let page = client.device_jobs_page("lock-b43", None, Some(7), continuation.as_deref()).await.unwrap();
        rows.extend(page.items);
        continuation = page.continuation;
        if continuation.is_none() {
            break;
        }
    }
    assert_eq!(rows.len(), targets.len(), "paged through every device");
    for row in &rows {
        match row.status {
            DeviceJobStatus::Completed => assert_eq!(row.outcome.as_ref().unwrap().device_method_response.as_ref().unwrap().status, 200),
            DeviceJobStatus::Failed => assert_eq!(row.error.as_ref().unwrap().code, "DeviceNotOnline"),
            other => panic!("unexpected device status {other:?}"),
        }
    }
    let failed = client.device_jobs_page("lock-b43", Some(DeviceJobStatus::Failed), Some(1000), None).await.unwrap();
    assert_eq!(failed.items.len(), offline);
}

#[tokio::test]
async fn a_twin_job_updates_desired_properties() {
    let (_sim, client) = start(config(StateLocation::Ephemeral, no_slow_devices(), quick_jobs())).await;
    let target = &twins(&client, "tags.building = 41").await[0];
    let request = JobRequest {
        job_id: "move".into(),
        job_type: JobType::ScheduleUpdateTwin,
        cloud_to_device_method: None,
        update_twin: Some(json!({"properties": {"desired": {"building": 43, "floor": 3}}, "etag": "*"})),
        query_condition: Some(format!("deviceId IN ['{}']", target.device_id)),
        start_time: None,
        max_execution_time_in_seconds: None,
    };
    client.create_job(&request).await.unwrap();
    let done = wait_for_status(&client, "move", JobStatus::Completed, Duration::from_secs(10)).await;
    assert_eq!(done.device_job_statistics.unwrap().succeeded_count, 1);
    let twin = client.get_twin(&target.device_id).await.unwrap();
    assert_eq!(twin.desired().unwrap()["building"], json!(43));
    assert_eq!(twin.desired().unwrap()["floor"], json!(3));

    let without_etag = JobRequest { job_id: "no-etag".into(), update_twin: Some(json!({"tags": {"a": 1}})), ..request.clone() };
    assert_eq!(client.create_job(&without_etag).await.unwrap_err().status(), Some(412), "twin jobs need etag *");
    assert_eq!(client.create_job(&request).await.unwrap_err().status(), Some(409), "duplicate id");
}

#[tokio::test]
async fn a_future_job_waits_scheduled_and_can_be_cancelled() {
    let jobs = JobsConfig { max_active: 1, ..quick_jobs() };
    let (sim, client) = start(config(StateLocation::Ephemeral, no_slow_devices(), jobs)).await;
    let start_at = Timestamp(chrono::Utc::now() + chrono::Duration::seconds(60)).to_wire();
    client.create_job(&method_job("later", "*", Some(start_at))).await.unwrap();
    wait_for_status(&client, "later", JobStatus::Scheduled, Duration::from_secs(5)).await;
    // Without retries: the 429 carries Retry-After 10, which a retrying client would wait out.
    let impatient = common::client_with(&sim, "iothubowner", hubdeck::azure::RetryPolicy::none(), None);
    let busy = impatient.create_job(&method_job("second", "*", None)).await.unwrap_err();
    assert_eq!(busy.status(), Some(429));
    assert_eq!(busy.service().unwrap().retry_after, Some(Duration::from_secs(10)));
    assert_eq!(busy.service().unwrap().code.as_deref(), Some("ThrottlingMaxActiveJobCountExceeded"));
    let listed = client.list_jobs(Some(JobType::ScheduleDeviceMethod), Some(JobStatus::Scheduled)).await.unwrap();
    assert_eq!(listed.iter().map(|job| job.job_id.as_str()).collect::<Vec<_>>(), vec!["later"]);
    assert_eq!(client.cancel_job("later").await.unwrap().status, JobStatus::Cancelled);
    assert!(client.list_jobs(None, Some(JobStatus::Scheduled)).await.unwrap().is_empty());
    assert_eq!(client.get_job("nope").await.unwrap_err().status(), Some(404));
}

#[tokio::test]
async fn max_execution_time_ends_the_job_and_fails_unfinished_devices() {
    let methods = MethodConfig { slow_per_mille: 1000, slow_answer: Duration::from_mins(1), ..MethodConfig::default() };
    let (_sim, client) = start(config(StateLocation::Ephemeral, methods, quick_jobs())).await;
    let online = twins(&client, "connectionState = 'Connected' AND status = 'enabled'").await;
    let request = JobRequest {
        cloud_to_device_method: Some(lock_door(60)),
        max_execution_time_in_seconds: Some(2),
        ..method_job("short", &format!("deviceId IN ['{}', '{}']", online[0].device_id, online[1].device_id), None)
    };
    client.create_job(&request).await.unwrap();
    let done = wait_for_status(&client, "short", JobStatus::Completed, Duration::from_secs(10)).await;
    assert_eq!(done.device_job_statistics.unwrap().failed_count, 2);
    let rows = client.device_jobs_page("short", None, None, None).await.unwrap().items;
    assert!(rows.iter().all(|row| row.error.as_ref().is_some_and(|error| error.code == "JobExecutionTimeExceeded")), "{rows:#?}");
}

#[tokio::test]
async fn jobs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateLocation::Dir(dir.path().to_owned());
    let methods = MethodConfig {
        slow_per_mille: 0,
        answer_delay_min: Duration::from_millis(400),
        answer_delay_max: Duration::from_millis(400),
        ..MethodConfig::default()
    };
    let jobs = JobsConfig { concurrency: 1, ..quick_jobs() };
    let (sim, client) = start(config(state.clone(), methods.clone(), jobs.clone())).await;
    let online = twins(&client, "connectionState = 'Connected' AND status = 'enabled'").await;
    let ids: Vec<String> = online.iter().take(6).map(|twin| format!("'{}'", twin.device_id)).collect();
    let condition = format!("deviceId IN [{}]", ids.join(", "));
    let start_soon = Timestamp(chrono::Utc::now() + chrono::Duration::seconds(3)).to_wire();
    client.create_job(&method_job("soon", &condition, Some(start_soon))).await.unwrap();
    client.create_job(&method_job("running", &condition, None)).await.unwrap();
    let running = wait_for_status(&client, "running", JobStatus::Running, Duration::from_secs(5)).await;
    assert!(running.device_job_statistics.unwrap().pending_count > 0);
    sim.shutdown().await;

    let (_sim, client) = start(config(state, methods, jobs)).await;
    let resumed = wait_for_status(&client, "running", JobStatus::Completed, Duration::from_secs(20)).await;
    assert_eq!(resumed.device_job_statistics.unwrap().succeeded_count, 6, "the unfinished devices were done after the restart");
    let soon = wait_for_status(&client, "soon", JobStatus::Completed, Duration::from_secs(20)).await;
    assert_eq!(soon.device_job_statistics.unwrap().succeeded_count, 6, "the scheduled job ran at its time");
}
