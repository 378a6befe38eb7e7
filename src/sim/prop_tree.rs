//! A compact twin section (tags, desired or reported): values plus per-node `$metadata`,
//! merged and formatted the way the service does it.
//!
//! Kept compact on purpose: 100 000 simulated twins must fit in well under 300 MB, so keys are
//! interned (`building` is stored once, not 100 000 times), leaves are 24-byte scalars rather
//! than `serde_json::Value`s, and vectors are shrunk after each write.

use std::collections::HashSet;
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use super::clock::Ticks;

/// Keys longer than this are not interned (they are rarely shared).
const MAX_INTERNED_KEY: usize = 64;
/// The interner stops growing here, so random keys cannot grow it without bound.
const MAX_INTERNED_KEYS: usize = 100_000;

static KEYS: LazyLock<Mutex<HashSet<Arc<str>>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

/// A twin key, shared between all twins that use it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PropKey(Arc<str>);

impl PropKey {
    /// The shared copy of `key`.
    pub fn intern(key: &str) -> Self {
        if key.len() > MAX_INTERNED_KEY {
            return Self(Arc::from(key));
        }
        let mut keys = KEYS.lock();
        if let Some(shared) = keys.get(key) {
            return Self(Arc::clone(shared));
        }
        let shared: Arc<str> = Arc::from(key);
        if keys.len() < MAX_INTERNED_KEYS {
            keys.insert(Arc::clone(&shared));
        }
        Self(shared)
    }
}

impl Deref for PropKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Serialize for PropKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PropKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let key = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::intern(&key))
    }
}

/// A leaf value: 24 bytes instead of a `serde_json::Value`'s 80 (with `preserve_order`).
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    Str(Box<str>),
    /// An array (rare in twins), kept as JSON.
    Array(Box<Value>),
}

impl Scalar {
    /// The leaf for a non-object JSON value (objects become [`PropValue::Object`]).
    pub fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(flag) => Self::Bool(*flag),
            Value::Number(number) => number.as_i64().map_or_else(|| Self::Float(number.as_f64().unwrap_or(0.0)), Self::Int),
            Value::String(text) => Self::Str(text.as_str().into()),
            Value::Array(_) | Value::Object(_) => Self::Array(Box::new(value.clone())),
        }
    }

    /// The JSON value.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(flag) => Value::Bool(*flag),
            Self::Int(int) => Value::from(*int),
            Self::Float(float) => Number::from_f64(*float).map_or(Value::Null, Value::Number),
            Self::Str(text) => Value::String(text.to_string()),
            Self::Array(value) => (**value).clone(),
        }
    }
}

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(flag) => serializer.serialize_bool(*flag),
            Self::Int(int) => serializer.serialize_i64(*int),
            Self::Float(float) => serializer.serialize_f64(*float),
            Self::Str(text) => serializer.serialize_str(text),
            Self::Array(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from_json(&Value::deserialize(deserializer)?))
    }
}

/// When a node was last written, and by which desired `$version`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// `$lastUpdated`.
    #[serde(rename = "t")]
    pub updated: Ticks,
    /// `$lastUpdatedVersion` (desired only; 0 elsewhere).
    #[serde(rename = "v", default, skip_serializing_if = "is_zero")]
    pub version: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// A value: an object of entries, or any other JSON value (scalars and arrays are leaves).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PropValue {
    /// An object node.
    #[serde(rename = "o")]
    Object(Vec<PropEntry>),
    /// A leaf.
    #[serde(rename = "l")]
    Leaf(Scalar),
}

impl PropValue {
    /// The plain JSON value (no metadata).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Object(children) => Value::Object(json_object(&super::twin_json::Values(children))),
            Self::Leaf(value) => value.to_json(),
        }
    }
}

/// One key of an object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropEntry {
    /// The key.
    #[serde(rename = "k")]
    pub key: PropKey,
    /// Its value.
    #[serde(rename = "x")]
    pub value: PropValue,
    /// Its metadata.
    #[serde(rename = "m")]
    pub meta: Meta,
}

/// A whole section, with the metadata of its root.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PropTree {
    /// Top-level entries, in insertion order.
    #[serde(rename = "e", default)]
    pub entries: Vec<PropEntry>,
    /// Root `$lastUpdated` / `$lastUpdatedVersion`.
    #[serde(rename = "m", default)]
    pub meta: Meta,
}

impl PropTree {
    /// An empty section created at `meta`.
    pub fn new(meta: Meta) -> Self {
        Self { entries: Vec::new(), meta }
    }

    /// True without keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Applies a JSON merge patch: objects merge recursively, `null` deletes, anything else
    /// replaces. Every node the patch touches, and its ancestors, gets `meta`.
    pub fn merge(&mut self, patch: &Map<String, Value>, meta: Meta) {
        merge_entries(&mut self.entries, patch, meta);
        self.meta = meta;
    }

    /// Replaces the whole section.
    pub fn replace(&mut self, content: &Map<String, Value>, meta: Meta) {
        self.entries.clear();
        self.merge(content, meta);
    }

    /// The plain values (no metadata), as the service shows tags.
    pub fn to_values(&self) -> Map<String, Value> {
        json_object(&super::twin_json::Values(&self.entries))
    }

    /// Values plus `$metadata` (with `$lastUpdatedVersion` when `with_versions`) and `$version`.
    pub fn to_section(&self, version: u64, with_versions: bool) -> Map<String, Value> {
        json_object(&super::twin_json::Section { tree: self, version, with_versions })
    }

