//! `POST /devices`: bulk create, update, delete and twin updates of up to 100 devices, each item
//! applied on its own and its failure listed, never failing the others.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::identity::{IdentityFields, validate_id};
use super::{Changes, Precondition, Registry, SectionWrite, TwinWrite};
use crate::azure::twin_rules::{Section, check_section};
use crate::azure::wire::{
    BulkRegistryOperationResult, DeviceRegistryOperationError, ErrorCode, ExportImportDevice, ImportMode, TwinProperties,
};
use crate::sim::clock::Ticks;
use crate::sim::error::HubError;

/// Most items in one bulk call.
pub const MAX_BULK: usize = 100;

impl Registry {
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

    fn merge_twin(&mut self, device_id: &str, twin: &TwinContent, now: Ticks) -> Result<(), HubError> {
        let write = TwinWrite {
            tags: twin.tags.clone().map_or(SectionWrite::Untouched, SectionWrite::Merge),
            desired: twin.desired.clone().map_or(SectionWrite::Untouched, SectionWrite::Merge),
        };
        self.write_twin(device_id, &write, None, now).map(drop)
    }
}

/// Twin content carried by a bulk item, validated against the twin rules.
pub(super) struct TwinContent {
    pub(super) tags: Option<Map<String, Value>>,
    pub(super) desired: Option<Map<String, Value>>,
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
