//! Re-provisioning: what a registration does to the device under each re-provisioning policy, as
//! the DPS documentation ("How to reprovision devices", the `reprovisionPolicy` of the service
//! API 2021-10-01) describes it. Where the documentation leaves the substatus open (the device
//! stays on its hub), the registration keeps the substatus it had; a reset in place reports
//! `deviceDataReset`, the most consistent reading.

use crate::azure::wire::{RegistrationSubstatus, ReprovisionPolicy};

/// What is known when a device registers.
#[derive(Clone, Copy, Debug)]
pub struct Situation<'a> {
    /// The enrollment's policy; `None` when none was ever saved.
    pub policy: Option<ReprovisionPolicy>,
    /// The device registers with a pre-re-provisioning api-version (2018-04-01 or earlier).
    pub legacy_api: bool,
    /// The hub DPS last assigned the device to; `None` when DPS has no assignment for it.
    pub current_hub: Option<&'a str>,
    /// The hub allocation picks now.
    pub allocated_hub: &'a str,
    /// The device id already exists on the allocated hub.
    pub exists_on_allocated_hub: bool,
}

/// What happens on the hubs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubAction {
    /// Create the identity on the target hub and apply the initial twin.
    Create,
    /// DPS knew nothing but the device is already on the hub: keep that identity.
    ReuseExisting,
    /// Remove the device from `from`; create it on the target with its current twin.
    MoveWithData {
        /// The old hub.
        from: String,
    },
    /// Remove the device from `from`; create it on the target with the initial twin.
    MoveWithInitialTwin {
        /// The old hub.
        from: String,
    },
    /// Same hub; the twin goes back to the initial twin (a "factory reset").
    ResetInPlace,
    /// Nothing changes on any hub.
    Keep,
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Where the device is afterwards.
    pub hub: String,
    /// What is done to get there.
    pub action: HubAction,
    /// The registration's substatus afterwards; `None` keeps the one it had.
    pub substatus: Option<RegistrationSubstatus>,
}

