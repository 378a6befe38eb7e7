//! Runs jobs: `queued` → `scheduled` (start in the future) → `running` at the start time, with the
//! device set fixed by the condition then; devices are worked on with bounded concurrency until all
//! are done, the job is cancelled, or `maxExecutionTimeInSeconds` ends it. Job records are saved
//! as they change; after a restart a running job resumes its unfinished devices.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::watch;

use super::{DeviceJobRecord, matching_devices};
use crate::azure::wire::{DeviceJobStatus, JobStatus, JobType};
use crate::sim::clock::{now_ticks, now_timestamp};
use crate::sim::error::HubError;
use crate::sim::hub::Hub;
use crate::sim::registry::{Changes, TwinWrite};

/// How often the engine looks at the clock.
const TICK: Duration = Duration::from_millis(250);
/// How often a running job's progress is saved (a 10 000-device record is a few MB of JSON).
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Starts the engine; running jobs found in the store resume. The task ends (its jobs stopped
/// and saved, unfinished devices left to resume) when `shutdown` turns true.
pub fn spawn(hub: Arc<Hub>, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(hub, shutdown))
}

async fn run(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let mut runners = tokio::task::JoinSet::new();
    let resumed: Vec<String> = hub.jobs().read(|records| {
        records.values().filter(|record| record.status == JobStatus::Running).map(|record| record.job_id.clone()).collect()
    });
    for job_id in resumed {
        hub.jobs().update(&job_id, |record| {
            for device in record.devices.iter_mut().filter(|device| device.status == DeviceJobStatus::Running) {
                // Interrupted mid-call: do it again.
                device.status = DeviceJobStatus::Pending;
            }
            record.status_message = Some("resumed after the simulator restarted".to_owned());
        });
        runners.spawn(run_job(Arc::clone(&hub), job_id));
    }
    let mut last_save = tokio::time::Instant::now();
    loop {
        let started = tick(&hub);
        // Start and end of jobs are saved at once; progress in between at most every second.
        if !started.is_empty() || last_save.elapsed() >= SAVE_EVERY {
            save(&hub).await;
            last_save = tokio::time::Instant::now();
        }
        for job_id in started {
            runners.spawn(run_job(Arc::clone(&hub), job_id));
        }
        while runners.try_join_next().is_some() {}
        tokio::select! {
            () = hub.jobs().wake.notified() => {}
            () = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => {
                // Devices in flight stay `running` in the store and are done again on restart.
                runners.shutdown().await;
                save(&hub).await;
                return;
            }
        }
    }
}

/// Moves jobs along; returns the jobs that started (their runners are the caller's to spawn).
fn tick(hub: &Arc<Hub>) -> Vec<String> {
    let now = now_timestamp();
    let queue_delay = chrono::Duration::from_std(hub.jobs().config().queue_delay).unwrap_or_default();
    let retention = chrono::Duration::from_std(hub.jobs().config().retention).unwrap_or_default();
    let (to_schedule, to_start, expired): (Vec<String>, Vec<String>, Vec<String>) = hub.jobs().read(|records| {
        let mut schedule = Vec::new();
        let mut start = Vec::new();
        let mut expired = Vec::new();
        for record in records.values() {
            let queued_long_enough = now.0 - record.created.0 >= queue_delay;
            match record.status {
                JobStatus::Queued if queued_long_enough && record.start_at > now => schedule.push(record.job_id.clone()),
                JobStatus::Queued if queued_long_enough => start.push(record.job_id.clone()),
                JobStatus::Scheduled if record.start_at <= now => start.push(record.job_id.clone()),
                status if status.is_final() && record.ended.is_some_and(|ended| now.0 - ended.0 > retention) => {
                    expired.push(record.job_id.clone());
                }
                _ => {}
            }
        }
        (schedule, start, expired)
    });
    for job_id in to_schedule {
        hub.jobs().update(&job_id, |record| record.status = JobStatus::Scheduled);
    }
    for job_id in expired {
        hub.jobs().remove(&job_id);
    }
    to_start.into_iter().filter(|job_id| start(hub, job_id)).collect()
}

