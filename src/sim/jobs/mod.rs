//! Scheduled jobs ("jobs v2"): the job table, creation with the service's checks, cancel,
//! listing, and the per-device rows `devices.jobs` queries read. The engine runs them.

pub mod engine;
pub mod record;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde_json::Value;

pub use record::{DeviceJobRecord, JobRecord};

use super::error::{HubError, SimError};
use super::registry::Registry;
use super::registry::TwinWrite;
use crate::azure::wire::{ErrorCode, JobRequest, JobResponse, JobStatus, JobType, Timestamp};

/// A job to save: its id and its encoded record (`None`: the job was removed).
pub type JobSave = (String, Option<Vec<u8>>);

/// How jobs behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobsConfig {
    /// Jobs queued, scheduled or running at once (the S2 tier allows 5); more get 429.
    pub max_active: usize,
    /// Devices a job works on at the same time.
    pub concurrency: usize,
    /// How long a new job stays `queued` before it is scheduled or started.
    pub queue_delay: Duration,
    /// Finished jobs are kept this long.
    pub retention: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self { max_active: 5, concurrency: 200, queue_delay: Duration::from_millis(500), retention: Duration::from_hours(30 * 24) }
    }
}

/// Every job of a hub.
#[derive(Default)]
pub struct Jobs {
    records: RwLock<BTreeMap<String, JobRecord>>,
    /// Jobs changed since they were last saved.
    dirty: Mutex<BTreeSet<String>>,
    /// Wakes the engine (a job was created or cancelled).
    pub wake: tokio::sync::Notify,
    config: JobsConfig,
}

/// Longest job id the simulator accepts.
const MAX_JOB_ID_CHARS: usize = 128;

