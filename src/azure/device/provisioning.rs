//! DPS registration over MQTT, as the device SDKs do it: CONNECT as the registration, PUT
//! `iotdps-register`, poll `iotdps-get-operationstatus` as long as the answer says `assigning`
//! (waiting the `retry-after` it names), and read the assigned hub and device id.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::super::sas::{TOKEN_TTL, decode_key};
use super::super::secret::Secret;
use super::client::{HubIdentity, error_text, unix_now};
use super::credentials::{dps_password, dps_username};
use super::error::{ConnectFailure, DeviceError};
use super::session::{InboundMessage, MqttSession};
use super::topics::{self, Inbound};
use super::transport::{Target, TransportSettings, mqtt_options};

/// The global DPS endpoint.
pub const GLOBAL_PROVISIONING_HOST: &str = "global.azure-devices-provisioning.net";
/// How long to wait between polls when DPS does not say (the SDKs' default).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Most polls of one registration before it counts as a transient failure.
const MAX_POLLS: u32 = 60;

/// Who registers where.
#[derive(Clone)]
pub struct ProvisioningSettings {
    /// DPS host, `host[:port]` (the port is MQTT's when TLS, HTTPS's when WebSocket).
    pub provisioning_host: String,
    /// The DPS instance's ID scope.
    pub id_scope: String,
    /// The registration id.
    pub registration_id: String,
    /// The device's key (for a group enrollment, already derived), base64.
    pub device_key: Secret,
}

impl std::fmt::Debug for ProvisioningSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisioningSettings")
            .field("provisioning_host", &self.provisioning_host)
            .field("id_scope", &self.id_scope)
            .field("registration_id", &self.registration_id)
            .finish_non_exhaustive()
    }
}

/// Where DPS put the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// `registrationState.assignedHub`.
    pub assigned_hub: String,
    /// `registrationState.deviceId`.
    pub device_id: String,
}

impl Assignment {
    /// The identity to connect to the assigned hub with (the same key the registration used).
    pub fn identity(&self, key: &Secret) -> HubIdentity {
        HubIdentity { host_name: self.assigned_hub.clone(), device_id: self.device_id.clone(), key: key.clone(), gateway_host_name: None }
    }
}

