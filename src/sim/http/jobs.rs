//! Direct methods and scheduled jobs over HTTP.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::Response;

use super::response::json;
use super::{Call, Route};
use crate::azure::wire::{
    CONTINUATION_HEADER, CloudToDeviceMethod, ErrorCode, ITEM_TYPE_HEADER, JobQueryResult, JobRequest, JobStatus, JobType,
    MAX_ITEM_COUNT_HEADER,
};
use crate::sim::error::HubError;
use crate::sim::hub::Hub;

/// Default and largest page of `GET /jobs/v2/query`.
const JOB_PAGE_SIZE: usize = 100;

/// Runs one routed method or job operation.
pub async fn run(hub: &Arc<Hub>, route: Route, call: Call) -> Result<Response, HubError> {
    match route {
        Route::InvokeMethod(device_id) => {
            let method: CloudToDeviceMethod = call.json("{\"methodName\": …, \"payload\": …, \"responseTimeoutInSeconds\": …}")?;
            let result = crate::sim::methods::invoke(hub, &device_id, &method).await?;
            json(StatusCode::OK, &result)
        }
        Route::PutJob(job_id) => {
            let request: JobRequest = call.json("a JobRequest with jobId, type, queryCondition and a method or twin patch")?;
            // The device set is evaluated when the job starts, not now.
            let response = hub.jobs().create(&job_id, &request, crate::sim::clock::now_timestamp())?;
            // Acknowledged only once it is saved: a restart must not lose an accepted job.
            crate::sim::jobs::engine::save(hub).await;
            json(StatusCode::OK, &response)
        }
        Route::GetJob(job_id) => json(StatusCode::OK, &hub.jobs().get(&job_id)?),
        Route::CancelJob(job_id) => {
            let response = hub.jobs().cancel(&job_id, crate::sim::clock::now_timestamp())?;
            crate::sim::jobs::engine::save(hub).await;
            json(StatusCode::OK, &response)
        }
        Route::QueryJobs => query_jobs(hub, &call),
        other => Err(HubError::new(ErrorCode::InvalidOperation, format!("{other:?} is not a job operation"))),
    }
}

fn query_jobs(hub: &Hub, call: &Call) -> Result<Response, HubError> {
    let job_type = match call.query("jobType").filter(|text| !text.is_empty()) {
        Some(text) => Some(
            JobType::parse(text)
                .ok_or_else(|| HubError::invalid(format!("jobType '{text}' is not one of scheduleDeviceMethod, scheduleUpdateTwin")))?,
        ),
        None => None,
    };
    let status = match call.query("jobStatus").filter(|text| !text.is_empty()) {
        Some(text) => Some(JobStatus::parse(text).ok_or_else(|| HubError::invalid(format!("jobStatus '{text}' is not a job status")))?),
        None => None,
    };
    let page_size = call
        .header(MAX_ITEM_COUNT_HEADER)
        .and_then(|text| text.trim().parse::<usize>().ok())
        .filter(|size| *size > 0)
        .unwrap_or(JOB_PAGE_SIZE)
        .min(JOB_PAGE_SIZE);
    let offset = match call.header(CONTINUATION_HEADER).or(call.query("continuationToken")) {
        Some(token) if !token.is_empty() => {
            token.parse::<usize>().map_err(|_| HubError::invalid(format!("the continuation token '{token}' is not valid")))?
        }
        _ => 0,
    };
    let jobs = hub.jobs().list(job_type, status);
    let items: Vec<_> = jobs.iter().skip(offset).take(page_size).cloned().collect();
    let next = offset + items.len();
    let continuation_token = (next < jobs.len()).then(|| next.to_string());
    let body = JobQueryResult { result_type: Some("jobResponse".to_owned()), items, continuation_token: continuation_token.clone() };
    let mut response = json(StatusCode::OK, &body)?;
    let headers = response.headers_mut();
    headers.insert(ITEM_TYPE_HEADER, header::HeaderValue::from_static("JobResponse"));
    if let Some(token) = continuation_token
        && let Ok(value) = header::HeaderValue::from_str(&token)
    {
        headers.insert(CONTINUATION_HEADER, value);
    }
    Ok(response)
}
