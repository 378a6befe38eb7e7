//! The real devices connected to one hub right now: at most one connection per device id (a new
//! one takes over and the old one is closed, as the service does), what each subscribed to, and
//! the direct-method calls waiting for a device's answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::azure::wire::{DeviceConnection, DeviceProtocol, MethodResult};
use crate::sim::error::HubError;

/// What the hub asks a connection to send to its device.
#[derive(Clone, Debug, PartialEq)]
pub enum Outbound {
    /// A direct method call.
    Method {
        /// Request id the device answers with.
        rid: String,
        /// Method name.
        method_name: String,
        /// JSON payload.
        payload: Value,
    },
    /// The twin's desired section changed: push what changed.
    DesiredChanged,
    /// A cloud-to-device message is waiting.
    CloudToDeviceWaiting,
}

/// What a connection subscribed to (the parts the hub needs to know about).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// `$iothub/methods/POST/#`.
    Methods = 1,
    /// `$iothub/twin/PATCH/properties/desired/#`.
    DesiredPatches = 2,
    /// `devices/{id}/messages/devicebound/#`.
    CloudToDevice = 4,
}

/// Messages a connection's outbox holds before the hub's sends wait.
const OUTBOX: usize = 64;

/// One live device connection.
pub struct Link {
    /// Unique per connection (a reconnect gets a new one).
    pub id: u64,
    /// What the console shows about it.
    pub info: DeviceConnection,
    outbox: mpsc::Sender<Outbound>,
    closed: CancellationToken,
    interests: AtomicU8,
}

impl Link {
    /// True once the device subscribed to `interest`.
    pub fn has(&self, interest: Interest) -> bool {
        self.interests.load(Ordering::Acquire) & interest as u8 != 0
    }

    /// Records a subscription.
    pub fn add_interest(&self, interest: Interest) {
        self.interests.fetch_or(interest as u8, Ordering::AcqRel);
    }

    /// Fires when the connection must close (taken over, or the device was disabled/deleted).
    pub fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    /// Tells the connection something happened; a full outbox drops it (the notification is
    /// a hint: desired changes and waiting messages are read from the hub's state).
    fn notify(&self, outbound: Outbound) -> bool {
        self.outbox.try_send(outbound).is_ok()
    }
}

/// The receiving half a session reads the hub's requests from.
pub type Outbox = mpsc::Receiver<Outbound>;

/// Live connections of one hub and their pending method calls.
#[derive(Default)]
pub struct DeviceConnections {
    links: Mutex<HashMap<String, Arc<Link>>>,
    /// Method calls waiting for an answer, by (connection id, request id).
    pending: Mutex<HashMap<(u64, String), oneshot::Sender<MethodResult>>>,
    next_id: AtomicU64,
}

impl DeviceConnections {
    /// Registers a new connection for `device_id`, closing the one it takes over.
    pub fn attach(&self, device_id: &str, protocol: DeviceProtocol, client_type: String, api_version: String) -> (Arc<Link>, Outbox) {
        let (outbox, receiver) = mpsc::channel(OUTBOX);
        let link = Arc::new(Link {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            info: DeviceConnection {
                device_id: device_id.to_owned(),
                protocol,
                client_type,
                api_version,
                connected_since: crate::sim::clock::now_timestamp(),
            },
            outbox,
            closed: CancellationToken::new(),
            interests: AtomicU8::new(0),
        });
        if let Some(previous) = self.links.lock().insert(device_id.to_owned(), Arc::clone(&link)) {
            previous.closed.cancel();
        }
        (link, receiver)
    }

    /// Forgets `link` if it is still the device's current connection; true when it was (the
    /// device is now disconnected). Its pending method calls fail.
    pub fn detach(&self, link: &Link) -> bool {
        self.pending.lock().retain(|(link_id, _), _| *link_id != link.id);
        let mut links = self.links.lock();
        if links.get(&link.info.device_id).is_some_and(|current| current.id == link.id) {
            links.remove(&link.info.device_id);
            true
        } else {
            false
        }
    }

    /// The device's current connection.
    pub fn get(&self, device_id: &str) -> Option<Arc<Link>> {
        self.links.lock().get(device_id).cloned()
    }

    /// True while a real device is connected with this id.
    pub fn is_connected(&self, device_id: &str) -> bool {
        self.links.lock().contains_key(device_id)
    }

    /// How many real devices are connected.
    pub fn count(&self) -> usize {
        self.links.lock().len()
    }

    /// Every live connection, by device id.
    pub fn list(&self) -> Vec<DeviceConnection> {
        let mut list: Vec<DeviceConnection> = self.links.lock().values().map(|link| link.info.clone()).collect();
        list.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        list
    }

    /// Closes the device's connection (it was disabled or deleted).
    pub fn close(&self, device_id: &str) {
        if let Some(link) = self.get(device_id) {
            link.closed.cancel();
        }
    }

