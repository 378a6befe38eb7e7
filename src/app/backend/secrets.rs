//! Where profile secrets (connection strings) live: the OS keyring, a file readable only by
//! the user (when chosen explicitly), or memory for the session. All calls block, so the
//! backend runs them on blocking threads, never on the UI thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::app::model::{ProfileId, SecretPlacement};
use crate::azure::secret::Secret;

/// The secrets of one profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSecrets {
    /// IoT Hub service connection string.
    pub hub: Secret,
    /// DPS service connection string, if any.
    #[serde(default)]
    pub dps: Option<Secret>,
}

/// A failure of a secret store; never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The keyring refused.
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
    /// The secrets file could not be read or written.
    #[error("the secrets file {path} could not be {action}: {detail}")]
    File {
        /// The secrets file.
        path: PathBuf,
        /// "read" or "written".
        action: &'static str,
        /// The I/O or JSON error.
        detail: String,
    },
}

const KEYRING_SERVICE: &str = "hubdeck";

/// Tells whether the OS keyring works here, by writing, reading and deleting a probe entry.
pub fn probe_keyring() -> Result<(), String> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, "hubdeck-probe").map_err(|error| error.to_string())?;
    entry.set_password("probe").map_err(|error| error.to_string())?;
    let read = entry.get_password().map_err(|error| error.to_string())?;
    entry.delete_credential().ok();
    if read == "probe" { Ok(()) } else { Err("the keyring returned something else than was stored".to_owned()) }
}

/// The three places secrets can go.
pub struct SecretStores {
    keyring_available: bool,
    file: PathBuf,
    memory: Mutex<BTreeMap<ProfileId, ProfileSecrets>>,
}

impl SecretStores {
    /// Stores rooted at `config_dir`; the keyring is used only when `keyring_available`.
    pub fn new(config_dir: &Path, keyring_available: bool) -> Self {
        Self { keyring_available, file: config_dir.join("secrets.json"), memory: Mutex::new(BTreeMap::new()) }
    }

    /// Where a newly saved profile's secrets go.
    pub fn placement_for_new(&self, store_in_file: bool) -> SecretPlacement {
        match (self.keyring_available, store_in_file) {
            (true, _) => SecretPlacement::Keyring,
            (false, true) => SecretPlacement::File,
            (false, false) => SecretPlacement::Memory,
        }
    }

    /// The secrets file path.
    pub fn file_path(&self) -> &Path {
        &self.file
    }

    /// Stores a profile's secrets.
    pub fn put(&self, placement: SecretPlacement, id: &ProfileId, secrets: &ProfileSecrets) -> Result<(), SecretError> {
        match placement {
            SecretPlacement::Keyring => {
                let text = serde_json::to_string(secrets).map_err(|error| SecretError::Keyring(error.to_string()))?;
                keyring_entry(id)?.set_password(&text).map_err(|error| SecretError::Keyring(error.to_string()))
            }
            SecretPlacement::File => {
                let mut all = self.read_file()?;
                all.insert(id.clone(), secrets.clone());
                self.write_file(&all)
            }
            SecretPlacement::Memory => {
                self.memory.lock().insert(id.clone(), secrets.clone());
                Ok(())
            }
            SecretPlacement::None => Ok(()),
        }
    }

    /// Reads a profile's secrets; `None` when they are not there.
    pub fn get(&self, placement: SecretPlacement, id: &ProfileId) -> Result<Option<ProfileSecrets>, SecretError> {
        match placement {
            SecretPlacement::Keyring => match keyring_entry(id)?.get_password() {
                Ok(text) => Ok(serde_json::from_str(&text).ok()),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(error) => Err(SecretError::Keyring(error.to_string())),
            },
            SecretPlacement::File => Ok(self.read_file()?.remove(id)),
            SecretPlacement::Memory => Ok(self.memory.lock().get(id).cloned()),
            SecretPlacement::None => Ok(None),
        }
    }

    /// Removes a profile's secrets (missing ones are fine).
    pub fn remove(&self, placement: SecretPlacement, id: &ProfileId) -> Result<(), SecretError> {
        match placement {
            SecretPlacement::Keyring => match keyring_entry(id)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(error) => Err(SecretError::Keyring(error.to_string())),
            },
            SecretPlacement::File => {
                let mut all = self.read_file()?;
                if all.remove(id).is_some() {
                    self.write_file(&all)?;
                }
                Ok(())
            }
            SecretPlacement::Memory => {
                self.memory.lock().remove(id);
                Ok(())
            }
            SecretPlacement::None => Ok(()),
        }
    }

    fn read_file(&self) -> Result<BTreeMap<ProfileId, ProfileSecrets>, SecretError> {
        match std::fs::read(&self.file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| SecretError::File {
                path: self.file.clone(),
                action: "read",
                detail: error.to_string(),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(error) => Err(SecretError::File { path: self.file.clone(), action: "read", detail: error.to_string() }),
        }
    }

    fn write_file(&self, all: &BTreeMap<ProfileId, ProfileSecrets>) -> Result<(), SecretError> {
        let bytes = serde_json::to_vec_pretty(all).map_err(|error| SecretError::File {
            path: self.file.clone(),
            action: "written",
            detail: error.to_string(),
        })?;
        crate::files::write_private(&self.file, &bytes).map_err(|error| SecretError::File {
            path: self.file.clone(),
            action: "written",
            detail: error.without_path(),
        })
    }
}

fn keyring_entry(id: &ProfileId) -> Result<keyring::Entry, SecretError> {
    keyring::Entry::new(KEYRING_SERVICE, &id.0).map_err(|error| SecretError::Keyring(error.to_string()))
}
