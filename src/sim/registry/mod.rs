//! The identity registry: devices in id order, with the service's create/update/delete rules,
//! etags, bulk operations and statistics. No HTTP here.

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngExt as _;
use serde_json::{Map, Value};

use super::clock::Ticks;
use super::error::HubError;
use super::prop_tree::Meta;
use super::record::{AuthRecord, DeviceRecord, TwinRecord};
use crate::azure::hub::check_device_id;
use crate::azure::secret::Secret;
use crate::azure::twin_rules::{Section, check_section};
use crate::azure::wire::{
    AuthenticationMechanism, AuthenticationType, BulkRegistryOperationResult, ConnectionState, Device, DeviceRegistryOperationError,
    DeviceStatus, ErrorCode, ExportImportDevice, ImportMode, RegistryStatistics, TwinProperties,
};

/// Most devices `GET /devices` answers with.
pub const MAX_LIST: usize = 1000;
/// Most items in one bulk call.
pub const MAX_BULK: usize = 100;

pub use crate::sim::precondition::Precondition;

/// What a write changed, for persistence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Devices created or modified.
    pub upserted: Vec<String>,
    /// Devices removed.
    pub deleted: Vec<String>,
    /// Devices whose desired properties changed (their device apps are told).
    pub desired_changed: Vec<String>,
}

impl Changes {
    /// One device upserted.
    pub fn upsert(device_id: &str) -> Self {
        Self { upserted: vec![device_id.to_owned()], ..Self::default() }
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.upserted.is_empty() && self.deleted.is_empty()
    }
}

/// All devices of one hub, kept in id order (stable query paging relies on it).
#[derive(Debug, Default)]
pub struct Registry {
    /// Boxed: B-tree nodes then hold pointers, not 400-byte records (less slack per node).
    devices: BTreeMap<String, Box<DeviceRecord>>,
    next_etag: u64,
    next_generation: u64,
}

