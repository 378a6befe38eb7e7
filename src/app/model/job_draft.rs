//! The "new job" form: what the operator typed, checked field by field, turned into one or more
//! job requests (a long device list is split so each `deviceId IN [...]` stays under the
//! service's query size limit).

use std::sync::Arc;

use chrono::{Local, NaiveDateTime, TimeZone as _, Utc};
use serde_json::Value;

use serde_json::Map;

use super::twin::TwinEditor;
use crate::azure::wire::{CloudToDeviceMethod, JobRequest, JobType, Timestamp};

/// Longest `queryCondition` a split job gets (the service fails queries around 8 KB).
pub const MAX_CONDITION_BYTES: usize = 7 * 1024;

/// Method presets offered first.
pub const METHOD_PRESETS: [(&str, &str); 3] = [("lockDoor", "{\"lockTime\":\"10m\"}"), ("unlockDoor", "{}"), ("reboot", "{}")];

/// Which devices a job targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobTarget {
    /// The devices selected in the device list.
    Selected(Vec<Arc<str>>),
    /// A WHERE condition typed by the operator.
    Condition,
    /// Every device (`*`).
    All,
}

/// A target preview: how many devices and the first few.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetPreview {
    /// The condition previewed.
    pub condition: String,
    /// `SELECT COUNT()`.
    pub count: Option<u64>,
    /// The first device ids.
    pub first: Vec<String>,
    /// Why the preview failed.
    pub error: Option<String>,
}

/// The form.
#[derive(Clone, Debug)]
pub struct NewJobDraft {
    /// Job id (generated, editable).
    pub job_id: String,
    /// Method or twin update.
    pub kind: JobType,
    /// Method name.
    pub method_name: String,
    /// Method payload as JSON text.
    pub payload: String,
    /// Seconds the service waits for each device's answer.
    pub response_timeout: String,
    /// Seconds to wait for an offline device to connect.
    pub connect_timeout: String,
    /// The twin patch, edited with the twin editor's tree (or its JSON mode).
    pub patch: TwinEditor,
    /// Target.
    pub target: JobTarget,
    /// The condition (for `JobTarget::Condition`).
    pub condition: String,
    /// Start now, or at `start_local`.
    pub start_now: bool,
    /// Local date and time `YYYY-MM-DD HH:MM`.
    pub start_local: String,
    /// Seconds after which the job ends.
    pub max_execution: String,
    /// The last preview.
    pub preview: Option<TargetPreview>,
    /// When the condition was last typed in (the preview waits for a pause).
    pub condition_edited: Option<std::time::Instant>,
    /// Sent; waiting for the service.
    pub submitting: bool,
    /// Why submitting failed.
    pub error: Option<String>,
}

impl NewJobDraft {
    /// A fresh form: a lockDoor job on the selected devices, or on a condition when none are.
    pub fn new(selected: Vec<Arc<str>>, now: chrono::DateTime<Utc>) -> Self {
        let target = if selected.is_empty() { JobTarget::Condition } else { JobTarget::Selected(selected) };
        let local = now.with_timezone(&Local) + chrono::Duration::minutes(10);
        Self {
            job_id: format!("lockdoor-{}", now.format("%Y%m%d-%H%M%S")),
            kind: JobType::ScheduleDeviceMethod,
            method_name: "lockDoor".to_owned(),
            payload: METHOD_PRESETS[0].1.to_owned(),
            response_timeout: "30".to_owned(),
            connect_timeout: "0".to_owned(),
            patch: TwinEditor::for_patch(Map::new(), default_desired()),
            target,
            condition: String::new(),
            start_now: true,
            start_local: local.format("%Y-%m-%d %H:%M").to_string(),
            max_execution: "3600".to_owned(),
            preview: None,
            condition_edited: None,
            submitting: false,
            error: None,
        }
    }

    /// The target as job conditions (several when a device list must be split).
    pub fn conditions(&self) -> Result<Vec<String>, String> {
        match &self.target {
            JobTarget::All => Ok(vec!["*".to_owned()]),
            JobTarget::Condition => {
                let condition = self.condition.trim();
                if condition.is_empty() {
                    Err("target: type a condition such as tags.building = 43".to_owned())
                } else {
                    Ok(vec![condition.to_owned()])
                }
            }
            JobTarget::Selected(ids) if ids.is_empty() => Err("target: no devices are selected in the device list".to_owned()),
            JobTarget::Selected(ids) => Ok(split_device_conditions(ids, MAX_CONDITION_BYTES)),
        }
    }

    /// The condition the preview runs (the first split part for a device list).
    pub fn preview_condition(&self) -> Option<String> {
        self.conditions().ok().and_then(|conditions| conditions.into_iter().next())
    }

