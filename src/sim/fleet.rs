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
                // While real device code is connected under this id, the simulated app is silent.
                if hub.devices().is_connected(&device_id) {
                    continue;
                }
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
                .filter(|record| {
                    record.simulated.is_some()
                        && record.status == DeviceStatus::Enabled
                        && record.connection_state == state
                        && !hub.devices().is_connected(&record.device_id)
                })
                .count()
        };
        (simulated(ConnectionState::Disconnected), simulated(ConnectionState::Connected))
    });
    let (pick_offline, pick_online) = (rng.random_range(0..offline.max(1)), rng.random_range(0..online.max(1)));
    hub.write(|registry| {
        // Both are picked before either changes, so the device that comes back is never the
        // one that drops off.
        let pick = |state: ConnectionState, nth: usize| {
            registry
                .iter_from(None)
                .filter(|record| {
                    record.simulated.is_some()
                        && record.status == DeviceStatus::Enabled
                        && record.connection_state == state
                        && !hub.devices().is_connected(&record.device_id)
                })
                .nth(nth)
                .map(|record| record.device_id.clone())
        };
        let coming_back = pick(ConnectionState::Disconnected, pick_offline);
        let dropping_off = pick(ConnectionState::Connected, pick_online);
        let mut changes = Changes::default();
        for (device_id, state) in [(&coming_back, ConnectionState::Connected), (&dropping_off, ConnectionState::Disconnected)] {
            let Some(device_id) = device_id else { continue };
            let record = registry.get_mut(device_id)?;
            record.connection_state = state;
            record.connection_state_updated = now;
            record.last_activity = now;
            changes.upserted.push(device_id.clone());
        }
        Ok((coming_back, changes))
    })
    .await
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    //! The fleet on tokio's paused clock: acknowledgement delays and reconnections are exact,
    //! and "never acknowledged" is checked an hour later without waiting an hour.

    use serde_json::{Value, json};

    use super::*;
    use crate::azure::wire::Device;
    use crate::sim::device_app::SimProfile;
    use crate::sim::methods::MethodConfig;
    use crate::sim::registry::{Registry, TwinWrite};
    use crate::sim::seed::{DeviceKind, demo_fleet};

    const CONFIG: FleetConfig =
        FleetConfig { ack_delay_min: Duration::from_millis(300), ack_delay_max: Duration::from_millis(1500), churn_every: None };

    /// Thermostats `therm-on` (connected) and `therm-off` (not), plus `no-app`, a device no
    /// simulated app runs on; the fleet task is running.
    fn hub(config: FleetConfig) -> (Arc<Hub>, watch::Sender<bool>) {
        let thermostat = |device_id: &str, state: ConnectionState| {
            let mut record = demo_fleet(1, 43, 1).remove(0);
            record.device_id = device_id.to_owned();
            record.status = DeviceStatus::Enabled;
            record.connection_state = state;
            record.simulated = Some(SimProfile { kind: DeviceKind::Thermostat, strict: false, provisioned: false });
            record
        };
        let mut registry = Registry::from_records([
            thermostat("therm-on", ConnectionState::Connected),
            thermostat("therm-off", ConnectionState::Disconnected),
        ]);
        registry.put_device("no-app", &Device::new_with_generated_keys("no-app"), None, 1).unwrap();
        let hub = Hub::for_tests(registry, None, MethodConfig::default());
        let (shutdown, stop) = watch::channel(false);
        hub.set_desired_listener(spawn(Arc::clone(&hub), config, 7, stop));
        (hub, shutdown)
    }

    /// Sets `targetTemperature` as the service would; returns the desired `$version`.
    async fn set_temperature(hub: &Hub, device_id: &str, celsius: u32) -> u64 {
        let write = TwinWrite::parse_patch(&json!({"properties": {"desired": {"targetTemperature": celsius}}})).unwrap();
        hub.write(|registry| {
            let version = registry.write_twin(device_id, &write, None, now_ticks())?.twin.desired_version;
            let mut changes = Changes::upsert(device_id);
            changes.desired_changed.push(device_id.to_owned());
            Ok((version, changes))
        })
        .await
        .unwrap()
    }

    fn ack(hub: &Hub, device_id: &str) -> Option<Value> {
        let twin = hub.read(|registry| registry.get(device_id).unwrap().to_twin());
        twin.reported().and_then(|reported| reported.get("targetTemperature")).cloned()
    }

    fn acked_version(hub: &Hub, device_id: &str) -> Option<u64> {
        ack(hub, device_id).and_then(|ack| ack.get("av").and_then(Value::as_u64))
    }

    #[tokio::test(start_paused = true)]
    async fn an_online_device_acknowledges_within_the_delay_and_rejects_what_it_cannot_apply() {
        let (hub, _shutdown) = hub(CONFIG);
        let version = set_temperature(&hub, "therm-on", 23).await;
        tokio::time::sleep(CONFIG.ack_delay_min.saturating_sub(Duration::from_millis(1))).await;
        assert_ne!(acked_version(&hub, "therm-on"), Some(version), "acknowledged before the shortest delay");
        tokio::time::sleep(CONFIG.ack_delay_max).await;
        assert_eq!(ack(&hub, "therm-on"), Some(json!({"value": 23, "ac": 200, "av": version, "ad": "completed"})));

        let version = set_temperature(&hub, "therm-on", 40).await;
        tokio::time::sleep(CONFIG.ack_delay_max + Duration::from_millis(1)).await;
        let rejected = ack(&hub, "therm-on").unwrap();
        assert_eq!((rejected["ac"].clone(), rejected["av"].clone(), rejected["value"].clone()), (json!(400), json!(version), json!(23)));
        assert!(rejected["ad"].as_str().unwrap().starts_with("error: targetTemperature 40 is outside"), "{rejected}");
    }

    #[tokio::test(start_paused = true)]
    async fn offline_and_unsimulated_devices_apply_nothing() {
        let (hub, _shutdown) = hub(CONFIG);
        let offline = set_temperature(&hub, "therm-off", 21).await;
        let unsimulated = set_temperature(&hub, "no-app", 21).await;
        tokio::time::sleep(Duration::from_hours(1)).await;
        assert_ne!(acked_version(&hub, "therm-off"), Some(offline));
        assert_eq!(ack(&hub, "no-app"), None, "desired $version {unsimulated} was acknowledged by a device without an app");
    }

    #[tokio::test(start_paused = true)]
    async fn an_offline_device_catches_up_when_it_reconnects() {
        let churn_every = Duration::from_secs(10);
        let (hub, _shutdown) = hub(FleetConfig { churn_every: Some(churn_every), ..CONFIG });
        let version = set_temperature(&hub, "therm-off", 21).await;
        tokio::time::sleep(churn_every.saturating_sub(Duration::from_millis(1))).await;
        assert_ne!(acked_version(&hub, "therm-off"), Some(version), "acknowledged while offline");
        // The churn tick brings the only offline thermostat back; it applies what it missed.
        tokio::time::sleep(CONFIG.ack_delay_max + Duration::from_millis(2)).await;
        assert_eq!(acked_version(&hub, "therm-off"), Some(version), "{:?}", ack(&hub, "therm-off"));
    }

    #[tokio::test(start_paused = true)]
    async fn while_real_device_code_is_connected_the_simulated_app_is_silent_and_resumes_after() {
        let (hub, _shutdown) = hub(CONFIG);
        let (link, _outbox) = hub.devices().attach("therm-on", crate::azure::wire::DeviceProtocol::Mqtt, String::new(), String::new());
        let version = set_temperature(&hub, "therm-on", 22).await;
        tokio::time::sleep(Duration::from_hours(1)).await;
        assert_ne!(acked_version(&hub, "therm-on"), Some(version), "the simulated app answered for the real device");
        let method = crate::azure::wire::CloudToDeviceMethod {
            method_name: "lockDoor".into(),
            payload: Value::Null,
            response_timeout_in_seconds: Some(5),
            connect_timeout_in_seconds: Some(0),
        };
        let refused = crate::sim::methods::invoke(&hub, "therm-on", &method).await.unwrap_err();
        assert_eq!(refused.status(), 404, "a real device not subscribed to methods is not online for them, and the app stays silent");

        hub.devices().detach(&link);
        let version = set_temperature(&hub, "therm-on", 24).await;
        tokio::time::sleep(CONFIG.ack_delay_max + Duration::from_millis(1)).await;
        assert_eq!(acked_version(&hub, "therm-on"), Some(version), "the simulated app resumes once the real device left");
        assert_eq!(crate::sim::methods::invoke(&hub, "therm-on", &method).await.unwrap().status, 200);
    }
}
