//! The device registration engine: authenticate the device against its enrollment (or a group
//! through its derived key), answer `assigning` with an operation id, then allocate a hub,
//! decide what re-provisioning does (the policy rules in `reprovision.rs`), carry it out on the simulated hubs and
//! record the result.

use std::sync::Arc;

use serde_json::{Value, json};

use super::allocation::{AllocationInput, LinkedHub, allocate};
use super::device_auth::{derive_device_key, verify_registration_token};
use super::error::{DpsError, uuid_like};
use super::hub_writes;
use super::reprovision::{HubAction, Situation, decide};
use super::service::{Dps, RegistrationRecord};
use crate::azure::sas::decode_key;
use crate::azure::secret::Secret;
use crate::azure::wire::{
    AllocationPolicy, DeviceRegistrationState, EnrollmentSettings, InitialTwin, RegistrationOperationStatus, RegistrationStatus,
    RegistrationSubstatus, Timestamp,
};
use crate::sim::device_app::SimProfile;

/// A registration call.
#[derive(Clone, Debug)]
pub struct RegisterRequest {
    /// From the path.
    pub registration_id: String,
    /// The device's SAS token.
    pub authorization: Option<String>,
    /// The api-version it registers with (old ones get the legacy sticky behaviour).
    pub api_version: String,
    /// The device's `payload` (passed to a custom-allocation webhook; `region` picks a geo-latency hub).
    pub payload: Option<Value>,
    /// For devices of the simulated fleet: how the device app behaves once created.
    pub simulated: Option<SimProfile>,
}

/// Who the device proved to be.
#[derive(Clone, Debug)]
pub struct Attested {
    /// Registration id as the device sent it.
    pub registration_id: String,
    /// Device id on the hub.
    pub device_id: String,
    /// The keys its hub identity gets (the ones it attests with).
    pub device_keys: (Secret, Secret),
    /// The group, when a group matched.
    pub group_id: Option<String>,
    /// The enrollment's settings.
    pub settings: EnrollmentSettings,
}

impl Attested {
    fn enabled(&self) -> bool {
        self.settings.provisioning_status.as_deref() != Some("disabled")
    }
}

