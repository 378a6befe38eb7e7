//! The scenario hubdeck exists for, end to end against a running `hubdeck sim`: a real device app
//! (the classic simDevice sample, written with the Python device SDK: `tests/sdk/seed/sim_device.py`)
//! runs as a door lock in building 43; hubdeck's own client schedules the `lockDoor` job
//! (`{"lockTime":"10m"}`) on `tags.building = 43` and a twin-update job setting desired
//! `{"building": 43, "floor": 3}`; the real device's method answer must be in the job's per-device
//! results and the device must have received the desired change.
//!
//! Usage: `seed_scenario READY_FILE PYTHON` (run by `tests/sdk/run.sh`).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use hubdeck::azure::wire::{CloudToDeviceMethod, Device, DeviceJobStatus, JobRequest, JobStatus, JobType};
use hubdeck::azure::{ClientOptions, HubClient, IfMatch, ProxySetting, ServiceConnectionString};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const DEVICE_ID: &str = "seed-door-43";

/// Kills the device app when the scenario ends, however it ends.
struct DeviceApp(Child);

impl Drop for DeviceApp {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(ready_path), Some(python)) = (args.next(), args.next()) else {
        bail!("usage: seed_scenario READY_FILE PYTHON");
    };
    let ready: Value = serde_json::from_slice(&std::fs::read(&ready_path).with_context(|| format!("reading {ready_path}"))?)?;
    let text = |pointer: &str| {
        ready.pointer(pointer).and_then(Value::as_str).map(str::to_owned).with_context(|| format!("{pointer} in the ready file"))
    };
    let ca_file = text("/caFile")?;
    let connection = ServiceConnectionString::parse_hub(&text("/hubs/0/connectionStrings/iothubowner")?)?;
    let options = ClientOptions { extra_ca_pem: Some(std::fs::read(&ca_file)?), proxy: ProxySetting::Disabled, ..ClientOptions::default() };
    let hub = HubClient::new(&connection, &options)?;

    // The device identity, in building 43.
    hub.delete_device(DEVICE_ID, IfMatch::Any).await.ok();
    let device = hub.create_device(&Device::new_with_generated_keys(DEVICE_ID)).await?;
    hub.patch_twin(DEVICE_ID, &json!({"tags": {"building": 43, "deviceType": "doorLock"}}), IfMatch::Any).await?;
    let key = device
        .authentication
        .and_then(|auth| auth.symmetric_key)
        .and_then(|keys| keys.primary_key)
        .context("the new device has no primary key")?;
    let device_connection_string =
        format!("HostName={};DeviceId={DEVICE_ID};SharedAccessKey={}", text("/hubs/0/deviceHostName")?, key.expose());

    // The device app, as its users run it.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/seed/sim_device.py");
    let mut child = Command::new(&python)
        .arg(script)
        .env("IOTHUB_DEVICE_CONNECTION_STRING", &device_connection_string)
        .env("CA_FILE", &ca_file)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {python} {script}"))?;
    let stdout = child.stdout.take().context("the device app's stdout")?;
    let _app = DeviceApp(child);
    let (events, mut seen) = mpsc::channel::<Value>(64);
    std::thread::Builder::new().name("device-app-output".into()).spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str(&line)
                && events.blocking_send(event).is_err()
            {
                return;
            }
        }
    })?;
    next_event(&mut seen, "connected").await?;
    println!("the Python simDevice app is connected as {DEVICE_ID}");

    // The lockDoor job on building 43. The device subscribes to methods just after connecting:
    // the connect timeout lets the job wait for that, as it waits for a device coming online.
    let started = Instant::now();
    let lock = JobRequest {
        job_id: format!("seed-lock-{}", std::process::id()),
        job_type: JobType::ScheduleDeviceMethod,
        cloud_to_device_method: Some(CloudToDeviceMethod {
            method_name: "lockDoor".into(),
            payload: json!({"lockTime": "10m"}),
            // Some simulated locks in the building answer too late; they fail after 10 s.
            response_timeout_in_seconds: Some(10),
            connect_timeout_in_seconds: Some(10),
        }),
        update_twin: None,
        query_condition: Some("tags.building = 43".into()),
        start_time: None,
        max_execution_time_in_seconds: Some(300),
    };
    hub.create_job(&lock).await?;
    let method = next_event(&mut seen, "method").await?;
    ensure!(method["payload"] == json!({"lockTime": "10m"}), "the device got {method}");
    let finished = wait_for_job(&hub, &lock.job_id).await?;
    let result = device_result(&hub, &lock.job_id).await?;
    ensure!(result.status == DeviceJobStatus::Completed, "the device's job result is {result:?}");
    let answer = result.outcome.and_then(|outcome| outcome.device_method_response).context("no method response recorded")?;
    ensure!(answer.status == 200 && answer.payload["result"] == "locking the door", "the recorded answer is {answer:?}");
    println!(
        "lockDoor job on tags.building = 43: {} devices succeeded, {} failed; {DEVICE_ID} answered {} {}",
        finished.device_job_statistics.as_ref().map_or(0, |stats| stats.succeeded_count),
        finished.device_job_statistics.as_ref().map_or(0, |stats| stats.failed_count),
        answer.status,
        answer.payload
    );

    // The twin-update job on the same devices.
    let update = JobRequest {
        job_id: format!("seed-floor-{}", std::process::id()),
        job_type: JobType::ScheduleUpdateTwin,
        cloud_to_device_method: None,
        update_twin: Some(json!({"etag": "*", "properties": {"desired": {"building": 43, "floor": 3}}})),
        query_condition: Some("tags.building = 43".into()),
        start_time: None,
        max_execution_time_in_seconds: Some(300),
    };
    hub.create_job(&update).await?;
    let desired = next_event(&mut seen, "desired").await?;
    ensure!(desired["patch"]["building"] == 43 && desired["patch"]["floor"] == 3, "the device got {desired}");
    wait_for_job(&hub, &update.job_id).await?;
    let result = device_result(&hub, &update.job_id).await?;
    ensure!(result.status == DeviceJobStatus::Completed, "the device's twin-update result is {result:?}");
    println!("twin-update job: {DEVICE_ID} received desired {}", desired["patch"]);
    println!("seed scenario passed in {:.1} s", started.elapsed().as_secs_f64());
    hub.delete_device(DEVICE_ID, IfMatch::Any).await?;
    Ok(())
}