/// Decides what a registration does.
pub fn decide(situation: &Situation<'_>) -> Outcome {
    let allocated = situation.allocated_hub.to_owned();
    let Some(current) = situation.current_hub else {
        return if situation.exists_on_allocated_hub {
            Outcome {
                hub: allocated,
                action: HubAction::ReuseExisting,
                substatus: Some(RegistrationSubstatus::ReprovisionedToInitialAssignment),
            }
        } else {
            Outcome { hub: allocated, action: HubAction::Create, substatus: Some(RegistrationSubstatus::InitialAssignment) }
        };
    };
    let keep = Outcome { hub: current.to_owned(), action: HubAction::Keep, substatus: None };
    let policy = match situation.policy {
        Some(policy) => policy,
        // The legacy "sticky" behaviour: old devices go back to the same hub until a policy is saved.
        None if situation.legacy_api => return keep,
        None => ReprovisionPolicy::MIGRATE,
    };
    if !policy.update_hub_assignment {
        return keep;
    }
    let moves = !current.eq_ignore_ascii_case(situation.allocated_hub);
    match (moves, policy.migrate_device_data) {
        (true, true) => Outcome {
            hub: allocated,
            action: HubAction::MoveWithData { from: current.to_owned() },
            substatus: Some(RegistrationSubstatus::DeviceDataMigrated),
        },
        (true, false) => Outcome {
            hub: allocated,
            action: HubAction::MoveWithInitialTwin { from: current.to_owned() },
            substatus: Some(RegistrationSubstatus::DeviceDataReset),
        },
        (false, true) => keep,
        (false, false) => {
            Outcome { hub: current.to_owned(), action: HubAction::ResetInPlace, substatus: Some(RegistrationSubstatus::DeviceDataReset) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EAST: &str = "contoso-east";
    const WEST: &str = "contoso-west";

    fn decide_for(policy: Option<ReprovisionPolicy>, legacy_api: bool, current: Option<&str>, allocated: &str, exists: bool) -> Outcome {
        decide(&Situation { policy, legacy_api, current_hub: current, allocated_hub: allocated, exists_on_allocated_hub: exists })
    }

    #[test]
    fn first_registrations_create_or_reuse_whatever_the_policy() {
        for policy in [Some(ReprovisionPolicy::MIGRATE), Some(ReprovisionPolicy::RESET), Some(ReprovisionPolicy::NEVER), None] {
            let created = decide_for(policy, false, None, WEST, false);
            assert_eq!(
                created,
                Outcome { hub: WEST.into(), action: HubAction::Create, substatus: Some(RegistrationSubstatus::InitialAssignment) }
            );
            let reused = decide_for(policy, false, None, WEST, true);
            assert_eq!(reused.action, HubAction::ReuseExisting);
            assert_eq!(reused.substatus, Some(RegistrationSubstatus::ReprovisionedToInitialAssignment));
        }
    }

    #[test]
    fn every_policy_when_allocation_picks_another_hub() {
        let migrate = decide_for(Some(ReprovisionPolicy::MIGRATE), false, Some(EAST), WEST, false);
        assert_eq!(
            migrate,
            Outcome {
                hub: WEST.into(),
                action: HubAction::MoveWithData { from: EAST.into() },
                substatus: Some(RegistrationSubstatus::DeviceDataMigrated)
            }
        );
        let reset = decide_for(Some(ReprovisionPolicy::RESET), false, Some(EAST), WEST, false);
        assert_eq!(
            reset,
            Outcome {
                hub: WEST.into(),
                action: HubAction::MoveWithInitialTwin { from: EAST.into() },
                substatus: Some(RegistrationSubstatus::DeviceDataReset)
            }
        );
        let never = decide_for(Some(ReprovisionPolicy::NEVER), false, Some(EAST), WEST, false);
        assert_eq!(never, Outcome { hub: EAST.into(), action: HubAction::Keep, substatus: None });
        let odd = ReprovisionPolicy { update_hub_assignment: false, migrate_device_data: true };
        assert_eq!(
            decide_for(Some(odd), false, Some(EAST), WEST, false).action,
            HubAction::Keep,
            "migrate is moot when the hub never changes"
        );
    }

    #[test]
    fn every_policy_when_the_hub_stays() {
        assert_eq!(decide_for(Some(ReprovisionPolicy::MIGRATE), false, Some(EAST), EAST, true).action, HubAction::Keep);
        let reset = decide_for(Some(ReprovisionPolicy::RESET), false, Some(EAST), EAST, true);
        assert_eq!(
            reset,
            Outcome { hub: EAST.into(), action: HubAction::ResetInPlace, substatus: Some(RegistrationSubstatus::DeviceDataReset) },
            "a factory reset in place"
        );
        assert_eq!(decide_for(Some(ReprovisionPolicy::NEVER), false, Some(EAST), EAST, true).action, HubAction::Keep);
        assert_eq!(
            decide_for(Some(ReprovisionPolicy::MIGRATE), false, Some("CONTOSO-EAST"), EAST, true).action,
            HubAction::Keep,
            "host names compare case-insensitively"
        );
    }

    #[test]
    fn no_saved_policy_is_sticky_for_old_devices_and_migrate_for_new_ones() {
        let sticky = decide_for(None, true, Some(EAST), WEST, false);
        assert_eq!(sticky, Outcome { hub: EAST.into(), action: HubAction::Keep, substatus: None });
        let modern = decide_for(None, false, Some(EAST), WEST, false);
        assert_eq!(modern.action, HubAction::MoveWithData { from: EAST.into() }, "the default policy is migrate");
        let saved = decide_for(Some(ReprovisionPolicy::RESET), true, Some(EAST), WEST, false);
        assert_eq!(saved.action, HubAction::MoveWithInitialTwin { from: EAST.into() }, "a saved policy wins over the legacy behaviour");
    }
}
