//! Connection profiles as the console sees them (no secrets here), and the editable draft with
//! validation as typed.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::azure::connection_string::ServiceConnectionString;

/// Identifies a profile.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProfileId(pub String);

impl ProfileId {
    /// The built-in "Local simulator" profile.
    pub fn simulator() -> Self {
        Self("local-simulator".to_owned())
    }

    /// The one-off profile from `--hub` / `IOTHUB_CONNECTION_STRING`.
    pub fn command_line() -> Self {
        Self("command-line".to_owned())
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of profile it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProfileKind {
    /// The embedded simulator, started in-process.
    Simulator,
    /// Saved by the user.
    Saved,
    /// From the command line or environment, for this session only.
    CommandLine,
}

/// Where a profile's secrets are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretPlacement {
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    Keyring,
    /// A file readable only by the user (chosen explicitly when no keyring exists).
    File,
    /// Memory only: gone when hubdeck exits.
    Memory,
    /// Not needed (the simulator makes its own).
    None,
}

impl SecretPlacement {
    /// How the profile dialog says it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Keyring => "Secrets are stored in the OS keyring.",
            Self::File => "Secrets are stored in a file readable only by you.",
            Self::Memory => "Secrets are kept in memory for this session only; they are gone when hubdeck exits.",
            Self::None => "The simulator makes its own keys; nothing is stored.",
        }
    }
}

/// A profile without its secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// The profile's stable id.
    pub id: ProfileId,
    /// Display name.
    pub name: String,
    /// Built-in simulator, command line, or saved.
    pub kind: ProfileKind,
    /// Hub host from the connection string (empty for the simulator until it runs).
    pub hub_host: String,
    /// Shared access policy of the hub connection string.
    pub hub_key_name: String,
    /// DPS host, when a DPS connection string is set.
    pub dps_host: Option<String>,
    /// Extra CA certificate to trust.
    pub ca_file: Option<PathBuf>,
    /// Where the secrets are.
    pub secrets: SecretPlacement,
    /// True when the secrets could not be found (e.g. kept in memory by an earlier session).
    pub secrets_missing: bool,
}

/// The profile dialog's form. Holds secrets as typed, so `Debug` masks them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProfileDraft {
    /// `None` for a new profile.
    pub id: Option<ProfileId>,
    /// Display name.
    pub name: String,
    /// IoT Hub service connection string.
    pub hub: String,
    /// DPS service connection string (optional).
    pub dps: String,
    /// CA file path (optional).
    pub ca_file: String,
    /// Store secrets in a 0600 file when no keyring exists.
    pub store_in_file: bool,
}

impl fmt::Debug for ProfileDraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileDraft")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("hub", &"***")
            .field("dps", &"***")
            .field("ca_file", &self.ca_file)
            .field("store_in_file", &self.store_in_file)
            .finish()
    }
}

/// What is wrong with a draft, per field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DraftProblems {
    /// Name problem.
    pub name: Option<String>,
    /// Hub connection string problem.
    pub hub: Option<String>,
    /// DPS connection string problem.
    pub dps: Option<String>,
    /// CA file problem.
    pub ca_file: Option<String>,
}

impl DraftProblems {
    /// True when the draft can be saved.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.hub.is_none() && self.dps.is_none() && self.ca_file.is_none()
    }
}

impl ProfileDraft {
    /// Checks the draft as typed; `existing_names` excludes the profile being edited.
    pub fn problems(&self, existing_names: &[&str]) -> DraftProblems {
        let name = self.name.trim();
        DraftProblems {
            name: if name.is_empty() {
                Some("give the profile a name".to_owned())
            } else if existing_names.iter().any(|existing| existing.eq_ignore_ascii_case(name)) {
                Some(format!("a profile named '{name}' already exists"))
            } else {
                None
            },
            hub: ServiceConnectionString::parse_hub(&self.hub).err().map(|error| error.to_string()),
            dps: if self.dps.trim().is_empty() {
                None
            } else {
                ServiceConnectionString::parse_dps(&self.dps).err().map(|error| error.to_string())
            },
            ca_file: {
                let path = self.ca_file.trim();
                if path.is_empty() || std::path::Path::new(path).is_file() { None } else { Some(format!("no file at {path}")) }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB: &str =
        "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=";

    #[test]
    fn problems_name_each_field() {
        let draft = ProfileDraft {
            name: "Prod".into(),
            hub: "HostName=h;SharedAccessKey=abc".into(),
            dps: "junk".into(),
            ca_file: "/nope.pem".into(),
            ..ProfileDraft::default()
        };
        let problems = draft.problems(&["prod"]);
        assert!(problems.name.unwrap().contains("already exists"));
        assert!(problems.hub.unwrap().contains("no SharedAccessKeyName"));
        assert!(problems.dps.unwrap().contains("DPS"));
        assert!(problems.ca_file.unwrap().contains("/nope.pem"));
        let good = ProfileDraft { name: "Prod".into(), hub: HUB.into(), ..ProfileDraft::default() };
        assert!(good.problems(&["Staging"]).is_empty());
    }

    #[test]
    fn debug_masks_connection_strings() {
        let draft = ProfileDraft { name: "Prod".into(), hub: HUB.into(), ..ProfileDraft::default() };
        assert!(!format!("{draft:?}").contains("c2VjcmV0"));
    }
}
