//! The editor for one enrollment or group: the re-provisioning policy as named choices, the
//! allocation policy and hubs, provisioning status, IoT Edge, the initial twin (in the twin
//! editor's tree), keys (masked until asked for), saving with `If-Match` and the 412 conflict
//! view, and the registration records with "Re-register now".

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::command::Command;
use super::enrollments::{AnyEnrollment, EnrollmentKind, ListLoad};
use super::reprovision_choice::PolicyChoice;
use super::twin::TwinEditor;
use crate::azure::secret::Secret;
use crate::azure::wire::{AllocationPolicy, DeviceRegistrationState, InitialTwin, InitialTwinProperties, RegistrationStatus};

/// How long a re-registration is watched before the editor gives up waiting.
pub const REREGISTER_WATCH: Duration = Duration::from_secs(30);
/// How often the records are read while a re-registration is watched.
pub const REREGISTER_POLL: Duration = Duration::from_secs(1);

/// A re-registration being watched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reregistration {
    /// The record's etag before (a new etag with a final status means it happened).
    pub etag_before: Option<String>,
    /// When it was asked for.
    pub started: Instant,
    /// The method was answered (the device is registering).
    pub accepted: bool,
}

/// One line of the conflict view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictLine {
    /// What differs (`Re-provisioning policy`).
    pub field: &'static str,
    /// When the editor opened.
    pub base: String,
    /// Saved by someone else.
    pub theirs: String,
    /// This draft.
    pub mine: String,
}

/// The editor.
#[derive(Debug)]
pub struct EnrollmentEditor {
    /// The enrollment as loaded (its etag guards the save).
    pub base: AnyEnrollment,
    /// Re-provisioning policy.
    pub policy: PolicyChoice,
    /// Allocation policy.
    pub allocation: AllocationPolicy,
    /// Hubs the enrollment names (`iotHubs`); empty means every linked hub.
    pub hubs: BTreeSet<String>,
    /// Custom allocation webhook.
    pub webhook_url: String,
    /// Provisioning enabled.
    pub enabled: bool,
    /// `IoT` Edge device.
    pub iot_edge: bool,
    /// Device id on the hub (individual enrollments; empty = the registration id).
    pub device_id: String,
    /// Initial twin: tags and desired properties, edited in the twin tree.
    pub initial_twin: TwinEditor,
    /// New keys to send (regenerate), or `None` to keep the current ones.
    pub new_keys: Option<(Secret, Secret)>,
    /// Keys read through the attestation call, for copying.
    pub keys: Option<Result<(Secret, Secret), String>>,
    /// A save is in flight.
    pub saving: bool,
    /// 412: their version.
    pub conflict: Option<AnyEnrollment>,
    /// The result of the last save or action: (is error, text).
    pub message: Option<(bool, String)>,
    /// Registration records (the individual's one, or the group's devices).
    pub records: Vec<DeviceRegistrationState>,
    /// Loading state of the records.
    pub records_load: ListLoad,
    /// Re-registrations being watched, by registration id.
    pub reregistering: BTreeMap<String, Reregistration>,
    /// The delete confirmation is open; `true` once sent.
    pub confirm_delete: Option<bool>,
    next_records_poll: Option<Instant>,
}

fn twin_sections(twin: Option<&InitialTwin>) -> (Map<String, Value>, Map<String, Value>) {
    let tags = twin.and_then(|twin| twin.tags.clone()).unwrap_or_default();
    let desired = twin.and_then(|twin| twin.properties.as_ref()).and_then(|properties| properties.desired.clone()).unwrap_or_default();
    (tags, desired)
}

