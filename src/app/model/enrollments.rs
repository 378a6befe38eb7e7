//! The Enrollments page: individual enrollments and groups as loaded from DPS, the filter, the
//! rows picked for a bulk policy change and that change's per-item results.

use std::collections::BTreeSet;

use super::enrollment_editor::EnrollmentEditor;
use super::reprovision_choice::PolicyChoice;
use crate::azure::wire::{AllocationPolicy, DeviceRegistrationState, EnrollmentGroup, EnrollmentSettings, IndividualEnrollment};

/// Individual enrollments or groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnrollmentKind {
    /// One device each.
    #[default]
    Individual,
    /// Many devices through derived keys.
    Group,
}

impl EnrollmentKind {
    /// Label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Individual => "Individual enrollments",
            Self::Group => "Enrollment groups",
        }
    }
}

/// An enrollment of either kind.
// Both variants are a kilobyte or less and live in short lists; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyEnrollment {
    /// Individual.
    Individual(IndividualEnrollment),
    /// Group.
    Group(EnrollmentGroup),
}

impl AnyEnrollment {
    /// Which kind.
    pub fn kind(&self) -> EnrollmentKind {
        match self {
            Self::Individual(_) => EnrollmentKind::Individual,
            Self::Group(_) => EnrollmentKind::Group,
        }
    }

    /// Registration id or group id.
    pub fn id(&self) -> &str {
        match self {
            Self::Individual(enrollment) => &enrollment.registration_id,
            Self::Group(group) => &group.enrollment_group_id,
        }
    }

    /// Shared settings.
    pub fn settings(&self) -> &EnrollmentSettings {
        match self {
            Self::Individual(enrollment) => &enrollment.settings,
            Self::Group(group) => &group.settings,
        }
    }

    /// Shared settings.
    pub fn settings_mut(&mut self) -> &mut EnrollmentSettings {
        match self {
            Self::Individual(enrollment) => &mut enrollment.settings,
            Self::Group(group) => &mut group.settings,
        }
    }

    /// Attestation type (`symmetricKey`).
    pub fn attestation_kind(&self) -> &str {
        match self {
            Self::Individual(enrollment) => &enrollment.attestation.kind,
            Self::Group(group) => &group.attestation.kind,
        }
    }

    /// The individual enrollment's current registration.
    pub fn registration(&self) -> Option<&DeviceRegistrationState> {
        match self {
            Self::Individual(enrollment) => enrollment.registration_state.as_ref(),
            Self::Group(_) => None,
        }
    }

    /// The allocation policy in force (the instance default is hashed).
    pub fn allocation(&self) -> AllocationPolicy {
        let settings = self.settings();
        settings.allocation_policy.unwrap_or(if settings.iot_hub_host_name.is_some() {
            AllocationPolicy::Static
        } else {
            AllocationPolicy::Hashed
        })
    }

    /// True when provisioning is enabled.
    pub fn enabled(&self) -> bool {
        self.settings().provisioning_status.as_deref() != Some("disabled")
    }
}

/// A short allocation label.
pub fn allocation_label(policy: AllocationPolicy) -> &'static str {
    match policy {
        AllocationPolicy::Hashed => "Evenly weighted (hashed)",
        AllocationPolicy::GeoLatency => "Lowest latency",
        AllocationPolicy::Static => "Static",
        AllocationPolicy::Custom => "Custom (webhook)",
    }
}

/// What a load of the lists brings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnrollmentLists {
    /// Individual enrollments in id order.
    pub individuals: Vec<IndividualEnrollment>,
    /// Groups in id order.
    pub groups: Vec<EnrollmentGroup>,
    /// Devices registered through each group.
    pub group_devices: std::collections::BTreeMap<String, usize>,
}

/// Loading state of the lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ListLoad {
    /// Not asked yet.
    #[default]
    Idle,
    /// Waiting.
    Loading,
    /// Shown.
    Ready,
    /// Why not.
    Failed(String),
}

/// Per item of a bulk change: its id and `Ok` or why not.
pub type ItemResults = Vec<(String, Result<(), String>)>;

/// The bulk policy change dialog.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkPolicy {
    /// Which list the ids are in.
    pub kind: EnrollmentKind,
    /// The items, as loaded (with their etags).
    pub ids: Vec<String>,
    /// The policy to set.
    pub choice: PolicyChoice,
    /// Sent and waiting.
    pub running: bool,
    /// Per item: id and `Ok` or why not. `None` until the answer came.
    pub results: Option<ItemResults>,
}

