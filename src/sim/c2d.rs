//! Cloud-to-device messages waiting for their device, with the service's limits: at most 50 per
//! device, 64 KB each, a time to live (1 hour by default, 2 days at most), and up to 10 delivery
//! attempts. A message handed to a connection is locked until the device acknowledges it
//! (PUBACK completes it) or the connection ends (it is offered again). Every outcome is kept as
//! feedback (`Success`, `Expired`, `DeliveryCountExceeded`) for the service side.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::clock::now_timestamp;
use super::error::HubError;
use super::mqtt::topic::MessageProperties;
use crate::azure::wire::{ErrorCode, Timestamp};

/// Messages a device's queue holds at most.
pub const MAX_QUEUE_DEPTH: usize = 50;
/// Largest message body.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Time to live when the sender gives none.
pub const DEFAULT_TTL: Duration = Duration::from_hours(1);
/// Longest time to live.
pub const MAX_TTL: Duration = Duration::from_hours(48);
/// Delivery attempts before a message is dead-lettered.
pub const MAX_DELIVERY_COUNT: u32 = 10;
/// Feedback records kept (oldest dropped first).
const FEEDBACK_KEPT: usize = 10_000;

/// A message to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// `$.mid`; generated when empty.
    pub message_id: String,
    /// System (`$.ct`, `$.ce`, `$.cid`, …) and application properties.
    pub properties: MessageProperties,
    /// The body.
    pub body: Bytes,
    /// Time to live (default 1 hour).
    pub ttl: Option<Duration>,
}

/// A queued message as delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Message id.
    pub message_id: String,
    /// Lock token of the current delivery.
    pub lock_token: u64,
    /// Properties, with `$.mid` and `$.to` filled in.
    pub properties: MessageProperties,
    /// The body.
    pub body: Bytes,
    /// Deliveries so far, this one included.
    pub delivery_count: u32,
    expires: Instant,
}

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedbackStatus {
    /// The device completed it.
    Success,
    /// Its time to live passed first.
    Expired,
    /// Delivered too often without being completed.
    DeliveryCountExceeded,
}

/// One feedback record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feedback {
    /// The device.
    pub device_id: String,
    /// The message.
    pub message_id: String,
    /// What happened.
    pub status: FeedbackStatus,
    /// When.
    pub time: Timestamp,
}

#[derive(Default)]
struct DeviceQueue {
    waiting: VecDeque<QueuedMessage>,
    /// Delivered, not yet completed (by lock token).
    locked: Vec<QueuedMessage>,
}

/// The cloud-to-device queues of one hub.
#[derive(Default)]
pub struct C2dQueues {
    queues: Mutex<HashMap<String, DeviceQueue>>,
    feedback: Mutex<VecDeque<Feedback>>,
    next_lock: std::sync::atomic::AtomicU64,
}

impl C2dQueues {
    /// Queues a message for `device_id` (which the caller checked exists).
    pub fn enqueue(&self, device_id: &str, message: OutgoingMessage) -> Result<String, HubError> {
        if message.body.len() > MAX_MESSAGE_BYTES {
            return Err(HubError::new(
                ErrorCode::MessageTooLarge,
                format!("the message is {} bytes; cloud-to-device messages are at most {MAX_MESSAGE_BYTES}", message.body.len()),
            ));
        }
        let ttl = message.ttl.unwrap_or(DEFAULT_TTL);
        if ttl > MAX_TTL {
            return Err(HubError::invalid(format!("the time to live is {} s; at most {} s", ttl.as_secs(), MAX_TTL.as_secs())));
        }
        let mut queues = self.queues.lock();
        let queue = queues.entry(device_id.to_owned()).or_default();
        self.expire(device_id, queue);
        if queue.waiting.len() + queue.locked.len() >= MAX_QUEUE_DEPTH {
            return Err(HubError::new(
                ErrorCode::DeviceMaximumQueueDepthExceeded,
                format!("device '{device_id}' already has {MAX_QUEUE_DEPTH} messages waiting"),
            ));
        }
        let message_id = if message.message_id.is_empty() { crate::sim::dps::error::uuid_like() } else { message.message_id };
        let mut properties = message.properties;
        properties.system.insert("$.mid".to_owned(), message_id.clone());
        properties.system.insert("$.to".to_owned(), format!("/devices/{device_id}/messages/deviceBound"));
        queue.waiting.push_back(QueuedMessage {
            message_id: message_id.clone(),
            lock_token: 0,
            properties,
            body: message.body,
            delivery_count: 0,
            expires: Instant::now() + ttl,
        });
        Ok(message_id)
    }

    /// Messages waiting or locked for `device_id` (`cloudToDeviceMessageCount`).
    pub fn depth(&self, device_id: &str) -> usize {
        self.queues.lock().get(device_id).map_or(0, |queue| queue.waiting.len() + queue.locked.len())
    }

    /// Takes the next message for delivery and locks it.
    pub fn next_for_delivery(&self, device_id: &str) -> Option<QueuedMessage> {
        let mut queues = self.queues.lock();
        let queue = queues.get_mut(device_id)?;
        self.expire(device_id, queue);
        loop {
            let mut message = queue.waiting.pop_front()?;
            if message.delivery_count >= MAX_DELIVERY_COUNT {
                self.record(device_id, &message.message_id, FeedbackStatus::DeliveryCountExceeded);
                continue;
            }
            message.delivery_count += 1;
            message.lock_token = self.next_lock.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            queue.locked.push(message.clone());
            return Some(message);
        }
    }

