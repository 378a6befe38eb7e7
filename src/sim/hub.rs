//! One simulated hub's state: registry, policies, durable store and fault injector, with the
//! write path that commits to disk before a change is acknowledged.

use std::sync::Arc;

use parking_lot::RwLock;

use super::auth::Policies;
use super::c2d::C2dQueues;
use super::d2c_log::D2cLog;
use super::error::{HubError, SimError};
use super::faults::FaultInjector;
use super::hub_quotas::HubQuotas;
use super::jobs::Jobs;
use super::methods::MethodConfig;
use super::mqtt::connections::DeviceConnections;
use super::registry::{Changes, Registry};
use super::store::{Batch, Store};
use crate::azure::wire::ErrorCode;

/// A simulated `IoT` hub.
pub struct Hub {
    registry: RwLock<Registry>,
    store: RwLock<StoreSlot>,
    /// Serialises writers so disk commits happen in the order changes were made.
    write_gate: tokio::sync::Mutex<()>,
    policies: Policies,
    faults: FaultInjector,
    host_names: Vec<String>,
    /// Where desired changes are reported (the simulated fleet), once it runs.
    desired_listener: std::sync::OnceLock<tokio::sync::mpsc::Sender<String>>,
    jobs: Jobs,
    method_config: MethodConfig,
    /// Where simulated devices ask to register with DPS again (device ids), when DPS runs.
    reprovision_listener: std::sync::OnceLock<tokio::sync::mpsc::Sender<String>>,
    /// Real devices connected over MQTT right now.
    devices: DeviceConnections,
    /// Device-to-cloud messages (the built-in endpoint's partitions).
    d2c: D2cLog,
    /// Cloud-to-device messages waiting for their devices.
    c2d: C2dQueues,
    /// The tier's throttles and daily message meter.
    quotas: HubQuotas,
}

/// Where a hub's state is kept.
enum StoreSlot {
    /// In memory only (`--ephemeral`).
    Ephemeral,
    /// In this database.
    Open(Arc<Store>),
    /// The database was closed on shutdown; writes are refused from then on.
    Closed,
}

/// The parts of a hub besides its registry and store.
pub struct HubParts {
    /// Shared access policies.
    pub policies: Policies,
    /// Fault injection.
    pub faults: FaultInjector,
    /// Host names it answers to.
    pub host_names: Vec<String>,
    /// Scheduled jobs (loaded from the store).
    pub jobs: Jobs,
    /// How simulated devices answer direct methods.
    pub method_config: MethodConfig,
    /// The tier's throttles and daily message meter.
    pub quotas: HubQuotas,
}

impl Hub {
    /// A hub over `registry`, persisting to `store` when given.
    pub fn new(registry: Registry, store: Option<Store>, parts: HubParts) -> Self {
        let HubParts { policies, faults, host_names, jobs, method_config, quotas } = parts;
        Self {
            registry: RwLock::new(registry),
            store: RwLock::new(store.map_or(StoreSlot::Ephemeral, |store| StoreSlot::Open(Arc::new(store)))),
            write_gate: tokio::sync::Mutex::new(()),
            policies,
            faults,
            host_names,
            desired_listener: std::sync::OnceLock::new(),
            jobs,
            method_config,
            reprovision_listener: std::sync::OnceLock::new(),
            devices: DeviceConnections::default(),
            d2c: D2cLog::default(),
            c2d: C2dQueues::default(),
            quotas,
        }
    }

    /// The tier's throttles and daily message meter.
    pub fn quotas(&self) -> &HubQuotas {
        &self.quotas
    }

    /// Real devices connected over MQTT.
    pub fn devices(&self) -> &DeviceConnections {
        &self.devices
    }

    /// Device-to-cloud messages the hub accepted.
    pub fn d2c(&self) -> &D2cLog {
        &self.d2c
    }

    /// Cloud-to-device queues.
    pub fn c2d(&self) -> &C2dQueues {
        &self.c2d
    }

    /// Queues a cloud-to-device message for an existing device and tells its connection.
    pub fn send_to_device(&self, device_id: &str, message: super::c2d::OutgoingMessage) -> Result<String, HubError> {
        self.read(|registry| registry.get(device_id).map(|_| ()))?;
        let message_id = self.c2d.enqueue(device_id, message)?;
        self.devices.message_waiting(device_id);
        Ok(message_id)
    }

