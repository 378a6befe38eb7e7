//! The re-provisioning policy as an operator chooses it: three named choices, the legacy "not
//! set" state, and what each does to the device, its twin and its hub — in plain words, next to
//! the two booleans the service stores.

use crate::azure::wire::ReprovisionPolicy;

/// A policy as the editor shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyChoice {
    /// Re-provision and migrate data (`true`/`true`, the default for new enrollments).
    Migrate,
    /// Re-provision and reset to initial config (`true`/`false`).
    Reset,
    /// Never re-provision (`false`/`false`).
    Never,
    /// No policy saved (the legacy behaviour).
    NotSet,
    /// `updateHubAssignment=false, migrateDeviceData=true`: valid on the wire, acts like Never.
    NeverWithMigrateFlag,
}

impl PolicyChoice {
    /// The three choices an operator picks from.
    pub const CHOICES: [Self; 3] = [Self::Migrate, Self::Reset, Self::Never];

    /// The choice a stored policy stands for.
    pub fn from_policy(policy: Option<ReprovisionPolicy>) -> Self {
        match policy {
            None => Self::NotSet,
            Some(ReprovisionPolicy { update_hub_assignment: true, migrate_device_data: true }) => Self::Migrate,
            Some(ReprovisionPolicy { update_hub_assignment: true, migrate_device_data: false }) => Self::Reset,
            Some(ReprovisionPolicy { update_hub_assignment: false, migrate_device_data: false }) => Self::Never,
            Some(ReprovisionPolicy { update_hub_assignment: false, migrate_device_data: true }) => Self::NeverWithMigrateFlag,
        }
    }

    /// The policy to store (`None`: leave it unsaved).
    pub fn to_policy(self) -> Option<ReprovisionPolicy> {
        match self {
            Self::Migrate => Some(ReprovisionPolicy::MIGRATE),
            Self::Reset => Some(ReprovisionPolicy::RESET),
            Self::Never => Some(ReprovisionPolicy::NEVER),
            Self::NotSet => None,
            Self::NeverWithMigrateFlag => Some(ReprovisionPolicy { update_hub_assignment: false, migrate_device_data: true }),
        }
    }

    /// The name the portal and the az CLI use.
    pub fn title(self) -> &'static str {
        match self {
            Self::Migrate => "Re-provision and migrate data",
            Self::Reset => "Re-provision and reset to initial config",
            Self::Never => "Never re-provision",
            Self::NotSet => "Not set (legacy behaviour)",
            Self::NeverWithMigrateFlag => "Never re-provision (migrate flag set, no effect)",
        }
    }

    /// What happens on the device's next registration.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Migrate => {
                "When the device registers again, DPS runs the allocation policy again. If it picks another hub, the device moves there \
                 with its identity and its current twin (tags, desired and reported properties), and is deleted from the old hub. If it \
                 picks the same hub, nothing changes."
            }
            Self::Reset => {
                "When the device registers again, DPS runs the allocation policy again and gives the device this enrollment's initial \
                 twin. On another hub the device is created there and deleted from the old hub; on the same hub its twin is reset in \
                 place (a factory reset). Whatever was changed in its twin since is lost."
            }
            Self::Never => {
                "The device stays on the hub it is assigned to and its twin is left alone, however the allocation settings change. \
                 A custom allocation webhook is still called, but cannot move it."
            }
            Self::NotSet => {
                "No policy is saved. Devices on old SDKs (DPS API 2018-04-01 or earlier) always go back to the same hub; newer \
                 devices are treated as \"Re-provision and migrate data\". Saving any choice ends this legacy behaviour."
            }
            Self::NeverWithMigrateFlag => {
                "The device stays on its hub, like \"Never re-provision\": the migrate flag only matters when the hub can change."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_policy_maps_to_one_choice_and_back() {
        let stored = [
            None,
            Some(ReprovisionPolicy::MIGRATE),
            Some(ReprovisionPolicy::RESET),
            Some(ReprovisionPolicy::NEVER),
            Some(ReprovisionPolicy { update_hub_assignment: false, migrate_device_data: true }),
        ];
        for policy in stored {
            assert_eq!(PolicyChoice::from_policy(policy).to_policy(), policy);
        }
        assert_eq!(PolicyChoice::from_policy(Some(ReprovisionPolicy::RESET)), PolicyChoice::Reset);
        assert!(PolicyChoice::Reset.explanation().contains("initial"));
        assert!(PolicyChoice::NotSet.explanation().contains("2018-04-01"));
        assert_eq!(
            PolicyChoice::CHOICES.map(PolicyChoice::title),
            ["Re-provision and migrate data", "Re-provision and reset to initial config", "Never re-provision"]
        );
    }
}