impl Registry {
    /// A registry holding `records` (loaded from disk or seeded).
    pub fn from_records(records: impl IntoIterator<Item = DeviceRecord>) -> Self {
        let devices: BTreeMap<String, Box<DeviceRecord>> =
            records.into_iter().map(|record| (record.device_id.clone(), Box::new(record))).collect();
        let next_etag =
            devices.values().map(|record| record.etag).max().unwrap_or(0).max(rand::rng().random_range(100_000_000..900_000_000)) + 1;
        let next_generation = devices.values().map(|record| record.generation_id).max().unwrap_or(0) + 1;
        Self { devices, next_etag, next_generation }
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// True without devices.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// One device.
    pub fn get(&self, device_id: &str) -> Result<&DeviceRecord, HubError> {
        self.devices.get(device_id).map(|record| &**record).ok_or_else(|| HubError::device_not_found(device_id))
    }

    /// Mutable access for the simulated fleet and twin writes.
    pub fn get_mut(&mut self, device_id: &str) -> Result<&mut DeviceRecord, HubError> {
        self.devices.get_mut(device_id).map(|record| &mut **record).ok_or_else(|| HubError::device_not_found(device_id))
    }

    /// Devices in id order, starting after `after` (exclusive) when given.
    pub fn iter_from<'a>(&'a self, after: Option<&str>) -> Box<dyn Iterator<Item = &'a DeviceRecord> + 'a> {
        match after {
            Some(after) => Box::new(
                self.devices.range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)).map(|(_, record)| &**record),
            ),
            None => Box::new(self.devices.values().map(|record| &**record)),
        }
    }

    /// `GET /devices?top=N`: the first `top` identities (1..=1000; anything else means 1000).
    pub fn list(&self, top: Option<usize>) -> Vec<Device> {
        let top = top.filter(|top| (1..=MAX_LIST).contains(top)).unwrap_or(MAX_LIST);
        self.devices.values().take(top).map(|record| record.to_device()).collect()
    }

    /// Inserts a fully formed record (seeding, tests).
    pub fn insert(&mut self, record: DeviceRecord) {
        self.next_etag = self.next_etag.max(record.etag + 1);
        self.next_generation = self.next_generation.max(record.generation_id + 1);
        self.devices.insert(record.device_id.clone(), Box::new(record));
    }

    /// `PUT /devices/{id}`: create without `If-Match`, update with it.
    pub fn put_device(
        &mut self,
        path_id: &str,
        body: &Device,
        precondition: Option<&Precondition>,
        now: Ticks,
    ) -> Result<&DeviceRecord, HubError> {
        if !body.device_id.is_empty() && body.device_id != path_id {
            return Err(HubError::invalid(format!(
                "the deviceId in the body ('{}') does not match the one in the URI ('{path_id}')",
                body.device_id
            )));
        }
        validate_id(path_id)?;
        let fields = IdentityFields::from_device(body)?;
        match (precondition, self.devices.contains_key(path_id)) {
            (None, true) => {
                Err(HubError::new(ErrorCode::DeviceAlreadyExists, format!("A device with ID '{path_id}' is already registered.")))
            }
            (None, false) => Ok(self.create(path_id, fields, None, now)),
            (Some(_), false) => Err(HubError::device_not_found(path_id)),
            (Some(precondition), true) => self.update_identity(path_id, fields, Some(precondition), now),
        }
    }

    /// `DELETE /devices/{id}`. A missing `If-Match` counts as `*`.
    pub fn delete(&mut self, device_id: &str, precondition: Option<&Precondition>) -> Result<(), HubError> {
        let record = self.get(device_id)?;
        if let Some(precondition) = precondition
            && !precondition.matches(&record.etag_wire())
        {
            return Err(HubError::precondition_failed());
        }
        self.devices.remove(device_id);
        Ok(())
    }

    /// `GET /statistics/devices`.
    pub fn statistics(&self) -> RegistryStatistics {
        let enabled = self.devices.values().filter(|record| record.status == DeviceStatus::Enabled).count() as u64;
        let total = self.devices.len() as u64;
        RegistryStatistics { total_device_count: total, enabled_device_count: enabled, disabled_device_count: total - enabled }
    }

    /// Devices connected now.
    pub fn connected_count(&self) -> u64 {
        self.devices.values().filter(|record| record.connection_state == ConnectionState::Connected).count() as u64
    }

    /// `POST /devices`: each item applied on its own; failures listed in the result.
    pub fn bulk(&mut self, items: &[ExportImportDevice], now: Ticks) -> Result<(BulkRegistryOperationResult, Changes), HubError> {
        if items.is_empty() {
            return Err(HubError::invalid("the bulk request lists no devices"));
        }
        if items.len() > MAX_BULK {
            return Err(HubError::invalid(format!("a bulk request takes at most {MAX_BULK} devices; this one has {}", items.len())));
        }
        let mut seen = HashSet::new();
        if let Some(duplicate) = items.iter().find(|item| !seen.insert(item.id.as_str())) {
            return Err(HubError::new(
                ErrorCode::DeviceDefinedMultipleTimes,
                format!("device '{}' appears more than once in the request", duplicate.id),
            ));
        }
        let mut result = BulkRegistryOperationResult { is_successful: true, ..Default::default() };
        let mut changes = Changes::default();
        for item in items {
            match self.bulk_item(item, now) {
                Ok(deleted) if deleted => changes.deleted.push(item.id.clone()),
                Ok(_) => {
                    changes.upserted.push(item.id.clone());
                    if item.properties.as_ref().is_some_and(|properties| properties.desired.is_some()) {
                        changes.desired_changed.push(item.id.clone());
                    }
                }
                Err(error) => {
                    result.is_successful = false;
                    result.errors.push(DeviceRegistryOperationError {
                        device_id: item.id.clone(),
                        error_code: error.code.name().to_owned(),
                        error_status: error.message,
                        module_id: item.module_id.clone(),
                        operation: Some(item.import_mode.as_str().to_owned()),
                    });
                }
            }
        }
        Ok((result, changes))
    }

    /// Applies one bulk item; `Ok(true)` when it deleted the device.
    fn bulk_item(&mut self, item: &ExportImportDevice, now: Ticks) -> Result<bool, HubError> {
        validate_id(&item.id)?;
        if item.module_id.is_some() {
            return Err(HubError::invalid("module identities are not supported by this simulator"));
        }
        let etag_condition = |etag: &Option<String>| Precondition::parse(Some(etag.as_deref().unwrap_or("")));
        let twin = TwinContent::from_item(item)?;
        match item.import_mode {
            ImportMode::Create => {
                if self.devices.contains_key(&item.id) {
                    return Err(HubError::new(
                        ErrorCode::DeviceAlreadyExists,
                        format!("A device with ID '{}' is already registered.", item.id),
                    ));
                }
                self.create(&item.id, IdentityFields::from_item(item)?, Some(&twin), now);
            }
            ImportMode::Update | ImportMode::UpdateIfMatchETag => {
                let fields = IdentityFields::from_item(item)?;
                if item.import_mode == ImportMode::UpdateIfMatchETag {
                    let condition = etag_condition(&item.e_tag).ok_or_else(|| HubError::invalid("updateIfMatchETag needs an eTag"))?;
                    self.update_identity(&item.id, fields, Some(&condition), now)?;
                } else if self.devices.contains_key(&item.id) {
                    self.update_identity(&item.id, fields, None, now)?;
                } else {
                    self.create(&item.id, fields, None, now);
                }
                self.merge_twin(&item.id, &twin, now)?;
            }
            ImportMode::Delete => {
                self.delete(&item.id, None)?;
                return Ok(true);
            }
            ImportMode::DeleteIfMatchETag => {
                let condition = etag_condition(&item.e_tag).ok_or_else(|| HubError::invalid("deleteIfMatchETag needs an eTag"))?;
                self.delete(&item.id, Some(&condition))?;
                return Ok(true);
            }
            ImportMode::UpdateTwin | ImportMode::UpdateTwinIfMatchETag => {
                let record = self.get(&item.id)?;
                if item.import_mode == ImportMode::UpdateTwinIfMatchETag {
                    let condition =
                        etag_condition(&item.twin_e_tag).ok_or_else(|| HubError::invalid("updateTwinIfMatchETag needs a twinETag"))?;
                    if !condition.matches(&record.twin.etag_wire()) {
                        return Err(HubError::precondition_failed());
                    }
                }
                self.merge_twin(&item.id, &twin, now)?;
            }
        }
        Ok(false)
    }

    fn create(&mut self, device_id: &str, fields: IdentityFields, twin: Option<&TwinContent>, now: Ticks) -> &DeviceRecord {
        let etag = self.take_etag();
        let generation_id = self.take_generation(now);
        let mut record = DeviceRecord {
            device_id: device_id.to_owned(),
            generation_id,
            etag,
            status: fields.status,
            status_reason: fields.status_reason,
            status_updated: 0,
            connection_state: ConnectionState::Disconnected,
            connection_state_updated: 0,
            last_activity: 0,
            auth: fields.auth,
            iot_edge: fields.iot_edge,
            device_scope: None,
            parent_scopes: fields.parent_scopes,
            twin: TwinRecord::new(now),
            simulated: None,
        };
        if record.iot_edge {
            record.device_scope = Some(format!("ms-azure-iot-edge://{device_id}-{generation_id}"));
        } else {
            record.device_scope = fields.device_scope;
        }
        if let Some(twin) = twin {
            if let Some(tags) = &twin.tags {
                record.twin.tags.merge(tags, Meta { updated: now, version: 0 });
            }
            if let Some(desired) = &twin.desired {
                record.twin.desired.merge(desired, Meta { updated: now, version: 1 });
            }
        }
        self.devices.entry(device_id.to_owned()).insert_entry(Box::new(record)).into_mut()
    }

    fn update_identity(
        &mut self,
        device_id: &str,
        fields: IdentityFields,
        precondition: Option<&Precondition>,
        now: Ticks,
    ) -> Result<&DeviceRecord, HubError> {
        let etag = self.take_etag();
        let record = self.devices.get_mut(device_id).ok_or_else(|| HubError::device_not_found(device_id))?;
        if let Some(precondition) = precondition
            && !precondition.matches(&record.etag_wire())
        {
            return Err(HubError::precondition_failed());
        }
        if record.status != fields.status {
            record.status_updated = now;
        }
        record.status = fields.status;
        record.status_reason = fields.status_reason;
        record.auth = fields.auth;
        record.iot_edge = fields.iot_edge;
        record.parent_scopes = fields.parent_scopes;
        if !record.iot_edge {
            record.device_scope = fields.device_scope;
        }
        record.etag = etag;
        Ok(record)
    }

    fn merge_twin(&mut self, device_id: &str, twin: &TwinContent, now: Ticks) -> Result<(), HubError> {
        let write = TwinWrite {
            tags: twin.tags.clone().map_or(SectionWrite::Untouched, SectionWrite::Merge),
            desired: twin.desired.clone().map_or(SectionWrite::Untouched, SectionWrite::Merge),
        };
        self.write_twin(device_id, &write, None, now).map(drop)
    }

    fn take_etag(&mut self) -> u64 {
        self.next_etag += 1;
        self.next_etag
    }

    /// 18-digit generation ids like the service's (.NET ticks), unique per registry.
    fn take_generation(&mut self, now: Ticks) -> u64 {
        const DOTNET_EPOCH_TICKS: u64 = 621_355_968_000_000_000;
        let candidate = DOTNET_EPOCH_TICKS + u64::try_from(now).unwrap_or(0);
        self.next_generation = self.next_generation.max(candidate) + 1;
        self.next_generation
    }
}