/// The next event of kind `wanted` the device app reported (others are skipped).
async fn next_event(seen: &mut mpsc::Receiver<Value>, wanted: &'static str) -> anyhow::Result<Value> {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), seen.recv())
            .await
            .with_context(|| format!("the device app did not report '{wanted}' within 30 s"))?
            .with_context(|| format!("the device app exited before '{wanted}'"))?;
        if event["event"] == wanted {
            return Ok(event);
        }
    }
}

async fn wait_for_job(hub: &HubClient, job_id: &str) -> anyhow::Result<hubdeck::azure::wire::JobResponse> {
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        let job = hub.get_job(job_id).await?;
        match job.status {
            JobStatus::Completed => return Ok(job),
            JobStatus::Failed | JobStatus::Cancelled => bail!("job {job_id} ended {:?}: {job:?}", job.status),
            _ if Instant::now() > deadline => bail!("job {job_id} still {:?} after 120 s", job.status),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

async fn device_result(hub: &HubClient, job_id: &str) -> anyhow::Result<hubdeck::azure::wire::DeviceJob> {
    let mut continuation: Option<String> = None;
    loop {
        let page = hub.device_jobs_page(job_id, None, Some(1000), continuation.as_deref()).await?;
        if let Some(found) = page.items.into_iter().find(|row| row.device_id == DEVICE_ID) {
            return Ok(found);
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => bail!("{DEVICE_ID} is not among job {job_id}'s devices"),
        }
    }
}
