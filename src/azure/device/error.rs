//! The device side's errors: [`ConnectFailure`], why a connection or registration attempt failed,
//! classified the way the retry rules need it, and [`DeviceError`], everything else. Built from
//! names and statuses only: never a key, token or password.

use std::time::Duration;

use rumqttc::{ConnectReturnCode, ConnectionError};
use thiserror::Error;

/// Why connecting to a hub or registering with DPS failed, as the retry rules see it.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConnectFailure {
    /// The service refused the credentials (CONNACK 4/5, DPS 401): wrong key, unknown or
    /// disabled device, or a device that was moved to another hub.
    #[error("{endpoint} refused the device: not authorized (wrong key, unknown or disabled device, or moved to another hub)")]
    NotAuthorized {
        /// Where (`hub localhost`, `DPS localhost`).
        endpoint: String,
    },
    /// The service asked the device to slow down (DPS 429, twin 429).
    #[error("{endpoint} is throttling the device{}", retry_after.map_or_else(String::new, |wait| format!(" (retry after {} s)", wait.as_secs())))]
    Throttled {
        /// Where.
        endpoint: String,
        /// How long the service said to wait.
        retry_after: Option<Duration>,
    },
    /// Worth retrying later: connection refused, network, timeout, 5xx, CONNACK 3.
    #[error("{endpoint}: {detail}")]
    Transient {
        /// Where.
        endpoint: String,
        /// What happened.
        detail: String,
    },
    /// Retrying cannot help: a certificate not trusted, a bad URL, a DPS registration that failed.
    #[error("{endpoint}: {detail}")]
    Fatal {
        /// Where.
        endpoint: String,
        /// What happened.
        detail: String,
    },
}

impl ConnectFailure {
    /// Classifies what rumqttc reported while connecting or connected.
    pub fn from_mqtt(endpoint: &str, error: &ConnectionError) -> Self {
        let endpoint = endpoint.to_owned();
        match error {
            ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized | ConnectReturnCode::BadUserNamePassword) => {
                Self::NotAuthorized { endpoint }
            }
            ConnectionError::ConnectionRefused(ConnectReturnCode::ServiceUnavailable) => {
                // IoT Hub answers 3 when it is busy or throttling connections.
                Self::Transient { endpoint, detail: "the service is unavailable (CONNACK 3)".to_owned() }
            }
            ConnectionError::ConnectionRefused(code) => Self::Fatal { endpoint, detail: format!("connection refused: {code:?}") },
            ConnectionError::Tls(_) | ConnectionError::InvalidUrl(_) | ConnectionError::WsConnect(_) => {
                Self::Fatal { endpoint, detail: error.to_string() }
            }
            ConnectionError::ResponseValidation(_) => {
                Self::Fatal { endpoint, detail: "the WebSocket endpoint did not accept the mqtt subprotocol".to_owned() }
            }
            ConnectionError::Io(io) if is_certificate_error(io) => Self::Fatal { endpoint, detail: format!("TLS: {io}") },
            ConnectionError::Websocket(async_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                match status {
                    401 | 403 => Self::NotAuthorized { endpoint },
                    429 => Self::Throttled { endpoint, retry_after: None },
                    500..=599 => Self::Transient { endpoint, detail: format!("WebSocket upgrade answered {status}") },
                    _ => Self::Fatal { endpoint, detail: format!("WebSocket upgrade answered {status}") },
                }
            }
            ConnectionError::Websocket(async_tungstenite::tungstenite::Error::Io(io)) if is_certificate_error(io) => {
                Self::Fatal { endpoint, detail: format!("TLS: {io}") }
            }
            _ => Self::Transient { endpoint, detail: error.to_string() },
        }
    }

    /// Classifies a service status on a response topic (twin, DPS).
    pub fn from_status(endpoint: &str, status: u16, retry_after: Option<Duration>, detail: &str) -> Self {
        let endpoint = endpoint.to_owned();
        match status {
            401 | 403 => Self::NotAuthorized { endpoint },
            429 => Self::Throttled { endpoint, retry_after },
            500..=599 => Self::Transient { endpoint, detail: format!("the service answered {status}: {detail}") },
            _ => Self::Fatal { endpoint, detail: format!("the service answered {status}: {detail}") },
        }
    }
}