/// Fixes the device set; true when the job is running (false: it failed to start).
fn start(hub: &Arc<Hub>, job_id: &str) -> bool {
    let Some(condition) = hub.jobs().read(|records| records.get(job_id).map(|record| record.query_condition.clone())) else {
        return false;
    };
    let devices = hub.read(|registry| matching_devices(registry, &condition));
    let now = now_timestamp();
    hub.jobs().update(job_id, |record| {
        record.started = Some(now);
        match &devices {
            Ok(devices) => {
                record.devices = devices.iter().map(|device_id| DeviceJobRecord::pending(device_id.clone(), now)).collect();
                record.status = JobStatus::Running;
            }
            Err(error) => {
                record.status = JobStatus::Failed;
                record.failure_reason = Some(error.message.clone());
                record.ended = Some(now);
            }
        }
    });
    devices.is_ok()
}

/// Works through the job's pending devices until done, cancelled or out of time.
async fn run_job(hub: Arc<Hub>, job_id: String) {
    let Some((pending, deadline)) = hub.jobs().read(|records| {
        records.get(&job_id).map(|record| {
            let pending: Vec<(usize, String)> = record
                .devices
                .iter()
                .enumerate()
                .filter(|(_, device)| device.status == DeviceJobStatus::Pending)
                .map(|(index, device)| (index, device.device_id.clone()))
                .collect();
            let started = record.started.unwrap_or(record.created);
            let limit = chrono::Duration::seconds(i64::try_from(record.max_execution_secs).unwrap_or(i64::MAX / 2_000));
            (pending, started.0 + limit)
        })
    }) else {
        return;
    };
    let remaining = (deadline - crate::sim::clock::now()).to_std().unwrap_or(Duration::ZERO);
    let concurrency = hub.jobs().config().concurrency.max(1);
    // Devices start one after another at the tier's pace (`then` is sequential, so no turn is
    // taken ahead for devices a cancel would never reach), and run concurrently once started.
    let paced = futures_util::stream::iter(pending).then(|item| {
        let hub = Arc::clone(&hub);
        async move {
            hub.quotas().pace_job_device_operation().await;
            item
        }
    });
    let work = paced.for_each_concurrent(concurrency, |(index, device_id)| {
        let hub = Arc::clone(&hub);
        let job_id = job_id.clone();
        async move { run_device(&hub, &job_id, index, &device_id).await }
    });
    let timed_out = tokio::time::timeout(remaining, work).await.is_err();
    let now = now_timestamp();
    hub.jobs().update(&job_id, |record| {
        if record.status != JobStatus::Running {
            return; // cancelled meanwhile
        }
        let reason = timed_out.then(|| {
            (
                "JobExecutionTimeExceeded",
                format!("the job's maxExecutionTimeInSeconds ({}) ended before this device was processed", record.max_execution_secs),
            )
        });
        record.finish(now, reason);
    });
    hub.jobs().wake.notify_one();
}

/// One device of a job; `index` is its place in the job's device list (found without a search).
async fn run_device(hub: &Arc<Hub>, job_id: &str, index: usize, device_id: &str) {
    let started = now_timestamp();
    let Some(Some((job_type, method, patch))) = hub.jobs().update(job_id, |record| {
        if record.status != JobStatus::Running {
            return None;
        }
        let device = record.devices.get_mut(index).filter(|device| device.device_id == device_id)?;
        if device.status != DeviceJobStatus::Pending {
            return None;
        }
        device.status = DeviceJobStatus::Running;
        device.started = Some(started);
        device.updated = started;
        Some((record.job_type, record.method.clone(), record.update_twin.clone()))
    }) else {
        return;
    };
    let outcome = match job_type {
        JobType::ScheduleDeviceMethod => match &method {
            Some(method) => crate::sim::methods::invoke(hub, device_id, method).await.map(Some),
            None => Err(HubError::invalid("the job has no method")),
        },
        JobType::ScheduleUpdateTwin => match &patch {
            Some(patch) => update_twin(hub, device_id, patch).await.map(|()| None),
            None => Err(HubError::invalid("the job has no twin patch")),
        },
    };
    let now = now_timestamp();
    hub.jobs().update(job_id, |record| {
        let Some(device) = record.devices.get_mut(index).filter(|device| device.device_id == device_id) else {
            return;
        };
        if device.status != DeviceJobStatus::Running {
            return; // cancelled or timed out meanwhile: that stands
        }
        match outcome {
            Ok(response) => {
                device.status = DeviceJobStatus::Completed;
                device.response = response;
                device.ended = Some(now);
                device.updated = now;
            }
            Err(error) => device.fail(error.code.name(), error.message, now),
        }
    });
}