/// Everything the Enrollments page shows.
#[derive(Debug, Default)]
pub struct EnrollmentsState {
    /// Which tab.
    pub tab: EnrollmentKind,
    /// Individual enrollments in id order.
    pub individuals: Vec<IndividualEnrollment>,
    /// Groups in id order.
    pub groups: Vec<EnrollmentGroup>,
    /// Devices registered through each group.
    pub group_devices: std::collections::BTreeMap<String, usize>,
    /// Loading state.
    pub load: ListLoad,
    /// Search text (matches ids, device ids and hubs).
    pub filter: String,
    /// Rows ticked for a bulk change (per tab).
    pub picked: BTreeSet<(EnrollmentKind, String)>,
    /// The editor, when one is open.
    pub editor: Option<EnrollmentEditor>,
    /// The bulk dialog.
    pub bulk: Option<BulkPolicy>,
    /// The "New enrollment" dialog.
    pub new_draft: Option<NewEnrollment>,
    /// An enrollment just created, to open in the editor once it is saved.
    pub open_when_saved: Option<String>,
}

/// The "New enrollment" dialog: kind and id; everything else is set in the editor afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewEnrollment {
    /// Individual enrollment or group.
    pub kind: EnrollmentKind,
    /// Registration id or group id.
    pub id: String,
    /// Sent and waiting.
    pub creating: bool,
}

impl NewEnrollment {
    /// What is wrong with the id, if anything (`existing`: ids already listed).
    pub fn problem(&self, state: &EnrollmentsState) -> Option<String> {
        let id = self.id.trim();
        if id.is_empty() {
            return Some("Type an id.".to_owned());
        }
        if let Err(error) =
            crate::azure::id_rules::check_dps_id(if self.kind == EnrollmentKind::Group { "group" } else { "registration" }, id)
        {
            return Some(error.to_string());
        }
        state.find(self.kind, id).map(|_| format!("{id} already exists; open it from the list to change it."))
    }

    /// The enrollment to create: symmetric keys generated by the service, "Re-provision and
    /// migrate data" (the service's default, saved explicitly), evenly weighted allocation.
    pub fn enrollment(&self) -> AnyEnrollment {
        let id = self.id.trim().to_owned();
        let attestation = crate::azure::wire::AttestationMechanism {
            kind: "symmetricKey".to_owned(),
            symmetric_key: Some(crate::azure::wire::SymmetricKeyAttestation::default()),
            tpm: None,
            x509: None,
        };
        let settings = EnrollmentSettings {
            reprovision_policy: Some(crate::azure::wire::ReprovisionPolicy::MIGRATE),
            allocation_policy: Some(AllocationPolicy::Hashed),
            provisioning_status: Some("enabled".to_owned()),
            capabilities: Some(serde_json::json!({"iotEdge": false})),
            ..EnrollmentSettings::default()
        };
        match self.kind {
            EnrollmentKind::Individual => AnyEnrollment::Individual(IndividualEnrollment {
                registration_id: id,
                device_id: None,
                registration_state: None,
                attestation,
                settings,
            }),
            EnrollmentKind::Group => AnyEnrollment::Group(EnrollmentGroup { enrollment_group_id: id, attestation, settings }),
        }
    }
}

impl EnrollmentsState {
    /// Positions (in the current tab's list) of the enrollments that match the filter, in id
    /// order. Nothing is copied: the table clones only the rows it draws.
    pub fn visible_positions(&self) -> Vec<usize> {
        let needle = self.filter.trim().to_lowercase();
        let matches = |id: &str, registration: Option<&DeviceRegistrationState>, settings: &EnrollmentSettings| {
            if needle.is_empty() {
                return true;
            }
            let mut haystack = vec![id.to_lowercase()];
            if let Some(registration) = registration {
                haystack.extend(registration.device_id.iter().chain(registration.assigned_hub.iter()).map(|text| text.to_lowercase()));
            }
            haystack.extend(settings.iot_hubs.iter().flatten().map(|hub| hub.to_lowercase()));
            haystack.push(PolicyChoice::from_policy(settings.reprovision_policy).title().to_lowercase());
            haystack.iter().any(|text| text.contains(&needle))
        };
        match self.tab {
            EnrollmentKind::Individual => (0..self.individuals.len())
                .filter(|&at| {
                    let item = &self.individuals[at];
                    matches(&item.registration_id, item.registration_state.as_ref(), &item.settings)
                })
                .collect(),
            EnrollmentKind::Group => (0..self.groups.len())
                .filter(|&at| matches(&self.groups[at].enrollment_group_id, None, &self.groups[at].settings))
                .collect(),
        }
    }

    /// The enrollment at `position` in the current tab's list.
    pub fn at(&self, position: usize) -> Option<AnyEnrollment> {
        match self.tab {
            EnrollmentKind::Individual => self.individuals.get(position).cloned().map(AnyEnrollment::Individual),
            EnrollmentKind::Group => self.groups.get(position).cloned().map(AnyEnrollment::Group),
        }
    }

    /// Every enrollment of the current tab that matches the filter, in id order.
    pub fn visible(&self) -> Vec<AnyEnrollment> {
        self.visible_positions().into_iter().filter_map(|position| self.at(position)).collect()
    }

