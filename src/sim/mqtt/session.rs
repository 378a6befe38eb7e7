//! One MQTT connection from CONNECT to close, over any byte stream (TLS or WebSocket): the
//! device's CONNECT checked as the hub (or DPS) checks it, then its requests answered on its own
//! response topics, and the hub's method calls, desired-property changes and cloud-to-device
//! messages pushed to it. A device that breaks the rules (another device's topics, unknown
//! topics, oversize or malformed packets, `QoS` 2) loses this connection and nothing else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{
    Codec, ConnAck, ConnectReturnCode, Packet, PubAck, Publish, SubAck, Subscribe, SubscribeReasonCode, UnsubAck,
};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::codec::Framed;

use super::connect::{Claimed, ConnectRefusal, DeviceCredentials, check_device_token, claimed};
use super::connections::{Interest, Link, Outbound, Outbox};
use super::desired_patch::desired_patch;
use super::topic::{self, DevicePublish, MessageProperties, Subscription, TopicError};
use crate::azure::wire::{AuthenticationType, ConnectionState, DeviceProtocol, DeviceStatus, MethodResult};
use crate::sim::clock::{now_ticks, unix_now};
use crate::sim::dps::Dps;
use crate::sim::error::HubError;
use crate::sim::hub::Hub;
use crate::sim::registry::Changes;

/// Largest device-to-cloud message (body and properties), as the service limits it.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Largest packet read: a maximal message plus room for its topic.
const MAX_PACKET_BYTES: usize = MAX_MESSAGE_BYTES + 16 * 1024;
/// How long a client has after the transport is up to send CONNECT.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `lastActivityTime` is written at most this often per connection.
const ACTIVITY_EVERY: Duration = Duration::from_secs(1);

/// What a listener serves: a hub's devices, DPS registrations, or both (the first hub's
/// listener, as DPS shares its host).
#[derive(Clone)]
pub struct Endpoint {
    /// The hub devices connect to.
    pub hub: Arc<Hub>,
    /// DPS, on the listener that serves it.
    pub dps: Option<Arc<Dps>>,
    /// How the bytes arrive.
    pub protocol: DeviceProtocol,
}

/// Why a connection was closed (logged at debug level; never a key).
#[derive(Debug, thiserror::Error)]
pub enum SessionEnd {
    /// The client closed it or said DISCONNECT.
    #[error("the client left")]
    Left,
    /// Not a valid MQTT 3.1.1 stream.
    #[error("malformed MQTT: {0}")]
    Malformed(String),
    /// Refused at CONNECT.
    #[error("CONNECT refused: {0}")]
    Refused(ConnectRefusal),
    /// A rule of the service was broken.
    #[error("{0}")]
    Violation(String),
    /// No packet within the keep-alive allowance, or no CONNECT in time.
    #[error("the client went quiet")]
    Quiet,
    /// Another connection with the same id took over, or the device was disabled/deleted.
    #[error("closed by the hub")]
    TakenOver,
    /// The simulator is stopping.
    #[error("the simulator is shutting down")]
    Shutdown,
}

pub(super) type Stream<S> = Framed<S, Codec>;

