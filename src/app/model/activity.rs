//! The activity log: every API call the client made, newest last, with text and failure filters.

use std::collections::VecDeque;

use crate::azure::events::{CallOutcome, CallRecord};

/// Entries kept; older ones are dropped (a 100 000-device load is only ~100 entries).
pub const CAPACITY: usize = 20_000;

/// One logged call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityEntry {
    /// Position in the log, stable while the entry exists (toasts and the status bar link to it).
    pub seq: u64,
    /// The HTTP call as the client recorded it.
    pub record: CallRecord,
}

impl ActivityEntry {
    /// True for attempts that did not succeed (including ones that were retried).
    pub fn is_failure(&self) -> bool {
        self.record.outcome != CallOutcome::Succeeded
    }
}

/// The log and its filters.
#[derive(Clone, Debug, Default)]
pub struct ActivityLog {
    entries: VecDeque<ActivityEntry>,
    next_seq: u64,
    /// Free-text filter (operation, target, status, error).
    pub filter: String,
    /// Show failures only.
    pub failures_only: bool,
    /// The entry to scroll to and highlight (set by the status bar link).
    pub highlight: Option<u64>,
}

impl ActivityLog {
    /// Appends a call and returns its sequence number.
    pub fn push(&mut self, record: CallRecord) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() == CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(ActivityEntry { seq, record });
        seq
    }

    /// All entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries passing the filters, oldest first.
    pub fn visible(&self) -> Vec<&ActivityEntry> {
        let needle = self.filter.trim().to_lowercase();
        self.entries
            .iter()
            .filter(|entry| !self.failures_only || entry.is_failure())
            .filter(|entry| needle.is_empty() || matches_text(entry, &needle))
            .collect()
    }
}

fn matches_text(entry: &ActivityEntry, needle: &str) -> bool {
    let record = &entry.record;
    let status = record.status.map(|status| status.to_string()).unwrap_or_default();
    [
        record.operation,
        record.target.as_str(),
        status.as_str(),
        record.error_code.as_deref().unwrap_or(""),
        record.error_message.as_deref().unwrap_or(""),
    ]
    .iter()
    .any(|field| field.to_lowercase().contains(needle))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn record(operation: &'static str, target: &str, status: u16, outcome: CallOutcome) -> CallRecord {
        CallRecord {
            started_at: SystemTime::UNIX_EPOCH,
            host: "h".into(),
            operation,
            target: target.into(),
            status: Some(status),
            error_code: match status {
                404 => Some("DeviceNotFound".to_owned()),
                429 => Some("ThrottlingException".to_owned()),
                _ => None,
            },
            error_message: None,
            latency: Duration::from_millis(3),
            attempt: 1,
            outcome,
        }
    }

    #[test]
    fn filters_by_text_and_failure() {
        let mut log = ActivityLog::default();
        log.push(record("get device", "b43-f3-lock-00017", 200, CallOutcome::Succeeded));
        let failed = log.push(record("get device", "missing", 404, CallOutcome::Failed));
        log.push(record("query devices", "SELECT * FROM devices", 429, CallOutcome::WillRetry));
        assert_eq!(log.visible().len(), 3);
        log.failures_only = true;
        assert_eq!(log.visible().len(), 2);
        log.filter = "notfound".into();
        assert_eq!(log.visible().iter().map(|entry| entry.seq).collect::<Vec<_>>(), vec![failed]);
        log.failures_only = false;
        log.filter = "b43".into();
        assert_eq!(log.visible().len(), 1);
    }

    #[test]
    fn keeps_a_bounded_window() {
        let mut log = ActivityLog::default();
        for _ in 0..CAPACITY + 5 {
            log.push(record("get device", "d", 200, CallOutcome::Succeeded));
        }
        assert_eq!(log.len(), CAPACITY);
        assert_eq!(log.visible()[0].seq, 5);
    }
}
