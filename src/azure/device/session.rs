//! One MQTT connection to the hub or DPS: CONNECT and SUBSCRIBE awaited, then a task that
//! reads the connection, hands each answer to the request waiting for its `$rid`, completes
//! QoS 1 publishes on their PUBACK, and queues everything else for the device.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, SubscribeFilter, SubscribeReasonCode};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::error::{ConnectFailure, DeviceError};
use super::topics::{Inbound, parse_inbound};

/// Messages queued for the device before it reads them; the reader waits when it is full.
const EVENT_QUEUE: usize = 256;

/// A message the service published to this connection.
#[derive(Clone, Debug)]
pub struct InboundMessage {
    /// What the topic says.
    pub inbound: Inbound,
    /// The payload.
    pub payload: Bytes,
}

/// What the connection reports to the device.
#[derive(Debug)]
pub enum SessionEvent {
    /// A message that is not an answer to a request.
    Message(InboundMessage),
    /// The connection ended (the reason, classified for the retry rules).
    Closed(ConnectFailure),
}

/// Publishes in the order rumqttc sends them, so the n-th `Outgoing::Publish` event belongs to
/// the n-th queued publish, and PUBACKs are matched by packet id from there.
#[derive(Default)]
struct AckTracker {
    queued: VecDeque<Option<oneshot::Sender<()>>>,
    in_flight: HashMap<u16, oneshot::Sender<()>>,
}

#[derive(Default)]
struct Shared {
    acks: Mutex<AckTracker>,
    responses: Mutex<HashMap<String, oneshot::Sender<InboundMessage>>>,
}

impl Shared {
    /// Dropping the waiters tells every pending request that the connection closed.
    fn fail_all(&self) {
        self.responses.lock().clear();
        let mut acks = self.acks.lock();
        acks.queued.clear();
        acks.in_flight.clear();
    }
}

/// One open MQTT connection.
pub struct MqttSession {
    endpoint: String,
    client: AsyncClient,
    publish_order: tokio::sync::Mutex<()>,
    shared: Arc<Shared>,
    events: mpsc::Receiver<SessionEvent>,
    task: JoinHandle<()>,
    timeout: Duration,
    rid_prefix: u32,
    next_rid: AtomicU64,
}

impl MqttSession {
    /// Connects, subscribes to `filters` (QoS 1) and starts reading. `endpoint` names the service
    /// in messages; `device_id` is whose cloud-to-device topic to recognise.
    pub async fn open(
        endpoint: String,
        options: MqttOptions,
        device_id: String,
        filters: Vec<String>,
        timeout: Duration,
    ) -> Result<Self, ConnectFailure> {
        let (client, mut event_loop) = AsyncClient::new(options, 64);
        let mut network = event_loop.network_options();
        network.set_connection_timeout(timeout.as_secs().max(1));
        event_loop.set_network_options(network);
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let handshake = handshake(&endpoint, &client, &mut event_loop, &filters, &device_id, &events_tx);
        match tokio::time::timeout(timeout, handshake).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(ConnectFailure::Transient { endpoint, detail: format!("no CONNACK/SUBACK within {} s", timeout.as_secs()) });
            }
        }
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(pump(event_loop, Arc::clone(&shared), events_tx, endpoint.clone(), device_id));
        Ok(Self {
            endpoint,
            client,
            publish_order: tokio::sync::Mutex::new(()),
            shared,
            events,
            task,
            timeout,
            rid_prefix: rand::random(),
            next_rid: AtomicU64::new(1),
        })
    }

    /// Who this connection talks to (`hub localhost`), for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A request id unique on this connection (the SDKs use UUIDs; any unique text works).
    fn new_rid(&self) -> String {
        format!("{:08x}{}", self.rid_prefix, self.next_rid.fetch_add(1, Ordering::Relaxed))
    }

    /// Publishes at QoS 1; with `wait_for_ack`, returns once the service sent PUBACK.
    pub async fn publish(&self, operation: &'static str, topic: String, payload: Vec<u8>, wait_for_ack: bool) -> Result<(), DeviceError> {
        let ack = {
            // Held while queueing, so the tracker's order is rumqttc's send order.
            let _order = self.publish_order.lock().await;
            let (sender, receiver) = if wait_for_ack {
                let (sender, receiver) = oneshot::channel();
                (Some(sender), Some(receiver))
            } else {
                (None, None)
            };
            self.shared.acks.lock().queued.push_back(sender);
            if self.client.publish(topic, QoS::AtLeastOnce, false, payload).await.is_err() {
                self.shared.acks.lock().queued.pop_back();
                return Err(self.closed());
            }
            receiver
        };
        let Some(ack) = ack else { return Ok(()) };
        match tokio::time::timeout(self.timeout, ack).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.closed()),
            Err(_) => Err(DeviceError::Timeout { endpoint: self.endpoint.clone(), operation, timeout: self.timeout }),
        }
    }

    /// Publishes a request to the topic `topic_for(rid)` and waits for the answer with that `$rid`.
    pub async fn request(
        &self,
        operation: &'static str,
        topic_for: impl FnOnce(&str) -> String,
        payload: Vec<u8>,
    ) -> Result<InboundMessage, DeviceError> {
        let rid = self.new_rid();
        let (sender, receiver) = oneshot::channel();
        self.shared.responses.lock().insert(rid.clone(), sender);
        if let Err(error) = self.publish(operation, topic_for(&rid), payload, false).await {
            self.shared.responses.lock().remove(&rid);
            return Err(error);
        }
        match tokio::time::timeout(self.timeout, receiver).await {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(_)) => Err(self.closed()),
            Err(_) => {
                self.shared.responses.lock().remove(&rid);
                Err(DeviceError::Timeout { endpoint: self.endpoint.clone(), operation, timeout: self.timeout })
            }
        }
    }

    /// The next message that is not an answer, or why the connection closed.
    pub async fn next_event(&mut self) -> SessionEvent {
        match self.events.recv().await {
            Some(event) => event,
            None => SessionEvent::Closed(ConnectFailure::Transient {
                endpoint: self.endpoint.clone(),
                detail: "the connection closed".to_owned(),
            }),
        }
    }

    /// Sends DISCONNECT and waits briefly for it to go out.
    pub async fn close(mut self) {
        if self.client.disconnect().await.is_ok() {
            // The reader ends once DISCONNECT is written; do not wait on a dead peer.
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        }
    }

    fn closed(&self) -> DeviceError {
        DeviceError::Closed { endpoint: self.endpoint.clone() }
    }
}

