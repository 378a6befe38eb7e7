//! What a registration does on the simulated hubs: create an identity with the attested keys
//! and the initial twin, remove it from the old hub, move a whole record (identity and current
//! twin), or reset a twin to the initial one. Each goes through `Hub::write`, so it is durable
//! before the registration reports `assigned`.

use std::sync::Arc;

use crate::azure::secret::Secret;
use crate::azure::wire::{ConnectionState, Device, DeviceCapabilities, InitialTwin};
use crate::sim::clock::now_ticks;
use crate::sim::device_app::SimProfile;
use crate::sim::error::HubError;
use crate::sim::hub::Hub;
use crate::sim::record::DeviceRecord;
use crate::sim::registry::{Changes, Registry, TwinWrite};

/// The identity a registration gives a device.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Device id.
    pub device_id: String,
    /// Primary and secondary key (the ones the device attested with).
    pub keys: (Secret, Secret),
    /// `IoT` Edge capability.
    pub iot_edge: bool,
    /// The enrollment's (or webhook's) initial twin.
    pub initial_twin: InitialTwin,
    /// The device app, for devices of the simulated fleet.
    pub simulated: Option<SimProfile>,
}

fn initial_write(identity: &Identity) -> Result<TwinWrite, HubError> {
    TwinWrite::parse_replace(&super::register::initial_twin_body(&identity.initial_twin))
}

fn go_online(record: &mut DeviceRecord, profile: SimProfile) {
    let now = now_ticks();
    record.simulated = Some(SimProfile { provisioned: true, ..profile });
    record.connection_state = ConnectionState::Connected;
    record.connection_state_updated = now;
    record.last_activity = now;
}

/// Creates the identity on `hub` (replacing one with the same id) with the initial twin. A
/// simulated device keeps running its app: `previous` is its record on the hub it left.
pub async fn create(hub: &Arc<Hub>, identity: &Identity, previous: Option<&DeviceRecord>) -> Result<(), HubError> {
    let identity = identity.clone();
    let profile = previous.and_then(|record| record.simulated).or(identity.simulated);
    let write = initial_write(&identity)?;
    hub.write(move |registry: &mut Registry| {
        let now = now_ticks();
        let device_id = identity.device_id.as_str();
        if registry.get(device_id).is_ok() {
            registry.delete(device_id, None)?;
        }
        let mut device = Device::new_with_keys(device_id, identity.keys.0.clone(), identity.keys.1.clone());
        device.capabilities = Some(DeviceCapabilities { iot_edge: identity.iot_edge });
        registry.put_device(device_id, &device, None, now)?;
        registry.write_twin(device_id, &write, None, now)?;
        if let Some(profile) = profile {
            go_online(registry.get_mut(device_id)?, profile);
        }
        let changes = Changes { upserted: vec![device_id.to_owned()], deleted: Vec::new(), desired_changed: vec![device_id.to_owned()] };
        Ok(((), changes))
    })
    .await
}

/// Removes the device from `hub`; returns its record (identity and current twin) if it was there.
pub async fn remove(hub: &Arc<Hub>, device_id: &str) -> Result<Option<DeviceRecord>, HubError> {
    let device_id = device_id.to_owned();
    hub.write(move |registry: &mut Registry| {
        let Ok(record) = registry.get(&device_id).cloned() else {
            return Ok((None, Changes::default()));
        };
        registry.delete(&device_id, None)?;
        Ok((Some(record), Changes { deleted: vec![device_id.clone()], ..Changes::default() }))
    })
    .await
}

/// Puts a moved record (identity and twin as they were) on `hub`.
pub async fn insert(hub: &Arc<Hub>, record: DeviceRecord) -> Result<(), HubError> {
    hub.write(move |registry: &mut Registry| {
        let device_id = record.device_id.clone();
        if registry.get(&device_id).is_ok() {
            registry.delete(&device_id, None)?;
        }
        let mut record = record;
        if let Some(profile) = record.simulated {
            go_online(&mut record, profile);
        }
        registry.insert(record);
        Ok(((), Changes::upsert(&device_id)))
    })
    .await
}

/// Resets tags and desired properties to the initial twin ("factory reset" on the same hub).
pub async fn reset_twin(hub: &Arc<Hub>, identity: &Identity) -> Result<(), HubError> {
    let write = initial_write(identity)?;
    let device_id = identity.device_id.clone();
    hub.write(move |registry: &mut Registry| {
        registry.write_twin(&device_id, &write, None, now_ticks())?;
        Ok(((), Changes { upserted: vec![device_id.clone()], deleted: Vec::new(), desired_changed: vec![device_id.clone()] }))
    })
    .await
}