/// A TLS handshake failure on a certificate (not trusted, wrong name): retrying cannot help.
fn is_certificate_error(error: &std::io::Error) -> bool {
    error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).is_some_and(|tls| {
        matches!(tls, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented | rustls::Error::UnsupportedNameType)
    })
}

/// Everything else that can go wrong on the device side.
#[derive(Debug, Error)]
pub enum DeviceError {
    /// A bad device connection string.
    #[error(transparent)]
    ConnectionString(#[from] super::connection_string::DeviceConnectionStringError),
    /// A setting that cannot work (named, never its secret value).
    #[error("{0}")]
    InvalidSetting(String),
    /// The extra CA file could not be used.
    #[error("the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Connecting or registering failed for good (after the retry rules gave up).
    #[error(transparent)]
    Connect(#[from] ConnectFailure),
    /// The connection closed while a request was waiting.
    #[error("the connection to {endpoint} closed")]
    Closed {
        /// Where.
        endpoint: String,
    },
    /// No answer in time.
    #[error("{endpoint} did not answer the {operation} within {} s", timeout.as_secs())]
    Timeout {
        /// Where.
        endpoint: String,
        /// What was asked.
        operation: &'static str,
        /// How long it waited.
        timeout: Duration,
    },
    /// The service refused a request on a response topic.
    #[error("{endpoint} answered the {operation} with status {status}: {message}")]
    Refused {
        /// Where.
        endpoint: String,
        /// What was asked.
        operation: &'static str,
        /// The status on the response topic.
        status: u16,
        /// The service's error text, when it sent one.
        message: String,
    },
    /// The service sent something that is not what the protocol says.
    #[error("{endpoint} sent an unexpected {operation} answer: {detail}")]
    Protocol {
        /// Where.
        endpoint: String,
        /// What was asked.
        operation: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The hub's registry, for `--fleet` (creating the devices).
    #[error(transparent)]
    Service(#[from] super::super::AzureError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_connack_refusals() {
        let refused = |code| ConnectFailure::from_mqtt("hub h", &ConnectionError::ConnectionRefused(code));
        assert_eq!(refused(ConnectReturnCode::NotAuthorized), ConnectFailure::NotAuthorized { endpoint: "hub h".into() });
        assert_eq!(refused(ConnectReturnCode::BadUserNamePassword), ConnectFailure::NotAuthorized { endpoint: "hub h".into() });
        assert!(matches!(refused(ConnectReturnCode::ServiceUnavailable), ConnectFailure::Transient { .. }));
        assert!(matches!(refused(ConnectReturnCode::BadClientId), ConnectFailure::Fatal { .. }));
        let io = ConnectionError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(ConnectFailure::from_mqtt("hub h", &io), ConnectFailure::Transient { .. }));
        assert!(matches!(ConnectFailure::from_mqtt("hub h", &ConnectionError::NetworkTimeout), ConnectFailure::Transient { .. }));
        let untrusted = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(matches!(ConnectFailure::from_mqtt("hub h", &ConnectionError::Io(untrusted)), ConnectFailure::Fatal { .. }));
    }

    #[test]
    fn classifies_statuses() {
        let wait = Some(Duration::from_secs(3));
        assert_eq!(
            ConnectFailure::from_status("DPS d", 429, wait, ""),
            ConnectFailure::Throttled { endpoint: "DPS d".into(), retry_after: wait }
        );
        assert!(matches!(ConnectFailure::from_status("DPS d", 503, None, "busy"), ConnectFailure::Transient { .. }));
        assert!(matches!(ConnectFailure::from_status("DPS d", 401, None, ""), ConnectFailure::NotAuthorized { .. }));
        assert!(matches!(ConnectFailure::from_status("DPS d", 400, None, "bad"), ConnectFailure::Fatal { .. }));
        let throttled = ConnectFailure::Throttled { endpoint: "DPS d".into(), retry_after: wait };
        assert_eq!(throttled.to_string(), "DPS d is throttling the device (retry after 3 s)");
    }
}