    /// Scheduled jobs.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// How simulated devices answer methods.
    pub fn method_config(&self) -> &MethodConfig {
        &self.method_config
    }

    /// True when state is kept on disk (not `--ephemeral`).
    pub fn is_persistent(&self) -> bool {
        !matches!(*self.store.read(), StoreSlot::Ephemeral)
    }

    /// Closes the database once the write in progress (if any) is committed, so the state
    /// directory can be opened again as soon as `Simulator::shutdown` returns, even while a
    /// connection or a simulated device still holds the hub. Later writes are refused (503).
    pub async fn close_store(&self) {
        let _gate = self.write_gate.lock().await;
        let mut slot = self.store.write();
        if matches!(*slot, StoreSlot::Open(_)) {
            *slot = StoreSlot::Closed;
        }
    }

    /// Saves job records (`None` removes one) durably.
    pub async fn save_jobs(&self, jobs: Vec<super::jobs::JobSave>) -> Result<(), SimError> {
        let store = match &*self.store.read() {
            StoreSlot::Ephemeral => return Ok(()),
            StoreSlot::Open(store) => Arc::clone(store),
            StoreSlot::Closed => return Err(SimError::ShutDown("the jobs")),
        };
        tokio::task::spawn_blocking(move || store.write_jobs(&jobs))
            .await
            .map_err(|error| SimError::Config(format!("the job save task failed: {error}")))?
    }

    /// A hub for unit tests: built-in policies, no faults, default jobs.
    #[cfg(test)]
    pub(crate) fn for_tests(registry: Registry, store: Option<Store>, method_config: MethodConfig) -> Arc<Self> {
        Self::for_tests_with_limits(registry, store, method_config, &super::tier::HubLimits::unlimited())
    }

    /// A hub for unit tests enforcing `limits`.
    #[cfg(test)]
    pub(crate) fn for_tests_with_limits(
        registry: Registry,
        store: Option<Store>,
        method_config: MethodConfig,
        limits: &super::tier::HubLimits,
    ) -> Arc<Self> {
        let parts = HubParts {
            policies: Policies::generate(),
            faults: FaultInjector::new(super::faults::FaultConfig::default(), 1),
            host_names: vec!["localhost".to_owned()],
            jobs: Jobs::new(super::jobs::JobsConfig::default(), Vec::new()),
            method_config,
            quotas: HubQuotas::new(limits),
        };
        Arc::new(Self::new(registry, store, parts))
    }

    /// The store, while it is open.
    #[cfg(test)]
    pub(crate) fn store(&self) -> Option<Arc<Store>> {
        match &*self.store.read() {
            StoreSlot::Open(store) => Some(Arc::clone(store)),
            StoreSlot::Ephemeral | StoreSlot::Closed => None,
        }
    }

    /// Reads the registry under a shared lock.
    pub fn read<R>(&self, read: impl FnOnce(&Registry) -> R) -> R {
        read(&self.registry.read())
    }

    /// Applies a change and commits what it touched before anyone can see it: the registry
    /// stays write-locked until the commit is durable, and a change that fails (in `change`
    /// itself, or when it is encoded or committed) is undone, so memory never runs ahead of
    /// disk. A failed commit answers 500, never a success for something not on disk.
    pub async fn write<R>(&self, change: impl FnOnce(&mut Registry) -> Result<(R, Changes), HubError>) -> Result<R, HubError> {
        // Writers queue here without holding a worker thread; the registry lock is taken only
        // for the change and its commit.
        let _gate = self.write_gate.lock().await;
        let store = match &*self.store.read() {
            StoreSlot::Ephemeral => None,
            StoreSlot::Open(store) => Some(Arc::clone(store)),
            StoreSlot::Closed => {
                return Err(HubError::new(ErrorCode::ServiceUnavailable, "the simulator is shutting down; the change was not made"));
            }
        };
        let (result, changes) = match store {
            Some(store) => blocking_io(|| self.write_locked(change, Some(&store)))?,
            None => self.write_locked(change, None)?,
        };
        self.after_commit(&changes);
        if let Some(listener) = self.desired_listener.get() {
            for device_id in changes.desired_changed {
                // A full queue only delays acknowledgements: the fleet rescans on restart.
                listener.try_send(device_id).ok();
            }
        }
        Ok(result)
    }

