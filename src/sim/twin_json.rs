//! The twin document as the service formats it, serialized straight from a stored record —
//! no intermediate JSON maps, because a query page holds 1000 twins with ~20 metadata nodes
//! each. This is the one definition of the twin's JSON shape in the simulator.

use serde::ser::{Serialize, SerializeMap as _, Serializer};

use super::clock::timestamp;
use super::prop_tree::{Meta, PropEntry, PropTree, PropValue};
use super::record::DeviceRecord;

/// Serializes a device's twin (`GET /twins/{id}`, `SELECT * FROM devices`).
pub struct TwinJson<'a>(pub &'a DeviceRecord);

impl Serialize for TwinJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let record = self.0;
        let twin = &record.twin;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("deviceId", &record.device_id)?;
        map.serialize_entry("etag", &twin.etag_wire())?;
        map.serialize_entry("deviceEtag", &record.etag_wire())?;
        map.serialize_entry("status", &record.status)?;
        if let Some(reason) = &record.status_reason {
            map.serialize_entry("statusReason", reason)?;
        }
        map.serialize_entry("statusUpdateTime", &timestamp(record.status_updated))?;
        map.serialize_entry("connectionState", &record.connection_state)?;
        map.serialize_entry("lastActivityTime", &timestamp(record.last_activity))?;
        map.serialize_entry("cloudToDeviceMessageCount", &0)?;
        map.serialize_entry("authenticationType", &record.auth.kind)?;
        map.serialize_entry("x509Thumbprint", &Thumbprints(record))?;
        map.serialize_entry("modelId", "")?;
        map.serialize_entry("version", &twin.version)?;
        if !twin.tags.is_empty() {
            map.serialize_entry("tags", &Values(&twin.tags.entries))?;
        }
        map.serialize_entry(
            "properties",
            &Properties {
                desired: Section { tree: &twin.desired, version: twin.desired_version, with_versions: true },
                reported: Section { tree: &twin.reported, version: twin.reported_version, with_versions: false },
            },
        )?;
        map.serialize_entry("capabilities", &Capabilities(record.iot_edge))?;
        if let Some(scope) = &record.device_scope {
            map.serialize_entry("deviceScope", scope)?;
        }
        if !record.parent_scopes.is_empty() {
            map.serialize_entry("parentScopes", &record.parent_scopes)?;
        }
        map.end()
    }
}

struct Thumbprints<'a>(&'a DeviceRecord);

impl Serialize for Thumbprints<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("primaryThumbprint", &self.0.auth.primary_thumbprint)?;
        map.serialize_entry("secondaryThumbprint", &self.0.auth.secondary_thumbprint)?;
        map.end()
    }
}

struct Capabilities(bool);

impl Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("iotEdge", &self.0)?;
        map.end()
    }
}

struct Properties<'a> {
    desired: Section<'a>,
    reported: Section<'a>,
}

impl Serialize for Properties<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("desired", &self.desired)?;
        map.serialize_entry("reported", &self.reported)?;
        map.end()
    }
}

/// A section's values, then `$metadata`, then `$version`, as the service orders them.
pub struct Section<'a> {
    /// The section.
    pub tree: &'a PropTree,
    /// Its `$version`.
    pub version: u64,
    /// Whether metadata carries `$lastUpdatedVersion` (desired only).
    pub with_versions: bool,
}

impl Serialize for Section<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for entry in &self.tree.entries {
            map.serialize_entry(&*entry.key, &Value(&entry.value))?;
        }
        map.serialize_entry(
            "$metadata",
            &Metadata { entries: &self.tree.entries, meta: self.tree.meta, with_versions: self.with_versions },
        )?;
        map.serialize_entry("$version", &self.version)?;
        map.end()
    }
}

/// Plain values of an object (tags, or any subtree).
pub struct Values<'a>(pub &'a [PropEntry]);

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for entry in self.0 {
            map.serialize_entry(&*entry.key, &Value(&entry.value))?;
        }
        map.end()
    }
}

struct Value<'a>(&'a PropValue);

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            PropValue::Object(children) => Values(children).serialize(serializer),
            PropValue::Leaf(scalar) => scalar.serialize(serializer),
        }
    }
}

struct Metadata<'a> {
    entries: &'a [PropEntry],
    meta: Meta,
    with_versions: bool,
}

impl Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("$lastUpdated", &timestamp(self.meta.updated))?;
        if self.with_versions {
            map.serialize_entry("$lastUpdatedVersion", &self.meta.version)?;
        }
        for entry in self.entries {
            let children: &[PropEntry] = match &entry.value {
                PropValue::Object(children) => children,
                PropValue::Leaf(_) => &[],
            };
            map.serialize_entry(&*entry.key, &Metadata { entries: children, meta: entry.meta, with_versions: self.with_versions })?;
        }
        map.end()
    }
}
