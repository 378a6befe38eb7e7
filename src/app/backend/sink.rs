//! The backend → UI channel: bounded, and every delivered event wakes the UI.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::app::model::Event;
use crate::azure::events::{ClientEvent, EventSink as ClientEventSink};

/// Wakes the UI (egui's `request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Sends events to the UI and wakes it.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Event>,
    wake: Waker,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    /// A sink on `tx`.
    pub fn new(tx: mpsc::Sender<Event>, wake: Waker) -> Self {
        Self { tx, wake, dropped: Arc::new(AtomicU64::new(0)) }
    }

    /// Sends a result; waits (without blocking a thread) when the UI is behind. Results of
    /// user actions are never dropped.
    pub async fn send(&self, event: Event) {
        if self.tx.send(event).await.is_ok() {
            (self.wake)();
        }
    }

    /// Client events (the activity log) are sent without waiting; if the UI is far behind they
    /// are counted and dropped rather than stalling HTTP calls.
    fn send_client_event(&self, event: ClientEvent) {
        if self.tx.try_send(Event::Client(event)).is_ok() {
            (self.wake)();
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl ClientEventSink for EventSink {
    fn emit(&self, event: ClientEvent) {
        self.send_client_event(event);
    }
}
