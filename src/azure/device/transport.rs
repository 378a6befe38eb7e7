//! How a device reaches the service: MQTT 3.1.1 over TLS (8883) or over a secure WebSocket
//! (`wss://host:443/$iothub/websocket`, subprotocol `mqtt`), trusting the OS roots plus an
//! optional extra CA, and the rumqttc options for one connection.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use super::super::secret::Secret;
use super::connection_string::split_host_port;
use super::error::DeviceError;

/// MQTT over TLS.
pub const MQTT_TLS_PORT: u16 = 8883;
/// MQTT over WebSocket (shared with HTTPS).
pub const WEBSOCKET_PORT: u16 = 443;
/// The WebSocket path of IoT Hub and DPS.
pub const WEBSOCKET_PATH: &str = "/$iothub/websocket";
/// Largest packet accepted from the service: a full twin (tags 8 KB, desired and reported 32 KB
/// each, plus metadata) fits with room to spare.
const MAX_INCOMING_PACKET: usize = 1024 * 1024;
/// Largest packet sent: the 256 KB message limit plus the topic.
const MAX_OUTGOING_PACKET: usize = 256 * 1024 + 4096;

/// How every connection of a device (hub and DPS) is made.
#[derive(Clone)]
pub struct TransportSettings {
    /// MQTT over WebSocket instead of MQTT over TLS.
    pub websockets: bool,
    /// A port instead of the default (8883 for TLS, 443 for WebSocket), for tests and gateways.
    pub port_override: Option<u16>,
    /// Ports for particular hosts (`127.0.0.2` → 18884), before `port_override`: for a simulator
    /// whose hubs listen on different ports, so a device DPS moves still finds its new hub.
    pub host_ports: Vec<(String, u16)>,
    /// The TLS client configuration (roots to trust).
    pub tls: Arc<rustls::ClientConfig>,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// How long to wait for the TCP, TLS and MQTT handshakes and for each answer.
    pub timeout: Duration,
}