/// Applies a twin job's patch (`etag` is `*`: a forced update).
async fn update_twin(hub: &Hub, device_id: &str, patch: &serde_json::Value) -> Result<(), HubError> {
    let write = TwinWrite::parse_patch(patch)?;
    hub.quotas().check_messages()?;
    // A job's twin update is charged by its patch's size.
    hub.quotas().charge_messages(hub.quotas().meter().chunks(serde_json::to_vec(patch).map_or(0, |bytes| bytes.len())));
    let now = now_ticks();
    hub.write(|registry| {
        registry.write_twin(device_id, &write, None, now)?;
        let mut changes = Changes::upsert(device_id);
        if write.desired != crate::sim::registry::SectionWrite::Untouched {
            changes.desired_changed.push(device_id.to_owned());
        }
        Ok(((), changes))
    })
    .await
}

/// Saves jobs that changed.
pub async fn save(hub: &Hub) {
    if !hub.is_persistent() {
        hub.jobs().clear_dirty();
        return;
    }
    let dirty = match hub.jobs().take_dirty() {
        Ok(dirty) if dirty.is_empty() => return,
        Ok(dirty) => dirty,
        Err(error) => {
            tracing::error!(%error, "saving jobs failed");
            return;
        }
    };
    let job_ids: Vec<String> = dirty.iter().map(|(job_id, _)| job_id.clone()).collect();
    if let Err(error) = hub.save_jobs(dirty).await {
        // Kept marked: the next save (at most a second later) tries them again.
        hub.jobs().mark_dirty(job_ids);
        tracing::error!(%error, "saving jobs failed");
    }
}

#[cfg(test)]
mod tests {
    //! The engine on tokio's paused clock: schedules and `maxExecutionTimeInSeconds` are exact,
    //! and no test waits in real time.

    use super::*;
    use crate::azure::wire::{CloudToDeviceMethod, ConnectionState, DeviceStatus, JobRequest, Timestamp};
    use crate::sim::methods::MethodConfig;
    use crate::sim::registry::Registry;
    use crate::sim::seed::demo_fleet;

    fn hub_with_devices(count: usize, slow: bool) -> Arc<Hub> {
        let fleet = demo_fleet(count, 43, 1).into_iter().map(|mut record| {
            record.status = DeviceStatus::Enabled;
            record.connection_state = ConnectionState::Connected;
            record
        });
        let config = MethodConfig {
            answer_delay_min: Duration::from_millis(100),
            answer_delay_max: Duration::from_millis(100),
            slow_per_mille: if slow { 1000 } else { 0 },
            ..MethodConfig::default()
        };
        Hub::for_tests(Registry::from_records(fleet), None, config)
    }

    fn lock_all(job_id: &str, start_time: Option<String>, max_execution_secs: u64) -> JobRequest {
        JobRequest {
            job_id: job_id.to_owned(),
            job_type: JobType::ScheduleDeviceMethod,
            cloud_to_device_method: Some(CloudToDeviceMethod {
                method_name: "lockDoor".into(),
                payload: serde_json::json!({"lockTime": "10m"}),
                response_timeout_in_seconds: Some(300),
                connect_timeout_in_seconds: None,
            }),
            update_twin: None,
            query_condition: Some("*".to_owned()),
            start_time,
            max_execution_time_in_seconds: Some(max_execution_secs),
        }
    }