    /// The change and its commit under the registry's write lock: readers see the state before
    /// or after a committed change, never one that is not on disk.
    fn write_locked<R>(
        &self,
        change: impl FnOnce(&mut Registry) -> Result<(R, Changes), HubError>,
        store: Option<&Store>,
    ) -> Result<(R, Changes), HubError> {
        let mut registry = self.registry.write();
        registry.begin();
        let committed = change(&mut registry).and_then(|(result, changes)| {
            if let Some(store) = store {
                let batch = batch_for(&registry, &changes)?;
                if !batch.is_empty() {
                    store.write(&batch).map_err(|error| {
                        tracing::error!(%error, "state commit failed");
                        HubError::new(ErrorCode::ServerError, format!("the change could not be saved: {error}"))
                    })?;
                }
            }
            Ok((result, changes))
        });
        if committed.is_ok() {
            registry.commit();
        } else {
            registry.rollback();
        }
        committed
    }

    /// Tells real device connections what a committed change means for them: desired changes are
    /// pushed, and a deleted or disabled device loses its connection.
    fn after_commit(&self, changes: &Changes) {
        if self.devices.count() == 0 {
            return;
        }
        for device_id in &changes.desired_changed {
            self.devices.desired_changed(device_id);
        }
        for device_id in &changes.deleted {
            self.devices.close(device_id);
        }
        let disabled: Vec<&String> = self.read(|registry| {
            changes
                .upserted
                .iter()
                .filter(|device_id| self.devices.is_connected(device_id))
                .filter(|device_id| registry.get(device_id).is_ok_and(|record| record.status != crate::azure::wire::DeviceStatus::Enabled))
                .collect()
        });
        for device_id in disabled {
            self.devices.close(device_id);
        }
    }

    /// Connects the simulated fleet: desired changes are reported to `listener` from now on.
    pub fn set_desired_listener(&self, listener: tokio::sync::mpsc::Sender<String>) {
        self.desired_listener.set(listener).ok();
    }

    /// Connects DPS: simulated devices' requests to register again go to `listener`.
    pub fn set_reprovision_listener(&self, listener: tokio::sync::mpsc::Sender<String>) {
        self.reprovision_listener.set(listener).ok();
    }

    /// A simulated device asks DPS to register it again; false when no DPS listens.
    pub fn request_reprovision(&self, device_id: &str) -> bool {
        self.reprovision_listener.get().is_some_and(|listener| listener.try_send(device_id.to_owned()).is_ok())
    }

    /// Shared access policies.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Fault injection control.
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// Host names the hub answers to (for SAS `sr` checks).
    pub fn host_names(&self) -> &[String] {
        &self.host_names
    }
}

/// Serialises the records a change touched; a record that cannot be encoded fails the change
/// (never stored as empty bytes).
pub fn batch_for(registry: &Registry, changes: &Changes) -> Result<Batch, HubError> {
    let upserts = changes
        .upserted
        .iter()
        .filter_map(|device_id| registry.get(device_id).ok())
        .map(|record| {
            serde_json::to_vec(record)
                .map(|bytes| (record.device_id.clone(), bytes))
                .map_err(|error| HubError::not_encoded(&format!("device '{}'", record.device_id), &error))
        })
        .collect::<Result<_, _>>()?;
    Ok(Batch { upserts, deletes: changes.deleted.clone(), meta: Vec::new() })
}

/// Runs blocking disk work from async code: on a multi-threaded runtime the worker hands its
/// other tasks over first; on a current-thread runtime (unit tests) nothing else could run
/// meanwhile anyway.
fn blocking_io<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Opens the store and loads what it holds.
pub fn open_store(path: &std::path::Path) -> Result<(Store, Registry), SimError> {
    let store = Store::open(path)?;
    let registry = Registry::from_records(store.load_devices()?);
    Ok((store, registry))
}