fn summary_of(item: &AnyEnrollment) -> [(&'static str, String); 6] {
    let settings = item.settings();
    let hubs = settings.iot_hubs.clone().unwrap_or_default().join(", ");
    let twin = serde_json::to_string(&settings.initial_twin).unwrap_or_default();
    [
        ("Re-provisioning policy", PolicyChoice::from_policy(settings.reprovision_policy).title().to_owned()),
        ("Allocation policy", super::enrollments::allocation_label(item.allocation()).to_owned()),
        ("IoT hubs", if hubs.is_empty() { "all linked hubs".to_owned() } else { hubs }),
        ("Provisioning status", settings.provisioning_status.clone().unwrap_or_else(|| "enabled".to_owned())),
        (
            "IoT Edge",
            settings.capabilities.as_ref().and_then(|caps| caps.get("iotEdge")).and_then(Value::as_bool).unwrap_or(false).to_string(),
        ),
        ("Initial twin", twin),
    ]
}

impl EnrollmentEditor {
    /// An editor on `base`; asks for its registration records.
    pub fn open(base: AnyEnrollment, out: &mut Vec<Command>) -> Self {
        let settings = base.settings().clone();
        let (tags, desired) = twin_sections(settings.initial_twin.as_ref());
        let device_id = match &base {
            AnyEnrollment::Individual(enrollment) => enrollment.device_id.clone().unwrap_or_default(),
            AnyEnrollment::Group(_) => String::new(),
        };
        let records = base.registration().cloned().into_iter().collect();
        let records_load = match base.kind() {
            EnrollmentKind::Individual => ListLoad::Ready,
            EnrollmentKind::Group => {
                out.push(Command::LoadEnrollmentRecords { kind: EnrollmentKind::Group, id: base.id().to_owned() });
                ListLoad::Loading
            }
        };
        Self {
            policy: PolicyChoice::from_policy(settings.reprovision_policy),
            allocation: base.allocation(),
            hubs: settings.iot_hubs.clone().unwrap_or_default().into_iter().chain(settings.iot_hub_host_name.clone()).collect(),
            webhook_url: settings
                .custom_allocation_definition
                .as_ref()
                .and_then(|definition| definition.get("webhookUrl"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            enabled: base.enabled(),
            iot_edge: settings.capabilities.as_ref().and_then(|caps| caps.get("iotEdge")).and_then(Value::as_bool).unwrap_or(false),
            device_id,
            initial_twin: TwinEditor::for_patch(tags, desired),
            new_keys: None,
            keys: None,
            saving: false,
            conflict: None,
            message: None,
            records,
            records_load,
            reregistering: BTreeMap::new(),
            confirm_delete: None,
            next_records_poll: None,
            base,
        }
    }

    /// The enrollment as it would be saved.
    pub fn edited(&self) -> AnyEnrollment {
        let mut item = self.base.clone();
        if let AnyEnrollment::Individual(enrollment) = &mut item {
            enrollment.registration_state = None;
            enrollment.device_id = Some(self.device_id.trim().to_owned()).filter(|id| !id.is_empty());
        }
        let attestation = match &mut item {
            AnyEnrollment::Individual(enrollment) => &mut enrollment.attestation,
            AnyEnrollment::Group(group) => &mut group.attestation,
        };
        if let Some((primary, secondary)) = &self.new_keys {
            attestation.symmetric_key = Some(crate::azure::wire::SymmetricKeyAttestation {
                primary_key: Some(primary.clone()),
                secondary_key: Some(secondary.clone()),
            });
        }
        let settings = item.settings_mut();
        settings.reprovision_policy = self.policy.to_policy();
        settings.allocation_policy = Some(self.allocation);
        settings.iot_hub_host_name = None;
        settings.iot_hubs = (!self.hubs.is_empty()).then(|| self.hubs.iter().cloned().collect());
        settings.custom_allocation_definition = (self.allocation == AllocationPolicy::Custom)
            .then(|| serde_json::json!({"webhookUrl": self.webhook_url.trim(), "apiVersion": "2021-10-01"}));
        settings.provisioning_status = Some(if self.enabled { "enabled" } else { "disabled" }.to_owned());
        let mut capabilities = settings.capabilities.clone().unwrap_or_else(|| serde_json::json!({}));
        capabilities["iotEdge"] = Value::Bool(self.iot_edge);
        settings.capabilities = Some(capabilities);
        let (tags, desired) =
            self.initial_twin.draft.as_ref().map(|draft| (strip_nulls(&draft.tags), strip_nulls(&draft.desired))).unwrap_or_default();
        settings.initial_twin = (!tags.is_empty() || !desired.is_empty()).then(|| InitialTwin {
            tags: (!tags.is_empty()).then_some(tags),
            properties: (!desired.is_empty()).then(|| InitialTwinProperties { desired: Some(desired) }),
        });
        item
    }

    /// True when saving would change something.
    pub fn is_dirty(&self) -> bool {
        let mut base = self.base.clone();
        if let AnyEnrollment::Individual(enrollment) = &mut base {
            enrollment.registration_state = None;
        }
        let edited = self.edited();
        summary_of(&edited) != summary_of(&base)
            || self.new_keys.is_some()
            || match (&edited, &base) {
                (AnyEnrollment::Individual(mine), AnyEnrollment::Individual(theirs)) => {
                    mine.device_id.as_deref().unwrap_or("") != theirs.device_id.as_deref().unwrap_or("")
                }
                _ => false,
            }
    }

    /// What blocks saving, in words.
    pub fn save_blocker(&self) -> Option<String> {
        if self.allocation == AllocationPolicy::Static && self.hubs.len() != 1 {
            return Some(format!("Static allocation needs exactly one IoT hub; {} are ticked.", self.hubs.len()));
        }
        if self.allocation == AllocationPolicy::Custom && !self.webhook_url.trim().starts_with("http") {
            return Some("Custom allocation needs the webhook URL (https://…).".to_owned());
        }
        if !self.device_id.trim().is_empty()
            && let Err(error) = crate::azure::id_rules::check_device_id(self.device_id.trim())
        {
            return Some(error.to_string());
        }
        if self.initial_twin.has_unsaved_work() && self.initial_twin.json_error.is_some() {
            return Some("The initial twin's JSON does not parse.".to_owned());
        }
        if self.policy == PolicyChoice::NotSet && self.base.settings().reprovision_policy.is_some() {
            return Some("A saved policy cannot be unset; pick one of the three choices.".to_owned());
        }
        None
    }

    /// Sends the save with the loaded etag.
    pub fn save(&mut self, out: &mut Vec<Command>) {
        if self.saving || self.save_blocker().is_some() {
            return;
        }
        self.saving = true;
        self.message = None;
        out.push(Command::SaveEnrollment { item: Box::new(self.edited()), etag: self.base.settings().etag.clone() });
    }

    /// The save went through: the saved version becomes the base.
    pub fn saved(&mut self, item: AnyEnrollment) {
        let records = std::mem::take(&mut self.records);
        let records_load = std::mem::take(&mut self.records_load);
        let reregistering = std::mem::take(&mut self.reregistering);
        let mut fresh = Self::open(item, &mut Vec::new());
        if fresh.records.is_empty() {
            fresh.records = records;
        }
        fresh.records_load = if fresh.records_load == ListLoad::Loading { records_load } else { fresh.records_load };
        fresh.reregistering = reregistering;
        fresh.message = Some((false, format!("Saved {}. Devices pick up the change when they next register.", fresh.base.id())));
        *self = fresh;
    }

    /// 412: someone saved first.
    pub fn start_conflict(&mut self, theirs: AnyEnrollment) {
        self.saving = false;
        self.conflict = Some(theirs);
    }

    /// The conflict view's lines: every field where theirs or mine differs from the base.
    pub fn conflict_lines(&self) -> Vec<ConflictLine> {
        let Some(theirs) = &self.conflict else {
            return Vec::new();
        };
        let (base, theirs, mine) = (summary_of(&self.base), summary_of(theirs), summary_of(&self.edited()));
        base.into_iter()
            .zip(theirs)
            .zip(mine)
            .filter(|(((_, base), (_, theirs)), (_, mine))| base != theirs || base != mine)
            .map(|(((field, base), (_, theirs)), (_, mine))| ConflictLine { field, base, theirs, mine })
            .collect()
    }

    /// Keep my draft, to be saved over their version (their etag).
    pub fn keep_mine(&mut self) {
        if let Some(theirs) = self.conflict.take() {
            if let Some(etag) = theirs.settings().etag.clone() {
                self.base.settings_mut().etag = Some(etag);
            }
            self.message = Some((false, "Your changes are kept; Save writes them over the other version.".to_owned()));
        }
    }

    /// Drop my draft and take their version.
    pub fn take_theirs(&mut self) {
        if let Some(theirs) = self.conflict.take() {
            let reregistering = std::mem::take(&mut self.reregistering);
            *self = Self::open(theirs, &mut Vec::new());
            self.reregistering = reregistering;
            self.records_load = ListLoad::Idle;
        }
    }

    /// The save failed for another reason; the draft stays.
    pub fn save_failed(&mut self, message: &str) {
        self.saving = false;
        self.message = Some((true, format!("Not saved: {message}. Your changes are still here.")));
    }

    /// Records arrived.
    pub fn records_loaded(&mut self, result: Result<Vec<DeviceRegistrationState>, String>, now: Instant) {
        match result {
            Ok(records) => {
                self.reregistering.retain(|registration_id, watch| {
                    let record = records.iter().find(|record| record.registration_id.eq_ignore_ascii_case(registration_id));
                    let done =
                        record.is_some_and(|record| record.etag != watch.etag_before && record.status != RegistrationStatus::Assigning);
                    !done && now.duration_since(watch.started) < REREGISTER_WATCH
                });
                self.records = records;
                self.records_load = ListLoad::Ready;
            }
            Err(message) => self.records_load = ListLoad::Failed(message),
        }
        self.next_records_poll = (!self.reregistering.is_empty()).then(|| now + REREGISTER_POLL);
    }

    /// Asks a device to register again (direct method `reprovision` on its hub).
    pub fn reregister(&mut self, record: &DeviceRegistrationState, hub: String, now: Instant, out: &mut Vec<Command>) {
        let Some(device_id) = record.device_id.clone() else {
            return;
        };
        self.reregistering
            .insert(record.registration_id.clone(), Reregistration { etag_before: record.etag.clone(), started: now, accepted: false });
        self.message = None;
        out.push(Command::ReRegister { hub, device_id: device_id.into(), registration_id: record.registration_id.clone() });
    }

    /// The device answered (or not) the request to register again.
    pub fn reregister_sent(&mut self, registration_id: &str, result: Result<(), String>, now: Instant) {
        match result {
            Ok(()) => {
                if let Some(watch) = self.reregistering.get_mut(registration_id) {
                    watch.accepted = true;
                }
                self.next_records_poll = Some(now + REREGISTER_POLL);
            }
            Err(message) => {
                self.reregistering.remove(registration_id);
                self.message = Some((true, format!("{registration_id} could not be asked to register again: {message}")));
            }
        }
    }

    /// How long until the records should be read again (`None`: no watch running).
    pub fn poll_due_in(&self, now: Instant) -> Option<Duration> {
        self.next_records_poll.map(|due| due.saturating_duration_since(now))
    }

    /// Reads the records again when a watch is due.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Command>) {
        if self.next_records_poll.is_some_and(|due| due <= now) {
            self.next_records_poll = None;
            out.push(Command::LoadEnrollmentRecords { kind: self.base.kind(), id: self.base.id().to_owned() });
        }
    }
}

/// A fresh pair of 64-byte keys, base64, as the service generates them.
pub fn fresh_keys() -> (Secret, Secret) {
    let key = || Secret::generate_key(crate::azure::secret::DPS_KEY_BYTES);
    (key(), key())
}

fn strip_nulls(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| match value {
            Value::Object(inner) => (key.clone(), Value::Object(strip_nulls(inner))),
            other => (key.clone(), other.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::azure::wire::ReprovisionPolicy;

    fn base() -> AnyEnrollment {
        AnyEnrollment::Individual(
            serde_json::from_value(json!({"registrationId": "door-1", "attestation": {"type": "symmetricKey"}, "etag": "\"e1\"",
                "reprovisionPolicy": ReprovisionPolicy::MIGRATE, "allocationPolicy": "hashed",
                "initialTwin": {"tags": {"site": "lobby"}, "properties": {"desired": {"autoLockSeconds": 30}}}}))
            .unwrap(),
        )
    }

    #[test]
    fn a_policy_change_is_saved_with_the_loaded_etag_and_keeps_the_rest() {
        let mut editor = EnrollmentEditor::open(base(), &mut Vec::new());
        assert!(!editor.is_dirty());
        editor.policy = PolicyChoice::Reset;
        assert!(editor.is_dirty());
        let mut out = Vec::new();
        editor.save(&mut out);
        let Some(Command::SaveEnrollment { item, etag }) = out.pop() else { panic!("a save command") };
        assert_eq!(etag.as_deref(), Some("\"e1\""));
        assert_eq!(item.settings().reprovision_policy, Some(ReprovisionPolicy::RESET));
        assert_eq!(item.settings().initial_twin.as_ref().unwrap().tags.as_ref().unwrap()["site"], "lobby");
        assert!(editor.saving);
    }

    #[test]
    fn static_allocation_needs_one_hub_and_a_saved_policy_cannot_be_unset() {
        let mut editor = EnrollmentEditor::open(base(), &mut Vec::new());
        editor.allocation = AllocationPolicy::Static;
        assert!(editor.save_blocker().unwrap().contains("exactly one IoT hub; 0"));
        editor.hubs.insert("localhost:1".into());
        assert!(editor.save_blocker().is_none());
        editor.policy = PolicyChoice::NotSet;
        assert!(editor.save_blocker().unwrap().contains("cannot be unset"));
    }

    #[test]
    fn conflict_shows_base_theirs_and_mine_then_keep_mine_takes_their_etag() {
        let mut editor = EnrollmentEditor::open(base(), &mut Vec::new());
        editor.policy = PolicyChoice::Reset;
        let mut theirs = base();
        theirs.settings_mut().reprovision_policy = Some(ReprovisionPolicy::NEVER);
        theirs.settings_mut().etag = Some("\"e2\"".into());
        editor.start_conflict(theirs);
        let lines = editor.conflict_lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (lines[0].base.as_str(), lines[0].theirs.as_str(), lines[0].mine.as_str()),
            ("Re-provision and migrate data", "Never re-provision", "Re-provision and reset to initial config")
        );
        editor.keep_mine();
        assert_eq!(editor.base.settings().etag.as_deref(), Some("\"e2\""));
        assert_eq!(editor.policy, PolicyChoice::Reset);
    }

    #[test]
    fn a_reregistration_is_watched_until_the_record_changes() {
        let now = Instant::now();
        let mut editor = EnrollmentEditor::open(base(), &mut Vec::new());
        let record: DeviceRegistrationState =
            serde_json::from_value(json!({"registrationId": "door-1", "deviceId": "door-1", "status": "assigned", "etag": "r1"})).unwrap();
        let mut out = Vec::new();
        editor.reregister(&record, "contoso-east".into(), now, &mut out);
        assert!(matches!(&out[0], Command::ReRegister { hub, .. } if hub == "contoso-east"));
        editor.reregister_sent("door-1", Ok(()), now);
        assert_eq!(editor.poll_due_in(now), Some(REREGISTER_POLL));
        editor.records_loaded(Ok(vec![record.clone()]), now + REREGISTER_POLL);
        assert!(editor.reregistering.contains_key("door-1"), "same etag: still waiting");
        let changed = DeviceRegistrationState { etag: Some("r2".into()), ..record };
        editor.records_loaded(Ok(vec![changed]), now + REREGISTER_POLL * 2);
        assert!(editor.reregistering.is_empty());
        assert_eq!(editor.poll_due_in(now), None, "idle again");
    }
}
