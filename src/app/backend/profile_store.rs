//! Connection profiles on disk: names, hosts and CA paths in `profiles.json` (no secrets), the
//! connection strings in a [`SecretStores`] place chosen per profile. Synchronous file and
//! keyring calls: the backend reaches the store only through `StoreHandle`, on blocking threads.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::secrets::{ProfileSecrets, SecretError, SecretStores};
use crate::app::model::{ProfileDraft, ProfileId, ProfileKind, ProfileSummary, SecretPlacement};
use crate::azure::connection_string::ServiceConnectionString;
use crate::azure::secret::Secret;

/// A profile store failure; never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The profile file could not be read or written.
    #[error("{path}: {detail}")]
    File {
        /// The file that failed.
        path: PathBuf,
        /// The I/O or JSON error.
        detail: String,
    },
    /// The secret store failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The draft has problems (named per field).
    #[error("{0}")]
    Invalid(String),
    /// No such profile.
    #[error("there is no profile '{0}'")]
    NotFound(ProfileId),
    /// The profile's secrets are gone (kept in memory by an earlier session).
    #[error(
        "the connection string of profile '{0}' is not available any more (it was kept in memory only); edit the profile and enter it again"
    )]
    SecretsMissing(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredProfile {
    id: ProfileId,
    name: String,
    hub_host: String,
    hub_key_name: String,
    #[serde(default)]
    dps_host: Option<String>,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    secrets: SecretPlacement,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredProfiles {
    #[serde(default)]
    active: Option<ProfileId>,
    #[serde(default)]
    profiles: Vec<StoredProfile>,
}

/// What is needed to connect with a saved or command-line profile.
pub struct Connection {
    /// Hub service connection string.
    pub hub: ServiceConnectionString,
    /// DPS service connection string, when the profile has one.
    pub dps: Option<ServiceConnectionString>,
    /// Extra CA certificate file.
    pub ca_file: Option<PathBuf>,
}

/// The command-line / environment profile.
#[derive(Clone)]
pub struct CommandLineProfile {
    /// `--hub` / `IOTHUB_CONNECTION_STRING`.
    pub hub: Secret,
    /// `--dps` / `IOTHUB_DPS_CONNECTION_STRING`.
    pub dps: Option<Secret>,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
}

/// Profiles plus their secrets.
pub struct ProfileStore {
    path: PathBuf,
    stored: StoredProfiles,
    secrets: SecretStores,
    command_line: Option<CommandLineProfile>,
}

const FILE_NAME: &str = "profiles.json";

impl ProfileStore {
    /// Opens the store in `config_dir`. A damaged file is reported and replaced on the next save.
    pub fn open(config_dir: &Path, secrets: SecretStores, command_line: Option<CommandLineProfile>) -> (Self, Option<String>) {
        let path = config_dir.join(FILE_NAME);
        let (stored, warning) = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(stored) => (stored, None),
                Err(error) => (
                    StoredProfiles::default(),
                    Some(format!("{} could not be read ({error}); starting with no saved profiles", path.display())),
                ),
            },
            Err(_) => (StoredProfiles::default(), None),
        };
        (Self { path, stored, secrets, command_line }, warning)
    }

    /// A store with no saved profiles, for when `profiles.json` could not be opened at all.
    pub fn empty(config_dir: &Path, secrets: SecretStores, command_line: Option<CommandLineProfile>) -> Self {
        Self { path: config_dir.join(FILE_NAME), stored: StoredProfiles::default(), secrets, command_line }
    }

    /// The profile to start with: the command line's, else the last active, else the simulator.
    pub fn initial(&self) -> ProfileId {
        if self.command_line.is_some() {
            return ProfileId::command_line();
        }
        self.stored
            .active
            .clone()
            .filter(|id| *id == ProfileId::simulator() || self.stored.profiles.iter().any(|profile| profile.id == *id))
            .unwrap_or_else(ProfileId::simulator)
    }

    /// All profiles, simulator first, then the command line's, then saved ones by name.
    pub fn summaries(&self, simulator_host: Option<&str>) -> Vec<ProfileSummary> {
        let mut list = vec![ProfileSummary {
            id: ProfileId::simulator(),
            name: "Local simulator".to_owned(),
            kind: ProfileKind::Simulator,
            hub_host: simulator_host.unwrap_or_default().to_owned(),
            hub_key_name: "iothubowner".to_owned(),
            dps_host: None,
            ca_file: None,
            secrets: SecretPlacement::None,
            secrets_missing: false,
        }];
        if let Some(command_line) = &self.command_line {
            let parsed = ServiceConnectionString::parse_hub(command_line.hub.expose()).ok();
            list.push(ProfileSummary {
                id: ProfileId::command_line(),
                name: "Command line".to_owned(),
                kind: ProfileKind::CommandLine,
                hub_host: parsed.as_ref().map(|hub| hub.host_name().to_owned()).unwrap_or_default(),
                hub_key_name: parsed.as_ref().map(|hub| hub.key_name().to_owned()).unwrap_or_default(),
                dps_host: command_line
                    .dps
                    .as_ref()
                    .and_then(|dps| ServiceConnectionString::parse_dps(dps.expose()).ok())
                    .map(|dps| dps.host_name().to_owned()),
                ca_file: command_line.ca_file.clone(),
                secrets: SecretPlacement::Memory,
                secrets_missing: false,
            });
        }
        let mut saved: Vec<&StoredProfile> = self.stored.profiles.iter().collect();
        saved.sort_by_key(|profile| profile.name.to_lowercase());
        list.extend(saved.into_iter().map(|profile| {
            ProfileSummary {
                id: profile.id.clone(),
                name: profile.name.clone(),
                kind: ProfileKind::Saved,
                hub_host: profile.hub_host.clone(),
                hub_key_name: profile.hub_key_name.clone(),
                dps_host: profile.dps_host.clone(),
                ca_file: profile.ca_file.clone(),
                secrets: profile.secrets,
                // Keyring and file lookups block; only the in-memory case is checked here.
                secrets_missing: profile.secrets == SecretPlacement::Memory
                    && self.secrets.get(SecretPlacement::Memory, &profile.id).ok().flatten().is_none(),
            }
        }));
        list
    }

    /// Records the active profile (the command line's is never persisted).
    pub fn set_active(&mut self, id: &ProfileId) -> Result<(), ProfileError> {
        if *id == ProfileId::command_line() {
            return Ok(());
        }
        self.stored.active = Some(id.clone());
        self.write()
    }

    /// Saves a draft: secrets to the chosen place, the rest to `profiles.json`.
    pub fn save(&mut self, draft: &ProfileDraft) -> Result<(ProfileId, SecretPlacement), ProfileError> {
        let other_names: Vec<&str> = self
            .stored
            .profiles
            .iter()
            .filter(|profile| Some(&profile.id) != draft.id.as_ref())
            .map(|profile| profile.name.as_str())
            .collect();
        let problems = draft.problems(&other_names);
        if let Some(problem) = [problems.name, problems.hub, problems.dps, problems.ca_file].into_iter().flatten().next() {
            return Err(ProfileError::Invalid(problem));
        }
        let hub = ServiceConnectionString::parse_hub(&draft.hub).map_err(|error| ProfileError::Invalid(error.to_string()))?;
        let dps = (!draft.dps.trim().is_empty())
            .then(|| ServiceConnectionString::parse_dps(&draft.dps))
            .transpose()
            .map_err(|error| ProfileError::Invalid(error.to_string()))?;
        let id = draft.id.clone().unwrap_or_else(|| ProfileId(format!("p-{:016x}", rand::random::<u64>())));
        if id == ProfileId::simulator() || id == ProfileId::command_line() {
            return Err(ProfileError::Invalid("the built-in profiles cannot be changed".to_owned()));
        }
        let previous = self.stored.profiles.iter().position(|profile| profile.id == id);
        let placement = match previous {
            // An existing profile keeps its place unless it was memory-only and a file is now chosen.
            Some(index) if !(self.stored.profiles[index].secrets == SecretPlacement::Memory && draft.store_in_file) => {
                self.stored.profiles[index].secrets
            }
            _ => self.secrets.placement_for_new(draft.store_in_file),
        };
        let secrets = ProfileSecrets { hub: Secret::new(hub.expose()), dps: dps.as_ref().map(|dps| Secret::new(dps.expose())) };
        self.secrets.put(placement, &id, &secrets)?;
        let stored = StoredProfile {
            id: id.clone(),
            name: draft.name.trim().to_owned(),
            hub_host: hub.host_name().to_owned(),
            hub_key_name: hub.key_name().to_owned(),
            dps_host: dps.as_ref().map(|dps| dps.host_name().to_owned()),
            ca_file: Some(PathBuf::from(draft.ca_file.trim())).filter(|path| !path.as_os_str().is_empty()),
            secrets: placement,
        };
        match previous {
            Some(index) => {
                let old = std::mem::replace(&mut self.stored.profiles[index], stored);
                if old.secrets != placement {
                    self.secrets.remove(old.secrets, &id)?;
                }
            }
            None => self.stored.profiles.push(stored),
        }
        self.write()?;
        Ok((id, placement))
    }

    /// Removes a saved profile and its secrets.
    pub fn delete(&mut self, id: &ProfileId) -> Result<(), ProfileError> {
        let index = self.stored.profiles.iter().position(|profile| profile.id == *id).ok_or_else(|| ProfileError::NotFound(id.clone()))?;
        let removed = self.stored.profiles.remove(index);
        self.secrets.remove(removed.secrets, id)?;
        if self.stored.active.as_ref() == Some(id) {
            self.stored.active = Some(ProfileId::simulator());
        }
        self.write()
    }

    /// A saved profile as an edit form, connection strings included.
    pub fn draft_for(&self, id: &ProfileId) -> Result<ProfileDraft, ProfileError> {
        let profile = self.find(id)?;
        let secrets = self.secrets.get(profile.secrets, id)?.unwrap_or_default();
        Ok(ProfileDraft {
            id: Some(id.clone()),
            name: profile.name.clone(),
            hub: secrets.hub.expose().to_owned(),
            dps: secrets.dps.map(|dps| dps.expose().to_owned()).unwrap_or_default(),
            ca_file: profile.ca_file.as_ref().map(|path| path.display().to_string()).unwrap_or_default(),
            store_in_file: profile.secrets == SecretPlacement::File,
        })
    }

    /// What connecting with a saved or command-line profile needs.
    pub fn connection(&self, id: &ProfileId) -> Result<Connection, ProfileError> {
        if *id == ProfileId::command_line()
            && let Some(command_line) = &self.command_line
        {
            let hub =
                ServiceConnectionString::parse_hub(command_line.hub.expose()).map_err(|error| ProfileError::Invalid(error.to_string()))?;
            let dps = command_line
                .dps
                .as_ref()
                .map(|dps| ServiceConnectionString::parse_dps(dps.expose()))
                .transpose()
                .map_err(|error| ProfileError::Invalid(error.to_string()))?;
            return Ok(Connection { hub, dps, ca_file: command_line.ca_file.clone() });
        }
        let profile = self.find(id)?;
        let secrets = self.secrets.get(profile.secrets, id)?.ok_or_else(|| ProfileError::SecretsMissing(profile.name.clone()))?;
        let hub = ServiceConnectionString::parse_hub(secrets.hub.expose()).map_err(|error| ProfileError::Invalid(error.to_string()))?;
        let dps = secrets
            .dps
            .as_ref()
            .map(|dps| ServiceConnectionString::parse_dps(dps.expose()))
            .transpose()
            .map_err(|error| ProfileError::Invalid(error.to_string()))?;
        Ok(Connection { hub, dps, ca_file: profile.ca_file.clone() })
    }

    fn find(&self, id: &ProfileId) -> Result<&StoredProfile, ProfileError> {
        self.stored.profiles.iter().find(|profile| profile.id == *id).ok_or_else(|| ProfileError::NotFound(id.clone()))
    }

    fn write(&self) -> Result<(), ProfileError> {
        let bytes = serde_json::to_vec_pretty(&self.stored)
            .map_err(|error| ProfileError::File { path: self.path.clone(), detail: error.to_string() })?;
        crate::files::write_private(&self.path, &bytes)
            .map_err(|error| ProfileError::File { path: self.path.clone(), detail: error.without_path() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=";

    fn hub_string(host: &str) -> String {
        format!("HostName={host};SharedAccessKeyName=iothubowner;SharedAccessKey={KEY}")
    }

    fn draft(name: &str, store_in_file: bool) -> ProfileDraft {
        ProfileDraft { name: name.into(), hub: hub_string("prod.azure-devices.net"), store_in_file, ..ProfileDraft::default() }
    }

    /// Every file under `dir`, as text.
    fn all_files(dir: &Path) -> Vec<(PathBuf, String)> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .map(|path| (path.clone(), std::fs::read_to_string(&path).unwrap_or_default()))
            .collect()
    }

    #[test]
    fn without_a_keyring_secrets_stay_in_memory_and_never_reach_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, warning) = ProfileStore::open(dir.path(), SecretStores::new(dir.path(), false), None);
        assert!(warning.is_none());
        let (id, placement) = store.save(&draft("Prod", false)).unwrap();
        assert_eq!(placement, SecretPlacement::Memory);
        store.set_active(&id).unwrap();
        for (path, text) in all_files(dir.path()) {
            assert!(!text.contains(KEY), "{} holds the key in clear", path.display());
        }
        assert_eq!(store.connection(&id).unwrap().hub.host_name(), "prod.azure-devices.net");

        let (reopened, _) = ProfileStore::open(dir.path(), SecretStores::new(dir.path(), false), None);
        assert_eq!(reopened.initial(), id, "the active profile is remembered");
        let summary = reopened.summaries(None).into_iter().find(|profile| profile.id == id).unwrap();
        assert!(summary.secrets_missing);
        assert_eq!(summary.hub_host, "prod.azure-devices.net");
        let error = reopened.connection(&id).err().unwrap();
        assert!(error.to_string().contains("kept in memory only"), "{error}");
    }

    #[test]
    fn a_chosen_file_is_owner_only_and_the_profile_list_stays_clean() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = ProfileStore::open(dir.path(), SecretStores::new(dir.path(), false), None);
        let (id, placement) = store.save(&draft("Prod", true)).unwrap();
        assert_eq!(placement, SecretPlacement::File);
        let secrets_path = dir.path().join("secrets.json");
        assert!(std::fs::read_to_string(&secrets_path).unwrap().contains(KEY));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&secrets_path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(!std::fs::read_to_string(dir.path().join("profiles.json")).unwrap().contains(KEY));

        let (mut reopened, _) = ProfileStore::open(dir.path(), SecretStores::new(dir.path(), false), None);
        assert_eq!(reopened.connection(&id).unwrap().hub.key_name(), "iothubowner");
        assert_eq!(reopened.draft_for(&id).unwrap().hub, hub_string("prod.azure-devices.net"));
        reopened.delete(&id).unwrap();
        assert!(!std::fs::read_to_string(&secrets_path).unwrap().contains(KEY), "deleting a profile deletes its secrets");
        assert_eq!(reopened.initial(), ProfileId::simulator());
    }

    #[test]
    fn invalid_drafts_and_duplicate_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = ProfileStore::open(dir.path(), SecretStores::new(dir.path(), false), None);
        store.save(&draft("Prod", false)).unwrap();
        assert!(store.save(&draft("prod", false)).unwrap_err().to_string().contains("already exists"));
        let broken = ProfileDraft { hub: "HostName=x".into(), ..draft("Other", false) };
        assert!(store.save(&broken).unwrap_err().to_string().contains("no SharedAccessKeyName"));
        assert_eq!(store.summaries(None).len(), 2, "simulator + Prod");
    }

    #[test]
    fn the_command_line_profile_comes_first_and_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let command_line = CommandLineProfile { hub: Secret::new(hub_string("cli.azure-devices.net")), dps: None, ca_file: None };
        let (mut store, _) = ProfileStore::open(dir.path(), SecretStores::new(dir.path(), false), Some(command_line));
        assert_eq!(store.initial(), ProfileId::command_line());
        store.set_active(&ProfileId::command_line()).unwrap();
        assert!(!dir.path().join("profiles.json").exists());
        assert_eq!(store.summaries(None)[1].hub_host, "cli.azure-devices.net");
        assert_eq!(store.connection(&ProfileId::command_line()).unwrap().hub.host_name(), "cli.azure-devices.net");
    }

    #[test]
    fn a_damaged_profile_file_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("profiles.json"), b"{ not json").unwrap();
        let (store, warning) = ProfileStore::open(dir.path(), SecretStores::new(dir.path(), false), None);
        assert!(warning.unwrap().contains("could not be read"));
        assert_eq!(store.initial(), ProfileId::simulator());
    }
}