/// Serves one connection until it ends.
pub async fn serve<S>(stream: S, endpoint: Endpoint, mut shutdown: watch::Receiver<bool>) -> SessionEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framed = Framed::new(stream, Codec { max_incoming_size: MAX_PACKET_BYTES, max_outgoing_size: MAX_PACKET_BYTES * 2 });
    let first = tokio::select! {
        first = tokio::time::timeout(CONNECT_TIMEOUT, framed.next()) => first,
        _ = shutdown.changed() => return SessionEnd::Shutdown,
    };
    let connect = match first {
        Err(_) => return SessionEnd::Quiet,
        Ok(None) => return SessionEnd::Left,
        Ok(Some(Err(error))) => return SessionEnd::Malformed(error.to_string()),
        Ok(Some(Ok(Packet::Connect(connect)))) => connect,
        Ok(Some(Ok(other))) => return SessionEnd::Violation(format!("the first packet must be CONNECT, not {other:?}")),
    };
    let username = connect.login.as_ref().map_or("", |login| login.username.as_str());
    let password = connect.login.as_ref().map_or("", |login| login.password.as_str());
    let keep_alive = Duration::from_secs(u64::from(connect.keep_alive));
    let claim = match claimed(&connect.client_id, username) {
        Ok(claim) => claim,
        Err(refusal) => return refuse(&mut framed, refusal).await,
    };
    match claim {
        Claimed::Device { device_id, client_type, api_version, .. } => {
            if let Err(refusal) = authenticate_device(&endpoint.hub, &device_id, password) {
                return refuse(&mut framed, refusal).await;
            }
            let (link, outbox) = endpoint.hub.devices().attach(&device_id, endpoint.protocol, client_type, api_version);
            if framed.send(Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, false))).await.is_err() {
                endpoint.hub.devices().detach(&link);
                return SessionEnd::Left;
            }
            set_connected(&endpoint.hub, &device_id, true).await;
            let mut session = DeviceSession::new(Arc::clone(&endpoint.hub), Arc::clone(&link));
            let end = session.run(&mut framed, outbox, keep_alive, &mut shutdown).await;
            session.finish();
            if endpoint.hub.devices().detach(&link) {
                set_connected(&endpoint.hub, &device_id, false).await;
            }
            end
        }
        Claimed::Registration { id_scope, registration_id, api_version } => {
            let Some(dps) = endpoint.dps.clone() else {
                let refusal = ConnectRefusal::WrongEndpoint("this host is an IoT hub; DPS registrations go to the DPS host".to_owned());
                return refuse(&mut framed, refusal).await;
            };
            if !id_scope.eq_ignore_ascii_case(dps.id_scope()) {
                return refuse(&mut framed, ConnectRefusal::WrongEndpoint(format!("no DPS instance has ID scope '{id_scope}'"))).await;
            }
            if let Err(error) = dps.authenticate(Some(password), &registration_id) {
                return refuse(&mut framed, ConnectRefusal::BadToken(error.message)).await;
            }
            if framed.send(Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, false))).await.is_err() {
                return SessionEnd::Left;
            }
            let registration = super::registration::Registration { dps, registration_id, api_version, password: password.to_owned() };
            registration.run(&mut framed, keep_alive, &mut shutdown).await
        }
    }
}

async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(framed: &mut Stream<S>, refusal: ConnectRefusal) -> SessionEnd {
    let code = match refusal {
        ConnectRefusal::BadUsername(_) => ConnectReturnCode::BadUserNamePassword,
        ConnectRefusal::ClientIdMismatch { .. } => ConnectReturnCode::BadClientId,
        _ => ConnectReturnCode::NotAuthorized,
    };
    framed.send(Packet::ConnAck(ConnAck::new(code, false))).await.ok();
    SessionEnd::Refused(refusal)
}

fn authenticate_device(hub: &Hub, device_id: &str, password: &str) -> Result<(), ConnectRefusal> {
    let credentials = hub.read(|registry| {
        registry.get(device_id).ok().map(|record| DeviceCredentials {
            enabled: record.status == DeviceStatus::Enabled,
            keys: match (record.auth.kind, &record.auth.primary_key, &record.auth.secondary_key) {
                (AuthenticationType::Sas, Some(primary), Some(secondary)) => Some((primary.clone(), secondary.clone())),
                _ => None,
            },
        })
    });
    check_device_token(password, device_id, hub.host_names(), credentials.as_ref(), unix_now())
}

/// Records a real connection (or its end) in the registry: connection state and times. Not
/// written to disk on its own (nobody is connected after a restart).
async fn set_connected(hub: &Hub, device_id: &str, connected: bool) {
    let device_id = device_id.to_owned();
    hub.write(move |registry| {
        let now = now_ticks();
        if let Ok(record) = registry.get_mut(&device_id) {
            // When the real device leaves, a simulated device's own app takes over again.
            let state = if connected || record.simulated.is_some() { ConnectionState::Connected } else { ConnectionState::Disconnected };
            if record.connection_state != state {
                record.connection_state = state;
                record.connection_state_updated = now;
            }
            record.last_activity = now;
        }
        Ok(((), Changes::default()))
    })
    .await
    .ok();
}

/// A packet id for the next `QoS` 1 publish to the device (never 0).
pub(super) fn next_packet_id(counter: &mut u16) -> u16 {
    *counter = counter.checked_add(1).unwrap_or(1);
    *counter
}

/// What a `QoS` 1 publish to the device was, so its PUBACK can complete it.
enum Inflight {
    CloudToDevice(u64),
    Other,
}

