//! The Jobs page's state: the job list with its filters, the job being watched (progress over
//! time and per-device results), and cancel / retry decisions.

use std::sync::Arc;

use super::command::RequestId;
use super::job_draft::{MAX_CONDITION_BYTES, NewJobDraft, split_device_conditions};
use super::loadable::Loadable;
use super::pending::Pending;
use crate::azure::wire::{DeviceJob, DeviceJobStatus, JobRequest, JobResponse, JobStatus, JobType};

/// One point of the progress chart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgressSample {
    /// Seconds since watching began.
    pub seconds: f64,
    /// Devices that succeeded so far.
    pub succeeded: u64,
    /// Devices that failed so far.
    pub failed: u64,
    /// Devices running now.
    pub running: u64,
}

/// The job open in the detail view.
#[derive(Clone, Debug, Default)]
pub struct JobDetail {
    /// The watched job's id.
    pub job_id: String,
    /// The watch streaming this job's updates; updates of any other watch are dropped.
    pub watch: Option<RequestId>,
    /// The latest job record.
    pub job: Option<JobResponse>,
    /// Per-device results (all pages).
    pub rows: Vec<DeviceJob>,
    /// Progress over time.
    pub samples: Vec<ProgressSample>,
    /// Unix seconds of the first sample.
    pub samples_origin: f64,
    /// Show only devices with this status.
    pub row_filter: Option<DeviceJobStatus>,
    /// Why the last update failed.
    pub error: Option<String>,
    /// Ask before cancelling.
    pub confirm_cancel: bool,
    /// Where the CSV went, or why it did not.
    pub export_message: Option<String>,
}

impl JobDetail {
    /// Rows passing the status filter.
    pub fn visible_rows(&self) -> Vec<usize> {
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, row)| self.row_filter.is_none_or(|status| row.status == status))
            .map(|(index, _)| index)
            .collect()
    }

    /// The failed devices (for "Retry failed devices").
    pub fn failed_device_ids(&self) -> Vec<Arc<str>> {
        self.rows.iter().filter(|row| row.status == DeviceJobStatus::Failed).map(|row| Arc::from(row.device_id.as_str())).collect()
    }

    /// New jobs with the same work for exactly the failed devices (split to fit the query limit).
    pub fn retry_requests(&self, retry_id: &str) -> Vec<JobRequest> {
        let Some(job) = &self.job else {
            return Vec::new();
        };
        let conditions = split_device_conditions(&self.failed_device_ids(), MAX_CONDITION_BYTES);
        let parts = conditions.len();
        conditions
            .into_iter()
            .enumerate()
            .map(|(index, condition)| JobRequest {
                job_id: if parts == 1 { retry_id.to_owned() } else { format!("{retry_id}-{}", index + 1) },
                job_type: job.job_type,
                cloud_to_device_method: job.cloud_to_device_method.clone(),
                update_twin: job.update_twin.clone(),
                query_condition: Some(condition),
                start_time: None,
                max_execution_time_in_seconds: job.max_execution_time_in_seconds,
            })
            .collect()
    }

    /// The grid as CSV (device, status, start, end, method status, payload or error).
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("deviceId,status,startTimeUtc,endTimeUtc,methodStatus,result\n");
        for row in &self.rows {
            let response = row.outcome.as_ref().and_then(|outcome| outcome.device_method_response.as_ref());
            let result = match (&row.error, response) {
                (Some(error), _) => format!("{}: {}", error.code, error.description),
                (None, Some(response)) => response.payload.to_string(),
                (None, None) => String::new(),
            };
            let fields = [
                row.device_id.clone(),
                row.status.as_str().to_owned(),
                row.start_time_utc.clone().unwrap_or_default(),
                row.end_time_utc.clone().unwrap_or_default(),
                response.map(|response| response.status.to_string()).unwrap_or_default(),
                result,
            ];
            let escaped: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
            csv.push_str(&escaped.join(","));
            csv.push('\n');
        }
        csv
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

/// The Jobs page.
#[derive(Clone, Debug, Default)]
pub struct JobsState {
    /// Jobs, newest first (the page loads them when first shown).
    pub list: Loadable<Vec<JobResponse>>,
    /// Show only this type.
    pub filter_type: Option<JobType>,
    /// Show only this status.
    pub filter_status: Option<JobStatus>,
    /// The new-job form, when open.
    pub draft: Option<NewJobDraft>,
    /// The job being watched.
    pub detail: Option<JobDetail>,
    /// Creates, cancels and exports on their way.
    pub actions: Pending,
}

impl JobsState {
    /// Jobs passing the filters.
    pub fn visible(&self) -> Vec<&JobResponse> {
        self.list
            .value()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter(|job| {
                self.filter_type.is_none_or(|kind| job.job_type == kind) && self.filter_status.is_none_or(|status| job.status == status)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(device_id: &str, status: &str, extra: &serde_json::Value) -> DeviceJob {
        let mut value = json!({"deviceId": device_id, "jobId": "j", "jobType": "scheduleDeviceMethod", "status": status});
        if let (Some(object), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            object.extend(extra.clone());
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn csv_has_every_row_with_quoting() {
        let detail = JobDetail {
            rows: vec![
                row(
                    "d1",
                    "completed",
                    &json!({"outcome": {"deviceMethodResponse": {"status": 200, "payload": {"Response": "ok, locked"}}}}),
                ),
                row(
                    "d2",
                    "failed",
                    &json!({"error": {"code": "DeviceNotOnline", "description": "Timed out waiting for device to connect."}}),
                ),
            ],
            ..JobDetail::default()
        };
        let csv = detail.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "deviceId,status,startTimeUtc,endTimeUtc,methodStatus,result");
        assert_eq!(lines[1], "d1,completed,,,200,\"{\"\"Response\"\":\"\"ok, locked\"\"}\"");
        assert_eq!(lines[2], "d2,failed,,,,DeviceNotOnline: Timed out waiting for device to connect.");
    }

    #[test]
    fn retry_targets_exactly_the_failed_devices() {
        let job: JobResponse = serde_json::from_value(json!({"jobId": "j", "type": "scheduleDeviceMethod", "status": "completed",
            "cloudToDeviceMethod": {"methodName": "lockDoor", "payload": {"lockTime": "10m"}}, "maxExecutionTimeInSeconds": 60}))
        .unwrap();
        let detail = JobDetail {
            job: Some(job),
            rows: vec![row("d1", "completed", &json!({})), row("d2", "failed", &json!({})), row("d3", "failed", &json!({}))],
            ..JobDetail::default()
        };
        let requests = detail.retry_requests("j-retry");
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].query_condition.as_deref(), Some("deviceId IN ['d2', 'd3']"));
        assert_eq!(requests[0].cloud_to_device_method.as_ref().unwrap().method_name, "lockDoor");
    }
}
