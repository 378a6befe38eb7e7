//! A scheduled job as the simulator keeps it: the request, its lifecycle, and one record per
//! targeted device. Serialized whole into the store.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::azure::wire::{
    CloudToDeviceMethod, DeviceJob, DeviceJobError, DeviceJobOutcome, DeviceJobStatistics, DeviceJobStatus, JobResponse, JobStatus,
    JobType, MethodResult, Timestamp,
};

/// One device's part in a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceJobRecord {
    /// The device this record is for.
    pub device_id: String,
    /// Where the job is with this device.
    pub status: DeviceJobStatus,
    /// Started on the device.
    pub started: Option<Timestamp>,
    /// Ended on the device.
    pub ended: Option<Timestamp>,
    /// Last change.
    pub updated: Timestamp,
    /// The device's answer (method jobs).
    pub response: Option<MethodResult>,
    /// Why it failed.
    pub error: Option<DeviceJobError>,
}

impl DeviceJobRecord {
    /// A device not started yet.
    pub fn pending(device_id: String, now: Timestamp) -> Self {
        Self { device_id, status: DeviceJobStatus::Pending, started: None, ended: None, updated: now, response: None, error: None }
    }

    /// Not finished.
    pub fn is_open(&self) -> bool {
        matches!(self.status, DeviceJobStatus::Pending | DeviceJobStatus::Scheduled | DeviceJobStatus::Running)
    }

    /// Ends it as failed with `code`.
    pub fn fail(&mut self, code: &str, description: String, now: Timestamp) {
        self.status = DeviceJobStatus::Failed;
        self.error = Some(DeviceJobError { code: code.to_owned(), description });
        self.ended = Some(now);
        self.updated = now;
    }
}

/// A job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job id the caller chose.
    pub job_id: String,
    /// Whether it invokes a method or updates twins.
    pub job_type: JobType,
    /// The method (method jobs).
    pub method: Option<CloudToDeviceMethod>,
    /// The patch (twin jobs), as sent (with `"etag": "*"`).
    pub update_twin: Option<Value>,
    /// WHERE condition, or `*`.
    pub query_condition: String,
    /// When the job was created (queue delays count from here).
    pub created: Timestamp,
    /// When it should start.
    pub start_at: Timestamp,
    /// When it really started.
    pub started: Option<Timestamp>,
    /// When it ended.
    pub ended: Option<Timestamp>,
    /// Execution limit.
    pub max_execution_secs: u64,
    /// Where the job is in its life cycle.
    pub status: JobStatus,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// A note for the caller, such as a resume after a restart.
    pub status_message: Option<String>,
    /// The targeted devices, fixed when the job starts.
    pub devices: Vec<DeviceJobRecord>,
}

impl JobRecord {
    /// Counters that always sum to `deviceCount` (canceled devices count as failed).
    pub fn statistics(&self) -> DeviceJobStatistics {
        let mut stats = DeviceJobStatistics { device_count: self.devices.len() as u64, ..DeviceJobStatistics::default() };
        for device in &self.devices {
            match device.status {
                DeviceJobStatus::Pending | DeviceJobStatus::Scheduled => stats.pending_count += 1,
                DeviceJobStatus::Running => stats.running_count += 1,
                DeviceJobStatus::Completed => stats.succeeded_count += 1,
                DeviceJobStatus::Failed | DeviceJobStatus::Canceled => stats.failed_count += 1,
            }
        }
        stats
    }

    /// The wire form.
    pub fn to_response(&self) -> JobResponse {
        JobResponse {
            job_id: self.job_id.clone(),
            query_condition: Some(self.query_condition.clone()),
            created_time: Some(self.created.to_wire()),
            start_time: Some(self.started.unwrap_or(self.start_at).to_wire()),
            end_time: self.ended.map(Timestamp::to_wire),
            max_execution_time_in_seconds: Some(self.max_execution_secs),
            job_type: self.job_type,
            cloud_to_device_method: self.method.clone(),
            update_twin: self.update_twin.clone(),
            status: self.status,
            failure_reason: self.failure_reason.clone(),
            status_message: self.status_message.clone(),
            device_job_statistics: Some(self.statistics()),
        }
    }

    /// The `devices.jobs` row of one device.
    pub fn device_row(&self, device: &DeviceJobRecord) -> DeviceJob {
        DeviceJob {
            device_id: device.device_id.clone(),
            job_id: self.job_id.clone(),
            job_type: self.job_type,
            status: device.status,
            start_time_utc: device.started.map(Timestamp::to_wire),
            end_time_utc: device.ended.map(Timestamp::to_wire),
            created_date_time_utc: Some(self.created.to_wire()),
            last_updated_date_time_utc: Some(device.updated.to_wire()),
            outcome: Some(DeviceJobOutcome { device_method_response: device.response.clone() }),
            error: device.error.clone(),
        }
    }

    /// Cancels the job: unfinished devices become `canceled`.
    pub fn cancel(&mut self, now: Timestamp) {
        for device in self.devices.iter_mut().filter(|device| device.is_open()) {
            device.status = DeviceJobStatus::Canceled;
            device.ended = Some(now);
            device.updated = now;
        }
        self.status = JobStatus::Cancelled;
        self.ended = Some(now);
        self.status_message = Some("cancelled by request".to_owned());
    }

    /// Ends a running job: devices still open fail with `reason`.
    pub fn finish(&mut self, now: Timestamp, open_device_reason: Option<(&str, String)>) {
        if let Some((code, description)) = open_device_reason {
            for device in self.devices.iter_mut().filter(|device| device.is_open()) {
                device.fail(code, description.clone(), now);
            }
        }
        self.status = JobStatus::Completed;
        self.ended = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(devices: usize) -> JobRecord {
        let now = Timestamp::now();
        JobRecord {
            job_id: "j".into(),
            job_type: JobType::ScheduleDeviceMethod,
            method: None,
            update_twin: None,
            query_condition: "*".into(),
            created: now,
            start_at: now,
            started: Some(now),
            ended: None,
            max_execution_secs: 60,
            status: JobStatus::Running,
            failure_reason: None,
            status_message: None,
            devices: (0..devices).map(|index| DeviceJobRecord::pending(format!("d{index}"), now)).collect(),
        }
    }

    #[test]
    fn statistics_always_sum_to_the_device_count() {
        let mut job = job(5);
        let now = Timestamp::now();
        job.devices[0].status = DeviceJobStatus::Running;
        job.devices[1].status = DeviceJobStatus::Completed;
        job.devices[2].fail("DeviceNotOnline", "offline".into(), now);
        let stats = job.statistics();
        assert_eq!((stats.pending_count, stats.running_count, stats.succeeded_count, stats.failed_count), (2, 1, 1, 1));
        job.cancel(now);
        let stats = job.statistics();
        assert_eq!(stats.pending_count + stats.running_count + stats.succeeded_count + stats.failed_count, stats.device_count);
        assert_eq!((stats.succeeded_count, stats.failed_count), (1, 4));
        assert_eq!(job.status, JobStatus::Cancelled);
        assert_eq!(job.devices[3].status, DeviceJobStatus::Canceled);
    }

    #[test]
    fn finishing_fails_the_open_devices() {
        let mut job = job(3);
        job.devices[0].status = DeviceJobStatus::Completed;
        job.finish(Timestamp::now(), Some(("JobExecutionTimeExceeded", "too slow".into())));
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.statistics().failed_count, 2);
        assert_eq!(job.devices[2].error.as_ref().unwrap().code, "JobExecutionTimeExceeded");
    }
}