impl TransportSettings {
    /// MQTT over TLS on the default port, 60 s keep-alive, 30 s timeouts.
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            websockets: false,
            port_override: None,
            host_ports: Vec::new(),
            tls,
            keep_alive: Duration::from_mins(1),
            timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for TransportSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportSettings")
            .field("websockets", &self.websockets)
            .field("port_override", &self.port_override)
            .field("host_ports", &self.host_ports)
            .field("keep_alive", &self.keep_alive)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A TLS configuration trusting the OS roots plus the certificates of `ca_file` (PEM), if any.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, DeviceError> {
    let extra = match ca_file {
        Some(path) => Some((
            path.display().to_string(),
            std::fs::read(path).map_err(|error| DeviceError::CaFile { path: path.display().to_string(), reason: error.to_string() })?,
        )),
        None => None,
    };
    tls_config_with(extra.as_ref().map(|(name, pem)| (name.as_str(), pem.as_slice())), true)
}

/// A TLS configuration trusting `extra_ca` (`(name for errors, PEM)`) and, when `os_roots`, the
/// OS roots.
pub fn tls_config_with(extra_ca: Option<(&str, &[u8])>, os_roots: bool) -> Result<Arc<rustls::ClientConfig>, DeviceError> {
    let mut roots = rustls::RootCertStore::empty();
    if os_roots {
        // Unreadable OS certificates are skipped: the extra CA may be all that is needed.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
    }
    if let Some((name, pem)) = extra_ca {
        let ca_error = |reason: String| DeviceError::CaFile { path: name.to_owned(), reason };
        let certificates: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pem).collect::<Result<_, _>>().map_err(|error| ca_error(format!("not PEM: {error}")))?;
        if certificates.is_empty() {
            return Err(ca_error("it holds no PEM certificate".to_owned()));
        }
        for certificate in certificates {
            roots.add(certificate).map_err(|error| ca_error(format!("not a usable CA certificate: {error}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| DeviceError::InvalidSetting(format!("TLS: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Where one connection goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host to open the connection to (also the TLS server name).
    pub host: String,
    /// The port.
    pub port: u16,
    /// Over WebSocket.
    pub websockets: bool,
}

impl Target {
    /// The target for `host_and_port` (a `HostName` or `GatewayHostName`): the host's own port
    /// from `host_ports`, else the override port, else
    /// a WebSocket connection's port from the name, a TLS connection's port from the name only
    /// when it came from a gateway (a hub `HostName` port is its HTTPS port), else the default.
    pub fn resolve(host_and_port: &str, port_is_mqtt: bool, settings: &TransportSettings) -> Self {
        let (host, named_port) = split_host_port(host_and_port);
        let host_port = settings.host_ports.iter().find(|(name, _)| name.eq_ignore_ascii_case(host)).map(|(_, port)| *port);
        let port = host_port.or(settings.port_override).unwrap_or(match (settings.websockets, named_port) {
            (true, Some(port)) => port,
            (true, None) => WEBSOCKET_PORT,
            (false, Some(port)) if port_is_mqtt => port,
            (false, _) => MQTT_TLS_PORT,
        });
        Self { host: host.to_owned(), port, websockets: settings.websockets }
    }

    /// `mqtts://host:port` or `wss://host:port/$iothub/websocket`, for messages.
    pub fn url(&self) -> String {
        if self.websockets {
            format!("wss://{}:{}{WEBSOCKET_PATH}", self.host, self.port)
        } else {
            format!("mqtts://{}:{}", self.host, self.port)
        }
    }
}

/// The rumqttc options of one connection. `clean_session` is off, as the SDKs send it.
pub fn mqtt_options(target: &Target, client_id: &str, username: String, password: &Secret, settings: &TransportSettings) -> MqttOptions {
    let tls = TlsConfiguration::Rustls(Arc::clone(&settings.tls));
    let mut options = if target.websockets {
        // For WebSocket, rumqttc takes host and port from the URL.
        let mut options = MqttOptions::new(client_id, target.url(), target.port);
        options.set_transport(Transport::Wss(tls));
        options
    } else {
        let mut options = MqttOptions::new(client_id, target.host.clone(), target.port);
        options.set_transport(Transport::Tls(tls));
        options
    };
    options
        .set_credentials(username, password.expose())
        .set_keep_alive(settings.keep_alive)
        .set_clean_session(false)
        .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET)
        .set_request_channel_capacity(64);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(websockets: bool, port_override: Option<u16>) -> TransportSettings {
        TransportSettings { websockets, port_override, ..TransportSettings::new(tls_config_with(None, false).unwrap()) }
    }

    #[test]
    fn ports_follow_the_sdks() {
        assert_eq!(Target::resolve("myhub.azure-devices.net", false, &settings(false, None)).port, 8883);
        assert_eq!(Target::resolve("localhost:8443", false, &settings(false, None)).port, 8883, "a HostName port is HTTPS");
        assert_eq!(Target::resolve("localhost:18883", true, &settings(false, None)).port, 18883, "a gateway port is MQTT");
        assert_eq!(Target::resolve("myhub.azure-devices.net", false, &settings(true, None)).port, 443);
        assert_eq!(Target::resolve("localhost:8443", false, &settings(true, None)).port, 8443);
        let overridden = Target::resolve("localhost:8443", false, &settings(true, Some(9000)));
        assert_eq!(overridden, Target { host: "localhost".into(), port: 9000, websockets: true });
        assert_eq!(overridden.url(), "wss://localhost:9000/$iothub/websocket");
        assert_eq!(Target::resolve("h", false, &settings(false, None)).url(), "mqtts://h:8883");
        let mut per_host = settings(false, Some(9000));
        per_host.host_ports.push(("127.0.0.2".into(), 9001));
        assert_eq!(Target::resolve("127.0.0.2", false, &per_host).port, 9001);
        assert_eq!(Target::resolve("localhost", false, &per_host).port, 9000);
    }

    #[test]
    fn an_unusable_ca_file_is_named() {
        let error = tls_config_with(Some(("ca.pem", b"not a certificate")), false).unwrap_err();
        assert_eq!(error.to_string(), "the CA file ca.pem: it holds no PEM certificate");
        let path = std::env::temp_dir().join("hubdeck-no-such-ca.pem");
        assert!(tls_config(Some(&path)).unwrap_err().to_string().starts_with("the CA file "));
    }

    #[test]
    fn options_carry_the_credentials_and_limits() {
        let settings = settings(false, None);
        let target = Target::resolve("localhost", false, &settings);
        let options = mqtt_options(&target, "door-1", "user".to_owned(), &Secret::new("token"), &settings);
        assert_eq!(options.client_id(), "door-1");
        assert_eq!(options.broker_address(), ("localhost".to_owned(), 8883));
        assert!(!options.clean_session());
        let login = options.credentials().unwrap();
        assert_eq!((login.username.as_str(), login.password.as_str()), ("user", "token"));
    }
}
