//! A hub's device-to-cloud messages as its built-in Event Hub-compatible endpoint keeps them: a
//! fixed number of partitions (a device always lands in the same one), each an append-only log
//! with sequence numbers, byte offsets and enqueued times, trimmed from the front by count and
//! bytes (retention). Readers (tests now, the AMQP endpoint later) read from a sequence number and
//! wait for new events.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::clock::now_timestamp;
use super::mqtt::topic::MessageProperties;
use crate::azure::wire::Timestamp;

/// Partitions of a hub's built-in endpoint (the service's default for new hubs is 4).
pub const DEFAULT_PARTITIONS: usize = 4;

/// How much a partition keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Events kept per partition.
    pub max_events: usize,
    /// Bytes of bodies and properties kept per partition.
    pub max_bytes: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Self { max_events: 100_000, max_bytes: 64 * 1024 * 1024 }
    }
}

/// One device-to-cloud message as the endpoint serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventData {
    /// Partition it is in.
    pub partition: usize,
    /// Sequence number in its partition (from 0).
    pub sequence_number: i64,
    /// Byte offset in its partition.
    pub offset: u64,
    /// When the hub accepted it.
    pub enqueued_time: Timestamp,
    /// The sending device (`iothub-connection-device-id`).
    pub device_id: String,
    /// System properties from the topic (`$.mid`, `$.ct`, `$.ce`, …) and application properties.
    pub properties: MessageProperties,
    /// The body as sent.
    pub body: Bytes,
}

impl EventData {
    fn size(&self) -> usize {
        let properties: usize = self
            .properties
            .system
            .iter()
            .chain(self.properties.application.iter().map(|(k, v)| (k, v)))
            .map(|(k, v)| k.len() + v.len())
            .sum();
        self.body.len() + properties + self.device_id.len()
    }
}

#[derive(Default)]
struct Partition {
    events: VecDeque<Arc<EventData>>,
    next_sequence: i64,
    next_offset: u64,
    bytes: usize,
}

/// A hub's partitioned device-to-cloud log.
pub struct D2cLog {
    partitions: Vec<Mutex<Partition>>,
    retention: Retention,
    appended: Notify,
}

/// What a partition holds right now (Event Hubs' partition properties).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Oldest sequence number kept (-1 when empty and never written).
    pub first_sequence: i64,
    /// Newest sequence number (-1 when never written).
    pub last_sequence: i64,
    /// Events kept.
    pub len: usize,
}

impl D2cLog {
    /// An empty log.
    pub fn new(partitions: usize, retention: Retention) -> Self {
        Self { partitions: (0..partitions.max(1)).map(|_| Mutex::new(Partition::default())).collect(), retention, appended: Notify::new() }
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// The partition a device's messages go to (stable: a hash of the id).
    pub fn partition_of(&self, device_id: &str) -> usize {
        // FNV-1a: stable across runs and platforms, unlike the std hasher.
        let hash = device_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
        usize::try_from(hash % self.partitions.len() as u64).unwrap_or(0)
    }

    /// Appends a message; returns it as stored.
    pub fn append(&self, device_id: &str, properties: MessageProperties, body: Bytes) -> Arc<EventData> {
        let partition_index = self.partition_of(device_id);
        let event = {
            let mut partition = self.partitions[partition_index].lock();
            let event = Arc::new(EventData {
                partition: partition_index,
                sequence_number: partition.next_sequence,
                offset: partition.next_offset,
                enqueued_time: now_timestamp(),
                device_id: device_id.to_owned(),
                properties,
                body,
            });
            let size = event.size();
            partition.next_sequence += 1;
            partition.next_offset += size as u64;
            partition.bytes += size;
            partition.events.push_back(Arc::clone(&event));
            while partition.events.len() > self.retention.max_events
                || (partition.bytes > self.retention.max_bytes && partition.events.len() > 1)
            {
                if let Some(dropped) = partition.events.pop_front() {
                    partition.bytes -= dropped.size();
                }
            }
            event
        };
        self.appended.notify_waiters();
        event
    }

    /// Up to `max` events of `partition` from sequence number `from` on (events already trimmed
    /// are skipped: reading starts at the oldest kept).
    pub fn read(&self, partition: usize, from: i64, max: usize) -> Vec<Arc<EventData>> {
        let Some(partition) = self.partitions.get(partition) else {
            return Vec::new();
        };
        let partition = partition.lock();
        let first = partition.events.front().map_or(partition.next_sequence, |event| event.sequence_number);
        let skip = usize::try_from(from.saturating_sub(first).max(0)).unwrap_or(usize::MAX);
        partition.events.iter().skip(skip).take(max).cloned().collect()
    }

    /// Every kept event of every partition, oldest first per partition (tests, small logs).
    pub fn all(&self) -> Vec<Arc<EventData>> {
        (0..self.partitions.len()).flat_map(|partition| self.read(partition, 0, usize::MAX)).collect()
    }

    /// What `partition` holds.
    pub fn info(&self, partition: usize) -> Option<PartitionInfo> {
        let partition = self.partitions.get(partition)?.lock();
        Some(PartitionInfo {
            first_sequence: partition.events.front().map_or(partition.next_sequence - 1, |event| event.sequence_number),
            last_sequence: partition.next_sequence - 1,
            len: partition.events.len(),
        })
    }

    /// Waits until something is appended (register interest before reading to miss nothing).
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }
}

