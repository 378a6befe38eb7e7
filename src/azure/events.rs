//! Structured events the client emits for every call and every retry wait (the activity log).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How one HTTP attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// 2xx (or an accepted status).
    Succeeded,
    /// Failed; the policy will retry.
    WillRetry,
    /// Failed for good.
    Failed,
}

/// One HTTP attempt. Holds no keys, tokens or bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// When the attempt started.
    pub started_at: SystemTime,
    /// Host called (`myhub.azure-devices.net`).
    pub host: String,
    /// What was done (`get device`).
    pub operation: &'static str,
    /// What it was done to (device id, query text).
    pub target: String,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// Azure error code, when the service sent one.
    pub error_code: Option<String>,
    /// Error text (service message or transport problem).
    pub error_message: Option<String>,
    /// Time from sending to the full response.
    pub latency: Duration,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: u32,
    /// How it ended.
    pub outcome: CallOutcome,
}

/// Why the client is waiting before the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// 429: waiting for `Retry-After`.
    Throttled,
    /// 5xx: exponential back-off.
    ServerError(u16),
    /// No response (connection refused, reset, timeout).
    Transport,
}

/// The client is waiting before retrying; the UI shows "throttled — retrying in N s".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryNotice {
    /// Host called.
    pub host: String,
    /// What is being retried.
    pub operation: &'static str,
    /// What it is done to.
    pub target: String,
    /// The attempt that will follow the wait.
    pub next_attempt: u32,
    /// How long the wait is.
    pub wait: Duration,
    /// When the wait ends.
    pub resume_at: SystemTime,
    /// Why the call is retried (throttled, server error, transport).
    pub reason: RetryReason,
}

/// Everything the client reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// An attempt finished.
    Call(CallRecord),
    /// A retry wait started.
    RetryWaiting(RetryNotice),
}

/// Receives client events. Must not block: the UI's sink does a `try_send` on a bounded channel.
pub trait EventSink: Send + Sync {
    /// Called once per event.
    fn emit(&self, event: ClientEvent);
}

impl<F: Fn(ClientEvent) + Send + Sync> EventSink for F {
    fn emit(&self, event: ClientEvent) {
        self(event);
    }
}

/// A shareable sink.
pub type SharedEventSink = Arc<dyn EventSink>;