impl Jobs {
    /// Jobs loaded from the store.
    pub fn new(config: JobsConfig, records: Vec<JobRecord>) -> Self {
        Self {
            records: RwLock::new(records.into_iter().map(|record| (record.job_id.clone(), record)).collect()),
            dirty: Mutex::new(BTreeSet::new()),
            wake: tokio::sync::Notify::new(),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &JobsConfig {
        &self.config
    }

    /// Reads the job table.
    pub fn read<R>(&self, read: impl FnOnce(&BTreeMap<String, JobRecord>) -> R) -> R {
        read(&self.records.read())
    }

    /// Changes one job and marks it for saving; `None` when there is no such job.
    pub fn update<R>(&self, job_id: &str, change: impl FnOnce(&mut JobRecord) -> R) -> Option<R> {
        let result = self.records.write().get_mut(job_id).map(change);
        if result.is_some() {
            self.dirty.lock().insert(job_id.to_owned());
        }
        result
    }

    /// Forgets a job (history older than the retention period).
    pub fn remove(&self, job_id: &str) {
        self.records.write().remove(job_id);
        self.dirty.lock().insert(job_id.to_owned());
    }

    /// Forgets which jobs changed (nothing is saved when the simulator is ephemeral).
    pub fn clear_dirty(&self) {
        self.dirty.lock().clear();
    }

    /// Takes the ids of jobs to save, with their serialized records (`None`: removed). When a
    /// record cannot be encoded, nothing is taken: every job stays marked for the next save.
    pub fn take_dirty(&self) -> Result<Vec<JobSave>, SimError> {
        let ids = std::mem::take(&mut *self.dirty.lock());
        let encoded: Result<Vec<_>, SimError> = {
            let records = self.records.read();
            ids.iter()
                .map(|id| {
                    let bytes = records
                        .get(id)
                        .map(serde_json::to_vec)
                        .transpose()
                        .map_err(|error| SimError::Encode { what: format!("job '{id}'"), detail: error.to_string() })?;
                    Ok((id.clone(), bytes))
                })
                .collect()
        };
        if encoded.is_err() {
            self.mark_dirty(ids);
        }
        encoded
    }

    /// Marks jobs for the next save again (their last save failed).
    pub fn mark_dirty(&self, job_ids: impl IntoIterator<Item = String>) {
        self.dirty.lock().extend(job_ids);
    }

    /// `PUT /jobs/v2/{id}`: checks the request as the service does and queues the job.
    pub fn create(&self, path_id: &str, request: &JobRequest, now: Timestamp) -> Result<JobResponse, HubError> {
        if request.job_id != path_id {
            return Err(HubError::invalid(format!(
                "the jobId in the body ('{}') must equal the one in the path ('{path_id}')",
                request.job_id
            )));
        }
        if path_id.is_empty() || path_id.chars().count() > MAX_JOB_ID_CHARS || path_id.chars().any(char::is_control) {
            return Err(HubError::invalid(format!("job id '{}' is not valid (1-{MAX_JOB_ID_CHARS} characters)", path_id.escape_debug())));
        }
        let condition = request.query_condition.clone().filter(|condition| !condition.trim().is_empty()).ok_or_else(|| {
            HubError::new(
                ErrorCode::ArgumentNull,
                "queryCondition is required (a WHERE condition such as tags.building = 43, or * for all devices)",
            )
        })?;
        check_condition(&condition)?;
        let (method, update_twin) = match request.job_type {
            JobType::ScheduleDeviceMethod => {
                let method = request.cloud_to_device_method.clone().ok_or_else(|| {
                    HubError::new(ErrorCode::ArgumentNull, "cloudToDeviceMethod is required for a scheduleDeviceMethod job")
                })?;
                super::methods::validate(&method)?;
                (Some(method), None)
            }
            JobType::ScheduleUpdateTwin => {
                let patch = request
                    .update_twin
                    .clone()
                    .ok_or_else(|| HubError::new(ErrorCode::ArgumentNull, "updateTwin is required for a scheduleUpdateTwin job"))?;
                if patch.get("etag").and_then(Value::as_str) != Some("*") {
                    return Err(HubError::precondition_failed());
                }
                TwinWrite::parse_patch(&patch)?;
                (None, Some(patch))
            }
        };
        let start_at = match request.start_time.as_deref().filter(|text| !text.trim().is_empty()) {
            Some(text) => {
                Timestamp::parse(text).ok_or_else(|| HubError::invalid(format!("startTime '{text}' is not an ISO-8601 date and time")))?
            }
            None => now,
        };
        let max_execution_secs = request.max_execution_time_in_seconds.unwrap_or(3600);
        if max_execution_secs == 0 {
            return Err(HubError::invalid("maxExecutionTimeInSeconds must be greater than 0"));
        }
        let mut records = self.records.write();
        if records.contains_key(path_id) {
            return Err(HubError::new(ErrorCode::JobAlreadyExists, format!("a job with id '{path_id}' already exists")));
        }
        let active = records.values().filter(|record| !record.status.is_final()).count();
        if active >= self.config.max_active {
            return Err(HubError {
                retry_after_secs: Some(10),
                ..HubError::new(
                    ErrorCode::ThrottlingMaxActiveJobCountExceeded,
                    format!("{active} jobs are already queued, scheduled or running; this hub allows {} at a time", self.config.max_active),
                )
            });
        }
        let record = JobRecord {
            job_id: path_id.to_owned(),
            job_type: request.job_type,
            method,
            update_twin,
            query_condition: condition,
            created: now,
            start_at,
            started: None,
            ended: None,
            max_execution_secs,
            status: JobStatus::Queued,
            failure_reason: None,
            status_message: None,
            devices: Vec::new(),
        };
        let response = record.to_response();
        records.insert(path_id.to_owned(), record);
        drop(records);
        self.dirty.lock().insert(path_id.to_owned());
        self.wake.notify_one();
        Ok(response)
    }

    /// `GET /jobs/v2/{id}`.
    pub fn get(&self, job_id: &str) -> Result<JobResponse, HubError> {
        self.read(|records| records.get(job_id).map(JobRecord::to_response)).ok_or_else(|| not_found(job_id))
    }

    /// `POST /jobs/v2/{id}/cancel`: a finished job is answered as it is.
    pub fn cancel(&self, job_id: &str, now: Timestamp) -> Result<JobResponse, HubError> {
        let response = self
            .update(job_id, |record| {
                if !record.status.is_final() {
                    record.cancel(now);
                }
                record.to_response()
            })
            .ok_or_else(|| not_found(job_id))?;
        self.wake.notify_one();
        Ok(response)
    }

    /// `GET /jobs/v2/query`: newest first, filtered by type and status.
    pub fn list(&self, job_type: Option<JobType>, status: Option<JobStatus>) -> Vec<JobResponse> {
        self.read(|records| {
            let mut jobs: Vec<&JobRecord> = records
                .values()
                .filter(|record| job_type.is_none_or(|kind| record.job_type == kind) && status.is_none_or(|wanted| record.status == wanted))
                .collect();
            jobs.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.job_id.cmp(&b.job_id)));
            jobs.into_iter().map(JobRecord::to_response).collect()
        })
    }

    /// Every `devices.jobs` row, ordered by job then device.
    pub fn device_rows(&self) -> Vec<Value> {
        self.read(|records| {
            records
                .values()
                .flat_map(|record| {
                    record.devices.iter().map(move |device| serde_json::to_value(record.device_row(device)).unwrap_or_default())
                })
                .collect()
        })
    }
}

fn not_found(job_id: &str) -> HubError {
    HubError::new(ErrorCode::JobNotFound, format!("job '{job_id}' does not exist"))
}

/// A job's condition must be `*` or a WHERE condition over devices.
pub fn check_condition(condition: &str) -> Result<(), HubError> {
    if condition.trim() == "*" {
        return Ok(());
    }
    super::query::parse_condition(condition).map(drop).map_err(|error| HubError::invalid(format!("queryCondition: {error}")))
}

/// The devices a condition selects now, in id order.
pub fn matching_devices(registry: &Registry, condition: &str) -> Result<Vec<String>, HubError> {
    if condition.trim() == "*" {
        return Ok(registry.iter_from(None).map(|record| record.device_id.clone()).collect());
    }
    let filter = super::query::parse_condition(condition).map_err(|error| HubError::invalid(format!("queryCondition: {error}")))?;
    Ok(registry
        .iter_from(None)
        .filter(|record| super::query::eval::matches(&filter, *record))
        .map(|record| record.device_id.clone())
        .collect())
}
