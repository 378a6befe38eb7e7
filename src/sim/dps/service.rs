//! The simulated DPS instance: enrollment lists, registration records and operations, the linked
//! hubs, persistence (`dps.json`, written atomically after every change), and the reprovision
//! requests simulated devices send when they reboot or are asked to register again.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::enrollments::EnrollmentTable;
use super::error::DpsError;
use crate::azure::secret::Secret;
use crate::azure::wire::{DeviceRegistrationState, EnrollmentGroup, IndividualEnrollment, RegistrationOperationStatus};
use crate::files::{read_text, write_private};
use crate::sim::auth::{Permission, Policies};
use crate::sim::error::SimError;
use crate::sim::hub::Hub;

/// How the simulated DPS behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpsConfig {
    /// How long an assignment takes (the device sees `assigning` meanwhile).
    pub assign_delay: Duration,
    /// The `Retry-After` the device is told to poll with, in seconds.
    pub retry_after_secs: u32,
    /// Registrations, polling and service operations allowed.
    pub limits: super::throttles::DpsLimits,
}

impl Default for DpsConfig {
    fn default() -> Self {
        Self { assign_delay: Duration::from_millis(400), retry_after_secs: 1, limits: super::throttles::DpsLimits::default() }
    }
}

/// A simulated hub linked to the DPS instance.
pub struct DpsHub {
    /// Display name (`contoso-east`).
    pub name: String,
    /// Host name devices and DPS records use (`localhost:8443`).
    pub host_name: String,
    /// Region, for geo-latency allocation.
    pub region: String,
    /// Weight for hashed allocation.
    pub allocation_weight: u32,
    /// Takes part in allocation.
    pub apply_allocation_policy: bool,
    /// The hub itself.
    pub hub: Arc<Hub>,
}

/// A registration record with what the service keeps beside its wire form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationRecord {
    /// As `GET /registrations/{id}` answers it.
    pub state: DeviceRegistrationState,
    /// The group the device registered through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_group_id: Option<String>,
}

/// Everything the DPS instance keeps.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DpsState {
    /// Individual enrollments.
    pub enrollments: EnrollmentTable<IndividualEnrollment>,
    /// Enrollment groups.
    pub groups: EnrollmentTable<EnrollmentGroup>,
    /// Registration records by lowercased registration id.
    pub registrations: BTreeMap<String, RegistrationRecord>,
    /// Counter behind registration-record etags.
    #[serde(default)]
    pub next_record_etag: u64,
}

impl DpsState {
    /// A fresh etag for a registration record: base64 of a quoted GUID-like string, as the service sends.
    pub fn record_etag(&mut self) -> String {
        use base64::Engine as _;
        self.next_record_etag += 1;
        let stamp = chrono::Utc::now().timestamp();
        base64::engine::general_purpose::STANDARD.encode(format!("\"{:08x}-0000-0700-0000-{stamp:012x}\"", self.next_record_etag))
    }

    /// The records of devices that registered through `group_id`, in id order.
    pub fn group_records(&self, group_id: &str) -> Vec<DeviceRegistrationState> {
        self.registrations
            .values()
            .filter(|record| record.enrollment_group_id.as_deref().is_some_and(|id| id.eq_ignore_ascii_case(group_id)))
            .map(|record| record.state.clone())
            .collect()
    }
}

/// What `dps.json` holds.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DpsFile {
    id_scope: String,
    policies: Policies,
    /// Hub name → host name when saved, so records follow a hub to its new port.
    hub_hosts: BTreeMap<String, String>,
    state: DpsState,
}

const DPS_FILE: &str = "dps.json";
/// Operations kept for polling; the oldest are forgotten first.
const MAX_OPERATIONS: usize = 10_000;

/// Registration operations in flight or recently ended.
#[derive(Default)]
pub struct Operations {
    by_id: HashMap<String, (String, RegistrationOperationStatus)>,
    order: VecDeque<String>,
}