impl Default for D2cLog {
    fn default() -> Self {
        Self::new(DEFAULT_PARTITIONS, Retention::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Bytes {
        Bytes::from(text.to_owned())
    }

    #[test]
    fn a_device_always_lands_in_one_partition_with_increasing_sequence_numbers_and_offsets() {
        let log = D2cLog::default();
        let first = log.append("dev-1", MessageProperties::default(), body("one"));
        let second = log.append("dev-1", MessageProperties::default(), body("two"));
        assert_eq!(first.partition, second.partition);
        assert_eq!((first.sequence_number, second.sequence_number), (0, 1));
        assert!(second.offset > first.offset, "{} then {}", first.offset, second.offset);
        let spread: std::collections::BTreeSet<usize> = (0..64).map(|index| log.partition_of(&format!("dev-{index}"))).collect();
        assert_eq!(spread.len(), DEFAULT_PARTITIONS, "64 devices use every partition: {spread:?}");
        assert_eq!(log.read(first.partition, 1, 10).iter().map(|event| event.body.clone()).collect::<Vec<_>>(), vec![body("two")]);
    }

    #[test]
    fn retention_trims_the_oldest_by_count_and_by_bytes() {
        let log = D2cLog::new(1, Retention { max_events: 3, max_bytes: usize::MAX });
        for index in 0..5 {
            log.append("d", MessageProperties::default(), body(&index.to_string()));
        }
        let info = log.info(0).unwrap();
        assert_eq!(info, PartitionInfo { first_sequence: 2, last_sequence: 4, len: 3 });
        let from_start: Vec<i64> = log.read(0, 0, 10).iter().map(|event| event.sequence_number).collect();
        assert_eq!(from_start, [2, 3, 4], "reading from a trimmed position starts at the oldest kept");

        let log = D2cLog::new(1, Retention { max_events: 100, max_bytes: 250 });
        for _ in 0..5 {
            log.append("d", MessageProperties::default(), Bytes::from(vec![0_u8; 99]));
        }
        assert_eq!(log.info(0).unwrap().len, 2, "100 bytes each, 250 kept");
    }

    #[tokio::test]
    async fn a_reader_is_woken_by_an_append() {
        let log = Arc::new(D2cLog::default());
        let waiting = log.appended();
        let writer = Arc::clone(&log);
        tokio::spawn(async move { writer.append("d", MessageProperties::default(), body("x")) });
        waiting.await;
        assert_eq!(log.all().len(), 1);
    }
}
