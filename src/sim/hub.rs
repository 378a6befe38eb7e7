//! One simulated hub's state: registry, policies, durable store and fault injector, with the
//! write path that commits to disk before a change is acknowledged.

use std::sync::Arc;

use parking_lot::RwLock;

use super::auth::Policies;
use super::error::{HubError, SimError};
use super::faults::FaultInjector;
use super::jobs::Jobs;
use super::methods::MethodConfig;
use super::registry::{Changes, Registry};
use super::store::{Batch, Store};
use crate::azure::wire::ErrorCode;

/// A simulated `IoT` hub.
pub struct Hub {
    registry: RwLock<Registry>,
    store: Option<Arc<Store>>,
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
}

impl Hub {
    /// A hub over `registry`, persisting to `store` when given.
    pub fn new(registry: Registry, store: Option<Store>, parts: HubParts) -> Self {
        let HubParts { policies, faults, host_names, jobs, method_config } = parts;
        Self {
            registry: RwLock::new(registry),
            store: store.map(Arc::new),
            write_gate: tokio::sync::Mutex::new(()),
            policies,
            faults,
            host_names,
            desired_listener: std::sync::OnceLock::new(),
            jobs,
            method_config,
            reprovision_listener: std::sync::OnceLock::new(),
        }
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
        self.store.is_some()
    }

    /// Saves job records (`None` removes one) durably.
    pub async fn save_jobs(&self, jobs: Vec<(String, Option<Vec<u8>>)>) -> Result<(), SimError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let store = Arc::clone(store);
        tokio::task::spawn_blocking(move || store.write_jobs(&jobs))
            .await
            .map_err(|error| SimError::Config(format!("the job save task failed: {error}")))?
    }

    /// Reads the registry under a shared lock.
    pub fn read<R>(&self, read: impl FnOnce(&Registry) -> R) -> R {
        read(&self.registry.read())
    }

    /// Applies a change, then commits what it touched before returning, so a returned `Ok`
    /// is durable.
    pub async fn write<R>(&self, change: impl FnOnce(&mut Registry) -> Result<(R, Changes), HubError>) -> Result<R, HubError> {
        let _gate = self.write_gate.lock().await;
        let (result, batch, desired_changed) = {
            let mut registry = self.registry.write();
            let (result, changes) = change(&mut registry)?;
            (result, batch_for(&registry, &changes), changes.desired_changed)
        };
        if let Some(store) = &self.store
            && !batch.is_empty()
        {
            let store = Arc::clone(store);
            let committed = tokio::task::spawn_blocking(move || store.write(&batch)).await;
            let failure = match committed {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(join_error) => Some(join_error.to_string()),
            };
            if let Some(detail) = failure {
                tracing::error!(%detail, "state commit failed");
                return Err(HubError::new(ErrorCode::ServerError, format!("the change could not be saved: {detail}")));
            }
        }
        if let Some(listener) = self.desired_listener.get() {
            for device_id in desired_changed {
                // A full queue only delays acknowledgements: the fleet rescans on restart.
                listener.try_send(device_id).ok();
            }
        }
        Ok(result)
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

/// Serialises the records a change touched.
pub fn batch_for(registry: &Registry, changes: &Changes) -> Batch {
    let upserts = changes
        .upserted
        .iter()
        .filter_map(|device_id| registry.get(device_id).ok())
        .map(|record| (record.device_id.clone(), serde_json::to_vec(record).unwrap_or_default()))
        .collect();
    Batch { upserts, deletes: changes.deleted.clone(), meta: Vec::new() }
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