    /// Finds the value at `path` (keys from the section root).
    pub fn get<'a>(&'a self, path: &[&str]) -> Option<&'a PropValue> {
        let (first, rest) = path.split_first()?;
        let mut entry = find(&self.entries, first)?;
        for key in rest {
            let PropValue::Object(children) = &entry.value else {
                return None;
            };
            entry = find(children, key)?;
        }
        Some(&entry.value)
    }
}

fn find<'a>(entries: &'a [PropEntry], key: &str) -> Option<&'a PropEntry> {
    entries.iter().find(|entry| &*entry.key == key)
}

fn merge_entries(entries: &mut Vec<PropEntry>, patch: &Map<String, Value>, meta: Meta) {
    merge_into(entries, patch, meta);
    entries.shrink_to_fit();
}

fn merge_into(entries: &mut Vec<PropEntry>, patch: &Map<String, Value>, meta: Meta) {
    for (key, patch_value) in patch {
        let position = entries.iter().position(|entry| *entry.key == **key);
        match (patch_value, position) {
            (Value::Null, Some(index)) => {
                entries.remove(index);
            }
            (Value::Null, None) => {}
            (Value::Object(child_patch), Some(index)) => {
                let entry = &mut entries[index];
                if let PropValue::Object(children) = &mut entry.value {
                    merge_entries(children, child_patch, meta);
                } else {
                    entry.value = PropValue::Object(build(child_patch, meta));
                }
                entry.meta = meta;
            }
            (value, Some(index)) => {
                let entry = &mut entries[index];
                entry.value = leaf_or_object(value, meta);
                entry.meta = meta;
            }
            (value, None) => {
                entries.push(PropEntry { key: PropKey::intern(key), value: leaf_or_object(value, meta), meta });
            }
        }
    }
}

fn leaf_or_object(value: &Value, meta: Meta) -> PropValue {
    match value {
        Value::Object(object) => PropValue::Object(build(object, meta)),
        other => PropValue::Leaf(Scalar::from_json(other)),
    }
}

/// A new object from patch content: `null`s inside it mean nothing to delete, so they are dropped.
fn build(object: &Map<String, Value>, meta: Meta) -> Vec<PropEntry> {
    object
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| PropEntry { key: PropKey::intern(key), value: leaf_or_object(value, meta), meta })
        .collect()
}

/// Converts one of the twin serializers to a JSON object (they always produce objects).
fn json_object(value: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::azure::twin_rules::object;

    fn at(updated: Ticks, version: u64) -> Meta {
        Meta { updated, version }
    }

    #[test]
    fn merge_follows_json_merge_patch() {
        let mut tree = PropTree::new(at(1, 1));
        tree.merge(&object(json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]})), at(2, 2));
        tree.merge(&object(json!({"a": null, "b": {"c": null, "f": {"g": null, "h": true}}, "e": "x"})), at(3, 3));
        assert_eq!(Value::Object(tree.to_values()), json!({"b": {"d": 3, "f": {"h": true}}, "e": "x"}));
    }

    #[test]
    fn metadata_marks_touched_nodes_and_ancestors_only() {
        let mut tree = PropTree::new(at(1, 1));
        tree.merge(&object(json!({"thermostat": {"target": 21, "unit": "C"}, "fan": "auto"})), at(10_000_000, 2));
        tree.merge(&object(json!({"thermostat": {"target": 22}})), at(20_000_000, 3));
        let section = tree.to_section(3, true);
        let metadata = &section["$metadata"];
        assert_eq!(section["$version"], json!(3));
        assert_eq!(metadata["$lastUpdatedVersion"], json!(3));
        assert_eq!(metadata["thermostat"]["$lastUpdatedVersion"], json!(3));
        assert_eq!(metadata["thermostat"]["target"]["$lastUpdatedVersion"], json!(3));
        assert_eq!(metadata["thermostat"]["unit"]["$lastUpdatedVersion"], json!(2));
        assert_eq!(metadata["fan"]["$lastUpdated"], json!("1970-01-01T00:00:01.0000000Z"));
        assert_eq!(metadata["thermostat"]["$lastUpdated"], json!("1970-01-01T00:00:02.0000000Z"));
    }

    #[test]
    fn reported_metadata_has_no_versions() {
        let mut tree = PropTree::new(at(1, 0));
        tree.merge(&object(json!({"fw": "1.0"})), at(5, 0));
        let section = tree.to_section(2, false);
        assert!(section["$metadata"].get("$lastUpdatedVersion").is_none());
        assert!(section["$metadata"]["fw"].get("$lastUpdated").is_some());
    }

    #[test]
    fn get_walks_objects() {
        let mut tree = PropTree::default();
        tree.merge(&object(json!({"location": {"building": 43}})), at(1, 0));
        assert_eq!(tree.get(&["location", "building"]), Some(&PropValue::Leaf(Scalar::Int(43))));
        assert_eq!(tree.get(&["location", "building", "x"]), None);
        assert_eq!(tree.get(&["nope"]), None);
    }

    #[test]
    fn persists_and_restores_exactly() {
        let mut tree = PropTree::new(at(7, 1));
        // A leaf array shaped like stored entries must come back as a leaf.
        tree.merge(
            &object(json!({"a": {"b": [1, {"c": null}]}, "s": "x", "tricky": [{"k": "a", "x": {"l": 1}, "m": {"t": 1}}]})),
            at(9, 2),
        );
        let text = serde_json::to_string(&tree).unwrap();
        let back: PropTree = serde_json::from_str(&text).unwrap();
        assert_eq!(back, tree);
    }
}
