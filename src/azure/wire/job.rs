//! Direct methods and scheduled jobs ("jobs v2"): requests, job records, per-device results.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /twins/{id}/methods` body, and the method of a method job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudToDeviceMethod {
    /// Method name (`lockDoor`).
    pub method_name: String,
    /// Any JSON value.
    #[serde(default)]
    pub payload: Value,
    /// Seconds to wait for the device's answer (5..300; default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_timeout_in_seconds: Option<u64>,
    /// Seconds to wait for an offline device to connect (default 0: fail at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_in_seconds: Option<u64>,
}

/// Default and limits of `responseTimeoutInSeconds`.
pub const METHOD_RESPONSE_TIMEOUT_DEFAULT_SECS: u64 = 30;
/// Smallest response timeout the service accepts.
pub const METHOD_RESPONSE_TIMEOUT_MIN_SECS: u64 = 5;
/// Largest response timeout the service accepts.
pub const METHOD_RESPONSE_TIMEOUT_MAX_SECS: u64 = 300;

/// What the device answered (`CloudToDeviceMethodResult`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    /// The device's status code (its own, not HTTP's).
    pub status: i64,
    /// The device's payload.
    #[serde(default)]
    pub payload: Value,
}

/// Job kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobType {
    /// Invoke a direct method on each device.
    ScheduleDeviceMethod,
    /// Apply a twin patch to each device.
    ScheduleUpdateTwin,
}

impl JobType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScheduleDeviceMethod => "scheduleDeviceMethod",
            Self::ScheduleUpdateTwin => "scheduleUpdateTwin",
        }
    }

    /// Parses the wire spelling or the .NET enum name, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::ScheduleDeviceMethod, Self::ScheduleUpdateTwin].into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(text))
    }
}

/// Job status (British `cancelled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the service's own names
pub enum JobStatus {
    Unknown,
    Enqueued,
    Queued,
    Scheduled,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// Every status.
    pub const ALL: [Self; 8] =
        [Self::Unknown, Self::Enqueued, Self::Queued, Self::Scheduled, Self::Running, Self::Completed, Self::Failed, Self::Cancelled];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Enqueued => "enqueued",
            Self::Queued => "queued",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str().eq_ignore_ascii_case(text))
    }

    /// Finished for good.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// A device's status within a job (American `canceled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the service's own names
pub enum DeviceJobStatus {
    Pending,
    Scheduled,
    Running,
    Completed,
    Failed,
    Canceled,
}

impl DeviceJobStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }
}

/// Counters of a job's device jobs; they always sum to `deviceCount`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceJobStatistics {
    /// Devices the job targets.
    #[serde(default)]
    pub device_count: u64,
    /// Failed (including canceled).
    #[serde(default)]
    pub failed_count: u64,
    /// Devices the job finished with successfully.
    #[serde(default)]
    pub succeeded_count: u64,
    /// In progress.
    #[serde(default)]
    pub running_count: u64,
    /// Not started.
    #[serde(default)]
    pub pending_count: u64,
}

/// `PUT /jobs/v2/{id}` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    /// Must equal the id in the path.
    pub job_id: String,
    /// Method or twin job.
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// The method (method jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_method: Option<CloudToDeviceMethod>,
    /// The twin patch, with `"etag": "*"` (twin jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_twin: Option<Value>,
    /// A WHERE condition (`tags.building = 43`), or `*` for all devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_condition: Option<String>,
    /// ISO-8601 start; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// The job ends after this long; unfinished devices fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_execution_time_in_seconds: Option<u64>,
}

/// A job as the service reports it (`GET /jobs/v2/{id}`). Every field but the id may be
/// absent in sparse answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobResponse {
    /// The job id the caller chose.
    pub job_id: String,
    /// Target condition.
    #[serde(default)]
    pub query_condition: Option<String>,
    /// When the job was created.
    #[serde(default)]
    pub created_time: Option<String>,
    /// Start (requested, or actual once running).
    #[serde(default)]
    pub start_time: Option<String>,
    /// When the job ended (absent while it runs).
    #[serde(default)]
    pub end_time: Option<String>,
    /// Execution limit.
    #[serde(default)]
    pub max_execution_time_in_seconds: Option<u64>,
    /// Whether it invokes a method or updates twins.
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// Method (method jobs).
    #[serde(default)]
    pub cloud_to_device_method: Option<CloudToDeviceMethod>,
    /// Patch (twin jobs).
    #[serde(default)]
    pub update_twin: Option<Value>,
    /// Where the job is in its life cycle.
    pub status: JobStatus,
    /// Why it failed.
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// A note from the service about the job's progress.
    #[serde(default)]
    pub status_message: Option<String>,
    /// Device counters.
    #[serde(default)]
    pub device_job_statistics: Option<DeviceJobStatistics>,
}

