//! The state directory: a kept directory or a temporary one, and what each hub keeps in it —
//! its shared access policies (`policies.json`) and its database (`hub.redb`, seeded with the
//! demo fleet on first start).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::auth::Policies;
use super::clock::now_ticks;
use super::config::{SimConfig, StateLocation};
use super::error::SimError;
use super::faults::FaultInjector;
use super::hub::{Hub, HubParts, open_store};
use super::registry::Registry;
use super::seed::demo_fleet;
use super::store::{Batch, Store};
use crate::files::{create_dir, read_text, write_private};

const POLICIES_FILE: &str = "policies.json";
const DATABASE_FILE: &str = "hub.redb";
/// Metadata key set in the same transaction as the demo fleet, so a crash mid-seed reseeds.
const SEEDED_KEY: &str = "seeded";

/// The directory the simulator keeps its state in; an ephemeral one is removed when this is
/// dropped.
pub struct StateDir {
    path: PathBuf,
    persistent: bool,
    _temp: Option<tempfile::TempDir>,
}

impl StateDir {
    /// Creates the directory `location` names (or a temporary one).
    pub fn open(location: &StateLocation) -> Result<Self, SimError> {
        let state = match location {
            StateLocation::Dir(dir) => Self { path: dir.clone(), persistent: true, _temp: None },
            StateLocation::Ephemeral => {
                let temp = tempfile::Builder::new().prefix("hubdeck-sim-").tempdir().map_err(|source| SimError::Io {
                    action: "cannot create a temporary state directory in",
                    path: std::env::temp_dir(),
                    source,
                })?;
                Self { path: temp.path().to_owned(), persistent: false, _temp: Some(temp) }
            }
        };
        create_dir(&state.path)?;
        Ok(state)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when what is written here survives a restart (devices and jobs then go to a
    /// database; an ephemeral simulator keeps them in memory only).
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }
}

/// Opens one hub's state in `dir` (policies, database, seeded fleet of `fleet_size`).
pub async fn open_hub(dir: &Path, persistent: bool, config: &SimConfig, fleet_size: usize, own_host: &str) -> Result<Arc<Hub>, SimError> {
    create_dir(dir)?;
    let policies = load_or_create_policies(dir)?;
    let (store, registry, jobs) = if persistent {
        let path = dir.join(DATABASE_FILE);
        if config.reset {
            remove_if_present(&path)?;
        }
        let config = SimConfig { fleet_size, ..config.clone() };
        let (store, registry, jobs) = tokio::task::spawn_blocking(move || {
            let (store, registry) = load_and_seed(&path, &config)?;
            let jobs = super::hub::load_jobs(&store)?;
            Ok::<_, SimError>((store, registry, jobs))
        })
        .await
        .map_err(|error| SimError::Config(format!("startup task failed: {error}")))??;
        let mut registry = registry;
        registry.disconnect_real_devices(now_ticks());
        (Some(store), registry, jobs)
    } else {
        (None, Registry::from_records(demo_fleet(fleet_size, config.seed, now_ticks())), Vec::new())
    };
    let mut host_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned(), "[::1]".to_owned()];
    if !host_names.iter().any(|host| host == own_host) {
        host_names.push(own_host.to_owned());
    }
    let parts = HubParts {
        policies,
        faults: FaultInjector::new(config.faults.clone(), config.seed),
        host_names,
        jobs: super::jobs::Jobs::new(jobs_config(config), jobs),
        method_config: config.methods.clone(),
        quotas: super::hub_quotas::HubQuotas::new(&config.limits),
    };
    Ok(Arc::new(Hub::new(registry, store, parts)))
}

/// The jobs settings with the tier's cap on active jobs, when it has one.
fn jobs_config(config: &SimConfig) -> super::jobs::JobsConfig {
    let max_active = config.limits.max_active_jobs.unwrap_or(config.jobs.max_active);
    super::jobs::JobsConfig { max_active, ..config.jobs.clone() }
}

fn remove_if_present(path: &Path) -> Result<(), SimError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SimError::Io { action: "cannot remove", path: path.to_owned(), source }),
    }
}

fn load_or_create_policies(dir: &Path) -> Result<Policies, SimError> {
    let path = dir.join(POLICIES_FILE);
    if path.exists() {
        let text = read_text(&path)?;
        return serde_json::from_str(&text).map_err(|error| SimError::Corrupt { path, detail: error.to_string() });
    }
    let policies = Policies::generate();
    let text = serde_json::to_vec_pretty(&policies)
        .map_err(|error| SimError::Encode { what: POLICIES_FILE.to_owned(), detail: error.to_string() })?;
    write_private(&path, &text)?;
    Ok(policies)
}

/// Opens the database; on first start seeds the demo fleet in one transaction.
fn load_and_seed(path: &Path, config: &SimConfig) -> Result<(Store, Registry), SimError> {
    let (store, registry) = open_store(path)?;
    if store.get_meta(SEEDED_KEY)?.is_some() {
        return Ok((store, registry));
    }
    let fleet = demo_fleet(config.fleet_size, config.seed, now_ticks());
    let upserts = fleet
        .iter()
        .map(|record| {
            let bytes = serde_json::to_vec(record)
                .map_err(|error| SimError::Encode { what: format!("demo device '{}'", record.device_id), detail: error.to_string() })?;
            Ok((record.device_id.clone(), bytes))
        })
        .collect::<Result<_, SimError>>()?;
    store.write(&Batch { upserts, deletes: Vec::new(), meta: vec![(SEEDED_KEY.to_owned(), b"1".to_vec())] })?;
    let mut registry = registry;
    for record in fleet {
        registry.insert(record);
    }
    Ok((store, registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ephemeral_directory_goes_away_with_its_owner() {
        let state = StateDir::open(&StateLocation::Ephemeral).unwrap();
        let path = state.path().to_owned();
        assert!(path.is_dir());
        assert!(!state.is_persistent());
        drop(state);
        assert!(!path.exists());
    }

    #[test]
    fn seeding_happens_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        let config = SimConfig { fleet_size: 3, ..SimConfig::default() };
        let (_, registry) = load_and_seed(&path, &config).unwrap();
        assert_eq!(registry.len(), 3);
        let (_, again) = load_and_seed(&path, &SimConfig { fleet_size: 7, ..config }).unwrap();
        assert_eq!(again.len(), 3, "a seeded database is not seeded again");
    }
}
