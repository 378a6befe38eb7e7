//! How query paths read a stored device: root twin fields, `tags.*`, `properties.desired.*`,
//! `properties.reported.*` (with `$version` and `$metadata`).

use std::borrow::Cow;

use serde_json::Value;

use super::eval::{QValue, Row};
use crate::sim::clock::timestamp;
use crate::sim::prop_tree::{PropTree, PropValue, Scalar};
use crate::sim::record::DeviceRecord;

impl Row for DeviceRecord {
    fn resolve(&self, path: &[String]) -> QValue<'_> {
        let Some((first, rest)) = path.split_first() else {
            return QValue::Undefined;
        };
        let text = |value: &str| QValue::Str(Cow::Owned(value.to_owned()));
        let field = first.to_ascii_lowercase();
        let leaf = match field.as_str() {
            "tags" => return tree_value(&self.twin.tags, rest, None),
            "properties" => return self.properties(rest),
            "capabilities" => {
                return match rest {
                    [] => QValue::Json(Cow::Owned(serde_json::json!({ "iotEdge": self.iot_edge }))),
                    [name] if name.eq_ignore_ascii_case("iotEdge") => QValue::Bool(self.iot_edge),
                    _ => QValue::Undefined,
                };
            }
            "deviceid" => QValue::Str(Cow::Borrowed(&self.device_id)),
            "status" => QValue::Str(Cow::Borrowed(self.status.as_str())),
            "statusreason" => self.status_reason.as_deref().map_or(QValue::Null, |reason| QValue::Str(Cow::Borrowed(reason))),
            "connectionstate" => QValue::Str(Cow::Borrowed(self.connection_state.as_str())),
            "lastactivitytime" => text(&timestamp(self.last_activity).to_wire()),
            "statusupdatetime" => text(&timestamp(self.status_updated).to_wire()),
            "version" | "$version" => number(self.twin.version),
            "etag" => text(&self.twin.etag_wire()),
            "deviceetag" => text(&self.etag_wire()),
            "authenticationtype" => QValue::Str(Cow::Borrowed(self.auth.kind.as_str())),
            "cloudtodevicemessagecount" => QValue::Number(0.0),
            "modelid" => QValue::Str(Cow::Borrowed("")),
            _ => QValue::Undefined,
        };
        if rest.is_empty() { leaf } else { QValue::Undefined }
    }
}

impl DeviceRecord {
    fn properties(&self, path: &[String]) -> QValue<'_> {
        let twin = &self.twin;
        match path.split_first() {
            None => QValue::Json(Cow::Owned(serde_json::json!({
                "desired": twin.desired.to_section(twin.desired_version, true),
                "reported": twin.reported.to_section(twin.reported_version, false),
            }))),
            Some((section, rest)) if section == "desired" => tree_value(&twin.desired, rest, Some((twin.desired_version, true))),
            Some((section, rest)) if section == "reported" => tree_value(&twin.reported, rest, Some((twin.reported_version, false))),
            Some(_) => QValue::Undefined,
        }
    }
}

#[allow(clippy::cast_precision_loss)] // versions stay far below 2^52
fn number(value: u64) -> QValue<'static> {
    QValue::Number(value as f64)
}

/// Reads inside a section; `versioned` sections also answer `$version` and `$metadata`.
fn tree_value<'a>(tree: &'a PropTree, path: &[String], versioned: Option<(u64, bool)>) -> QValue<'a> {
    if let (Some((version, with_versions)), Some(first)) = (versioned, path.first()) {
        if first == "$version" && path.len() == 1 {
            return number(version);
        }
        if first == "$metadata" {
            // Rare in queries: build the section once and walk it.
            let section = Value::Object(tree.to_section(version, with_versions));
            let found = path.iter().try_fold(&section, |node, key| node.get(key)).cloned();
            return found.map_or(QValue::Undefined, |value| match value {
                Value::String(text) => QValue::Str(Cow::Owned(text)),
                Value::Number(number) => number.as_f64().map_or(QValue::Undefined, QValue::Number),
                other => QValue::Json(Cow::Owned(other)),
            });
        }
    }
    if path.is_empty() {
        return QValue::Json(Cow::Owned(Value::Object(tree.to_values())));
    }
    let keys: Vec<&str> = path.iter().map(String::as_str).collect();
    match tree.get(&keys) {
        Some(PropValue::Leaf(scalar)) => scalar_value(scalar),
        Some(object @ PropValue::Object(_)) => QValue::Json(Cow::Owned(object.to_json())),
        None => QValue::Undefined,
    }
}

#[allow(clippy::cast_precision_loss)] // twin integers are limited to ±2^52, exact in f64
fn scalar_value(scalar: &Scalar) -> QValue<'_> {
    match scalar {
        Scalar::Null => QValue::Null,
        Scalar::Bool(flag) => QValue::Bool(*flag),
        Scalar::Int(int) => QValue::Number(*int as f64),
        Scalar::Float(float) => QValue::Number(*float),
        Scalar::Str(text) => QValue::Str(Cow::Borrowed(text)),
        Scalar::Array(value) => QValue::Json(Cow::Borrowed(value)),
    }
}