    fn job(hub: &Hub, job_id: &str) -> super::super::JobRecord {
        hub.jobs().read(|records| records[job_id].clone())
    }

    #[tokio::test(start_paused = true)]
    async fn max_execution_time_ends_a_job_exactly_then_and_fails_its_open_devices() {
        let hub = hub_with_devices(2, true);
        let (shutdown, stop) = watch::channel(false);
        let engine = spawn(Arc::clone(&hub), stop);
        hub.jobs().create("slow", &lock_all("slow", None, 60), now_timestamp()).unwrap();
        // The devices would answer after 300 s (gateway timeout); the job has 60 s.
        tokio::time::sleep(Duration::from_mins(2)).await;
        let record = job(&hub, "slow");
        assert_eq!(record.status, JobStatus::Completed, "{record:#?}");
        let (started, ended) = (record.started.unwrap(), record.ended.unwrap());
        assert_eq!(ended.0 - started.0, chrono::Duration::seconds(60), "started {started:?}, ended {ended:?}");
        let errors: Vec<&str> = record.devices.iter().map(|device| device.error.as_ref().unwrap().code.as_str()).collect();
        assert_eq!(errors, ["JobExecutionTimeExceeded", "JobExecutionTimeExceeded"]);
        shutdown.send(true).unwrap();
        engine.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_s1_job_paces_its_devices_at_ten_a_second_and_meters_each_call() {
        let fleet = demo_fleet(50, 43, 1).into_iter().map(|mut record| {
            record.status = DeviceStatus::Enabled;
            record.connection_state = ConnectionState::Connected;
            record
        });
        let config = MethodConfig {
            answer_delay_min: Duration::from_millis(100),
            answer_delay_max: Duration::from_millis(100),
            slow_per_mille: 0,
            ..MethodConfig::default()
        };
        let limits = crate::sim::tier::HubLimits::for_tier(crate::sim::tier::HubTier::S1, 1).unwrap();
        let hub = Hub::for_tests_with_limits(Registry::from_records(fleet), None, config, &limits);
        let (shutdown, stop) = watch::channel(false);
        let engine = spawn(Arc::clone(&hub), stop);
        hub.jobs().create("paced", &lock_all("paced", None, 3600), now_timestamp()).unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        let record = job(&hub, "paced");
        assert_eq!((record.status, record.statistics().succeeded_count), (JobStatus::Completed, 50), "{record:#?}");
        // Device k starts 100 ms after device k-1 and answers 100 ms later: 50 devices, 5 s.
        let (started, ended) = (record.started.unwrap(), record.ended.unwrap());
        assert_eq!(ended.0 - started.0, chrono::Duration::seconds(5), "started {started:?}, ended {ended:?}");
        // lockDoor: a one-chunk request and a one-chunk answer per device.
        assert_eq!(hub.quotas().meter().used_today(crate::sim::clock::now()), 100);
        shutdown.send(true).unwrap();
        engine.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_scheduled_job_waits_for_its_start_time() {
        let hub = hub_with_devices(2, false);
        let (shutdown, stop) = watch::channel(false);
        let engine = spawn(Arc::clone(&hub), stop);
        let created = now_timestamp();
        let start_at = Timestamp(created.0 + chrono::Duration::hours(1));
        hub.jobs().create("later", &lock_all("later", Some(start_at.to_wire()), 3600), created).unwrap();

        tokio::time::sleep(Duration::from_secs(3599)).await;
        let waiting = job(&hub, "later");
        assert_eq!((waiting.status, waiting.started, waiting.devices.len()), (JobStatus::Scheduled, None, 0), "{waiting:#?}");

        tokio::time::sleep(Duration::from_secs(2)).await;
        let done = job(&hub, "later");
        assert_eq!(done.status, JobStatus::Completed, "{done:#?}");
        assert!(done.started.unwrap() >= start_at, "started {:?} before {start_at:?}", done.started);
        assert_eq!(done.statistics().succeeded_count, 2);
        shutdown.send(true).unwrap();
        engine.await.unwrap();
    }
}
