//! The hub side of a device: connect with a SAS password, then the twin (GET, reported PATCH,
//! desired pushes), direct methods (calls in, answers out), telemetry (QoS 1, PUBACK awaited)
//! and cloud-to-device messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;

use super::super::sas::{RENEW_BEFORE, TOKEN_TTL, decode_key};
use super::super::secret::Secret;
use super::credentials::{hub_password, hub_username};
use super::error::{ConnectFailure, DeviceError};
use super::session::{InboundMessage, MqttSession, SessionEvent};
use super::topics::{self, Inbound};
use super::transport::{Target, TransportSettings, mqtt_options};

/// Who the device is on which hub.
#[derive(Clone, PartialEq, Eq)]
pub struct HubIdentity {
    /// The hub's `HostName` (signed into the SAS `sr` and the username).
    pub host_name: String,
    /// The device id.
    pub device_id: String,
    /// The device's symmetric key, base64.
    pub key: Secret,
    /// Where to connect instead of `host_name` (`host[:port]`).
    pub gateway_host_name: Option<String>,
}

impl std::fmt::Debug for HubIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubIdentity")
            .field("host_name", &self.host_name)
            .field("device_id", &self.device_id)
            .field("gateway_host_name", &self.gateway_host_name)
            .finish_non_exhaustive()
    }
}

impl From<super::connection_string::DeviceConnectionString> for HubIdentity {
    fn from(parsed: super::connection_string::DeviceConnectionString) -> Self {
        Self { host_name: parsed.host_name, device_id: parsed.device_id, key: parsed.key, gateway_host_name: parsed.gateway_host_name }
    }
}

/// What the hub sent the device.
#[derive(Debug)]
pub enum DeviceMessage {
    /// A direct method call; answer it with [`DeviceClient::respond_to_method`].
    MethodCall {
        /// The method.
        name: String,
        /// The id the answer echoes.
        rid: String,
        /// The payload as sent (JSON).
        payload: Bytes,
    },
    /// A change of the desired properties (the patch, with `$version`).
    DesiredPatch {
        /// The desired section's version.
        version: Option<u64>,
        /// The patch (JSON; `null` deletes).
        patch: Value,
    },
    /// A cloud-to-device message (already acknowledged).
    CloudToDevice {
        /// Its properties, decoded, in the order sent.
        properties: Vec<(String, String)>,
        /// Its body.
        body: Bytes,
    },
    /// The connection ended.
    Closed(ConnectFailure),
}

/// A device connected to its hub.
pub struct DeviceClient {
    session: MqttSession,
    device_id: String,
    url: String,
    renew_at: tokio::time::Instant,
}

impl DeviceClient {
    /// Connects as `identity` and subscribes to methods, twin answers, desired changes and
    /// cloud-to-device messages. The password is valid one hour; reconnect by [`Self::renew_at`].
    pub async fn connect(identity: &HubIdentity, settings: &TransportSettings) -> Result<Self, ConnectFailure> {
        let endpoint = format!("hub {}", identity.host_name);
        let key = decode_key(&identity.key)
            .ok_or_else(|| ConnectFailure::Fatal { endpoint: endpoint.clone(), detail: "the device key is not valid base64".to_owned() })?;
        let expiry_secs = unix_now() + TOKEN_TTL.as_secs();
        let password = hub_password(&identity.host_name, &identity.device_id, &key, expiry_secs);
        let username = hub_username(&identity.host_name, &identity.device_id);
        let target = match &identity.gateway_host_name {
            Some(gateway) => Target::resolve(gateway, true, settings),
            None => Target::resolve(&identity.host_name, false, settings),
        };
        let options = mqtt_options(&target, &identity.device_id, username, &password, settings);
        let filters = vec![
            topics::METHODS_FILTER.to_owned(),
            topics::TWIN_RESPONSES_FILTER.to_owned(),
            topics::DESIRED_FILTER.to_owned(),
            topics::cloud_to_device_filter(&identity.device_id),
        ];
        let session = MqttSession::open(endpoint, options, identity.device_id.clone(), filters, settings.timeout).await?;
        Ok(Self { session, device_id: identity.device_id.clone(), url: target.url(), renew_at: tokio::time::Instant::now() + RENEW_AFTER })
    }

    /// When to reconnect with a fresh password (5 minutes before it expires).
    pub fn renew_at(&self) -> tokio::time::Instant {
        self.renew_at
    }

    /// Where the connection goes (`mqtts://localhost:8883`), for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connected device.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// `hub {HostName}`, for messages.
    pub fn endpoint(&self) -> &str {
        self.session.endpoint()
    }

    /// The twin's properties: `{"desired": {…, "$version"}, "reported": {…, "$version"}}`.
    pub async fn get_twin(&self) -> Result<Value, DeviceError> {
        // One space as the payload, as both SDKs send it.
        let answer = self.session.request("twin GET", topics::twin_get, b" ".to_vec()).await?;
        let status = self.check_status("twin GET", &answer)?;
        if status != 200 {
            return Err(self.refused("twin GET", status, &answer.payload));
        }
        serde_json::from_slice(&answer.payload).map_err(|error| DeviceError::Protocol {
            endpoint: self.endpoint().to_owned(),
            operation: "twin GET",
            detail: format!("the twin is not JSON: {error}"),
        })
    }

