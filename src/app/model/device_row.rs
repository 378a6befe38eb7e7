//! One device as the list holds it: the fixed columns plus every leaf of `tags` and
//! `properties.reported`, flattened to dotted paths for user-chosen columns and sorting.
//!
//! Compact on purpose (100 000 rows): paths are interned, values are small enums.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::azure::wire::{ConnectionState, DeviceStatus, Timestamp, Twin};

/// A dotted field path (`tags.building`), shared by every row that has it.
pub type FieldPath = Arc<str>;

static PATHS: LazyLock<Mutex<HashSet<Arc<str>>>> = LazyLock::new(|| Mutex::new(HashSet::new()));
/// The interner stops growing here; odd twins with random keys then allocate their own paths.
const MAX_INTERNED_PATHS: usize = 50_000;

/// The shared copy of `path`.
pub fn intern_path(path: &str) -> FieldPath {
    let mut paths = PATHS.lock();
    if let Some(shared) = paths.get(path) {
        return Arc::clone(shared);
    }
    let shared: Arc<str> = Arc::from(path);
    if paths.len() < MAX_INTERNED_PATHS {
        paths.insert(Arc::clone(&shared));
    }
    shared
}

/// A leaf value shown in a cell.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// Text (strings; arrays as compact JSON).
    Text(Box<str>),
}

impl FieldValue {
    fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(flag) => Self::Bool(*flag),
            Value::Number(number) => Self::Number(number.as_f64().unwrap_or(f64::NAN)),
            Value::String(text) => Self::Text(text.as_str().into()),
            other => Self::Text(other.to_string().into()),
        }
    }

    /// Orders values of mixed kinds: null < bool < number < text.
    pub fn compare(&self, other: &Self) -> Ordering {
        let rank = |value: &Self| match value {
            Self::Null => 0,
            Self::Bool(_) => 1,
            Self::Number(_) => 2,
            Self::Text(_) => 3,
        };
        match (self, other) {
            (Self::Bool(a), Self::Bool(b)) => a.cmp(b),
            (Self::Number(a), Self::Number(b)) => a.total_cmp(b),
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(flag) => write!(f, "{flag}"),
            Self::Number(number) => write!(f, "{number}"),
            Self::Text(text) => f.write_str(text),
        }
    }
}

/// A device in the list.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRow {
    /// Device id.
    pub device_id: Arc<str>,
    /// Enabled or disabled.
    pub status: DeviceStatus,
    /// Connected or not.
    pub connection_state: ConnectionState,
    /// When the connection state last changed (`connectionStateUpdatedTime`): only the
    /// identity carries it, so it is known once a live refresh read it.
    pub connection_since: Option<Timestamp>,
    /// Last activity; `None` when the device was never seen.
    pub last_activity: Option<Timestamp>,
    /// Identity etag, for etag-checked deletes.
    pub etag: Option<Arc<str>>,
    /// Leaves of `tags` and `properties.reported`, by dotted path, in document order.
    pub fields: Box<[(FieldPath, FieldValue)]>,
}

impl DeviceRow {
    /// The row for a twin from a `SELECT * FROM devices` page.
    pub fn from_twin(twin: &Twin) -> Self {
        let mut fields = Vec::new();
        if let Some(tags) = &twin.tags {
            flatten("tags", tags, &mut fields);
        }
        if let Some(reported) = twin.reported() {
            flatten("properties.reported", reported, &mut fields);
        }
        Self {
            device_id: Arc::from(twin.device_id.as_str()),
            status: twin.status.unwrap_or_default(),
            connection_state: twin.connection_state.unwrap_or_default(),
            connection_since: None,
            last_activity: twin.last_activity_time.filter(|time| !time.is_never()),
            etag: twin.device_etag.as_deref().map(Arc::from),
            fields: fields.into_boxed_slice(),
        }
    }

    /// The value at a dotted path, if the device has it.
    pub fn field(&self, path: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(name, _)| &**name == path).map(|(_, value)| value)
    }
}

fn flatten(prefix: &str, object: &Map<String, Value>, out: &mut Vec<(FieldPath, FieldValue)>) {
    for (key, value) in object {
        if key.starts_with('$') {
            continue; // $metadata, $version: service bookkeeping, not data
        }
        let path = format!("{prefix}.{key}");
        match value {
            Value::Object(child) => flatten(&path, child, out),
            leaf => out.push((intern_path(&path), FieldValue::from_json(leaf))),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn flattens_tags_and_reported_without_metadata() {
        let twin: Twin = serde_json::from_value(json!({
            "deviceId": "b43-f3-lock-00017", "deviceEtag": "NzAw", "status": "enabled", "connectionState": "Connected",
            "lastActivityTime": "2026-11-23T10:00:00.0000000Z",
            "tags": {"building": 43, "location": {"room": "3.12"}},
            "properties": {"reported": {"firmware": "1.4.2", "connectivity": {"rssi": -61}, "list": [1, 2],
                "$metadata": {"$lastUpdated": "x"}, "$version": 4}}
        }))
        .unwrap();
        let row = DeviceRow::from_twin(&twin);
        let paths: Vec<&str> = row.fields.iter().map(|(path, _)| &**path).collect();
        assert_eq!(
            paths,
            vec![
                "tags.building",
                "tags.location.room",
                "properties.reported.firmware",
                "properties.reported.connectivity.rssi",
                "properties.reported.list"
            ]
        );
        assert_eq!(row.field("tags.building"), Some(&FieldValue::Number(43.0)));
        assert_eq!(row.field("properties.reported.list").unwrap().to_string(), "[1,2]");
        assert_eq!(row.connection_state, ConnectionState::Connected);
        assert_eq!(row.etag.as_deref(), Some("NzAw"));
        let again = DeviceRow::from_twin(&twin);
        assert!(Arc::ptr_eq(&row.fields[0].0, &again.fields[0].0), "paths are shared between rows");
    }

    #[test]
    fn never_seen_devices_have_no_last_activity() {
        let twin: Twin = serde_json::from_value(json!({"deviceId": "d", "lastActivityTime": "0001-01-01T00:00:00Z"})).unwrap();
        assert_eq!(DeviceRow::from_twin(&twin).last_activity, None);
    }

    #[test]
    fn mixed_values_order_predictably() {
        let mut values =
            vec![FieldValue::Text("b".into()), FieldValue::Number(2.0), FieldValue::Null, FieldValue::Number(-1.0), FieldValue::Bool(true)];
        values.sort_by(FieldValue::compare);
        assert_eq!(
            values,
            vec![FieldValue::Null, FieldValue::Bool(true), FieldValue::Number(-1.0), FieldValue::Number(2.0), FieldValue::Text("b".into())]
        );
    }
}