/// `GET /jobs/v2/query` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobQueryResult {
    /// `jobResponse`.
    #[serde(rename = "type", default)]
    pub result_type: Option<String>,
    /// The jobs.
    #[serde(default)]
    pub items: Vec<JobResponse>,
    /// More pages.
    #[serde(default)]
    pub continuation_token: Option<String>,
}

/// What happened on one device (`outcome`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceJobOutcome {
    /// The device's answer (method jobs; `null` for twin jobs).
    #[serde(default)]
    pub device_method_response: Option<MethodResult>,
}

/// Why a device job failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceJobError {
    /// Error code name (`DeviceNotOnline`).
    pub code: String,
    /// The error in words.
    #[serde(default)]
    pub description: String,
}

/// One device's record in a job (`SELECT * FROM devices.jobs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceJob {
    /// The device this row is about.
    pub device_id: String,
    /// The job the row belongs to.
    pub job_id: String,
    /// Whether the job invokes a method or updates twins.
    pub job_type: JobType,
    /// Where the job is with this device.
    pub status: DeviceJobStatus,
    /// Started on this device.
    #[serde(default)]
    pub start_time_utc: Option<String>,
    /// Ended on this device.
    #[serde(default)]
    pub end_time_utc: Option<String>,
    /// When the row was created (the job started on this device).
    #[serde(default)]
    pub created_date_time_utc: Option<String>,
    /// Last change.
    #[serde(default)]
    pub last_updated_date_time_utc: Option<String>,
    /// The device's answer to a method job.
    #[serde(default)]
    pub outcome: Option<DeviceJobOutcome>,
    /// Why the job failed on this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DeviceJobError>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sdk_shapes_parse() {
        let request: JobRequest = serde_json::from_value(json!({"jobId": "job-twin-1", "type": "scheduleUpdateTwin",
            "updateTwin": {"tags": {"building": "43"}, "etag": "*"}, "queryCondition": "deviceId IN ['dev-py-1']",
            "startTime": "2030-01-01T00:00:00.000Z", "maxExecutionTimeInSeconds": 3600}))
        .unwrap();
        assert_eq!(request.job_type, JobType::ScheduleUpdateTwin);
        let sparse: JobResponse =
            serde_json::from_value(json!({"jobId": "job01", "type": "scheduleDeviceMethod", "status": "queued"})).unwrap();
        assert_eq!(sparse.status, JobStatus::Queued);
        let row: DeviceJob = serde_json::from_value(json!({"deviceId":"dev1","jobId":"job01","jobType":"scheduleDeviceMethod",
            "status":"completed","startTimeUtc":"2016-09-29T18:18:52.7418462","endTimeUtc":"2016-09-29T18:20:52.7418462",
            "createdDateTimeUtc":"2016-09-29T18:18:56.7787107Z","lastUpdatedDateTimeUtc":"2016-09-29T18:18:56.8894408Z",
            "outcome":{"deviceMethodResponse":{"status":200,"payload":"testMethod:hello"}}}))
        .unwrap();
        assert_eq!(row.outcome.unwrap().device_method_response.unwrap().status, 200);
        assert_eq!(serde_json::to_value(DeviceJobStatus::Canceled).unwrap(), json!("canceled"));
        assert_eq!(serde_json::to_value(JobStatus::Cancelled).unwrap(), json!("cancelled"));
        assert_eq!(JobType::parse("ScheduleUpdateTwin"), Some(JobType::ScheduleUpdateTwin));
        assert_eq!(JobStatus::parse("Completed"), Some(JobStatus::Completed));
    }
}
