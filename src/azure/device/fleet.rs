//! `--fleet N`: many devices in one process, for load. The devices come from a hub (created with
//! bulk registry calls when missing, `{prefix}{n}`) or from a DPS group enrollment (registration
//! ids `{prefix}{n}`, keys derived from the group key); they connect at a bounded concurrency
//! and are counted, not printed one by one.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use futures_util::StreamExt as _;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::super::hub::{HubClient, MAX_BULK_ITEMS};
use super::super::secret::{HUB_KEY_BYTES, Secret};
use super::super::wire::{AuthenticationMechanism, AuthenticationType, DeviceStatus, ExportImportDevice, ImportMode, SymmetricKey};
use super::client::HubIdentity;
use super::connection_string::split_host_port;
use super::credentials::derive_device_key;
use super::error::DeviceError;
use super::provisioning::ProvisioningSettings;
use super::runner::{DeviceEvent, DeviceSettings, IdentitySource, Reporter, run_device};

/// Devices fetched at once when reading the keys of devices that already exist.
const READ_CONCURRENCY: usize = 16;

/// The fleet's device ids: `{prefix}1` … `{prefix}{count}`.
pub fn fleet_ids(prefix: &str, count: usize) -> Vec<String> {
    (1..=count).map(|index| format!("{prefix}{index}")).collect()
}

/// The identities of `ids` on the hub `hub` serves, creating the missing devices (bulk, with
/// generated keys) and reading the keys of those that exist. `device_host_name` is the hub's
/// `HostName` as devices name it (`localhost`, `myhub.azure-devices.net`).
pub async fn hub_fleet_identities(hub: &HubClient, device_host_name: &str, ids: &[String]) -> Result<Vec<HubIdentity>, DeviceError> {
    let mut keys: Vec<Option<Secret>> = vec![None; ids.len()];
    let mut existing = Vec::new();
    for (chunk_index, chunk) in ids.chunks(MAX_BULK_ITEMS).enumerate() {
        let mut generated = Vec::with_capacity(chunk.len());
        let items: Vec<ExportImportDevice> = chunk
            .iter()
            .map(|device_id| {
                let key = Secret::generate_key(HUB_KEY_BYTES);
                generated.push(key.clone());
                let mut item = ExportImportDevice::new(device_id.clone(), ImportMode::Create);
                item.status = Some(DeviceStatus::Enabled);
                item.authentication = Some(AuthenticationMechanism {
                    symmetric_key: Some(SymmetricKey { primary_key: Some(key), secondary_key: Some(Secret::generate_key(HUB_KEY_BYTES)) }),
                    x509_thumbprint: None,
                    kind: AuthenticationType::Sas,
                });
                item
            })
            .collect();
        let result = hub.bulk(&items).await?;
        for (offset, (device_id, key)) in chunk.iter().zip(generated).enumerate() {
            let index = chunk_index * MAX_BULK_ITEMS + offset;
            match result.errors.iter().find(|error| &error.device_id == device_id) {
                None => keys[index] = Some(key),
                Some(error) if error.error_code == "DeviceAlreadyExists" => existing.push(index),
                Some(error) => {
                    return Err(DeviceError::InvalidSetting(format!(
                        "the hub refused to create device '{device_id}': {}",
                        error.error_code
                    )));
                }
            }
        }
    }
    // Devices that already exist keep their keys: read them, a few at a time.
    let reads = futures_util::stream::iter(existing)
        .map(|index| async move { (index, hub.get_device(&ids[index]).await) })
        .buffer_unordered(READ_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for (index, device) in reads {
        let key = device?.authentication.and_then(|authentication| authentication.symmetric_key).and_then(|keys| keys.primary_key);
        match key {
            Some(key) if !key.is_empty() => keys[index] = Some(key),
            _ => return Err(DeviceError::InvalidSetting(format!("device '{}' exists without a symmetric key", ids[index]))),
        }
    }
    let host_name = split_host_port(device_host_name).0.to_owned();
    Ok(ids
        .iter()
        .zip(keys)
        .filter_map(|(device_id, key)| {
            key.map(|key| HubIdentity { host_name: host_name.clone(), device_id: device_id.clone(), key, gateway_host_name: None })
        })
        .collect())
}

/// DPS settings for `ids`, each with its key derived from the group key.
pub fn dps_fleet_settings(
    provisioning_host: &str,
    id_scope: &str,
    group_key: &Secret,
    ids: &[String],
) -> Result<Vec<ProvisioningSettings>, DeviceError> {
    ids.iter()
        .map(|registration_id| {
            let device_key = derive_device_key(group_key, registration_id)
                .ok_or_else(|| DeviceError::InvalidSetting("the group key is not valid base64".to_owned()))?;
            Ok(ProvisioningSettings {
                provisioning_host: provisioning_host.to_owned(),
                id_scope: id_scope.to_owned(),
                registration_id: registration_id.clone(),
                device_key,
            })
        })
        .collect()
}

/// What the fleet did so far, counted from its devices' events.
#[derive(Default)]
pub struct FleetCounters {
    connected: AtomicI64,
    connections: AtomicU64,
    provisioned: AtomicU64,
    methods: AtomicU64,
    messages: AtomicU64,
    desired: AtomicU64,
    retries: AtomicU64,
    problems: AtomicU64,
    gave_up: AtomicU64,
    last_failure: Mutex<Option<String>>,
}

/// A summary line's numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetSnapshot {
    /// Devices connected now.
    pub connected: i64,
    /// Devices in the fleet.
    pub devices: usize,
    /// Connections opened (reconnects included).
    pub connections: u64,
    /// Registrations through DPS.
    pub provisioned: u64,
    /// Direct methods answered.
    pub methods: u64,
    /// Telemetry messages accepted.
    pub messages: u64,
    /// Desired changes acknowledged.
    pub desired: u64,
    /// Waits before another attempt.
    pub retries: u64,
    /// Requests that failed on a live connection.
    pub problems: u64,
    /// Devices whose retry rules gave up.
    pub gave_up: u64,
    /// The latest failure, for the operator.
    pub last_failure: Option<String>,
}