    /// An enrollment by kind and id, as loaded.
    pub fn find(&self, kind: EnrollmentKind, id: &str) -> Option<AnyEnrollment> {
        match kind {
            EnrollmentKind::Individual => {
                self.individuals.iter().find(|item| item.registration_id.eq_ignore_ascii_case(id)).cloned().map(AnyEnrollment::Individual)
            }
            EnrollmentKind::Group => {
                self.groups.iter().find(|item| item.enrollment_group_id.eq_ignore_ascii_case(id)).cloned().map(AnyEnrollment::Group)
            }
        }
    }

    /// Replaces one enrollment after a save or reload.
    pub fn upsert(&mut self, item: AnyEnrollment) {
        match item {
            AnyEnrollment::Individual(item) => {
                if let Some(existing) =
                    self.individuals.iter_mut().find(|existing| existing.registration_id.eq_ignore_ascii_case(&item.registration_id))
                {
                    *existing = item;
                } else {
                    self.individuals.push(item);
                    self.individuals.sort_by(|a, b| a.registration_id.cmp(&b.registration_id));
                }
            }
            AnyEnrollment::Group(item) => {
                if let Some(existing) =
                    self.groups.iter_mut().find(|existing| existing.enrollment_group_id.eq_ignore_ascii_case(&item.enrollment_group_id))
                {
                    *existing = item;
                } else {
                    self.groups.push(item);
                    self.groups.sort_by(|a, b| a.enrollment_group_id.cmp(&b.enrollment_group_id));
                }
            }
        }
    }

    /// The picked rows of the current tab.
    pub fn picked_in_tab(&self) -> Vec<String> {
        self.picked.iter().filter(|(kind, _)| *kind == self.tab).map(|(_, id)| id.clone()).collect()
    }

    /// Opens the bulk dialog for the picked rows of the current tab.
    pub fn open_bulk(&mut self) {
        let ids = self.picked_in_tab();
        if !ids.is_empty() {
            self.bulk = Some(BulkPolicy { kind: self.tab, ids, choice: PolicyChoice::Reset, running: false, results: None });
        }
    }

    /// The items a bulk change sends: each as loaded (so its etag guards it), with the new policy.
    pub fn bulk_items(&self) -> Option<(EnrollmentKind, Vec<AnyEnrollment>)> {
        let bulk = self.bulk.as_ref()?;
        let items = bulk
            .ids
            .iter()
            .filter_map(|id| self.find(bulk.kind, id))
            .map(|mut item| {
                item.settings_mut().reprovision_policy = bulk.choice.to_policy();
                if let AnyEnrollment::Individual(enrollment) = &mut item {
                    enrollment.registration_state = None;
                }
                item
            })
            .collect();
        Some((bulk.kind, items))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::azure::wire::ReprovisionPolicy;

    fn individual(id: &str, policy: &serde_json::Value) -> IndividualEnrollment {
        serde_json::from_value(json!({"registrationId": id, "attestation": {"type": "symmetricKey"}, "reprovisionPolicy": policy, "etag": format!("\"{id}-1\""),
            "registrationState": {"registrationId": id, "status": "assigned", "assignedHub": "localhost:9001", "deviceId": id}}))
        .unwrap()
    }

    #[test]
    fn filter_matches_ids_hubs_and_policy_names() {
        let mut state = EnrollmentsState {
            individuals: vec![
                individual("door-1", &json!(ReprovisionPolicy::RESET)),
                individual("lamp-2", &json!(ReprovisionPolicy::NEVER)),
            ],
            ..EnrollmentsState::default()
        };
        assert_eq!(state.visible().len(), 2);
        state.filter = "reset".into();
        assert_eq!(state.visible().iter().map(AnyEnrollment::id).collect::<Vec<_>>(), ["door-1"]);
        state.filter = "9001".into();
        assert_eq!(state.visible().len(), 2);
        state.filter = "LAMP".into();
        assert_eq!(state.visible().len(), 1);
    }

    #[test]
    fn bulk_items_keep_their_etags_and_get_the_new_policy() {
        let mut state = EnrollmentsState {
            individuals: vec![
                individual("door-1", &json!(ReprovisionPolicy::MIGRATE)),
                individual("door-2", &json!(ReprovisionPolicy::NEVER)),
            ],
            ..EnrollmentsState::default()
        };
        state.picked.insert((EnrollmentKind::Individual, "door-1".into()));
        state.picked.insert((EnrollmentKind::Individual, "door-2".into()));
        state.picked.insert((EnrollmentKind::Group, "lobby".into()));
        state.open_bulk();
        assert_eq!(state.bulk.as_ref().unwrap().ids, ["door-1", "door-2"], "only the current tab's picks");
        let (kind, items) = state.bulk_items().unwrap();
        assert_eq!(kind, EnrollmentKind::Individual);
        assert!(items.iter().all(|item| item.settings().reprovision_policy == Some(ReprovisionPolicy::RESET)));
        assert_eq!(items[0].settings().etag.as_deref(), Some("\"door-1-1\""));
        assert!(items.iter().all(|item| item.registration().is_none()), "the read-only record is not sent back");
    }
}
