//! The simulated fleet at run time: device apps acknowledge desired changes after a short,
//! seeded delay, and (optionally) devices drop off and come back so offline behaviour shows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::clock::now_ticks;
use super::device_app::{acknowledge, has_pending, is_running};
use super::hub::Hub;
use super::registry::Changes;
use crate::azure::wire::{ConnectionState, DeviceStatus};

/// How the fleet behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetConfig {
    /// Shortest delay before a device app acknowledges a change.
    pub ack_delay_min: Duration,
    /// Longest delay.
    pub ack_delay_max: Duration,
    /// Every this often one offline device reconnects and one online device drops off.
    pub churn_every: Option<Duration>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self { ack_delay_min: Duration::from_millis(300), ack_delay_max: Duration::from_millis(1500), churn_every: None }
    }
}

/// Desired changes the fleet is told about (device ids).
pub const NOTIFY_QUEUE: usize = 8192;

/// Starts the fleet task; returns the channel the hub uses to report desired changes.
pub fn spawn(hub: Arc<Hub>, config: FleetConfig, seed: u64, shutdown: watch::Receiver<bool>) -> mpsc::Sender<String> {
    let (tx, rx) = mpsc::channel(NOTIFY_QUEUE);
    tokio::spawn(run(hub, config, seed, rx, shutdown));
    tx
}

struct Schedule {
    due: BTreeMap<(Instant, u64), String>,
    next_seq: u64,
    rng: StdRng,
    config: FleetConfig,
}

impl Schedule {
    fn add(&mut self, device_id: String) {
        let (min, max) = (self.config.ack_delay_min, self.config.ack_delay_max.max(self.config.ack_delay_min));
        let millis = self.rng.random_range(min.as_millis()..=max.as_millis());
        let delay = Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX));
        self.next_seq += 1;
        self.due.insert((Instant::now() + delay, self.next_seq), device_id);
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.keys().next().map(|(at, _)| *at)
    }

    fn take_due(&mut self) -> Vec<String> {
        let now = Instant::now();
        let later = self.due.split_off(&(now, u64::MAX));
        std::mem::replace(&mut self.due, later).into_values().collect()
    }
}

async fn run(
    hub: Arc<Hub>,
    config: FleetConfig,
    seed: u64,
    mut notifications: mpsc::Receiver<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let churn_every = config.churn_every;
    let mut schedule = Schedule { due: BTreeMap::new(), next_seq: 0, rng: StdRng::seed_from_u64(seed ^ 0xF1EE7), config };
    // Changes made while the simulator was down are applied after a restart.
    let pending: Vec<String> = hub.read(|registry| {
        registry.iter_from(None).filter(|record| is_running(record) && has_pending(record)).map(|record| record.device_id.clone()).collect()
    });
    for device_id in pending {
        schedule.add(device_id);
    }
    let mut churn = churn_every.map(|every| tokio::time::interval_at(Instant::now() + every, every));
    loop {
        let due = schedule.next_due();
        tokio::select! {
            notified = notifications.recv() => match notified {
                Some(device_id) => schedule.add(device_id),
                None => break,
            },
            () = async { match due { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => {
                acknowledge_due(&hub, schedule.take_due()).await;
            }
            _ = async { match churn.as_mut() { Some(interval) => interval.tick().await, None => std::future::pending().await } } => {
                if let Some(reconnected) = churn_once(&hub, &mut schedule.rng).await {
                    schedule.add(reconnected);
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

/// Lets every due device app acknowledge, in one durable write.
async fn acknowledge_due(hub: &Hub, device_ids: Vec<String>) {
    let now = now_ticks();
    let written = hub
        .write(|registry| {
            let mut changes = Changes::default();
            for device_id in device_ids {
                if let Ok(record) = registry.get_mut(&device_id)
                    && acknowledge(record, now)
                {
                    changes.upserted.push(device_id);
                }
            }
            Ok(((), changes))
        })
        .await;
    if let Err(error) = written {
        tracing::warn!(%error, "device acknowledgements could not be saved");
    }
}

/// One offline device comes back (and applies what it missed); one online device drops off.
/// Returns the device that reconnected.
async fn churn_once(hub: &Hub, rng: &mut StdRng) -> Option<String> {
    let now = now_ticks();
    let (offline, online) = hub.read(|registry| {
        let simulated = |state: ConnectionState| {
            registry
                .iter_from(None)
                .filter(|record| record.simulated.is_some() && record.status == DeviceStatus::Enabled && record.connection_state == state)
                .count()
        };
        (simulated(ConnectionState::Disconnected), simulated(ConnectionState::Connected))
    });
    let (pick_offline, pick_online) = (rng.random_range(0..offline.max(1)), rng.random_range(0..online.max(1)));
    hub.write(|registry| {
        let mut changes = Changes::default();
        let mut reconnected = None;
        for (state, pick) in [(ConnectionState::Disconnected, pick_offline), (ConnectionState::Connected, pick_online)] {
            let found = registry
                .iter_from(None)
                .filter(|record| record.simulated.is_some() && record.status == DeviceStatus::Enabled && record.connection_state == state)
                .nth(pick)
                .map(|record| record.device_id.clone());
            let Some(device_id) = found else { continue };
            if let Ok(record) = registry.get_mut(&device_id) {
                record.connection_state =
                    if state == ConnectionState::Connected { ConnectionState::Disconnected } else { ConnectionState::Connected };
                record.connection_state_updated = now;
                record.last_activity = now;
                if record.connection_state == ConnectionState::Connected {
                    reconnected = Some(device_id.clone());
                }
                changes.upserted.push(device_id);
            }
        }
        Ok((reconnected, changes))
    })
    .await
    .ok()
    .flatten()
}
