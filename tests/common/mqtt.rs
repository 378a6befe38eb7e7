//! A bare MQTT device for tests: rumqttc over TLS (or WSS) to the simulator's device endpoint,
//! connecting and publishing exactly as the device SDKs do, with every packet the server sends
//! collected so a test can wait for the one it expects.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hubdeck::azure::sas::{build_token, decode_key, encode_component};
use hubdeck::azure::secret::Secret;
use rumqttc::{AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;

/// What the server sent, as the test sees it.
#[derive(Debug)]
pub enum Seen {
    /// CONNACK with its code.
    ConnAck(ConnectReturnCode),
    /// A PUBLISH to the device.
    Publish(Publish),
    /// SUBACK (return codes as sent).
    SubAck(Vec<rumqttc::SubscribeReasonCode>),
    /// PUBACK of a device publish.
    PubAck(u16),
    /// The connection ended (with why).
    Closed(String),
}

/// A connected (or refused) test device.
pub struct TestDevice {
    pub client: AsyncClient,
    pub seen: mpsc::Receiver<Seen>,
}

/// A rustls client configuration trusting only the simulator's CA.
pub fn tls_config(ca_path: &Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(ca_path).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    {
        use rustls::pki_types::pem::PemObject as _;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A device SAS password as the Python SDK makes it (`sr` URL-encoded, no `skn`).
pub fn device_password(host: &str, device_id: &str, key: &Secret, expiry_secs: u64) -> String {
    let resource = encode_component(&format!("{host}/devices/{device_id}"));
    build_token(&resource, &decode_key(key).unwrap(), expiry_secs, None).expose().to_owned()
}

/// One hour from now, as SDK tokens are.
pub fn in_an_hour() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600
}

/// How to reach the endpoint.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// MQTT over TLS at this address.
    Tls(SocketAddr),
    /// MQTT over WebSocket on the HTTPS listener at this address.
    WebSocket(SocketAddr),
}

/// Connects with `client_id`, `username` and `password` and starts collecting what arrives.
pub fn connect(via: Via, ca_path: &Path, client_id: &str, username: &str, password: &str) -> TestDevice {
    let tls = TlsConfiguration::Rustls(tls_config(ca_path));
    let mut options = match via {
        Via::Tls(address) => {
            let mut options = MqttOptions::new(client_id, host_of(address), address.port());
            options.set_transport(Transport::tls_with_config(tls));
            options
        }
        Via::WebSocket(address) => {
            let url = format!("wss://{}:{}/$iothub/websocket", host_of(address), address.port());
            let mut options = MqttOptions::new(client_id, url, address.port());
            options.set_transport(Transport::wss_with_config(tls));
            options
        }
    };
    options.set_credentials(username, password);
    options.set_keep_alive(Duration::from_mins(1));
    options.set_max_packet_size(1024 * 1024, 1024 * 1024);
    let (client, mut event_loop) = AsyncClient::new(options, 64);
    let (sender, seen) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let event = event_loop.poll().await;
            let seen = match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => Seen::ConnAck(ack.code),
                Ok(Event::Incoming(Packet::Publish(publish))) => Seen::Publish(publish),
                Ok(Event::Incoming(Packet::SubAck(ack))) => Seen::SubAck(ack.return_codes),
                Ok(Event::Incoming(Packet::PubAck(ack))) => Seen::PubAck(ack.pkid),
                Ok(_) => continue,
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                    sender.send(Seen::ConnAck(code)).await.ok();
                    return;
                }
                Err(error) => {
                    sender.send(Seen::Closed(error.to_string())).await.ok();
                    return;
                }
            };
            if sender.send(seen).await.is_err() {
                return;
            }
        }
    });
    TestDevice { client, seen }
}

/// The name a device uses for an address (the certificate names `localhost` and each hub's
/// loopback address).
fn host_of(address: SocketAddr) -> String {
    if address.ip() == std::net::Ipv4Addr::LOCALHOST { "localhost".to_owned() } else { address.ip().to_string() }
}

/// The username the Python SDK sends.
pub fn device_username(host: &str, device_id: &str) -> String {
    format!("{host}/{device_id}/?api-version=2019-10-01&DeviceClientType=azure-iot-device-py%2F2.14.0%28test%29")
}

impl TestDevice {
    /// Waits (up to 20 s) for the first arrival `pick` accepts, skipping others.
    pub async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(&Seen) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let seen = tokio::time::timeout_at(deadline, self.seen.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("the connection task ended while waiting for {what}"));
            if let Some(found) = pick(&seen) {
                return found;
            }
            if let Seen::Closed(reason) = &seen {
                panic!("the connection closed ({reason}) while waiting for {what}");
            }
        }
    }

    /// Waits for CONNACK and returns its code.
    pub async fn connack(&mut self) -> ConnectReturnCode {
        self.expect("CONNACK", |seen| match seen {
            Seen::ConnAck(code) => Some(*code),
            _ => None,
        })
        .await
    }

    /// Waits for a PUBLISH whose topic starts with `prefix`.
    pub async fn publish_to(&mut self, prefix: &str) -> Publish {
        self.expect(prefix, |seen| match seen {
            Seen::Publish(publish) if publish.topic.starts_with(prefix) => Some(publish.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for the connection to end; returns why.
    pub async fn closed(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout_at(deadline, self.seen.recv()).await {
                Err(elapsed) => panic!("timed out waiting for the connection to close: {elapsed}"),
                Ok(None) => return "the connection task ended".to_owned(),
                Ok(Some(Seen::Closed(reason))) => return reason,
                Ok(Some(_)) => {}
            }
        }
    }

    /// Subscribes to `filters` (`QoS` 1) and returns the SUBACK codes.
    pub async fn subscribe(&mut self, filters: &[&str]) -> Vec<rumqttc::SubscribeReasonCode> {
        let filters: Vec<rumqttc::SubscribeFilter> =
            filters.iter().map(|filter| rumqttc::SubscribeFilter::new((*filter).to_owned(), QoS::AtLeastOnce)).collect();
        self.client.subscribe_many(filters).await.unwrap();
        self.expect("SUBACK", |seen| match seen {
            Seen::SubAck(codes) => Some(codes.clone()),
            _ => None,
        })
        .await
    }
}