impl FleetCounters {
    /// The numbers now, for a fleet of `devices`.
    pub fn snapshot(&self, devices: usize) -> FleetSnapshot {
        FleetSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            devices,
            connections: self.connections.load(Ordering::Relaxed),
            provisioned: self.provisioned.load(Ordering::Relaxed),
            methods: self.methods.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
            desired: self.desired.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            problems: self.problems.load(Ordering::Relaxed),
            gave_up: self.gave_up.load(Ordering::Relaxed),
            last_failure: self.last_failure.lock().clone(),
        }
    }
}

impl Reporter for FleetCounters {
    fn report(&self, _device: &str, event: DeviceEvent) {
        let counter = match &event {
            DeviceEvent::Connected { .. } => {
                self.connected.fetch_add(1, Ordering::Relaxed);
                &self.connections
            }
            DeviceEvent::Disconnected { .. } => {
                self.connected.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            DeviceEvent::Provisioned { .. } => &self.provisioned,
            DeviceEvent::MethodAnswered { .. } => &self.methods,
            DeviceEvent::TelemetrySent { .. } => &self.messages,
            DeviceEvent::DesiredChanged { .. } => &self.desired,
            DeviceEvent::Retrying(note) => {
                *self.last_failure.lock() = Some(note.failure.to_string());
                &self.retries
            }
            DeviceEvent::Problem(problem) => {
                *self.last_failure.lock() = Some(problem.clone());
                &self.problems
            }
            DeviceEvent::GaveUp(reason) => {
                *self.last_failure.lock() = Some(reason.clone());
                &self.gave_up
            }
            DeviceEvent::StateReported { .. }
            | DeviceEvent::CloudToDevice { .. }
            | DeviceEvent::Rebooting { .. }
            | DeviceEvent::Reprovisioning => {
                return;
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Display for FleetSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fleet: {}/{} connected, {} methods answered, {} messages sent, {} desired changes, {} connections, {} retries",
            self.connected, self.devices, self.methods, self.messages, self.desired, self.connections, self.retries
        )?;
        if self.provisioned > 0 {
            write!(f, ", {} registrations", self.provisioned)?;
        }
        if self.problems > 0 {
            write!(f, ", {} failed requests", self.problems)?;
        }
        if self.gave_up > 0 {
            write!(f, ", {} gave up", self.gave_up)?;
        }
        if let Some(failure) = &self.last_failure {
            write!(f, " (last: {failure})")?;
        }
        Ok(())
    }
}

/// Runs every device of `sources` with the settings of `template` (its source is replaced), at
/// most `connect_concurrency` connecting or registering at once, until `stop` turns true.
pub async fn run_fleet(
    sources: Vec<IdentitySource>,
    template: &DeviceSettings,
    connect_concurrency: usize,
    counters: Arc<FleetCounters>,
    stop: watch::Receiver<bool>,
) {
    let gate = Arc::new(Semaphore::new(connect_concurrency.max(1)));
    let mut devices = JoinSet::new();
    for source in sources {
        let settings = DeviceSettings { source, connect_gate: Some(Arc::clone(&gate)), ..template.clone() };
        let reporter: Arc<dyn Reporter> = counters.clone();
        // A device that gives up has told the counters why; the others keep running.
        devices.spawn(run_device(settings, reporter, stop.clone()));
    }
    while devices.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::super::error::ConnectFailure;
    use super::super::reconnect::{RetryCause, RetryNote, Step};
    use super::*;

    #[test]
    fn ids_and_derived_keys() {
        assert_eq!(fleet_ids("bench-", 3), ["bench-1", "bench-2", "bench-3"]);
        let group_key = Secret::new("c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=");
        let settings = dps_fleet_settings("localhost", "0ne00000001", &group_key, &fleet_ids("reg-", 2)).unwrap();
        assert_eq!(settings[0].registration_id, "reg-1");
        assert_eq!(settings[0].device_key, derive_device_key(&group_key, "reg-1").unwrap());
        assert_ne!(settings[0].device_key, settings[1].device_key);
        assert!(dps_fleet_settings("h", "s", &Secret::new("not base64!"), &fleet_ids("r", 1)).is_err());
    }

    #[test]
    fn the_summary_counts_events() {
        let counters = FleetCounters::default();
        let connected = || DeviceEvent::Connected { endpoint: "hub h".into(), url: "mqtts://h:8883".into() };
        counters.report("d1", connected());
        counters.report("d2", connected());
        counters.report("d2", DeviceEvent::Disconnected { reason: "lost".into() });
        counters.report("d1", DeviceEvent::MethodAnswered { name: "lockDoor".into(), status: 200, payload: serde_json::Value::Null });
        counters.report("d1", DeviceEvent::TelemetrySent { message_id: "m".into(), body: serde_json::Value::Null });
        let failure = ConnectFailure::Transient { endpoint: "hub h".into(), detail: "refused".into() };
        counters.report(
            "d2",
            DeviceEvent::Retrying(RetryNote {
                failure,
                wait: std::time::Duration::from_secs(5),
                then: Step::Connect,
                cause: RetryCause::Transient,
            }),
        );
        let snapshot = counters.snapshot(2);
        assert_eq!((snapshot.connected, snapshot.connections, snapshot.methods, snapshot.messages, snapshot.retries), (1, 2, 1, 1, 1));
        assert_eq!(
            snapshot.to_string(),
            "fleet: 1/2 connected, 1 methods answered, 1 messages sent, 0 desired changes, 2 connections, 1 retries (last: hub h: refused)"
        );
    }
}