impl Operations {
    /// Records an operation of `registration_id`.
    pub fn put(&mut self, registration_id: &str, status: RegistrationOperationStatus) {
        if !self.by_id.contains_key(&status.operation_id) {
            self.order.push_back(status.operation_id.clone());
            while self.order.len() > MAX_OPERATIONS {
                if let Some(old) = self.order.pop_front() {
                    self.by_id.remove(&old);
                }
            }
        }
        self.by_id.insert(status.operation_id.clone(), (registration_id.to_lowercase(), status));
    }

    /// An operation of `registration_id`.
    pub fn get(&self, registration_id: &str, operation_id: &str) -> Option<&RegistrationOperationStatus> {
        self.by_id.get(operation_id).filter(|(owner, _)| owner.eq_ignore_ascii_case(registration_id)).map(|(_, status)| status)
    }
}

/// The simulated Device Provisioning Service.
pub struct Dps {
    id_scope: String,
    policies: Policies,
    host_names: Vec<String>,
    hubs: Vec<DpsHub>,
    pub(super) state: parking_lot::Mutex<DpsState>,
    pub(super) operations: parking_lot::Mutex<Operations>,
    file: Option<PathBuf>,
    save_gate: tokio::sync::Mutex<()>,
    /// One assignment at a time, so two registrations of one device cannot interleave hub writes.
    pub(super) assign_gate: tokio::sync::Mutex<()>,
    pub(super) config: DpsConfig,
    pub(super) webhook_client: reqwest::Client,
    /// Rate limits and the simulated fleet's retry counters.
    pub(super) throttles: super::throttles::DpsThrottles,
}

