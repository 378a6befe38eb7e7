//! Job and method work for the console: listing, target previews, creating, cancelling, a
//! direct method, and the watcher that streams a job's progress until it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::sink::EventSink;
use crate::app::model::job_draft::TargetPreview;
use crate::app::model::{AppError, JobEvent, RequestId};
use crate::azure::wire::{CloudToDeviceMethod, DeviceJob, JobRequest};
use crate::azure::{AzureError, HubClient};

/// How often a watched job is read (progress reaches the window several times a second).
const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// How often the per-device results are read while the job runs.
const ROWS_INTERVAL: Duration = Duration::from_millis(1500);
/// Per-device results per page.
const ROWS_PAGE: u32 = 1000;
/// Devices shown in a target preview.
const PREVIEW_DEVICES: usize = 5;

/// Lists every job.
pub async fn load_jobs(client: HubClient, sink: EventSink, request: RequestId) {
    let result = client.list_jobs(None, None).await.map_err(AppError::from);
    sink.send(JobEvent::ListLoaded { request, result }.into()).await;
}

/// Counts the devices a condition selects and names the first few.
pub async fn preview(client: HubClient, sink: EventSink, request: RequestId, condition: String) {
    let filter = if condition.trim() == "*" { String::new() } else { format!(" WHERE {condition}") };
    let (count_query, first_query) =
        (format!("SELECT COUNT() AS total FROM devices{filter}"), format!("SELECT TOP {PREVIEW_DEVICES} deviceId FROM devices{filter}"));
    let count = client.query_page::<Value>(&count_query, None, None);
    let first = client.query_page::<Value>(&first_query, None, None);
    let (count, first) = tokio::join!(count, first);
    let result = match (count, first) {
        (Ok(count), Ok(first)) => Ok(TargetPreview {
            count: count.items.first().and_then(|row| row.get("total")).and_then(Value::as_u64),
            first: first.items.iter().filter_map(|row| row.get("deviceId").and_then(Value::as_str)).map(str::to_owned).collect(),
        }),
        (Err(error), _) | (_, Err(error)) => Err(AppError::from(&error)),
    };
    sink.send(JobEvent::TargetPreview { request, result }.into()).await;
}

/// Creates jobs one after another (a split device list is several jobs).
pub async fn create_jobs(client: HubClient, sink: EventSink, request: RequestId, jobs: Vec<JobRequest>) {
    let mut results = Vec::new();
    for job in jobs {
        results.push(client.create_job(&job).await.map_err(|error| AppError::from(&error).context(&job.job_id)));
    }
    sink.send(JobEvent::Created { request, results }.into()).await;
}

/// Cancels a job.
pub async fn cancel_job(client: HubClient, sink: EventSink, request: RequestId, job_id: String) {
    let result = client.cancel_job(&job_id).await.map(Box::new).map_err(AppError::from);
    sink.send(JobEvent::Cancelled { request, result }.into()).await;
}

/// Invokes a direct method.
pub async fn invoke_method(client: HubClient, sink: EventSink, request: RequestId, device_id: Arc<str>, method: CloudToDeviceMethod) {
    let result = client.invoke_method(&device_id, &method).await.map_err(AppError::from);
    sink.send(JobEvent::MethodDone { request, device_id, method_name: method.method_name, result }.into()).await;
}

async fn all_rows(client: &HubClient, job_id: &str) -> Result<Vec<DeviceJob>, AzureError> {
    let mut rows = Vec::new();
    let mut continuation: Option<String> = None;
    loop {
        let page = client.device_jobs_page(job_id, None, Some(ROWS_PAGE), continuation.as_deref()).await?;
        rows.extend(page.items);
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(rows),
        }
    }
}

/// Streams a job's state (and, less often, its per-device results) until it has ended. The
/// results are read on their own task so a large job's rows never hold up the counters. The
/// client's retry policy waits out throttling, so the rate drops when the hub asks it to.
pub async fn watch_job(client: HubClient, sink: EventSink, request: RequestId, job_id: String) {
    let mut rows_task: Option<tokio::task::JoinHandle<Result<Vec<DeviceJob>, AzureError>>> = None;
    let mut rows_started: Option<Instant> = None;
    loop {
        let job = match client.get_job(&job_id).await {
            Ok(job) => job,
            Err(error) => {
                sink.send(JobEvent::WatchFailed { request, error: AppError::from(&error) }.into()).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let finished = job.status.is_final();
        let mut rows = None;
        if finished {
            // The last word: rows read after the job ended.
            if let Some(task) = rows_task.take() {
                task.abort();
            }
            match all_rows(&client, &job_id).await {
                Ok(all) => rows = Some(all),
                Err(error) => sink.send(JobEvent::WatchFailed { request, error: AppError::from(&error) }.into()).await,
            }
        } else {
            if rows_task.as_ref().is_some_and(tokio::task::JoinHandle::is_finished)
                && let Some(task) = rows_task.take()
            {
                match task.await {
                    Ok(Ok(all)) => rows = Some(all),
                    Ok(Err(error)) => {
                        sink.send(JobEvent::WatchFailed { request, error: AppError::from(&error) }.into()).await;
                    }
                    Err(_) => {}
                }
            }
            if rows_task.is_none() && rows_started.is_none_or(|at| at.elapsed() >= ROWS_INTERVAL) {
                let (client, job_id) = (client.clone(), job_id.clone());
                rows_started = Some(Instant::now());
                rows_task = Some(tokio::spawn(async move { all_rows(&client, &job_id).await }));
            }
        }
        let got_rows = rows.is_some();
        sink.send(JobEvent::Progress { request, job: Box::new(job), rows }.into()).await;
        if finished && got_rows {
            return;
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}