impl Drop for MqttSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// CONNECT (CONNACK accepted), then SUBSCRIBE (SUBACK without failures). A message that arrives
/// before the SUBACK is queued, not lost.
async fn handshake(
    endpoint: &str,
    client: &AsyncClient,
    event_loop: &mut EventLoop,
    filters: &[String],
    device_id: &str,
    events: &mpsc::Sender<SessionEvent>,
) -> Result<(), ConnectFailure> {
    let failure = |error: &rumqttc::ConnectionError| ConnectFailure::from_mqtt(endpoint, error);
    loop {
        match event_loop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(error) => return Err(failure(&error)),
        }
    }
    if filters.is_empty() {
        return Ok(());
    }
    let subscriptions = filters.iter().map(|filter| SubscribeFilter::new(filter.clone(), QoS::AtLeastOnce));
    client.subscribe_many(subscriptions).await.map_err(|_| ConnectFailure::Transient {
        endpoint: endpoint.to_owned(),
        detail: "the connection closed while subscribing".to_owned(),
    })?;
    loop {
        match event_loop.poll().await {
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack.return_codes.iter().any(|code| matches!(code, SubscribeReasonCode::Failure)) {
                    return Err(ConnectFailure::Fatal {
                        endpoint: endpoint.to_owned(),
                        detail: "the service refused a subscription".to_owned(),
                    });
                }
                return Ok(());
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let message = InboundMessage { inbound: parse_inbound(&publish.topic, device_id), payload: publish.payload };
                let _ = events.try_send(SessionEvent::Message(message));
            }
            Ok(_) => {}
            Err(error) => return Err(failure(&error)),
        }
    }
}

/// Reads the connection until it ends.
async fn pump(mut event_loop: EventLoop, shared: Arc<Shared>, events: mpsc::Sender<SessionEvent>, endpoint: String, device_id: String) {
    loop {
        match event_loop.poll().await {
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let message = InboundMessage { inbound: parse_inbound(&publish.topic, &device_id), payload: publish.payload };
                let waiter = message.inbound.response_rid().and_then(|rid| shared.responses.lock().remove(rid));
                match waiter {
                    Some(waiter) => {
                        let _ = waiter.send(message);
                    }
                    None => {
                        if events.send(SessionEvent::Message(message)).await.is_err() {
                            break; // nobody is reading any more
                        }
                    }
                }
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                let mut acks = shared.acks.lock();
                if let Some(Some(waiter)) = acks.queued.pop_front() {
                    acks.in_flight.insert(pkid, waiter);
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                if let Some(waiter) = shared.acks.lock().in_flight.remove(&ack.pkid) {
                    let _ = waiter.send(());
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                shared.fail_all();
                let closed = ConnectFailure::Transient { endpoint, detail: "the device disconnected".to_owned() };
                let _ = events.send(SessionEvent::Closed(closed)).await;
                break;
            }
            Ok(_) => {}
            Err(error) => {
                shared.fail_all();
                let _ = events.send(SessionEvent::Closed(ConnectFailure::from_mqtt(&endpoint, &error))).await;
                break;
            }
        }
    }
}
