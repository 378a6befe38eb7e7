//! The enrollment list of the simulated DPS: individual enrollments and groups, created and
//! replaced with etag checks, symmetric keys generated when none are given and kept out of reads
//! (only the attestation-mechanism call returns them), and bulk operations of up to 10 items.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use crate::azure::secret::Secret;
use crate::azure::wire::{
    AttestationMechanism, EnrollmentGroup, EnrollmentSettings, IndividualEnrollment, SymmetricKeyAttestation, Timestamp,
};
use crate::sim::precondition::Precondition;

/// Most items in one bulk call.
pub const MAX_BULK_ITEMS: usize = 10;

/// Why an enrollment operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnrollmentError {
    /// No such enrollment or group.
    #[error("{0} '{1}' does not exist")]
    NotFound(&'static str, String),
    /// `If-Match` names another etag.
    #[error("the etag does not match the current one; read it again and retry")]
    PreconditionFailed,
    /// The request is not valid; says why.
    #[error("{0}")]
    Invalid(String),
    /// Bulk create of an id that exists.
    #[error("{0} '{1}' already exists")]
    Exists(&'static str, String),
}

/// What the two kinds of enrollment share, so one store serves both.
pub trait Enrollment: Clone + serde::Serialize + serde::de::DeserializeOwned {
    /// `individual enrollment` or `enrollment group`.
    const KIND: &'static str;
    /// The registration id or enrollment group id (the table's key, compared case-insensitively).
    fn id(&self) -> &str;
    /// The attestation, for changing its keys.
    fn attestation_mut(&mut self) -> &mut AttestationMechanism;
    /// The attestation, for reading its keys.
    fn attestation(&self) -> &AttestationMechanism;
    /// The settings both kinds share (etag, hubs, policies), stamped on `PUT`.
    fn settings_mut(&mut self) -> &mut EnrollmentSettings;
    /// The settings both kinds share: etag, linked hubs, allocation and re-provisioning.
    fn settings(&self) -> &EnrollmentSettings;
}

impl Enrollment for IndividualEnrollment {
    const KIND: &'static str = "individual enrollment";
    fn id(&self) -> &str {
        &self.registration_id
    }
    fn attestation_mut(&mut self) -> &mut AttestationMechanism {
        &mut self.attestation
    }
    fn attestation(&self) -> &AttestationMechanism {
        &self.attestation
    }
    fn settings_mut(&mut self) -> &mut EnrollmentSettings {
        &mut self.settings
    }
    fn settings(&self) -> &EnrollmentSettings {
        &self.settings
    }
}

impl Enrollment for EnrollmentGroup {
    const KIND: &'static str = "enrollment group";
    fn id(&self) -> &str {
        &self.enrollment_group_id
    }
    fn attestation_mut(&mut self) -> &mut AttestationMechanism {
        &mut self.attestation
    }
    fn attestation(&self) -> &AttestationMechanism {
        &self.attestation
    }
    fn settings_mut(&mut self) -> &mut EnrollmentSettings {
        &mut self.settings
    }
    fn settings(&self) -> &EnrollmentSettings {
        &self.settings
    }
}

/// The registration-id rules (shared with the client): 1–128 of letters, digits, `: . _ -`, not
/// starting or ending with one of those four.
pub fn check_id(kind: &str, id: &str) -> Result<(), EnrollmentError> {
    crate::azure::id_rules::check_dps_id(kind, id).map_err(|error| EnrollmentError::Invalid(error.to_string()))
}

fn generated_key() -> Secret {
    Secret::generate_key(crate::azure::secret::DPS_KEY_BYTES)
}

fn check_key(which: &str, key: &Secret) -> Result<(), EnrollmentError> {
    match BASE64.decode(key.expose()) {
        Ok(bytes) if (16..=64).contains(&bytes.len()) => Ok(()),
        _ => Err(EnrollmentError::Invalid(format!("the {which} key must be base64 of 16 to 64 bytes"))),
    }
}

/// One kind of enrollment, by lowercased id (ids are case-insensitive).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(bound = "E: Enrollment")]
pub struct EnrollmentTable<E: Enrollment> {
    items: BTreeMap<String, E>,
    next_etag: u64,
}

impl<E: Enrollment> Default for EnrollmentTable<E> {
    fn default() -> Self {
        Self { items: BTreeMap::new(), next_etag: 1 }
    }
}

/// A copy without symmetric keys, as GET and query answer.
pub fn without_keys<E: Enrollment>(item: &E) -> E {
    let mut item = item.clone();
    if let Some(keys) = &mut item.attestation_mut().symmetric_key {
        *keys = SymmetricKeyAttestation::default();
    }
    item
}

impl<E: Enrollment> EnrollmentTable<E> {
    /// `PUT`: creates or replaces `item` (id from the path), honouring `If-Match`: an etag
    /// must match an existing item's; `*` (or none) creates or replaces.
    pub fn put(&mut self, path_id: &str, mut item: E, precondition: Option<&Precondition>, now: Timestamp) -> Result<E, EnrollmentError> {
        if !item.id().eq_ignore_ascii_case(path_id) {
            return Err(EnrollmentError::Invalid(format!(
                "the id in the body ('{}') must equal the one in the path ('{path_id}')",
                item.id()
            )));
        }
        check_id(E::KIND, path_id)?;
        let key = path_id.to_lowercase();
        let existing = self.items.get(&key);
        match (precondition, existing) {
            (Some(precondition), Some(current)) if !precondition.matches_optional(current.settings().etag.as_deref()) => {
                return Err(EnrollmentError::PreconditionFailed);
            }
            (Some(Precondition::Etag(_)), None) => return Err(EnrollmentError::NotFound(E::KIND, path_id.to_owned())),
            _ => {}
        }
        let attestation = item.attestation_mut();
        if attestation.kind == "symmetricKey" {
            let stored = existing.and_then(|current| current.attestation().symmetric_key.clone()).unwrap_or_default();
            let keys = attestation.symmetric_key.get_or_insert_with(SymmetricKeyAttestation::default);
            // Keys left out of an update are kept, never silently replaced.
            for (which, given, kept) in
                [("primary", &mut keys.primary_key, stored.primary_key), ("secondary", &mut keys.secondary_key, stored.secondary_key)]
            {
                match given.as_ref().filter(|key| !key.expose().is_empty()) {
                    Some(key) => check_key(which, key)?,
                    None => *given = Some(kept.unwrap_or_else(generated_key)),
                }
            }
        }
        let created = existing.and_then(|current| current.settings().created_date_time_utc.clone()).unwrap_or_else(|| now.to_wire());
        let etag = format!("\"{:08x}-0000-0300-0000-{:012x}\"", self.next_etag, now.0.timestamp());
        self.next_etag += 1;
        let settings = item.settings_mut();
        settings.capabilities.get_or_insert_with(|| json!({"iotEdge": false}));
        settings.provisioning_status.get_or_insert_with(|| "enabled".to_owned());
        if let Some(status) = settings.provisioning_status.as_deref()
            && status != "enabled"
            && status != "disabled"
        {
            return Err(EnrollmentError::Invalid(format!("provisioningStatus '{status}' must be enabled or disabled")));
        }
        settings.created_date_time_utc = Some(created);
        settings.last_updated_date_time_utc = Some(now.to_wire());
        settings.etag = Some(etag);
        self.items.insert(key, item.clone());
        Ok(item)
    }

    /// The stored item with its keys (the attestation-mechanism call and the registration API).
    pub fn get_with_keys(&self, id: &str) -> Result<&E, EnrollmentError> {
        self.items.get(&id.to_lowercase()).ok_or_else(|| EnrollmentError::NotFound(E::KIND, id.to_owned()))
    }

    /// `GET`: without keys.
    pub fn get(&self, id: &str) -> Result<E, EnrollmentError> {
        self.get_with_keys(id).map(without_keys)
    }

    /// `DELETE`, honouring `If-Match`.
    pub fn delete(&mut self, id: &str, precondition: Option<&Precondition>) -> Result<(), EnrollmentError> {
        let current = self.get_with_keys(id)?;
        if precondition.is_some_and(|precondition| !precondition.matches_optional(current.settings().etag.as_deref())) {
            return Err(EnrollmentError::PreconditionFailed);
        }
        self.items.remove(&id.to_lowercase());
        Ok(())
    }

    /// Every item in id order, without keys.
    pub fn list(&self) -> Vec<E> {
        self.items.values().map(without_keys).collect()
    }

    /// Every item with its keys (matching a group device's derived key).
    pub fn iter_with_keys(&self) -> impl Iterator<Item = &E> {
        self.items.values()
    }

    /// Rewrites hub host names in `iotHubs` (the simulated hubs' ports change between runs).
    pub fn rename_hubs(&mut self, rename: &impl Fn(&str) -> Option<String>) {
        for item in self.items.values_mut() {
            let settings = item.settings_mut();
            for host in settings.iot_hubs.iter_mut().flatten().chain(settings.iot_hub_host_name.iter_mut()) {
                if let Some(renamed) = rename(host) {
                    *host = renamed;
                }
            }
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// A bulk call: `create`, `update`, `updateIfMatchETag` or `delete`; per-item errors.
    pub fn bulk(&mut self, mode: &str, items: Vec<E>, now: Timestamp) -> Result<Vec<(String, EnrollmentError)>, EnrollmentError> {
        if items.len() > MAX_BULK_ITEMS {
            return Err(EnrollmentError::Invalid(format!("a bulk operation takes at most {MAX_BULK_ITEMS} items, not {}", items.len())));
        }
        let mut errors = Vec::new();
        for item in items {
            let id = item.id().to_owned();
            let result = match mode {
                "create" if self.items.contains_key(&id.to_lowercase()) => Err(EnrollmentError::Exists(E::KIND, id.clone())),
                "create" | "update" => self.put(&id, item, None, now).map(drop),
                "updateIfMatchETag" => {
                    // An item without an etag cannot match: this mode exists to refuse blind writes.
                    let precondition = match item.settings().etag.as_deref() {
                        Some(etag) => Precondition::parse(Some(etag)),
                        None => Some(Precondition::Etag("missing".to_owned())),
                    };
                    self.put(&id, item, precondition.as_ref(), now).map(drop)
                }
                "delete" => self.delete(&id, Precondition::parse(item.settings().etag.as_deref()).as_ref()),
                other => {
                    return Err(EnrollmentError::Invalid(format!(
                        "bulk mode '{other}' is not one of create, update, updateIfMatchETag, delete"
                    )));
                }
            };
            if let Err(error) = result {
                errors.push((id, error));
            }
        }
        Ok(errors)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::azure::wire::ReprovisionPolicy;

    fn enrollment(id: &str, body: &serde_json::Value) -> IndividualEnrollment {
        let mut value = json!({"registrationId": id, "attestation": {"type": "symmetricKey"}});
        if let (Some(object), Some(extra)) = (value.as_object_mut(), body.as_object()) {
            object.extend(extra.clone());
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn create_generates_keys_that_reads_never_show() {
        let mut table = EnrollmentTable::<IndividualEnrollment>::default();
        let created = table.put("door-17", enrollment("door-17", &json!({})), None, Timestamp::now()).unwrap();
        let keys = created.attestation.symmetric_key.clone().unwrap();
        assert_eq!(BASE64.decode(keys.primary_key.unwrap().expose()).unwrap().len(), 64);
        assert_eq!(created.settings.provisioning_status.as_deref(), Some("enabled"));
        assert_eq!(created.settings.reprovision_policy, None, "an omitted policy stays unsaved");
        let read = table.get("DOOR-17").unwrap();
        assert_eq!(read.attestation.symmetric_key, Some(SymmetricKeyAttestation::default()), "GET strips the keys");
        assert!(table.get_with_keys("door-17").unwrap().attestation.symmetric_key.as_ref().unwrap().primary_key.is_some());
    }

    #[test]
    fn updates_check_the_etag_and_keep_keys_left_out() {
        let mut table = EnrollmentTable::<IndividualEnrollment>::default();
        let created = table.put("door-17", enrollment("door-17", &json!({})), None, Timestamp::now()).unwrap();
        let etag = created.settings.etag.clone().unwrap();
        let update = enrollment("door-17", &json!({"reprovisionPolicy": {"updateHubAssignment": true, "migrateDeviceData": false}}));
        assert_eq!(
            table.put("door-17", update.clone(), Precondition::parse(Some("\"stale\"")).as_ref(), Timestamp::now()),
            Err(EnrollmentError::PreconditionFailed)
        );
        let updated = table.put("door-17", update, Precondition::parse(Some(&etag)).as_ref(), Timestamp::now()).unwrap();
        assert_eq!(updated.settings.reprovision_policy, Some(ReprovisionPolicy::RESET));
        assert_ne!(updated.settings.etag.as_deref(), Some(etag.as_str()));
        assert_eq!(updated.attestation.symmetric_key, created.attestation.symmetric_key, "keys not sent are kept");
        assert_eq!(updated.settings.created_date_time_utc, created.settings.created_date_time_utc);
        assert_eq!(table.delete("door-17", Precondition::parse(Some(&etag)).as_ref()), Err(EnrollmentError::PreconditionFailed));
        table.delete("door-17", Some(&Precondition::Any)).unwrap();
        assert!(matches!(table.get("door-17"), Err(EnrollmentError::NotFound(..))));
    }

    #[test]
    fn ids_keys_and_bulk_are_checked() {
        let mut table = EnrollmentTable::<IndividualEnrollment>::default();
        assert!(
            matches!(table.put("-door", enrollment("-door", &json!({})), None, Timestamp::now()), Err(EnrollmentError::Invalid(message)) if message.contains("start or end"))
        );
        assert!(
            matches!(table.put("door 1", enrollment("door 1", &json!({})), None, Timestamp::now()), Err(EnrollmentError::Invalid(message)) if message.contains("' '"))
        );
        let short_key = enrollment("door-2", &json!({"attestation": {"type": "symmetricKey", "symmetricKey": {"primaryKey": "c2hvcnQ="}}}));
        assert!(
            matches!(table.put("door-2", short_key, None, Timestamp::now()), Err(EnrollmentError::Invalid(message)) if message.contains("16 to 64 bytes"))
        );
        let items = vec![enrollment("a1", &json!({})), enrollment("a2", &json!({}))];
        assert!(table.bulk("create", items.clone(), Timestamp::now()).unwrap().is_empty());
        let again = table.bulk("create", items, Timestamp::now()).unwrap();
        assert_eq!(again.len(), 2, "create fails per item when it exists");
        let stale = enrollment("a1", &json!({"etag": "\"old\""}));
        assert_eq!(table.bulk("updateIfMatchETag", vec![stale], Timestamp::now()).unwrap()[0].1, EnrollmentError::PreconditionFailed);
        let eleven: Vec<IndividualEnrollment> = (0..11).map(|index| enrollment(&format!("b{index}"), &json!({}))).collect();
        assert!(table.bulk("update", eleven, Timestamp::now()).is_err());
        let groups = EnrollmentTable::<EnrollmentGroup>::default();
        assert!(matches!(groups.get("lobby"), Err(EnrollmentError::NotFound("enrollment group", _))));
    }
}
