//! A wave as IoT Hub jobs: its devices named in `deviceId IN [...]` conditions, split so no
//! condition passes the service's query-size limit (a long id list makes the hub refuse the job
//! with a misleading error), one job per part.

use crate::azure::wire::{CloudToDeviceMethod, JobRequest, JobType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest query condition the hub takes (its query limit is about 8 KB; room is left for
/// `SELECT * FROM devices WHERE`).
pub const MAX_CONDITION_BYTES: usize = 7 * 1024;

/// What each device of a roll-out gets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RolloutOperation {
    /// A direct method.
    Method {
        /// Method, payload and timeouts.
        method: CloudToDeviceMethod,
    },
    /// A desired-property (and tags) update, as a twin-update job's patch.
    TwinUpdate {
        /// `{"properties": {"desired": …}}` (the job adds `"etag": "*"`).
        patch: Value,
    },
}

/// The `deviceId IN [...]` conditions covering `device_ids`, each within `max_bytes`.
pub fn conditions(device_ids: &[String], max_bytes: usize) -> Vec<String> {
    const FRAME: usize = "deviceId IN []".len();
    let mut conditions = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut length = 0;
    for device_id in device_ids {
        // Ids never hold quotes (the service's id rules), so quoting is enough.
        let item = format!("'{device_id}'");
        let added = item.len() + usize::from(!current.is_empty()) * 2;
        if !current.is_empty() && FRAME + length + added > max_bytes {
            conditions.push(format!("deviceId IN [{}]", current.join(", ")));
            current.clear();
            length = 0;
        }
        length += item.len() + usize::from(!current.is_empty()) * 2;
        current.push(item);
    }
    if !current.is_empty() {
        conditions.push(format!("deviceId IN [{}]", current.join(", ")));
    }
    conditions
}

/// The jobs of one wave: `{rollout_id}-w{wave}-{part}`, starting now.
pub fn wave_jobs(
    rollout_id: &str,
    wave: usize,
    device_ids: &[String],
    operation: &RolloutOperation,
    max_execution_secs: u64,
) -> Vec<JobRequest> {
    conditions(device_ids, MAX_CONDITION_BYTES)
        .into_iter()
        .enumerate()
        .map(|(part, condition)| {
            let (job_type, cloud_to_device_method, update_twin) = match operation {
                RolloutOperation::Method { method } => (JobType::ScheduleDeviceMethod, Some(method.clone()), None),
                RolloutOperation::TwinUpdate { patch } => {
                    let mut patch = patch.clone();
                    if let Value::Object(map) = &mut patch {
                        map.insert("etag".to_owned(), Value::String("*".to_owned()));
                    }
                    (JobType::ScheduleUpdateTwin, None, Some(patch))
                }
            };
            JobRequest {
                job_id: format!("{rollout_id}-w{}-{}", wave + 1, part + 1),
                job_type,
                cloud_to_device_method,
                update_twin,
                query_condition: Some(condition),
                start_time: None,
                max_execution_time_in_seconds: Some(max_execution_secs),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_wave_is_one_job_until_its_ids_pass_the_limit() {
        let ids: Vec<String> = (0..3).map(|index| format!("door-{index}")).collect();
        assert_eq!(conditions(&ids, MAX_CONDITION_BYTES), ["deviceId IN ['door-0', 'door-1', 'door-2']"]);
        let jobs = wave_jobs("r1", 0, &ids, &RolloutOperation::TwinUpdate { patch: json!({"properties": {"desired": {"floor": 3}}}) }, 600);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].job_id, "r1-w1-1");
        assert_eq!(jobs[0].update_twin, Some(json!({"properties": {"desired": {"floor": 3}}, "etag": "*"})));
        let many: Vec<String> = (0..2000).map(|index| format!("b43-f1-lock-{index:05}")).collect();
        let parts = wave_jobs("r1", 2, &many, &RolloutOperation::TwinUpdate { patch: json!({}) }, 600);
        assert!(
            parts.len() > 1 && parts.iter().all(|job| job.query_condition.as_ref().unwrap().len() <= MAX_CONDITION_BYTES),
            "{}",
            parts.len()
        );
        assert_eq!(parts[1].job_id, "r1-w3-2");
    }

    proptest! {
        #[test]
        fn the_conditions_name_every_device_once_and_stay_within_the_limit(
            ids in prop::collection::vec("[a-z0-9-]{1,40}", 0..300),
            max in 60_usize..2000,
        ) {
            let conditions = conditions(&ids, max);
            let mut named = Vec::new();
            for condition in &conditions {
                prop_assert!(condition.len() <= max, "{} > {}", condition.len(), max);
                let inner = condition.strip_prefix("deviceId IN [").and_then(|rest| rest.strip_suffix(']')).unwrap();
                named.extend(inner.split(", ").map(|item| item.trim_matches('\'').to_owned()));
            }
            prop_assert_eq!(named, ids);
        }
    }
}