/// What to do after one DPS answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DpsStep {
    /// Still assigning: ask about `operation_id` again after `wait`.
    Poll {
        /// The operation to ask about.
        operation_id: String,
        /// How long DPS said to wait (or the default).
        wait: Duration,
    },
    /// Done.
    Assigned(Assignment),
    /// Failed (classified for the retry rules).
    Failed(ConnectFailure),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OperationBody {
    #[serde(default)]
    operation_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    registration_state: Option<RegistrationState>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationState {
    #[serde(default)]
    assigned_hub: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

/// Reads one answer on `$dps/registrations/res/{status}/?…&retry-after=…`.
pub fn read_dps_answer(endpoint: &str, status: u16, retry_after_secs: Option<u64>, payload: &[u8]) -> DpsStep {
    let retry_after = retry_after_secs.map(Duration::from_secs);
    if !(200..300).contains(&status) {
        return DpsStep::Failed(ConnectFailure::from_status(endpoint, status, retry_after, &error_text(payload)));
    }
    let protocol = |detail: &str| DpsStep::Failed(ConnectFailure::Fatal { endpoint: endpoint.to_owned(), detail: detail.to_owned() });
    let Ok(body) = serde_json::from_slice::<OperationBody>(payload) else {
        return protocol("DPS answered with something that is not a registration operation");
    };
    match body.status.as_deref() {
        Some("assigning" | "registering" | "unassigned") => match body.operation_id {
            Some(operation_id) if !operation_id.is_empty() => {
                DpsStep::Poll { operation_id, wait: retry_after.unwrap_or(DEFAULT_POLL_INTERVAL) }
            }
            _ => protocol("DPS is assigning but sent no operationId"),
        },
        Some("assigned") => {
            let state = body.registration_state;
            match state.as_ref().and_then(|state| state.assigned_hub.clone().zip(state.device_id.clone())) {
                Some((assigned_hub, device_id)) if !assigned_hub.is_empty() && !device_id.is_empty() => {
                    DpsStep::Assigned(Assignment { assigned_hub, device_id })
                }
                _ => protocol("DPS said assigned but sent no assignedHub or deviceId"),
            }
        }
        Some("failed" | "disabled") => {
            let reason = body.registration_state.and_then(|state| state.error_message).unwrap_or_else(|| "no reason given".to_owned());
            protocol(&format!("the registration {}: {reason}", body.status.as_deref().unwrap_or("failed")))
        }
        Some(other) => protocol(&format!("DPS answered with the unknown status '{other}'")),
        None => protocol("DPS answered without a status"),
    }
}

/// Registers through DPS over MQTT and returns where the device was assigned.
pub async fn register(settings: &ProvisioningSettings, transport: &TransportSettings) -> Result<Assignment, ConnectFailure> {
    let endpoint = format!("DPS {}", settings.provisioning_host);
    let key = decode_key(&settings.device_key)
        .ok_or_else(|| ConnectFailure::Fatal { endpoint: endpoint.clone(), detail: "the symmetric key is not valid base64".to_owned() })?;
    let password = dps_password(&settings.id_scope, &settings.registration_id, &key, unix_now() + TOKEN_TTL.as_secs());
    let username = dps_username(&settings.id_scope, &settings.registration_id);
    let target = Target::resolve(&settings.provisioning_host, true, transport);
    let options = mqtt_options(&target, &settings.registration_id, username, &password, transport);
    let filters = vec![topics::DPS_RESPONSES_FILTER.to_owned()];
    let session = MqttSession::open(endpoint.clone(), options, settings.registration_id.clone(), filters, transport.timeout).await?;
    let result = run_registration(&session, &endpoint, &settings.registration_id).await;
    session.close().await;
    result
}

async fn run_registration(session: &MqttSession, endpoint: &str, registration_id: &str) -> Result<Assignment, ConnectFailure> {
    let body = json!({ "registrationId": registration_id }).to_string().into_bytes();
    let mut answer = session.request("registration", topics::dps_register, body).await.map_err(|error| transient(endpoint, &error))?;
    for _ in 0..MAX_POLLS {
        match read_answer(endpoint, &answer) {
            DpsStep::Assigned(assignment) => return Ok(assignment),
            DpsStep::Failed(failure) => return Err(failure),
            DpsStep::Poll { operation_id, wait } => {
                tokio::time::sleep(wait).await;
                // A space as the payload, as the Python SDK sends it.
                answer = session
                    .request("operation status", |rid| topics::dps_operation_status(rid, &operation_id), b" ".to_vec())
                    .await
                    .map_err(|error| transient(endpoint, &error))?;
            }
        }
    }
    Err(ConnectFailure::Transient { endpoint: endpoint.to_owned(), detail: format!("still assigning after {MAX_POLLS} polls") })
}

fn read_answer(endpoint: &str, answer: &InboundMessage) -> DpsStep {
    match answer.inbound {
        Inbound::DpsResponse { status, retry_after_secs, .. } => read_dps_answer(endpoint, status, retry_after_secs, &answer.payload),
        _ => DpsStep::Failed(ConnectFailure::Fatal { endpoint: endpoint.to_owned(), detail: "not a DPS answer".to_owned() }),
    }
}

/// A closed connection or a timeout during registration: worth another try.
fn transient(endpoint: &str, error: &DeviceError) -> ConnectFailure {
    ConnectFailure::Transient { endpoint: endpoint.to_owned(), detail: error.to_string() }
}

/// The registration payload the device sends, for tests and logs.
pub fn registration_body(registration_id: &str) -> Value {
    json!({ "registrationId": registration_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DPS: &str = "DPS localhost";

    #[test]
    fn assigning_is_polled_after_the_wait_dps_names() {
        let body = br#"{"operationId":"4.abc","status":"assigning"}"#;
        assert_eq!(read_dps_answer(DPS, 202, Some(3), body), DpsStep::Poll { operation_id: "4.abc".into(), wait: Duration::from_secs(3) });
        assert_eq!(read_dps_answer(DPS, 202, None, body), DpsStep::Poll { operation_id: "4.abc".into(), wait: DEFAULT_POLL_INTERVAL });
    }

    #[test]
    fn assigned_names_the_hub_and_device() {
        let body = br#"{"operationId":"4.abc","status":"assigned","registrationState":{"registrationId":"reg-1","assignedHub":"contoso-west.localhost","deviceId":"dev-1","status":"assigned","substatus":"initialAssignment"}}"#;
        assert_eq!(
            read_dps_answer(DPS, 200, None, body),
            DpsStep::Assigned(Assignment { assigned_hub: "contoso-west.localhost".into(), device_id: "dev-1".into() })
        );
        let missing = br#"{"operationId":"4.abc","status":"assigned","registrationState":{}}"#;
        assert!(matches!(read_dps_answer(DPS, 200, None, missing), DpsStep::Failed(ConnectFailure::Fatal { .. })));
    }

    #[test]
    fn failures_are_classified_for_the_retry_rules() {
        assert_eq!(
            read_dps_answer(DPS, 429, Some(7), br#"{"errorCode":429001,"message":"throttled"}"#),
            DpsStep::Failed(ConnectFailure::Throttled { endpoint: DPS.into(), retry_after: Some(Duration::from_secs(7)) })
        );
        assert!(matches!(read_dps_answer(DPS, 503, None, b""), DpsStep::Failed(ConnectFailure::Transient { .. })));
        assert!(matches!(read_dps_answer(DPS, 401, None, b""), DpsStep::Failed(ConnectFailure::NotAuthorized { .. })));
        let failed =
            read_dps_answer(DPS, 200, None, br#"{"operationId":"x","status":"failed","registrationState":{"errorMessage":"no hub"}}"#);
        let DpsStep::Failed(ConnectFailure::Fatal { detail, .. }) = failed else { panic!("{failed:?}") };
        assert!(detail.contains("no hub"), "{detail}");
        assert!(matches!(read_dps_answer(DPS, 200, None, b"not json"), DpsStep::Failed(ConnectFailure::Fatal { .. })));
        assert!(matches!(read_dps_answer(DPS, 202, None, br#"{"status":"assigning"}"#), DpsStep::Failed(ConnectFailure::Fatal { .. })));
    }

    #[test]
    fn the_assignment_keeps_the_key() {
        let assignment = Assignment { assigned_hub: "hub-2".into(), device_id: "dev-1".into() };
        let identity = assignment.identity(&Secret::new("a2V5"));
        assert_eq!(identity.host_name, "hub-2");
        assert_eq!(identity.device_id, "dev-1");
        assert_eq!(identity.key.expose(), "a2V5");
        assert_eq!(registration_body("reg-1"), json!({"registrationId": "reg-1"}));
    }
}