    /// The device acknowledged the delivery: the message is done.
    pub fn complete(&self, device_id: &str, lock_token: u64) -> bool {
        let mut queues = self.queues.lock();
        let Some(queue) = queues.get_mut(device_id) else { return false };
        let Some(at) = queue.locked.iter().position(|message| message.lock_token == lock_token) else { return false };
        let message = queue.locked.remove(at);
        self.record(device_id, &message.message_id, FeedbackStatus::Success);
        true
    }

    /// The delivery was not acknowledged (the connection ended): offered again, first in line.
    pub fn abandon(&self, device_id: &str, lock_token: u64) {
        let mut queues = self.queues.lock();
        let Some(queue) = queues.get_mut(device_id) else { return };
        if let Some(at) = queue.locked.iter().position(|message| message.lock_token == lock_token) {
            let message = queue.locked.remove(at);
            queue.waiting.push_front(message);
        }
    }

    /// Removes every message of `device_id` (purge, or the device was deleted); returns how many.
    pub fn purge(&self, device_id: &str) -> usize {
        self.queues.lock().remove(device_id).map_or(0, |queue| queue.waiting.len() + queue.locked.len())
    }

    /// Feedback records so far, oldest first.
    pub fn feedback(&self) -> Vec<Feedback> {
        self.feedback.lock().iter().cloned().collect()
    }

    fn expire(&self, device_id: &str, queue: &mut DeviceQueue) {
        let now = Instant::now();
        let mut expired = Vec::new();
        queue.waiting.retain(|message| {
            let keep = message.expires > now;
            if !keep {
                expired.push(message.message_id.clone());
            }
            keep
        });
        for message_id in expired {
            self.record(device_id, &message_id, FeedbackStatus::Expired);
        }
    }

    fn record(&self, device_id: &str, message_id: &str, status: FeedbackStatus) {
        let mut feedback = self.feedback.lock();
        if feedback.len() >= FEEDBACK_KEPT {
            feedback.pop_front();
        }
        feedback.push_back(Feedback { device_id: device_id.to_owned(), message_id: message_id.to_owned(), status, time: now_timestamp() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> OutgoingMessage {
        OutgoingMessage { body: Bytes::from(body.to_owned()), ..OutgoingMessage::default() }
    }

    #[test]
    fn the_queue_is_limited_in_depth_and_size() {
        let queues = C2dQueues::default();
        for index in 0..MAX_QUEUE_DEPTH {
            queues.enqueue("d", message(&index.to_string())).unwrap();
        }
        let full = queues.enqueue("d", message("one too many")).unwrap_err();
        assert_eq!((full.code, full.status()), (ErrorCode::DeviceMaximumQueueDepthExceeded, 403), "{full:?}");
        let big = OutgoingMessage { body: Bytes::from(vec![0; MAX_MESSAGE_BYTES + 1]), ..OutgoingMessage::default() };
        assert_eq!(queues.enqueue("other", big).unwrap_err().code, ErrorCode::MessageTooLarge);
        assert_eq!(queues.depth("d"), MAX_QUEUE_DEPTH);
    }

    #[test]
    fn a_delivery_is_locked_until_completed_and_offered_again_when_abandoned() {
        let queues = C2dQueues::default();
        let message_id = queues.enqueue("d", message("hello")).unwrap();
        let first = queues.next_for_delivery("d").unwrap();
        assert_eq!((first.message_id.as_str(), first.delivery_count), (message_id.as_str(), 1));
        assert_eq!(first.properties.system.get("$.to").map(String::as_str), Some("/devices/d/messages/deviceBound"));
        assert!(queues.next_for_delivery("d").is_none(), "a locked message is not delivered twice");
        queues.abandon("d", first.lock_token);
        let again = queues.next_for_delivery("d").unwrap();
        assert_eq!(again.delivery_count, 2);
        assert!(queues.complete("d", again.lock_token));
        assert_eq!(queues.depth("d"), 0);
        assert_eq!(queues.feedback().iter().map(|feedback| feedback.status).collect::<Vec<_>>(), [FeedbackStatus::Success]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_past_its_time_to_live_expires_with_feedback() {
        let queues = C2dQueues::default();
        queues.enqueue("d", OutgoingMessage { ttl: Some(Duration::from_mins(1)), ..message("soon gone") }).unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(queues.next_for_delivery("d").is_none());
        assert_eq!(queues.feedback()[0].status, FeedbackStatus::Expired);
        let too_long = queues.enqueue("d", OutgoingMessage { ttl: Some(MAX_TTL + Duration::from_secs(1)), ..message("x") }).unwrap_err();
        assert_eq!(too_long.status(), 400, "{too_long:?}");
    }

    #[test]
    fn a_message_delivered_too_often_is_dead_lettered() {
        let queues = C2dQueues::default();
        queues.enqueue("d", message("never acknowledged")).unwrap();
        for _ in 0..MAX_DELIVERY_COUNT {
            let delivery = queues.next_for_delivery("d").unwrap();
            queues.abandon("d", delivery.lock_token);
        }
        assert!(queues.next_for_delivery("d").is_none());
        assert_eq!(queues.feedback()[0].status, FeedbackStatus::DeliveryCountExceeded);
    }
}
