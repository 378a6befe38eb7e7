//! Direct methods and scheduled jobs on the hub client.

use std::time::Duration;

use reqwest::Method;

use super::{HubClient, encode_component};
use crate::azure::error::AzureError;
use crate::azure::id_rules::check_job_id;
use crate::azure::pipeline::ApiRequest;
use crate::azure::wire::{
    CONTINUATION_HEADER, CloudToDeviceMethod, DeviceJob, DeviceJobStatus, JobQueryResult, JobRequest, JobResponse, JobStatus, JobType,
    METHOD_RESPONSE_TIMEOUT_DEFAULT_SECS, MethodResult, QueryPage,
};

/// Extra time beyond the method's own timeouts before the HTTP request gives up.
const METHOD_HTTP_MARGIN: Duration = Duration::from_secs(15);

impl HubClient {
    /// `POST /twins/{id}/methods`: invokes a direct method and returns the device's answer. A
    /// 504 (the device did not answer in time) is never retried: the device may have acted.
    pub async fn invoke_method(&self, device_id: &str, method: &CloudToDeviceMethod) -> Result<MethodResult, AzureError> {
        let mut request =
            ApiRequest::new("invoke method", device_id, Method::POST, format!("/twins/{}/methods", encode_component(device_id)))
                .json_body(method)?;
        let wait = method.response_timeout_in_seconds.unwrap_or(METHOD_RESPONSE_TIMEOUT_DEFAULT_SECS)
            + method.connect_timeout_in_seconds.unwrap_or(0);
        request.timeout = Some(Duration::from_secs(wait) + METHOD_HTTP_MARGIN);
        request.final_statuses = &[504];
        self.pipeline.send(&request).await?.json()
    }

    /// `PUT /jobs/v2/{id}`: creates a scheduled job.
    pub async fn create_job(&self, job: &JobRequest) -> Result<JobResponse, AzureError> {
        check_job_id(&job.job_id)?;
        let request = ApiRequest::new("create job", &job.job_id, Method::PUT, format!("/jobs/v2/{}", encode_component(&job.job_id)))
            .json_body(job)?;
        self.pipeline.send(&request).await?.json()
    }

    /// `GET /jobs/v2/{id}`.
    pub async fn get_job(&self, job_id: &str) -> Result<JobResponse, AzureError> {
        let request = ApiRequest::new("get job", job_id, Method::GET, format!("/jobs/v2/{}", encode_component(job_id)));
        self.pipeline.send(&request).await?.json()
    }

    /// `POST /jobs/v2/{id}/cancel`.
    pub async fn cancel_job(&self, job_id: &str) -> Result<JobResponse, AzureError> {
        let request = ApiRequest::new("cancel job", job_id, Method::POST, format!("/jobs/v2/{}/cancel", encode_component(job_id)));
        self.pipeline.send(&request).await?.json()
    }

    /// One page of `GET /jobs/v2/query`, optionally filtered by type and status.
    pub async fn query_jobs(
        &self,
        job_type: Option<JobType>,
        status: Option<JobStatus>,
        continuation: Option<&str>,
    ) -> Result<QueryPage<JobResponse>, AzureError> {
        let mut request = ApiRequest::new("query jobs", "", Method::GET, "/jobs/v2/query".to_owned());
        if let Some(job_type) = job_type {
            request.query.push(("jobType", job_type.as_str().to_owned()));
        }
        if let Some(status) = status {
            request.query.push(("jobStatus", status.as_str().to_owned()));
        }
        request.continuation = continuation.map(str::to_owned);
        let response = self.pipeline.send(&request).await?;
        // The service answers `{type, items, continuationToken}`; tolerate a bare array too.
        let body: serde_json::Value = response.json()?;
        let (items, token) = if body.is_array() {
            (serde_json::from_value(body).map_err(|error| decode("query jobs", &error))?, None)
        } else {
            let result: JobQueryResult = serde_json::from_value(body).map_err(|error| decode("query jobs", &error))?;
            (result.items, result.continuation_token)
        };
        let continuation = token.or_else(|| response.header(CONTINUATION_HEADER).map(str::to_owned)).filter(|token| !token.is_empty());
        Ok(QueryPage { items, continuation, item_type: Some("JobResponse".to_owned()) })
    }

    /// Every job, newest first (all pages).
    pub async fn list_jobs(&self, job_type: Option<JobType>, status: Option<JobStatus>) -> Result<Vec<JobResponse>, AzureError> {
        let mut jobs = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let page = self.query_jobs(job_type, status, continuation.as_deref()).await?;
            jobs.extend(page.items);
            match page.continuation {
                Some(next) if continuation.as_deref() != Some(next.as_str()) => continuation = Some(next),
                _ => return Ok(jobs),
            }
        }
    }

    /// One page of a job's per-device results (`SELECT * FROM devices.jobs WHERE …`).
    pub async fn device_jobs_page(
        &self,
        job_id: &str,
        status: Option<DeviceJobStatus>,
        page_size: Option<u32>,
        continuation: Option<&str>,
    ) -> Result<QueryPage<DeviceJob>, AzureError> {
        check_job_id(job_id)?;
        let status_filter = status.map_or_else(String::new, |status| format!(" AND devices.jobs.status = '{}'", status.as_str()));
        let query = format!("SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '{job_id}'{status_filter}");
        self.query_page(&query, page_size, continuation).await
    }
}

fn decode(operation: &'static str, error: &serde_json::Error) -> AzureError {
    AzureError::Decode { operation, target: String::new(), status: 200, detail: error.to_string() }
}