/// The job records a store holds.
pub fn load_jobs(store: &Store) -> Result<Vec<super::jobs::JobRecord>, SimError> {
    store
        .load_jobs()?
        .into_iter()
        .map(|(job_id, bytes)| {
            serde_json::from_slice(&bytes)
                .map_err(|error| SimError::Corrupt { path: store.path().to_owned(), detail: format!("job '{job_id}': {error}") })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::azure::wire::{Device, ErrorCode};

    fn persistent_hub(dir: &std::path::Path) -> Arc<Hub> {
        let (store, registry) = open_store(&dir.join("hub.redb")).unwrap();
        Hub::for_tests(registry, Some(store), MethodConfig::default())
    }

    async fn create(hub: &Hub, device_id: &str) -> Result<u64, HubError> {
        hub.write(|registry| {
            let record = registry.put_device(device_id, &Device::new_with_generated_keys(device_id), None, 1)?;
            Ok((record.etag, Changes::upsert(device_id)))
        })
        .await
    }

    async fn disable(hub: &Hub, device_id: &str) -> Result<(), HubError> {
        hub.write(|registry| {
            let record = registry.get_mut(device_id)?;
            record.status = crate::azure::wire::DeviceStatus::Disabled;
            Ok(((), Changes::upsert(device_id)))
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_is_invisible_to_readers_until_its_commit_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let hub = persistent_hub(dir.path());
        let inside_commit = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let (hook_hub, seen) = (Arc::downgrade(&hub), Arc::clone(&inside_commit));
        hub.store().unwrap().set_commit_hook(Box::new(move || {
            // A reader arriving now (another thread) must wait: the registry is still locked.
            let hub = hook_hub.upgrade().unwrap();
            seen.lock().push(hub.registry.try_read().is_none());
            Ok(())
        }));
        create(&hub, "d1").await.unwrap();
        assert_eq!(*inside_commit.lock(), vec![true], "a reader could look at the registry during the commit");
        assert!(hub.read(|registry| registry.get("d1").is_ok()), "the committed device is visible afterwards");
    }

    #[tokio::test]
    async fn a_failed_commit_answers_500_and_leaves_memory_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let hub = persistent_hub(dir.path());
        let etag = create(&hub, "kept").await.unwrap();
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let switch = Arc::clone(&failing);
        hub.store().unwrap().set_commit_hook(Box::new(move || {
            if switch.load(std::sync::atomic::Ordering::SeqCst) {
                Err(SimError::Config("injected: the disk is full".to_owned()))
            } else {
                Ok(())
            }
        }));

        let refused = create(&hub, "lost").await.unwrap_err();
        assert_eq!((refused.code, refused.status()), (ErrorCode::ServerError, 500), "{refused:?}");
        assert!(refused.message.contains("could not be saved") && refused.message.contains("disk is full"), "{}", refused.message);
        assert!(hub.read(|registry| registry.get("lost").is_err()), "an uncommitted create is visible");

        let refused = disable(&hub, "kept").await.unwrap_err();
        assert_eq!(refused.status(), 500, "{refused:?}");
        let (status, etag_now) = hub.read(|registry| registry.get("kept").map(|record| (record.status, record.etag)).unwrap());
        assert_eq!((status, etag_now), (crate::azure::wire::DeviceStatus::Enabled, etag), "an uncommitted update is visible");

        // The disk recovers: the next writes succeed, and disk and memory agree after a reopen.
        failing.store(false, std::sync::atomic::Ordering::SeqCst);
        let next_etag = create(&hub, "after").await.unwrap();
        assert!(next_etag > etag, "etags keep increasing: {next_etag} after {etag}");
        drop(hub);
        let reopened = persistent_hub(dir.path());
        let ids: Vec<String> = reopened.read(|registry| registry.iter_from(None).map(|record| record.device_id.clone()).collect());
        assert_eq!(ids, ["after", "kept"]);
    }

    #[tokio::test]
    async fn a_closed_store_can_be_reopened_while_the_hub_is_still_held_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let hub = persistent_hub(dir.path());
        create(&hub, "kept").await.unwrap();
        hub.close_store().await;
        let refused = create(&hub, "late").await.unwrap_err();
        assert_eq!(refused.status(), 503, "{refused:?}");
        let reopened = persistent_hub(dir.path());
        assert!(reopened.read(|registry| registry.get("kept").is_ok() && registry.get("late").is_err()));
        drop(hub);
    }

    #[tokio::test]
    async fn a_refused_change_is_undone_even_when_it_changed_memory_first() {
        let hub = Hub::for_tests(Registry::default(), None, MethodConfig::default());
        create(&hub, "a").await.unwrap();
        let refused = hub
            .write(|registry| -> Result<((), Changes), HubError> {
                registry.get_mut("a")?.status = crate::azure::wire::DeviceStatus::Disabled;
                registry.delete("a", None)?;
                Err(HubError::invalid("refused after changing memory"))
            })
            .await
            .unwrap_err();
        assert_eq!(refused.message, "refused after changing memory");
        let status = hub.read(|registry| registry.get("a").map(|record| record.status).unwrap());
        assert_eq!(status, crate::azure::wire::DeviceStatus::Enabled);
    }
}