    /// Patches the reported properties; returns the reported section's new version.
    pub async fn patch_reported(&self, patch: &Value) -> Result<Option<u64>, DeviceError> {
        let answer = self.session.request("reported PATCH", topics::twin_patch_reported, patch.to_string().into_bytes()).await?;
        let status = self.check_status("reported PATCH", &answer)?;
        match (status, &answer.inbound) {
            (200..=299, Inbound::TwinResponse { version, .. }) => Ok(*version),
            _ => Err(self.refused("reported PATCH", status, &answer.payload)),
        }
    }

    /// Answers a direct method call.
    pub async fn respond_to_method(&self, rid: &str, status: u16, payload: &Value) -> Result<(), DeviceError> {
        self.session.publish("method response", topics::method_response(status, rid), payload.to_string().into_bytes(), false).await
    }

    /// Sends a JSON telemetry message (`$.ct=application/json`, `$.ce=utf-8`) with application
    /// properties, and waits for the hub's PUBACK.
    pub async fn send_telemetry(&self, message_id: &str, body: &Value, application: &[(&str, &str)]) -> Result<(), DeviceError> {
        let system = [("$.mid", message_id), ("$.ct", "application/json"), ("$.ce", "utf-8")];
        let topic = topics::telemetry(&self.device_id, &system, application);
        self.session.publish("telemetry", topic, body.to_string().into_bytes(), true).await
    }

    /// The next message from the hub, or why the connection ended.
    pub async fn next_message(&mut self) -> DeviceMessage {
        loop {
            let message = match self.session.next_event().await {
                SessionEvent::Closed(failure) => return DeviceMessage::Closed(failure),
                SessionEvent::Message(message) => message,
            };
            match message.inbound {
                Inbound::MethodCall { name, rid } => return DeviceMessage::MethodCall { name, rid, payload: message.payload },
                Inbound::DesiredPatch { version } => {
                    // A patch that is not JSON is skipped: there is nothing to acknowledge.
                    if let Ok(patch) = serde_json::from_slice(&message.payload) {
                        return DeviceMessage::DesiredPatch { version, patch };
                    }
                }
                Inbound::CloudToDevice { properties } => return DeviceMessage::CloudToDevice { properties, body: message.payload },
                // Answers nobody waits for any more (timed out), DPS topics, unknown topics.
                Inbound::TwinResponse { .. } | Inbound::DpsResponse { .. } | Inbound::Unknown(_) => {}
            }
        }
    }

    /// Disconnects.
    pub async fn close(self) {
        self.session.close().await;
    }

    fn check_status(&self, operation: &'static str, answer: &InboundMessage) -> Result<u16, DeviceError> {
        match answer.inbound {
            Inbound::TwinResponse { status, .. } => Ok(status),
            _ => Err(DeviceError::Protocol { endpoint: self.endpoint().to_owned(), operation, detail: "not a twin response".to_owned() }),
        }
    }

    fn refused(&self, operation: &'static str, status: u16, payload: &[u8]) -> DeviceError {
        DeviceError::Refused { endpoint: self.endpoint().to_owned(), operation, status, message: error_text(payload) }
    }
}

/// The service's error text from a response body (`{"errorCode":…,"message":…}` or `Message`).
pub fn error_text(payload: &[u8]) -> String {
    let Ok(body) = serde_json::from_slice::<Value>(payload) else {
        return String::from_utf8_lossy(payload).chars().take(200).collect();
    };
    ["message", "Message", "errorMessage"]
        .iter()
        .find_map(|name| body.get(name).and_then(Value::as_str))
        .map_or_else(|| body.to_string().chars().take(200).collect(), str::to_owned)
}

/// Seconds since the Unix epoch (SAS expiry is wall time, not the runtime's clock).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// How long a password is used before the connection is renewed.
pub const RENEW_AFTER: Duration = Duration::from_secs(TOKEN_TTL.as_secs() - RENEW_BEFORE.as_secs());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_come_from_the_usual_fields() {
        assert_eq!(error_text(br#"{"errorCode":400027,"message":"bad key"}"#), "bad key");
        assert_eq!(error_text(br#"{"Message":"ErrorCode:X;text"}"#), "ErrorCode:X;text");
        assert_eq!(error_text(b"plain"), "plain");
        assert_eq!(error_text(br#"{"other":1}"#), r#"{"other":1}"#);
    }

    #[test]
    fn debug_hides_the_key() {
        let identity = HubIdentity { host_name: "h".into(), device_id: "d".into(), key: Secret::new("c2VjcmV0"), gateway_host_name: None };
        assert!(!format!("{identity:?}").contains("c2VjcmV0"));
    }
}