/// The identity fields of a PUT body or bulk item, validated.
struct IdentityFields {
    status: DeviceStatus,
    status_reason: Option<String>,
    auth: AuthRecord,
    iot_edge: bool,
    device_scope: Option<String>,
    parent_scopes: Vec<String>,
}

impl IdentityFields {
    fn from_device(device: &Device) -> Result<Self, HubError> {
        Ok(Self {
            status: device.status,
            status_reason: check_status_reason(device.status_reason.clone())?,
            auth: auth_record(device.authentication.as_ref())?,
            iot_edge: device.capabilities.is_some_and(|capabilities| capabilities.iot_edge),
            device_scope: device.device_scope.clone(),
            parent_scopes: device.parent_scopes.clone().unwrap_or_default(),
        })
    }

    fn from_item(item: &ExportImportDevice) -> Result<Self, HubError> {
        Ok(Self {
            status: item.status.unwrap_or_default(),
            status_reason: check_status_reason(item.status_reason.clone())?,
            auth: auth_record(item.authentication.as_ref())?,
            iot_edge: item.capabilities.is_some_and(|capabilities| capabilities.iot_edge),
            device_scope: item.device_scope.clone(),
            parent_scopes: item.parent_scopes.clone().unwrap_or_default(),
        })
    }
}