impl Dps {
    /// Loads `dps.json` from `dir` (or starts empty); returns the instance and whether it is new.
    pub fn open(dir: Option<&Path>, hubs: Vec<DpsHub>, host_names: Vec<String>, config: DpsConfig) -> Result<(Self, bool), SimError> {
        let file = dir.map(|dir| dir.join(DPS_FILE));
        let loaded = match &file {
            Some(path) if path.exists() => {
                let text = read_text(path)?;
                Some(
                    serde_json::from_str::<DpsFile>(&text)
                        .map_err(|error| SimError::Corrupt { path: path.clone(), detail: error.to_string() })?,
                )
            }
            _ => None,
        };
        let fresh = loaded.is_none();
        let DpsFile { id_scope, policies, hub_hosts, mut state } = loaded.unwrap_or_else(|| DpsFile {
            id_scope: format!("0ne{}", crate::sim::text::hex(&rand::random::<[u8; 4]>()).to_uppercase()),
            policies: Policies::generate_dps(),
            hub_hosts: BTreeMap::new(),
            state: DpsState::default(),
        });
        // Hubs listen on new ports after a restart: follow them by name.
        let renamed: HashMap<String, String> = hub_hosts
            .iter()
            .filter_map(|(name, old)| hubs.iter().find(|hub| &hub.name == name).map(|hub| (old.to_lowercase(), hub.host_name.clone())))
            .filter(|(old, new)| old != &new.to_lowercase())
            .collect();
        if !renamed.is_empty() {
            let rename = |host: &str| renamed.get(&host.to_lowercase()).cloned();
            state.enrollments.rename_hubs(&rename);
            state.groups.rename_hubs(&rename);
            for record in state.registrations.values_mut() {
                if let Some(new) = record.state.assigned_hub.as_deref().and_then(rename) {
                    record.state.assigned_hub = Some(new);
                }
            }
        }
        let webhook_client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| SimError::Config(format!("cannot build the webhook client: {error}")))?;
        let dps = Self {
            id_scope,
            policies,
            host_names,
            hubs,
            state: parking_lot::Mutex::new(state),
            operations: parking_lot::Mutex::new(Operations::default()),
            file,
            save_gate: tokio::sync::Mutex::new(()),
            assign_gate: tokio::sync::Mutex::new(()),
            throttles: super::throttles::DpsThrottles::new(&config.limits),
            config,
            webhook_client,
        };
        Ok((dps, fresh))
    }

    /// The rate limits and what the simulated fleet saw of them (429s, retries).
    pub fn throttles(&self) -> &super::throttles::DpsThrottles {
        &self.throttles
    }

    /// The ID scope devices register under.
    pub fn id_scope(&self) -> &str {
        &self.id_scope
    }

    /// The `Retry-After` seconds DPS tells devices to wait between polls.
    pub fn retry_after_secs(&self) -> u32 {
        self.config.retry_after_secs
    }

    /// Shared access policies of the service API.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// The linked hubs.
    pub fn hubs(&self) -> &[DpsHub] {
        &self.hubs
    }

    /// A linked hub by host name (case-insensitive).
    pub fn hub_by_host(&self, host_name: &str) -> Option<&DpsHub> {
        self.hubs.iter().find(|hub| hub.host_name.eq_ignore_ascii_case(host_name))
    }

    /// Checks a service-API `Authorization` header for `required`.
    pub fn authorize(&self, header: Option<&str>, required: Permission) -> Result<(), DpsError> {
        self.policies.authorize(header, required, &self.host_names, crate::sim::clock::unix_now()).map_err(DpsError::from)
    }

    /// Reads the state.
    pub fn read<R>(&self, read: impl FnOnce(&DpsState) -> R) -> R {
        read(&self.state.lock())
    }

    /// Changes the state, then saves it before returning.
    pub async fn change<R>(&self, change: impl FnOnce(&mut DpsState) -> Result<R, DpsError>) -> Result<R, DpsError> {
        let result = change(&mut self.state.lock())?;
        self.save().await.map_err(|error| DpsError::new(500_001, format!("the change could not be saved: {error}")))?;
        Ok(result)
    }

    /// Writes `dps.json` (0600: it holds keys). Serialised so saves land in order.
    pub async fn save(&self) -> Result<(), SimError> {
        let Some(path) = self.file.clone() else {
            return Ok(());
        };
        let _gate = self.save_gate.lock().await;
        let bytes = {
            let state = self.state.lock();
            let file = DpsFileRef {
                id_scope: &self.id_scope,
                policies: &self.policies,
                hub_hosts: self.hubs.iter().map(|hub| (hub.name.clone(), hub.host_name.clone())).collect(),
                state: &state,
            };
            serde_json::to_vec(&file).map_err(|error| SimError::Encode { what: DPS_FILE.to_owned(), detail: error.to_string() })?
        };
        tokio::task::spawn_blocking(move || write_private(&path, &bytes).map_err(SimError::from))
            .await
            .map_err(|error| SimError::Config(format!("the DPS save task failed: {error}")))?
    }

    /// Lets each linked hub's simulated devices ask to register again (reboot, `reprovision`).
    pub fn listen_for_reprovision_requests(self: &Arc<Self>) {
        for hub in &self.hubs {
            // Room for a whole group asked at once: requests beyond it would be dropped.
            let (sender, mut receiver) = mpsc::channel::<String>(REPROVISION_QUEUE);
            hub.hub.set_reprovision_listener(sender);
            // Weak: the hub holds the sender, so a strong reference here would keep DPS, the
            // hubs and their databases alive after the simulator stops.
            let dps = Arc::downgrade(self);
            let host_name = hub.host_name.clone();
            tokio::spawn(async move {
                while let Some(device_id) = receiver.recv().await {
                    let Some(dps) = dps.upgrade() else { break };
                    // Each device waits out its own Retry-After, so each gets a task.
                    let host_name = host_name.clone();
                    tokio::spawn(async move {
                        if let Err(error) = dps.reregister_with_retries(&host_name, &device_id).await {
                            tracing::debug!(%device_id, %error, "a simulated device could not register again");
                        }
                    });
                }
            });
        }
    }

    /// The device key a simulated device holds for `registration_id` (the enrollment's primary
    /// key, or the key derived from its group's: `group_id`, or the one it registered through).
    pub fn device_key(&self, registration_id: &str, group_id: Option<&str>) -> Option<Vec<u8>> {
        let state = self.state.lock();
        let decode = |key: Option<&Secret>| key.and_then(crate::azure::sas::decode_key);
        if let Ok(enrollment) = state.enrollments.get_with_keys(registration_id) {
            return decode(enrollment.attestation.symmetric_key.as_ref()?.primary_key.as_ref());
        }
        let group_id = match group_id {
            Some(group_id) => group_id.to_owned(),
            None => state.registrations.get(&registration_id.to_lowercase())?.enrollment_group_id.clone()?,
        };
        let group = state.groups.get_with_keys(&group_id).ok()?;
        let group_key = decode(group.attestation.symmetric_key.as_ref()?.primary_key.as_ref())?;
        Some(super::device_auth::derive_device_key(&group_key, registration_id))
    }

    /// Registers a simulated device again the way the re-provisioning guidance tells devices to:
    /// throttled → wait `Retry-After`; 5xx → back off exponentially from 5 s with jitter; any
    /// other refusal ends it. Every 429 and retry is counted for benchmarks.
    async fn reregister_with_retries(self: &Arc<Self>, host_name: &str, device_id: &str) -> Result<(), DpsError> {
        let mut attempt = 0_u32;
        loop {
            let error = match self.reregister_simulated(host_name, device_id) {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            let wait = match error.status() {
                429 => {
                    self.throttles.count_fleet_throttled();
                    Duration::from_secs(u64::from(error.retry_after_secs.unwrap_or(DEFAULT_THROTTLED_WAIT_SECS)))
                }
                500..=599 => server_error_backoff(attempt),
                _ => return Err(error),
            };
            attempt += 1;
            if attempt > MAX_REREGISTER_RETRIES {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            self.throttles.count_fleet_retry();
        }
    }

    fn reregister_simulated(self: &Arc<Self>, host_name: &str, device_id: &str) -> Result<(), DpsError> {
        let registration_id = self
            .read(|state| {
                state
                    .registrations
                    .values()
                    .find(|record| {
                        record.state.device_id.as_deref() == Some(device_id)
                            && record.state.assigned_hub.as_deref().is_some_and(|hub| hub.eq_ignore_ascii_case(host_name))
                    })
                    .map(|record| record.state.registration_id.clone())
            })
            .ok_or_else(|| DpsError::registration_not_found(device_id))?;
        self.register_as_device(&registration_id, None, None, None)
    }

    /// Registers like a device holding its key would (the simulated fleet), in the background.
    pub fn register_as_device(
        self: &Arc<Self>,
        registration_id: &str,
        group_id: Option<&str>,
        payload: Option<serde_json::Value>,
        simulated: Option<crate::sim::device_app::SimProfile>,
    ) -> Result<(), DpsError> {
        let request = self.device_request(registration_id, group_id, payload, simulated)?;
        self.start_registration(request).map(drop)
    }

    /// A registration request signed with the key the device holds.
    pub fn device_request(
        &self,
        registration_id: &str,
        group_id: Option<&str>,
        payload: Option<serde_json::Value>,
        simulated: Option<crate::sim::device_app::SimProfile>,
    ) -> Result<super::register::RegisterRequest, DpsError> {
        let key = self
            .device_key(registration_id, group_id)
            .ok_or_else(|| DpsError::unauthorized(format!("no key is known for '{registration_id}'")))?;
        let resource = format!("{}/registrations/{registration_id}", self.id_scope);
        let token = crate::azure::sas::build_token(&resource, &key, crate::sim::clock::unix_now() + 3600, Some("registration"));
        Ok(super::register::RegisterRequest {
            registration_id: registration_id.to_owned(),
            authorization: Some(token.expose().to_owned()),
            api_version: "2019-03-31".to_owned(),
            payload,
            simulated,
        })
    }
}

/// Re-provisioning requests a hub can queue for DPS at once.
const REPROVISION_QUEUE: usize = 16_384;
/// A simulated device gives up registering again after this many retries.
const MAX_REREGISTER_RETRIES: u32 = 20;
/// The wait after a 429 without `Retry-After` (what the C# SDK's retry policy falls back to).
const DEFAULT_THROTTLED_WAIT_SECS: u32 = 5;

/// Exponential back-off after a 5xx: 5 s, 10 s, 20 s … (at most 5 min), plus up to 1 s of jitter
/// so a fleet refused together does not come back together.
fn server_error_backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(5).saturating_mul(2_u32.saturating_pow(attempt.min(6))).min(Duration::from_mins(5));
    base + Duration::from_millis(rand::random_range(0..1_000))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DpsFileRef<'a> {
    id_scope: &'a str,
    policies: &'a Policies,
    hub_hosts: BTreeMap<String, String>,
    state: &'a DpsState,
}
