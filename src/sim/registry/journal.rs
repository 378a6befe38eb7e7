//! The undo journal of an open registry transaction: what each touched device looked like
//! before, so a write whose commit to disk fails leaves memory exactly as it was.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::sim::record::DeviceRecord;

/// What a transaction changed, recorded the first time each device is touched.
#[derive(Debug)]
pub(super) struct Journal {
    /// Each touched device's record before the transaction (`None`: it did not exist).
    before: HashMap<String, Option<Box<DeviceRecord>>>,
    /// The counters before the transaction.
    next_etag: u64,
    next_generation: u64,
}

impl Journal {
    pub(super) fn new(next_etag: u64, next_generation: u64) -> Self {
        Self { before: HashMap::new(), next_etag, next_generation }
    }

    /// Keeps `current` as the state to restore, unless this device was already touched (the
    /// first state seen is the one from before the transaction).
    pub(super) fn remember(&mut self, device_id: &str, current: impl FnOnce() -> Option<Box<DeviceRecord>>) {
        if let Entry::Vacant(slot) = self.before.entry(device_id.to_owned()) {
            slot.insert(current());
        }
    }

    /// What to put back: each touched device's old record (or its absence) and the counters.
    pub(super) fn into_undo(self) -> (HashMap<String, Option<Box<DeviceRecord>>>, u64, u64) {
        (self.before, self.next_etag, self.next_generation)
    }
}