/// Twin content carried by a bulk item, validated against the twin rules.
struct TwinContent {
    tags: Option<Map<String, Value>>,
    desired: Option<Map<String, Value>>,
}

impl TwinContent {
    fn from_item(item: &ExportImportDevice) -> Result<Self, HubError> {
        let desired = item.properties.as_ref().and_then(|properties: &TwinProperties| properties.desired.clone());
        if item.properties.as_ref().is_some_and(|properties| properties.reported.is_some()) {
            return Err(HubError::invalid("reported properties are written by the device, not the service"));
        }
        for (section, content) in [(Section::Tags, &item.tags), (Section::Desired, &desired)] {
            if let Some(content) = content
                && let Some(violation) = check_section(section, content).into_iter().next()
            {
                return Err(HubError::invalid(violation.to_string()));
            }
        }
        Ok(Self { tags: item.tags.clone(), desired })
    }
}

fn validate_id(device_id: &str) -> Result<(), HubError> {
    check_device_id(device_id).map_err(|error| HubError::invalid(error.to_string()))
}

fn check_status_reason(reason: Option<String>) -> Result<Option<String>, HubError> {
    match reason {
        Some(reason) if reason.chars().count() > 128 => Err(HubError::invalid("statusReason is longer than 128 characters")),
        other => Ok(other),
    }
}

/// Validates credentials and generates empty symmetric keys.
fn auth_record(mechanism: Option<&AuthenticationMechanism>) -> Result<AuthRecord, HubError> {
    let kind = mechanism.map_or(AuthenticationType::Sas, |mechanism| mechanism.kind);
    let mut record = AuthRecord { kind, ..AuthRecord::default() };
    match kind {
        AuthenticationType::Sas => {
            let keys = mechanism.and_then(|mechanism| mechanism.symmetric_key.as_ref());
            record.primary_key = Some(key_or_generated(keys.and_then(|keys| keys.primary_key.as_ref()), "primaryKey")?);
            record.secondary_key = Some(key_or_generated(keys.and_then(|keys| keys.secondary_key.as_ref()), "secondaryKey")?);
        }
        AuthenticationType::SelfSigned => {
            let thumbprints = mechanism.and_then(|mechanism| mechanism.x509_thumbprint.as_ref());
            let primary = thumbprints.and_then(|thumbprints| thumbprints.primary_thumbprint.clone()).filter(|value| !value.is_empty());
            let secondary = thumbprints.and_then(|thumbprints| thumbprints.secondary_thumbprint.clone()).filter(|value| !value.is_empty());
            for thumbprint in primary.iter().chain(secondary.iter()) {
                if !(thumbprint.len() == 40 || thumbprint.len() == 64) || !thumbprint.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(HubError::invalid("an X.509 thumbprint must be 40 (SHA-1) or 64 (SHA-256) hex digits"));
                }
            }
            if primary.is_none() {
                return Err(HubError::invalid("a selfSigned device needs a primaryThumbprint"));
            }
            record.primary_thumbprint = primary;
            record.secondary_thumbprint = secondary;
        }
        AuthenticationType::CertificateAuthority | AuthenticationType::None => {}
    }
    Ok(record)
}

fn key_or_generated(key: Option<&Secret>, name: &str) -> Result<Secret, HubError> {
    match key.filter(|key| !key.is_empty()) {
        None => Ok(generate_key()),
        Some(key) => {
            let decoded =
                BASE64.decode(key.expose().as_bytes()).map_err(|_| HubError::invalid(format!("the {name} is not valid base64")))?;
            if !(16..=64).contains(&decoded.len()) {
                return Err(HubError::invalid(format!("the {name} must decode to 16..64 bytes, not {}", decoded.len())));
            }
            Ok(key.clone())
        }
    }
}

/// A new random key, 32 bytes base64 (44 characters), as the service generates.
pub fn generate_key() -> Secret {
    let bytes: [u8; 32] = rand::rng().random();
    Secret::new(BASE64.encode(bytes))
}

mod twin_writes;

pub use twin_writes::{SectionWrite, TwinWrite};

#[cfg(test)]
mod tests;