struct DeviceSession {
    hub: Arc<Hub>,
    link: Arc<Link>,
    granted: HashMap<Subscription, QoS>,
    /// The desired section as this device last saw it (pushes carry the difference).
    desired_seen: Map<String, Value>,
    inflight: HashMap<u16, Inflight>,
    packet_ids: u16,
    last_activity_written: Option<Instant>,
}

impl DeviceSession {
    fn new(hub: Arc<Hub>, link: Arc<Link>) -> Self {
        let desired_seen =
            hub.read(|registry| registry.get(&link.info.device_id).map(|record| record.twin.desired.to_values()).unwrap_or_default());
        Self { hub, link, granted: HashMap::new(), desired_seen, inflight: HashMap::new(), packet_ids: 0, last_activity_written: None }
    }

    fn device_id(&self) -> &str {
        &self.link.info.device_id
    }

    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        framed: &mut Stream<S>,
        mut outbox: Outbox,
        keep_alive: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        // The service allows one and a half keep-alive periods of silence.
        let allowance = (!keep_alive.is_zero()).then(|| keep_alive + keep_alive / 2);
        let closed = self.link.closed().clone();
        loop {
            let quiet = async {
                match allowance {
                    Some(allowance) => tokio::time::sleep(allowance).await,
                    None => std::future::pending().await,
                }
            };
            let outcome = tokio::select! {
                packet = framed.next() => match packet {
                    None => return SessionEnd::Left,
                    Some(Err(error)) => return SessionEnd::Malformed(error.to_string()),
                    Some(Ok(packet)) => self.on_packet(framed, packet).await,
                },
                Some(outbound) = outbox.recv() => self.on_outbound(framed, outbound).await,
                () = closed.cancelled() => return SessionEnd::TakenOver,
                () = quiet => return SessionEnd::Quiet,
                _ = shutdown.changed() => return SessionEnd::Shutdown,
            };
            if let Err(end) = outcome {
                return end;
            }
        }
    }

    /// Offers the connection's undelivered messages again.
    fn finish(&mut self) {
        for inflight in self.inflight.values() {
            if let Inflight::CloudToDevice(lock_token) = inflight {
                self.hub.c2d().abandon(self.device_id(), *lock_token);
            }
        }
    }

    async fn on_packet<S: AsyncRead + AsyncWrite + Unpin>(&mut self, framed: &mut Stream<S>, packet: Packet) -> Result<(), SessionEnd> {
        match packet {
            Packet::Publish(publish) => self.on_publish(framed, publish).await,
            Packet::Subscribe(subscribe) => self.on_subscribe(framed, subscribe).await,
            Packet::Unsubscribe(unsubscribe) => send(framed, Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid))).await,
            Packet::PubAck(ack) => {
                if let Some(Inflight::CloudToDevice(lock_token)) = self.inflight.remove(&ack.pkid) {
                    self.hub.c2d().complete(self.device_id(), lock_token);
                    self.deliver_waiting(framed).await?;
                }
                Ok(())
            }
            Packet::PingReq => send(framed, Packet::PingResp).await,
            Packet::Disconnect => Err(SessionEnd::Left),
            Packet::Connect(_) => Err(SessionEnd::Violation("a second CONNECT on one connection".to_owned())),
            other => Err(SessionEnd::Violation(format!("{other:?} is not a packet a device sends to IoT Hub"))),
        }
    }

    async fn on_subscribe<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        framed: &mut Stream<S>,
        subscribe: Subscribe,
    ) -> Result<(), SessionEnd> {
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut c2d_subscribed = false;
        for filter in &subscribe.filters {
            match topic::parse_subscription(&filter.path, self.device_id()) {
                Ok(Subscription::DpsResponses) | Err(_) => codes.push(SubscribeReasonCode::Failure),
                Ok(subscription) => {
                    let qos = if filter.qos == QoS::AtMostOnce { QoS::AtMostOnce } else { QoS::AtLeastOnce };
                    self.granted.insert(subscription, qos);
                    match subscription {
                        Subscription::Methods => self.link.add_interest(Interest::Methods),
                        Subscription::DesiredPatches => self.link.add_interest(Interest::DesiredPatches),
                        Subscription::CloudToDevice => {
                            self.link.add_interest(Interest::CloudToDevice);
                            c2d_subscribed = true;
                        }
                        Subscription::TwinResponses | Subscription::DpsResponses => {}
                    }
                    codes.push(SubscribeReasonCode::Success(qos));
                }
            }
        }
        send(framed, Packet::SubAck(SubAck::new(subscribe.pkid, codes))).await?;
        if c2d_subscribed {
            self.deliver_waiting(framed).await?;
        }
        Ok(())
    }

    async fn on_publish<S: AsyncRead + AsyncWrite + Unpin>(&mut self, framed: &mut Stream<S>, publish: Publish) -> Result<(), SessionEnd> {
        if publish.qos == QoS::ExactlyOnce {
            return Err(SessionEnd::Violation("IoT Hub does not support QoS 2".to_owned()));
        }
        let request = topic::parse_device_publish(&publish.topic, self.device_id()).map_err(|error| violation(&error))?;
        match request {
            DevicePublish::Telemetry(properties) => self.on_telemetry(properties, publish.payload)?,
            DevicePublish::TwinGet { rid } => {
                let answer = self.hub.read(|registry| {
                    registry.get(self.device_id()).map(|record| {
                        let twin = &record.twin;
                        (twin.desired.to_values(), twin.desired_version, twin.reported.to_values(), twin.reported_version)
                    })
                });
                let (topic, body) = match answer {
                    Ok((desired, desired_version, reported, reported_version)) => {
                        self.desired_seen.clone_from(&desired);
                        let body = json!({"desired": with_version(desired, desired_version), "reported": with_version(reported, reported_version)});
                        (topic::twin_response(200, &rid, None), body.to_string())
                    }
                    Err(error) => (topic::twin_response(error.status(), &rid, None), error_body(&error)),
                };
                self.publish(framed, Subscription::TwinResponses, topic, Bytes::from(body), None).await?;
            }
            DevicePublish::TwinPatchReported { rid } => {
                let (topic, body) = match self.patch_reported(&publish.payload).await {
                    Ok(version) => (topic::twin_response(204, &rid, Some(version)), String::new()),
                    Err(error) => (topic::twin_response(error.status(), &rid, None), error_body(&error)),
                };
                self.publish(framed, Subscription::TwinResponses, topic, Bytes::from(body), None).await?;
            }
            DevicePublish::MethodResponse { status, rid } => {
                let payload = method_payload(&publish.payload);
                // A late or unknown answer is dropped, as the service drops it.
                self.hub.devices().answer(&self.link, &rid, MethodResult { status: i64::from(status), payload });
            }
            DevicePublish::DpsRegister { .. } | DevicePublish::DpsOperationStatus { .. } => {
                return Err(SessionEnd::Violation("DPS requests go to the DPS host, not a hub".to_owned()));
            }
        }
        if publish.qos == QoS::AtLeastOnce {
            send(framed, Packet::PubAck(PubAck::new(publish.pkid))).await?;
        }
        self.touch().await;
        Ok(())
    }

    fn on_telemetry(&self, properties: MessageProperties, body: Bytes) -> Result<(), SessionEnd> {
        let property_bytes: usize =
            properties.system.iter().chain(properties.application.iter().map(|(k, v)| (k, v))).map(|(k, v)| k.len() + v.len()).sum();
        if body.len() + property_bytes > MAX_MESSAGE_BYTES {
            return Err(SessionEnd::Violation(format!(
                "a {} byte message is larger than the {MAX_MESSAGE_BYTES} bytes IoT Hub accepts",
                body.len() + property_bytes
            )));
        }
        // Over quota the hub does not answer MQTT telemetry with an error: it closes the connection.
        if let Err(refused) = self.hub.quotas().check_messages() {
            return Err(SessionEnd::Violation(refused.message));
        }
        self.hub.quotas().charge_messages(self.hub.quotas().meter().chunks(body.len()));
        self.hub.d2c().append(self.device_id(), properties, body);
        Ok(())
    }

    async fn patch_reported(&self, payload: &[u8]) -> Result<u64, HubError> {
        let patch: Value =
            serde_json::from_slice(payload).map_err(|error| HubError::invalid(format!("the reported patch is not JSON: {error}")))?;
        let Value::Object(patch) = patch else {
            return Err(HubError::invalid("the reported patch must be a JSON object"));
        };
        let device_id = self.device_id().to_owned();
        self.hub
            .write(move |registry| {
                let version = registry.patch_reported(&device_id, &patch, now_ticks())?;
                Ok((version, Changes::upsert(&device_id)))
            })
            .await
    }

    async fn on_outbound<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        framed: &mut Stream<S>,
        outbound: Outbound,
    ) -> Result<(), SessionEnd> {
        match outbound {
            Outbound::Method { rid, method_name, payload } => {
                let topic = topic::method_request(&method_name, &rid);
                self.publish(framed, Subscription::Methods, topic, Bytes::from(payload.to_string()), None).await
            }
            Outbound::DesiredChanged => {
                let current = self.hub.read(|registry| {
                    registry.get(self.device_id()).map(|record| (record.twin.desired.to_values(), record.twin.desired_version))
                });
                let Ok((desired, version)) = current else { return Ok(()) };
                let Some(mut patch) = desired_patch(&self.desired_seen, &desired) else { return Ok(()) };
                self.desired_seen = desired;
                patch.insert("$version".to_owned(), json!(version));
                let body = Bytes::from(Value::Object(patch).to_string());
                self.publish(framed, Subscription::DesiredPatches, topic::desired_patch(version), body, None).await
            }
            Outbound::CloudToDeviceWaiting => self.deliver_waiting(framed).await,
        }
    }

    /// Sends waiting cloud-to-device messages, one at a time unacknowledged at `QoS` 1.
    async fn deliver_waiting<S: AsyncRead + AsyncWrite + Unpin>(&mut self, framed: &mut Stream<S>) -> Result<(), SessionEnd> {
        let Some(&qos) = self.granted.get(&Subscription::CloudToDevice) else { return Ok(()) };
        if self.inflight.values().any(|inflight| matches!(inflight, Inflight::CloudToDevice(_))) {
            return Ok(());
        }
        while let Some(message) = self.hub.c2d().next_for_delivery(self.device_id()) {
            let topic = topic::cloud_to_device(self.device_id(), &message.properties);
            let lock_token = message.lock_token;
            self.publish(framed, Subscription::CloudToDevice, topic, message.body, Some(lock_token)).await?;
            if qos == QoS::AtLeastOnce {
                break;
            }
            // At QoS 0 the message counts as delivered once sent.
            self.hub.c2d().complete(self.device_id(), lock_token);
        }
        Ok(())
    }

    /// Publishes at the `QoS` the device subscribed with (0 when it did not subscribe: requests'
    /// answers still reach it, as the service sends them).
    async fn publish<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        framed: &mut Stream<S>,
        subscription: Subscription,
        topic: String,
        payload: Bytes,
        c2d_lock: Option<u64>,
    ) -> Result<(), SessionEnd> {
        let qos = self.granted.get(&subscription).copied().unwrap_or(QoS::AtMostOnce);
        let mut publish = Publish::from_bytes(topic, qos, payload);
        if qos == QoS::AtLeastOnce {
            publish.pkid = next_packet_id(&mut self.packet_ids);
            self.inflight.insert(publish.pkid, c2d_lock.map_or(Inflight::Other, Inflight::CloudToDevice));
        }
        send(framed, Packet::Publish(publish)).await
    }

    /// Updates `lastActivityTime` (at most once a second).
    async fn touch(&mut self) {
        let now = Instant::now();
        if self.last_activity_written.is_some_and(|at| now.duration_since(at) < ACTIVITY_EVERY) {
            return;
        }
        self.last_activity_written = Some(now);
        let device_id = self.device_id().to_owned();
        self.hub
            .write(move |registry| {
                if let Ok(record) = registry.get_mut(&device_id) {
                    record.last_activity = now_ticks();
                }
                Ok(((), Changes::default()))
            })
            .await
            .ok();
    }
}