    /// Tells the device's connection, if it has subscribed, that its desired properties changed.
    pub fn desired_changed(&self, device_id: &str) {
        if let Some(link) = self.get(device_id).filter(|link| link.has(Interest::DesiredPatches)) {
            link.notify(Outbound::DesiredChanged);
        }
    }

    /// Tells the device's connection, if it has subscribed, that a message waits.
    pub fn message_waiting(&self, device_id: &str) {
        if let Some(link) = self.get(device_id).filter(|link| link.has(Interest::CloudToDevice)) {
            link.notify(Outbound::CloudToDeviceWaiting);
        }
    }

    /// Calls a method on the device behind `link` and waits up to `timeout` for its answer:
    /// 504101 when none comes in time, 404103 when the connection ends first.
    pub async fn invoke(&self, link: &Link, method_name: &str, payload: &Value, timeout: Duration) -> Result<MethodResult, HubError> {
        let rid = format!("{:x}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let (answer, answered) = oneshot::channel();
        self.pending.lock().insert((link.id, rid.clone()), answer);
        let request = Outbound::Method { rid: rid.clone(), method_name: method_name.to_owned(), payload: payload.clone() };
        let sent = tokio::time::timeout(timeout, link.outbox.send(request)).await;
        let result = match sent {
            Ok(Ok(())) => match tokio::time::timeout(timeout, answered).await {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(_)) => Err(crate::sim::methods::not_online(0)),
                Err(_) => Err(crate::sim::methods::gateway_timeout()),
            },
            Ok(Err(_)) => Err(crate::sim::methods::not_online(0)),
            Err(_) => Err(crate::sim::methods::gateway_timeout()),
        };
        self.pending.lock().remove(&(link.id, rid));
        result
    }

    /// The device behind `link` answered request `rid`; false when no call waits for it (late,
    /// or never asked).
    pub fn answer(&self, link: &Link, rid: &str, result: MethodResult) -> bool {
        self.pending.lock().remove(&(link.id, rid.to_owned())).is_some_and(|waiting| waiting.send(result).is_ok())
    }
}

impl std::fmt::Debug for DeviceConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceConnections").field("connected", &self.count()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_second_connection_takes_over_and_the_first_is_closed() {
        let connections = DeviceConnections::default();
        let (first, _first_outbox) = connections.attach("d", DeviceProtocol::Mqtt, String::new(), String::new());
        let (second, _second_outbox) = connections.attach("d", DeviceProtocol::MqttWebSocket, "node".into(), String::new());
        assert!(first.closed().is_cancelled(), "the first connection is told to close");
        assert!(!second.closed().is_cancelled());
        assert!(!connections.detach(&first), "the old connection leaving does not disconnect the device");
        assert_eq!(connections.list().iter().map(|info| info.protocol).collect::<Vec<_>>(), [DeviceProtocol::MqttWebSocket]);
        assert!(connections.detach(&second));
        assert!(!connections.is_connected("d"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_method_gets_the_devices_answer_or_times_out_exactly() {
        let connections = Arc::new(DeviceConnections::default());
        let (link, mut outbox) = connections.attach("d", DeviceProtocol::Mqtt, String::new(), String::new());
        let (answering, answering_link) = (Arc::clone(&connections), Arc::clone(&link));
        tokio::spawn(async move {
            let Some(Outbound::Method { rid, method_name, payload }) = outbox.recv().await else { panic!("no method request") };
            assert_eq!((method_name.as_str(), &payload), ("lockDoor", &json!({"lockTime": "10m"})));
            assert!(!answering.answer(&answering_link, "not-the-rid", MethodResult { status: 500, payload: Value::Null }));
            assert!(answering.answer(&answering_link, &rid, MethodResult { status: 200, payload: json!({"locked": true}) }));
            // The second call is never answered.
            outbox.recv().await
        });
        let answer = connections.invoke(&link, "lockDoor", &json!({"lockTime": "10m"}), Duration::from_secs(30)).await.unwrap();
        assert_eq!((answer.status, answer.payload), (200, json!({"locked": true})));
        let started = tokio::time::Instant::now();
        let error = connections.invoke(&link, "lockDoor", &Value::Null, Duration::from_secs(7)).await.unwrap_err();
        assert_eq!((error.status(), started.elapsed()), (504, Duration::from_secs(7)), "{error:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_ends_fails_its_pending_calls_at_once() {
        let connections = Arc::new(DeviceConnections::default());
        let (link, outbox) = connections.attach("d", DeviceProtocol::Mqtt, String::new(), String::new());
        let (leaving, leaving_link) = (Arc::clone(&connections), Arc::clone(&link));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            leaving.detach(&leaving_link);
            drop(outbox);
        });
        let started = tokio::time::Instant::now();
        let error = connections.invoke(&link, "lockDoor", &Value::Null, Duration::from_secs(30)).await.unwrap_err();
        assert_eq!((error.status(), started.elapsed()), (404, Duration::from_secs(1)), "{error:?}");
    }
}