fn b64(bytes: &[u8]) -> Secret {
    use base64::Engine as _;
    Secret::new(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn key_pair(attestation: &crate::azure::wire::AttestationMechanism) -> Option<(Vec<u8>, Vec<u8>)> {
    let keys = attestation.symmetric_key.as_ref()?;
    Some((decode_key(keys.primary_key.as_ref()?)?, decode_key(keys.secondary_key.as_ref()?)?))
}

impl Dps {
    /// Finds the enrollment the device's token was signed for: its individual enrollment first
    /// (which wins even when disabled), then any symmetric-key group through the derived key.
    pub fn authenticate(&self, header: Option<&str>, registration_id: &str) -> Result<Attested, DpsError> {
        let header = header
            .filter(|header| !header.trim().is_empty())
            .ok_or_else(|| DpsError::unauthorized("the request has no Authorization header"))?;
        let now = crate::sim::clock::unix_now();
        let scope = self.id_scope();
        let state = self.state.lock();
        if let Ok(enrollment) = state.enrollments.get_with_keys(registration_id) {
            if enrollment.attestation.kind != "symmetricKey" {
                return Err(DpsError::unauthorized(format!(
                    "enrollment '{registration_id}' uses {} attestation; the simulator registers symmetric-key devices only",
                    enrollment.attestation.kind
                )));
            }
            let (primary, secondary) =
                key_pair(&enrollment.attestation).ok_or_else(|| DpsError::unauthorized("the enrollment has no keys"))?;
            verify_registration_token(header, scope, registration_id, &[primary.clone(), secondary.clone()], now)
                .map_err(DpsError::unauthorized)?;
            return Ok(Attested {
                registration_id: registration_id.to_owned(),
                device_id: enrollment.device_id.clone().filter(|id| !id.is_empty()).unwrap_or_else(|| registration_id.to_owned()),
                device_keys: (b64(&primary), b64(&secondary)),
                group_id: None,
                settings: enrollment.settings.clone(),
            });
        }
        let mut last_error = DpsError::unauthorized(format!("no enrollment or enrollment group matches registration '{registration_id}'"));
        for group in state.groups.iter_with_keys().filter(|group| group.attestation.kind == "symmetricKey") {
            let Some((primary, secondary)) = key_pair(&group.attestation) else { continue };
            let derived = [derive_device_key(&primary, registration_id), derive_device_key(&secondary, registration_id)];
            match verify_registration_token(header, scope, registration_id, &derived, now) {
                Ok(_) => {
                    return Ok(Attested {
                        registration_id: registration_id.to_owned(),
                        device_id: registration_id.to_owned(),
                        device_keys: (b64(&derived[0]), b64(&derived[1])),
                        group_id: Some(group.enrollment_group_id.clone()),
                        settings: group.settings.clone(),
                    });
                }
                Err(super::device_auth::DeviceAuthError::BadSignature) => {}
                Err(error) => last_error = DpsError::unauthorized(error),
            }
        }
        Err(last_error)
    }

    /// `PUT …/register`: authenticates, answers `assigning` with a new operation, and assigns in
    /// the background.
    pub fn start_registration(self: &Arc<Self>, request: RegisterRequest) -> Result<RegistrationOperationStatus, DpsError> {
        // Throttled before anything else, as the service's front door does.
        self.throttles.admit_registration()?;
        let (status, attested) = self.prepare(&request)?;
        let dps = Arc::clone(self);
        let operation_id = status.operation_id.clone();
        tokio::spawn(async move { dps.finish_registration(operation_id, attested, request, true).await });
        Ok(status)
    }

    /// Registers and waits until it is done, without the simulated service delay (seeding).
    pub async fn register_now(self: &Arc<Self>, request: RegisterRequest) -> Result<(), DpsError> {
        let (status, attested) = self.prepare(&request)?;
        Arc::clone(self).finish_registration(status.operation_id, attested, request, false).await;
        Ok(())
    }

    fn prepare(&self, request: &RegisterRequest) -> Result<(RegistrationOperationStatus, Attested), DpsError> {
        let attested = self.authenticate(request.authorization.as_deref(), &request.registration_id)?;
        let operation_id =
            format!("{}.{}.{}", rand::random_range(1..10_u8), crate::sim::text::hex(&rand::random::<[u8; 8]>()), uuid_like());
        let now = Timestamp::now().to_wire();
        let key = request.registration_id.to_lowercase();
        {
            let mut state = self.state.lock();
            let etag = state.record_etag();
            let record = state.registrations.entry(key).or_insert_with(|| RegistrationRecord {
                state: DeviceRegistrationState {
                    registration_id: request.registration_id.clone(),
                    created_date_time_utc: Some(now.clone()),
                    assigned_hub: None,
                    device_id: None,
                    status: RegistrationStatus::Unassigned,
                    substatus: None,
                    error_code: None,
                    error_message: None,
                    last_updated_date_time_utc: None,
                    etag: None,
                    payload: None,
                    symmetric_key: None,
                },
                enrollment_group_id: None,
            });
            record.state.status = RegistrationStatus::Assigning;
            record.state.last_updated_date_time_utc = Some(now);
            record.state.etag = Some(etag);
            record.enrollment_group_id.clone_from(&attested.group_id);
        }
        let status = RegistrationOperationStatus {
            operation_id: operation_id.clone(),
            status: RegistrationStatus::Assigning,
            registration_state: None,
        };
        self.operations.lock().put(&request.registration_id, status.clone());
        Ok((status, attested))
    }

    /// `GET …/operations/{id}`.
    pub fn operation(
        &self,
        header: Option<&str>,
        registration_id: &str,
        operation_id: &str,
    ) -> Result<RegistrationOperationStatus, DpsError> {
        self.throttles.admit_poll(registration_id)?;
        self.authenticate(header, registration_id)?;
        self.operations
            .lock()
            .get(registration_id, operation_id)
            .cloned()
            .ok_or_else(|| DpsError::new(404_203, format!("operation '{operation_id}' of registration '{registration_id}' does not exist")))
    }

    /// `POST /{idScope}/registrations/{id}`: the device's own record.
    pub fn lookup(&self, header: Option<&str>, registration_id: &str) -> Result<DeviceRegistrationState, DpsError> {
        self.authenticate(header, registration_id)?;
        self.read(|state| state.registrations.get(&registration_id.to_lowercase()).map(|record| record.state.clone()))
            .ok_or_else(|| DpsError::registration_not_found(registration_id))
    }

    async fn finish_registration(self: Arc<Self>, operation_id: String, attested: Attested, request: RegisterRequest, delay: bool) {
        let gate = self.assign_gate.lock().await;
        if delay {
            tokio::time::sleep(self.config.assign_delay).await;
        }
        let outcome = if attested.enabled() { self.assign(&attested, &request).await } else { Err(Failure::Disabled) };
        drop(gate);
        let now = Timestamp::now().to_wire();
        let result = {
            let mut state = self.state.lock();
            let etag = state.record_etag();
            let Some(record) = state.registrations.get_mut(&request.registration_id.to_lowercase()) else {
                return; // the record was deleted meanwhile
            };
            let registration = &mut record.state;
            registration.last_updated_date_time_utc = Some(now);
            registration.etag = Some(etag);
            registration.symmetric_key = attested.group_id.as_ref().map(|group_id| json!({"enrollmentGroupId": group_id}));
            match outcome {
                Ok(assigned) => {
                    registration.status = RegistrationStatus::Assigned;
                    registration.assigned_hub = Some(assigned.hub);
                    registration.device_id = Some(attested.device_id.clone());
                    registration.substatus =
                        assigned.substatus.or(registration.substatus).or(Some(RegistrationSubstatus::InitialAssignment));
                    registration.payload = assigned.payload;
                    registration.error_code = None;
                    registration.error_message = None;
                }
                Err(Failure::Disabled) => {
                    registration.status = RegistrationStatus::Disabled;
                    registration.error_code = None;
                    registration.error_message = Some("the enrollment is disabled, so the device cannot be assigned".to_owned());
                }
                Err(Failure::Failed { code, message }) => {
                    registration.status = RegistrationStatus::Failed;
                    registration.error_code = Some(code);
                    registration.error_message = Some(message);
                }
            }
            registration.clone()
        };
        let status = RegistrationOperationStatus { operation_id, status: result.status, registration_state: Some(result) };
        self.operations.lock().put(&request.registration_id, status);
        if let Err(error) = self.save().await {
            tracing::error!(%error, "the DPS state could not be saved");
        }
    }

    /// Allocation, the re-provisioning decision and the hub writes.
    async fn assign(&self, attested: &Attested, request: &RegisterRequest) -> Result<Assigned, Failure> {
        let settings = &attested.settings;
        let record = self.read(|state| state.registrations.get(&attested.registration_id.to_lowercase()).cloned());
        let current_hub =
            record.as_ref().and_then(|record| record.state.assigned_hub.clone()).filter(|host| self.hub_by_host(host).is_some());
        let linked: Vec<LinkedHub> = self
            .hubs()
            .iter()
            .map(|hub| LinkedHub {
                host_name: hub.host_name.clone(),
                allocation_weight: hub.allocation_weight,
                apply_allocation_policy: hub.apply_allocation_policy,
                region: hub.region.clone(),
            })
            .collect();
        let enrollment_hubs: Vec<String> = match (&settings.iot_hubs, &settings.iot_hub_host_name) {
            (Some(hubs), _) if !hubs.is_empty() => hubs.clone(),
            (_, Some(host)) => vec![host.clone()],
            _ => Vec::new(),
        };
        let policy = match (settings.allocation_policy, &settings.iot_hub_host_name) {
            (Some(policy), _) => policy,
            (None, Some(_)) => AllocationPolicy::Static,
            (None, None) => AllocationPolicy::Hashed,
        };
        let (allocated, webhook) = if policy == AllocationPolicy::Custom {
            let answer = super::webhook::call(self, attested, request, current_hub.as_deref(), &enrollment_hubs).await?;
            (answer.hub.clone(), Some(answer))
        } else {
            let region = self.device_region(request, current_hub.as_deref(), &attested.device_id);
            let input = AllocationInput {
                policy,
                registration_id: &attested.registration_id,
                enrollment_hubs: &enrollment_hubs,
                device_region: region.as_deref(),
            };
            let hub = allocate(&input, &linked).map_err(|error| Failure::Failed { code: 400_209, message: error.to_string() })?;
            (hub.host_name.clone(), None)
        };
        let target = self.hub_by_host(&allocated).ok_or_else(|| Failure::Failed {
            code: 400_209,
            message: format!("'{allocated}' is not an IoT hub linked to this DPS instance"),
        })?;
        let exists = target.hub.read(|registry| registry.get(&attested.device_id).is_ok());
        let legacy_api = is_legacy(&request.api_version);
        let mut outcome = decide(&Situation {
            policy: settings.reprovision_policy,
            legacy_api,
            current_hub: current_hub.as_deref(),
            allocated_hub: &allocated,
            exists_on_allocated_hub: exists,
        });
        // The value exists from api-version 2019-04-15; older devices are told `initialAssignment`.
        if outcome.substatus == Some(RegistrationSubstatus::ReprovisionedToInitialAssignment)
            && is_before(&request.api_version, 2019, 4, 15)
        {
            outcome.substatus = Some(RegistrationSubstatus::InitialAssignment);
        }
        let initial_twin = webhook.as_ref().and_then(|answer| answer.initial_twin.clone()).or_else(|| settings.initial_twin.clone());
        let iot_edge =
            settings.capabilities.as_ref().and_then(|capabilities| capabilities.get("iotEdge")).and_then(Value::as_bool).unwrap_or(false);
        let identity = hub_writes::Identity {
            device_id: attested.device_id.clone(),
            keys: attested.device_keys.clone(),
            iot_edge,
            initial_twin: initial_twin.unwrap_or_default(),
            simulated: request.simulated,
        };
        let hub_of = |host: &str| self.hub_by_host(host).map(|hub| Arc::clone(&hub.hub));
        let failed = |error: crate::sim::error::HubError| Failure::Failed {
            code: 500_001,
            message: format!("the hub write failed: {}", error.message),
        };
        let target_hub =
            hub_of(&outcome.hub).ok_or_else(|| Failure::Failed { code: 400_209, message: format!("'{}' is not linked", outcome.hub) })?;
        match &outcome.action {
            HubAction::Create => hub_writes::create(&target_hub, &identity, None).await.map_err(failed)?,
            HubAction::ReuseExisting | HubAction::Keep => {
                if !target_hub.read(|registry| registry.get(&attested.device_id).is_ok()) {
                    // Someone deleted the device from its hub: it comes back with its initial twin.
                    hub_writes::create(&target_hub, &identity, None).await.map_err(failed)?;
                }
            }
            HubAction::MoveWithData { from } => {
                let removed = match hub_of(from) {
                    Some(old) => hub_writes::remove(&old, &attested.device_id).await.map_err(failed)?,
                    None => None,
                };
                match removed {
                    Some(record) => hub_writes::insert(&target_hub, record).await.map_err(failed)?,
                    None => hub_writes::create(&target_hub, &identity, None).await.map_err(failed)?,
                }
            }
            HubAction::MoveWithInitialTwin { from } => {
                let removed = match hub_of(from) {
                    Some(old) => hub_writes::remove(&old, &attested.device_id).await.map_err(failed)?,
                    None => None,
                };
                hub_writes::create(&target_hub, &identity, removed.as_ref()).await.map_err(failed)?;
            }
            HubAction::ResetInPlace => hub_writes::reset_twin(&target_hub, &identity).await.map_err(failed)?,
        }
        Ok(Assigned { hub: outcome.hub, substatus: outcome.substatus, payload: webhook.and_then(|answer| answer.payload) })
    }

    /// The device's region for geo-latency: its `payload.region`, else its `region` tag on its current hub.
    fn device_region(&self, request: &RegisterRequest, current_hub: Option<&str>, device_id: &str) -> Option<String> {
        if let Some(region) = request.payload.as_ref().and_then(|payload| payload.get("region")).and_then(Value::as_str) {
            return Some(region.to_owned());
        }
        let hub = self.hub_by_host(current_hub?)?;
        hub.hub.read(|registry| {
            let record = registry.get(device_id).ok()?;
            match record.twin.tags.get(&["region"]) {
                Some(crate::sim::prop_tree::PropValue::Leaf(scalar)) => scalar.to_json().as_str().map(str::to_owned),
                _ => None,
            }
        })
    }
}

/// A successful assignment.
struct Assigned {
    hub: String,
    substatus: Option<RegistrationSubstatus>,
    payload: Option<Value>,
}

/// Why an assignment did not happen.
pub enum Failure {
    /// The enrollment is disabled.
    Disabled,
    /// Allocation, the webhook or a hub write failed.
    Failed {
        /// Six-digit code.
        code: i64,
        /// What went wrong.
        message: String,
    },
}

/// True for api-versions from before re-provisioning existed (2018-04-01 and earlier).
pub fn is_legacy(api_version: &str) -> bool {
    is_before(api_version, 2018, 4, 2)
}

/// True when `api_version` (`2019-03-31`, `-preview` allowed) is older than the given date.
fn is_before(api_version: &str, year: i32, month: u32, day: u32) -> bool {
    let date = api_version.get(..10).unwrap_or(api_version);
    let limit = chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default();
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok_and(|date| date < limit)
}

/// The initial twin as a hub twin write body.
pub fn initial_twin_body(twin: &InitialTwin) -> Value {
    json!({
        "tags": twin.tags.clone().unwrap_or_default(),
        "properties": {"desired": twin.properties.as_ref().and_then(|properties| properties.desired.clone()).unwrap_or_default()},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_api_versions() {
        assert!(is_legacy("2018-04-01"));
        assert!(is_legacy("2017-11-15"));
        assert!(!is_legacy("2019-03-31"));
        assert!(!is_legacy("2021-10-01"));
        assert!(!is_legacy("garbage"));
        assert!(is_before("2019-03-31", 2019, 4, 15));
        assert!(!is_before("2019-04-15", 2019, 4, 15));
    }
}