pub(super) fn violation(error: &TopicError) -> SessionEnd {
    SessionEnd::Violation(error.to_string())
}

fn with_version(mut section: Map<String, Value>, version: u64) -> Value {
    section.insert("$version".to_owned(), json!(version));
    Value::Object(section)
}

/// The body of an error answer on a twin response topic.
fn error_body(error: &HubError) -> String {
    json!({"errorCode": error.code.number(), "message": error.message}).to_string()
}

/// A device's method answer: JSON as sent; empty means `null`; anything else is kept as text.
fn method_payload(payload: &[u8]) -> Value {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(payload).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

pub(super) async fn send<S: AsyncRead + AsyncWrite + Unpin>(framed: &mut Stream<S>, packet: Packet) -> Result<(), SessionEnd> {
    framed.send(packet).await.map_err(|error| SessionEnd::Malformed(error.to_string()))
}

#[cfg(test)]
mod tests {
    //! Hostile bytes against one session, on a paused clock: whatever arrives, the session ends
    //! (never hangs, never panics) and the hub is left as it was.

    use bytes::BytesMut;
    use proptest::prelude::*;
    use rumqttc::mqttbytes::v4::{Connect, Login};

    use super::*;
    use crate::azure::sas::{build_token, decode_key, encode_component};
    use crate::azure::wire::Device;
    use crate::sim::methods::MethodConfig;
    use crate::sim::registry::Registry;

    fn hub_with_device() -> (Arc<Hub>, Vec<u8>) {
        let mut registry = Registry::default();
        let record = registry.put_device("d1", &Device::new_with_generated_keys("d1"), None, 1).unwrap();
        let key = decode_key(record.auth.primary_key.as_ref().unwrap()).unwrap();
        (Hub::for_tests(registry, None, MethodConfig::default()), key)
    }

    fn connect_bytes(key: &[u8]) -> Vec<u8> {
        let password = build_token(&encode_component("localhost/devices/d1"), key, unix_now() + 3600, None);
        let mut connect = Connect::new("d1");
        connect.login = Some(Login::new("localhost/d1/?api-version=2021-04-12", password.expose()));
        let mut buffer = BytesMut::new();
        Packet::Connect(connect).write(&mut buffer, usize::MAX).unwrap();
        buffer.to_vec()
    }

    /// Runs one session fed `bytes` (after a valid CONNECT when `connected`), then EOF.
    fn session_over(bytes: &[u8], connected: bool) -> SessionEnd {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let (hub, key) = hub_with_device();
            let (mut client, server) = tokio::io::duplex(1 << 20);
            let (_stop, shutdown) = watch::channel(false);
            let endpoint = Endpoint { hub: Arc::clone(&hub), dps: None, protocol: DeviceProtocol::Mqtt };
            let serving = tokio::spawn(serve(server, endpoint, shutdown));
            let mut input = if connected { connect_bytes(&key) } else { Vec::new() };
            input.extend_from_slice(bytes);
            tokio::io::AsyncWriteExt::write_all(&mut client, &input).await.ok();
            tokio::io::AsyncWriteExt::shutdown(&mut client).await.ok();
            // Keep reading what the server sends so it never blocks on a full pipe.
            let draining = tokio::spawn(async move {
                let mut sink = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut client, &mut sink).await.ok();
            });
            let end = serving.await.expect("the session task never panics");
            draining.await.ok();
            assert!(hub.devices().list().is_empty(), "a finished session leaves no connection behind");
            end
        })
    }

    #[test]
    fn a_valid_connect_then_eof_is_a_clean_leave() {
        assert!(matches!(session_over(&[], true), SessionEnd::Left), "{:?}", session_over(&[], true));
    }

    #[test]
    fn a_connection_that_never_sends_connect_is_closed_at_the_connect_timeout() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        let end = runtime.block_on(async {
            let (hub, _) = hub_with_device();
            let (_client, server) = tokio::io::duplex(1024);
            let (_stop, shutdown) = watch::channel(false);
            let started = Instant::now();
            let end = serve(server, Endpoint { hub, dps: None, protocol: DeviceProtocol::Mqtt }, shutdown).await;
            assert_eq!(started.elapsed(), CONNECT_TIMEOUT);
            end
        });
        assert!(matches!(end, SessionEnd::Quiet), "{end:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_before_connect_end_the_session(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            session_over(&bytes, false);
        }

        #[test]
        fn arbitrary_bytes_after_connect_end_the_session(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            session_over(&bytes, true);
        }

        #[test]
        fn arbitrary_publishes_end_or_answer_without_a_panic(
            topic in "(devices/d1/messages/events/|devices/d2/|\\$iothub/twin/(GET|PATCH/properties/reported)/\\?\\$rid=|\\$iothub/methods/res/[0-9]{1,4}/\\?\\$rid=|\\$dps/registrations/PUT/iotdps-register/\\?\\$rid=)[a-z0-9%&=.$]{0,20}",
            payload in prop::collection::vec(any::<u8>(), 0..200),
            qos in 0_u8..2,
        ) {
            let qos = if qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
            let mut publish = Publish::new(topic, qos, payload);
            publish.pkid = u16::from(qos == QoS::AtLeastOnce);
            let mut buffer = BytesMut::new();
            Packet::Publish(publish).write(&mut buffer, usize::MAX).unwrap();
            session_over(&buffer, true);
        }
    }
}