    /// The start time in UTC (`None`: now), or why the text is not a time.
    pub fn start_utc(&self) -> Result<Option<chrono::DateTime<Utc>>, String> {
        if self.start_now {
            return Ok(None);
        }
        let naive = NaiveDateTime::parse_from_str(self.start_local.trim(), "%Y-%m-%d %H:%M")
            .map_err(|_| format!("start: '{}' is not a local date and time like 2026-11-28 17:30", self.start_local.trim()))?;
        let local =
            Local.from_local_datetime(&naive).earliest().ok_or_else(|| format!("start: {naive} does not exist in the local time zone"))?;
        Ok(Some(local.with_timezone(&Utc)))
    }

    /// Every problem with the form, in field order.
    pub fn problems(&self) -> Vec<String> {
        self.requests().err().unwrap_or_default()
    }

    /// The requests to send, or every problem.
    pub fn requests(&self) -> Result<Vec<JobRequest>, Vec<String>> {
        let mut problems = Vec::new();
        if let Err(error) = crate::azure::id_rules::check_job_id(self.job_id.trim()) {
            problems.push(format!("job id: {error}"));
        }
        let number =
            |text: &str, field: &str, range: std::ops::RangeInclusive<u64>, problems: &mut Vec<String>| match text.trim().parse::<u64>() {
                Ok(value) if range.contains(&value) => Some(value),
                _ => {
                    problems.push(format!("{field}: '{}' must be a whole number from {} to {}", text.trim(), range.start(), range.end()));
                    None
                }
            };
        let mut method = None;
        let mut patch = None;
        match self.kind {
            JobType::ScheduleDeviceMethod => {
                if self.method_name.trim().is_empty() {
                    problems.push("method: a method name is required".to_owned());
                }
                let payload = match serde_json::from_str::<Value>(if self.payload.trim().is_empty() { "null" } else { &self.payload }) {
                    Ok(payload) => Some(payload),
                    Err(error) => {
                        problems.push(format!("payload: not valid JSON (line {}, column {}): {error}", error.line(), error.column()));
                        None
                    }
                };
                let response = number(&self.response_timeout, "response timeout", 5..=300, &mut problems);
                let connect = number(&self.connect_timeout, "connect timeout", 0..=300, &mut problems);
                if let (Some(payload), Some(response), Some(connect)) = (payload, response, connect) {
                    method = Some(CloudToDeviceMethod {
                        method_name: self.method_name.trim().to_owned(),
                        payload,
                        response_timeout_in_seconds: Some(response),
                        connect_timeout_in_seconds: (connect > 0).then_some(connect),
                    });
                }
            }
            JobType::ScheduleUpdateTwin => {
                if let Some(error) = &self.patch.json_error {
                    let at =
                        error.line.zip(error.column).map_or_else(String::new, |(line, column)| format!(" (line {line}, column {column})"));
                    problems.push(format!("twin patch: the JSON does not parse{at}: {}", error.message));
                } else if let Some(((section, path), text)) = self.patch.invalid_text.iter().next() {
                    problems.push(format!(
                        "twin patch: {}.{} holds \"{text}\", which is not valid for its type",
                        section.path(),
                        path.join(".")
                    ));
                } else if let Some(violation) = self.patch.draft.as_ref().and_then(|draft| draft.violations().into_iter().next()) {
                    problems.push(format!("twin patch: {violation}"));
                } else {
                    patch = self.patch.job_patch();
                    if patch.is_none() {
                        problems.push("twin patch: set at least one tag or desired property".to_owned());
                    }
                }
            }
        }
        let conditions = self.conditions().map_err(|error| problems.push(error)).ok();
        let start = self.start_utc().map_err(|error| problems.push(error)).ok();
        let max_execution = number(&self.max_execution, "max execution time", 1..=172_800, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        let (Some(conditions), Some(start), Some(max_execution)) = (conditions, start, max_execution) else {
            return Err(vec!["the form is incomplete".to_owned()]);
        };
        let parts = conditions.len();
        Ok(conditions
            .into_iter()
            .enumerate()
            .map(|(index, condition)| JobRequest {
                job_id: if parts == 1 { self.job_id.trim().to_owned() } else { format!("{}-{}", self.job_id.trim(), index + 1) },
                job_type: self.kind,
                cloud_to_device_method: method.clone(),
                update_twin: patch.clone(),
                query_condition: Some(condition),
                start_time: start.map(|start| Timestamp(start).to_wire_millis()),
                max_execution_time_in_seconds: Some(max_execution),
            })
            .collect())
    }
}

/// The twin-update example the form starts with: move devices to building 43, floor 3.
fn default_desired() -> Map<String, Value> {
    let mut desired = Map::new();
    desired.insert("building".to_owned(), Value::from(43));
    desired.insert("floor".to_owned(), Value::from(3));
    desired
}

/// `deviceId IN ['a', 'b', …]` conditions, each at most `max_bytes` long.
pub fn split_device_conditions(device_ids: &[Arc<str>], max_bytes: usize) -> Vec<String> {
    const PREFIX: &str = "deviceId IN [";
    let mut conditions = Vec::new();
    let mut current = String::from(PREFIX);
    for device_id in device_ids {
        let quoted = format!("'{}'", device_id.replace('\'', "\\'"));
        let separator = if current.len() > PREFIX.len() { ", " } else { "" };
        if current.len() > PREFIX.len() && current.len() + separator.len() + quoted.len() + 1 > max_bytes {
            current.push(']');
            conditions.push(std::mem::replace(&mut current, String::from(PREFIX)));
            current.push_str(&quoted);
        } else {
            current.push_str(separator);
            current.push_str(&quoted);
        }
    }
    if current.len() > PREFIX.len() {
        current.push(']');
        conditions.push(current);
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(count: usize) -> Vec<Arc<str>> {
        (0..count).map(|index| Arc::from(format!("b43-f1-lock-{index:05}"))).collect()
    }

    #[test]
    fn long_device_lists_split_under_the_limit_and_keep_every_device() {
        let devices = ids(1000);
        let conditions = split_device_conditions(&devices, MAX_CONDITION_BYTES);
        assert!(conditions.len() > 1);
        assert!(conditions.iter().all(|condition| condition.len() <= MAX_CONDITION_BYTES), "every part fits");
        let listed: usize = conditions.iter().map(|condition| condition.matches("'b43-").count()).sum();
        assert_eq!(listed, 1000);
        assert_eq!(split_device_conditions(&ids(2), 100), vec!["deviceId IN ['b43-f1-lock-00000', 'b43-f1-lock-00001']"]);
    }

    #[test]
    fn a_valid_form_becomes_requests_and_problems_are_named() {
        let now = Utc::now();
        let mut draft = NewJobDraft::new(Vec::new(), now);
        assert!(draft.problems().iter().any(|problem| problem.starts_with("target:")));
        draft.condition = "tags.building = 43".into();
        let requests = draft.requests().unwrap();
        assert_eq!(requests.len(), 1);
        let method = requests[0].cloud_to_device_method.as_ref().unwrap();
        assert_eq!((method.method_name.as_str(), method.payload.clone()), ("lockDoor", serde_json::json!({"lockTime": "10m"})));
        assert_eq!(requests[0].start_time, None, "start now");
        draft.payload = "{\"lockTime\":".into();
        draft.response_timeout = "2".into();
        draft.start_now = false;
        draft.start_local = "tomorrow".into();
        let problems = draft.problems();
        assert!(problems.iter().any(|problem| problem.starts_with("payload: not valid JSON")), "{problems:?}");
        assert!(problems.iter().any(|problem| problem.starts_with("response timeout")), "{problems:?}");
        assert!(problems.iter().any(|problem| problem.contains("'tomorrow' is not a local date")), "{problems:?}");
    }

    #[test]
    fn twin_jobs_carry_etag_star_and_a_local_start_is_sent_as_utc() {
        let mut draft = NewJobDraft::new(vec![Arc::from("d1")], Utc::now());
        draft.kind = JobType::ScheduleUpdateTwin;
        draft.start_now = false;
        draft.start_local = "2031-05-04 10:30".into();
        let request = draft.requests().unwrap().remove(0);
        assert_eq!(request.update_twin.unwrap()["etag"], serde_json::json!("*"));
        assert_eq!(request.query_condition.as_deref(), Some("deviceId IN ['d1']"));
        let expected = Local.from_local_datetime(&NaiveDateTime::parse_from_str("2031-05-04 10:30", "%Y-%m-%d %H:%M").unwrap()).unwrap();
        assert_eq!(Timestamp::parse(&request.start_time.unwrap()).unwrap().0, expected.with_timezone(&Utc));
        assert_eq!(
            draft.requests().unwrap()[0].update_twin,
            Some(serde_json::json!({"properties": {"desired": {"building": 43, "floor": 3}}, "etag": "*"}))
        );
        draft.patch.set_mode(crate::app::model::twin::EditorMode::Json);
        draft.patch.json_text = "{\"properties\": {\"reported\": {\"x\": 1}}}".into();
        draft.patch.json_edited();
        assert!(draft.problems().iter().any(|problem| problem.contains("reported")), "{:?}", draft.problems());
        draft.patch.json_text = "{\"tags\": {\"bad key\": 1}}".into();
        draft.patch.json_edited();
        assert!(draft.problems().iter().any(|problem| problem.contains("'bad key'")), "{:?}", draft.problems());
    }
}
