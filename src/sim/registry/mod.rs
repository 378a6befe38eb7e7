//! The identity registry: devices in id order, with the service's create/update/delete rules,
//! etags, bulk operations and statistics. No HTTP here.

use std::collections::BTreeMap;

use rand::RngExt as _;

use self::bulk::TwinContent;
use self::identity::{IdentityFields, validate_id};
use self::journal::Journal;
use super::clock::Ticks;
use super::error::HubError;
use super::prop_tree::Meta;
use super::record::{DeviceRecord, TwinRecord};
use crate::azure::secret::Secret;
use crate::azure::wire::{ConnectionState, Device, DeviceStatus, ErrorCode, RegistryStatistics};

/// Most devices `GET /devices` answers with.
pub const MAX_LIST: usize = 1000;

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
    /// The undo journal while a transaction is open (see [`Registry::begin`]).
    journal: Option<Journal>,
}

impl Registry {
    /// A registry holding `records` (loaded from disk or seeded).
    pub fn from_records(records: impl IntoIterator<Item = DeviceRecord>) -> Self {
        let devices: BTreeMap<String, Box<DeviceRecord>> =
            records.into_iter().map(|record| (record.device_id.clone(), Box::new(record))).collect();
        let next_etag =
            devices.values().map(|record| record.etag).max().unwrap_or(0).max(rand::rng().random_range(100_000_000..900_000_000)) + 1;
        let next_generation = devices.values().map(|record| record.generation_id).max().unwrap_or(0) + 1;
        Self { devices, next_etag, next_generation, journal: None }
    }

    /// Opens a transaction: from now until [`Registry::commit`] or [`Registry::rollback`], the
    /// state of every device before its first change is kept, so the whole change can be undone.
    pub fn begin(&mut self) {
        self.journal = Some(Journal::new(self.next_etag, self.next_generation));
    }

    /// Ends the transaction, keeping its changes.
    pub fn commit(&mut self) {
        self.journal = None;
    }

    /// Ends the transaction, undoing every change made since [`Registry::begin`] (ids, records
    /// and counters), so readers never see a change that was not kept.
    pub fn rollback(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        let (before, next_etag, next_generation) = journal.into_undo();
        for (device_id, record) in before {
            match record {
                Some(record) => {
                    self.devices.insert(device_id, record);
                }
                None => {
                    self.devices.remove(&device_id);
                }
            }
        }
        self.next_etag = next_etag;
        self.next_generation = next_generation;
    }

    /// Journals `device_id` before its first change in an open transaction.
    fn touch(&mut self, device_id: &str) {
        if let Some(journal) = &mut self.journal {
            journal.remember(device_id, || self.devices.get(device_id).cloned());
        }
    }

    /// After a restart nobody is connected: devices whose connection came from real device code
    /// (not a simulated app) are disconnected. Memory only; returns how many.
    pub fn disconnect_real_devices(&mut self, now: Ticks) -> usize {
        let mut count = 0;
        for record in self.devices.values_mut() {
            if record.simulated.is_none() && record.connection_state == ConnectionState::Connected {
                record.connection_state = ConnectionState::Disconnected;
                record.connection_state_updated = now;
                count += 1;
            }
        }
        count
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
        self.touch(device_id);
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
        self.touch(&record.device_id);
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
        self.touch(device_id);
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
        self.touch(device_id);
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
        self.touch(device_id);
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

/// A new random device key, as the hub generates one.
pub fn generate_key() -> Secret {
    Secret::generate_key(crate::azure::secret::HUB_KEY_BYTES)
}

mod bulk;
mod identity;
mod journal;
mod twin_writes;

pub use bulk::MAX_BULK;
pub use twin_writes::{SectionWrite, TwinWrite};

#[cfg(test)]
mod tests;
