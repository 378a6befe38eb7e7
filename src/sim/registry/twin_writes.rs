//! Service-side twin writes: PATCH (JSON merge) and PUT (replace) of tags and desired
//! properties, with `If-Match`, the service's limits, and the etag/version bookkeeping.

use serde_json::{Map, Value};

use super::{Precondition, Registry};
use crate::azure::twin_rules::{Section, check_section};
use crate::sim::clock::Ticks;
use crate::sim::error::HubError;
use crate::sim::prop_tree::{Meta, PropTree};
use crate::sim::record::DeviceRecord;

/// What a write does to one section.
#[derive(Clone, Debug, PartialEq)]
pub enum SectionWrite {
    /// Not mentioned.
    Untouched,
    /// `null`: remove everything.
    Clear,
    /// Merge (PATCH): `null` values delete keys.
    Merge(Map<String, Value>),
    /// Replace (PUT).
    Replace(Map<String, Value>),
}

impl SectionWrite {
    fn is_untouched(&self) -> bool {
        matches!(self, Self::Untouched)
    }
}

/// A service-side write of a twin's `tags` and `properties.desired`.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinWrite {
    /// What happens to `tags`.
    pub tags: SectionWrite,
    /// What happens to `properties.desired`.
    pub desired: SectionWrite,
}

impl TwinWrite {
    /// Reads a PATCH body: sections present are merged, `null` clears them.
    pub fn parse_patch(body: &Value) -> Result<Self, HubError> {
        Self::parse(body, SectionWrite::Merge)
    }

    /// Reads a PUT body: sections present replace the current ones; absent ones stay as they are
    /// (the safer reading of an undocumented case).
    pub fn parse_replace(body: &Value) -> Result<Self, HubError> {
        Self::parse(body, SectionWrite::Replace)
    }

    fn parse(body: &Value, write: fn(Map<String, Value>) -> SectionWrite) -> Result<Self, HubError> {
        let Value::Object(body) = body else {
            return Err(HubError::invalid("the twin body must be a JSON object with tags and/or properties.desired"));
        };
        let section = |value: Option<&Value>, path: &str| -> Result<SectionWrite, HubError> {
            match value {
                None => Ok(SectionWrite::Untouched),
                Some(Value::Null) => Ok(SectionWrite::Clear),
                Some(Value::Object(map)) => Ok(write(map.clone())),
                Some(other) => Err(HubError::invalid(format!("{path} must be an object, not {}", kind(other)))),
            }
        };
        let tags = section(body.get("tags"), "tags")?;
        let (desired, reported) = match body.get("properties") {
            None | Some(Value::Null) => (SectionWrite::Untouched, None),
            Some(Value::Object(properties)) => (section(properties.get("desired"), "properties.desired")?, properties.get("reported")),
            Some(other) => return Err(HubError::invalid(format!("properties must be an object, not {}", kind(other)))),
        };
        if reported.is_some_and(|reported| !is_metadata_only(reported)) {
            return Err(HubError::invalid(
                "properties.reported is written by the device; the service side can change only tags and properties.desired",
            ));
        }
        Ok(Self { tags, desired })
    }

    /// True when the write changes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.tags.is_untouched() && self.desired.is_untouched()
    }
}

/// Clients that send back a whole twin include reported's bookkeeping; only real values count.
fn is_metadata_only(reported: &Value) -> bool {
    match reported {
        Value::Object(map) => map.keys().all(|key| key.starts_with('$')),
        Value::Null => true,
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Removes the service fields clients echo back at a section's root (`$metadata`,
/// `$version`). Any other `$` key stays, so the key rules refuse it as the service does.
fn without_service_fields(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter().filter(|(key, _)| !is_service_field(key)).map(|(key, value)| (key.clone(), value.clone())).collect()
}

fn is_service_field(key: &str) -> bool {
    matches!(key, "$metadata" | "$version")
}

/// Applies a section write to a copy and checks the service's rules on the result.
fn written(tree: &PropTree, write: &SectionWrite, section: Section, meta: Meta) -> Result<Option<PropTree>, HubError> {
    let mut next = tree.clone();
    match write {
        SectionWrite::Untouched => return Ok(None),
        SectionWrite::Clear => next.replace(&Map::new(), meta),
        SectionWrite::Merge(patch) => {
            let patch = without_service_fields(patch);
            // Keys are checked in the patch itself (a null can still carry a bad key).
            if let Some(problem) = patch
                .keys()
                .find_map(|key| crate::azure::twin_rules::key_problem(key).map(|problem| format!("{}.{key}: {problem}", section.path())))
            {
                return Err(HubError::invalid(problem));
            }
            next.merge(&patch, meta);
        }
        SectionWrite::Replace(content) => next.replace(&without_service_fields(content), meta),
    }
    if let Some(violation) = check_section(section, &next.to_values()).into_iter().next() {
        return Err(HubError::invalid(violation.to_string()));
    }
    Ok(Some(next))
}

impl Registry {
    /// `PATCH` or `PUT /twins/{id}`: checks `If-Match` against the twin etag, applies the write,
    /// bumps the etag and `version` (and desired `$version` when desired changed).
    pub fn write_twin(
        &mut self,
        device_id: &str,
        write: &TwinWrite,
        precondition: Option<&Precondition>,
        now: Ticks,
    ) -> Result<&DeviceRecord, HubError> {
        let record = self.get_mut(device_id)?;
        if let Some(precondition) = precondition
            && !precondition.matches(&record.twin.etag_wire())
        {
            return Err(HubError::precondition_failed());
        }
        if write.is_empty() {
            return Ok(record);
        }
        let twin = &mut record.twin;
        let desired_version = twin.desired_version + u64::from(!write.desired.is_untouched());
        let tags = written(&twin.tags, &write.tags, Section::Tags, Meta { updated: now, version: 0 })?;
        let desired = written(&twin.desired, &write.desired, Section::Desired, Meta { updated: now, version: desired_version })?;
        if let Some(tags) = tags {
            twin.tags = tags;
        }
        if let Some(desired) = desired {
            twin.desired = desired;
            twin.desired_version = desired_version;
        }
        twin.etag += 1;
        twin.version += 1;
        Ok(record)
    }
}

impl Registry {
    /// A device's reported-property patch (MQTT): merged with the service's key rules and limits;
    /// bumps reported `$version` and the twin's `version`. Returns the new reported `$version`.
    pub fn patch_reported(&mut self, device_id: &str, patch: &Map<String, Value>, now: Ticks) -> Result<u64, HubError> {
        let record = self.get_mut(device_id)?;
        let twin = &mut record.twin;
        let version = twin.reported_version + 1;
        let write = SectionWrite::Merge(patch.clone());
        if let Some(reported) = written(&twin.reported, &write, Section::Reported, Meta { updated: now, version })? {
            twin.reported = reported;
            twin.reported_version = version;
            twin.version += 1;
            twin.etag += 1;
        }
        Ok(twin.reported_version)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::azure::wire::{Device, ErrorCode};

    const NOW: Ticks = 637_000_000_000;

    fn registry() -> Registry {
        let mut registry = Registry::default();
        registry.put_device("d1", &Device::new_with_generated_keys("d1"), None, NOW).unwrap();
        registry
    }

    fn patch(registry: &mut Registry, body: &Value, precondition: Option<&Precondition>) -> Result<crate::azure::wire::Twin, HubError> {
        let write = TwinWrite::parse_patch(body)?;
        registry.write_twin("d1", &write, precondition, NOW + 10).map(DeviceRecord::to_twin)
    }

    #[test]
    fn patch_merges_deletes_and_bumps_versions() {
        let mut registry = registry();
        let first = patch(
            &mut registry,
            &json!({"tags": {"building": 43}, "properties": {"desired": {"mode": "eco", "fan": {"speed": 2}}}}),
            Some(&Precondition::Etag("AAAAAAAAAAE=".into())),
        )
        .unwrap();
        assert_eq!(first.etag.as_deref(), Some("AAAAAAAAAAI="));
        assert_eq!((first.version, first.desired_version()), (Some(3), Some(2)));
        let second =
            patch(&mut registry, &json!({"properties": {"desired": {"mode": null, "fan": {"speed": 3}}}}), Some(&Precondition::Any))
                .unwrap();
        let desired = second.desired().unwrap();
        assert!(desired.get("mode").is_none(), "null deletes");
        assert_eq!(desired["fan"]["speed"], json!(3));
        assert_eq!(desired["$metadata"]["fan"]["speed"]["$lastUpdatedVersion"], json!(3));
        assert_eq!(second.desired_version(), Some(3));
        let tags_only = patch(&mut registry, &json!({"tags": {"floor": 3}}), None).unwrap();
        assert_eq!(tags_only.desired_version(), Some(3), "a tags-only write leaves desired $version alone");
        assert_eq!(tags_only.tags.unwrap(), json!({"building": 43, "floor": 3}).as_object().unwrap().clone());
    }

    #[test]
    fn dollar_keys_other_than_the_echoed_service_fields_are_refused() {
        let mut registry = registry();
        for body in [
            json!({"properties": {"desired": {"$bad": 1}}}),
            json!({"properties": {"desired": {"$bad": null}}}),
            json!({"tags": {"$bad": "x"}}),
            json!({"properties": {"desired": {"ok": {"$metadata": 1}}}}),
        ] {
            let error = patch(&mut registry, &body, None).unwrap_err();
            assert_eq!(error.code, ErrorCode::ArgumentInvalid, "{body}: {error:?}");
            assert!(error.message.contains("'$'"), "{body}: {}", error.message);
        }
        let twin = patch(&mut registry, &json!({"properties": {"desired": {"$version": 7, "$metadata": {}, "a": 1}}}), None).unwrap();
        assert_eq!(twin.desired().map(|desired| &desired["a"]), Some(&json!(1)));
        let version_after = |registry: &Registry| registry.get("d1").unwrap().twin.desired_version;
        assert_eq!(version_after(&registry), 2, "only the one accepted patch bumped $version");
    }

    #[test]
    fn stale_etags_are_refused() {
        let mut registry = registry();
        let error = patch(&mut registry, &json!({"tags": {"a": 1}}), Some(&Precondition::Etag("AAAAAAAAAAc=".into()))).unwrap_err();
        assert_eq!(error.code, ErrorCode::PreconditionFailed);
        assert_eq!(registry.get("d1").unwrap().twin.etag, 1, "nothing changed");
    }

    #[test]
    fn put_replaces_only_the_sections_given_and_null_clears() {
        let mut registry = registry();
        patch(&mut registry, &json!({"tags": {"a": 1, "b": 2}, "properties": {"desired": {"x": 1}}}), None).unwrap();
        let write = TwinWrite::parse_replace(&json!({"properties": {"desired": {"y": 2}}})).unwrap();
        let twin = registry.write_twin("d1", &write, Some(&Precondition::Any), NOW + 20).unwrap().to_twin();
        assert_eq!(twin.tags.unwrap(), json!({"a": 1, "b": 2}).as_object().unwrap().clone(), "tags omitted: unchanged");
        assert!(twin.properties.as_ref().unwrap().desired.as_ref().unwrap().get("x").is_none());
        let cleared = TwinWrite::parse_patch(&json!({"tags": null})).unwrap();
        assert!(registry.write_twin("d1", &cleared, None, NOW + 30).unwrap().to_twin().tags.is_none(), "tags: null clears them all");
    }

    #[test]
    fn a_device_reported_patch_merges_bumps_versions_and_keeps_the_rules() {
        let mut registry = registry();
        let patch = |body: Value| body.as_object().cloned().unwrap();
        assert_eq!(registry.patch_reported("d1", &patch(json!({"firmware": "2.1", "door": {"locked": true}})), NOW), Ok(2));
        assert_eq!(registry.patch_reported("d1", &patch(json!({"door": {"locked": null}, "temperature": 21.5})), NOW), Ok(3));
        let twin = registry.get("d1").unwrap().to_twin();
        let reported = twin.reported().unwrap();
        assert_eq!((reported["firmware"].clone(), reported["temperature"].clone()), (json!("2.1"), json!(21.5)));
        assert_eq!(reported["door"], json!({}), "null deletes a reported key");
        for (body, expected) in [(json!({"$bad": 1}), "'$'"), (json!({"s": "x".repeat(4097)}), "4097 bytes")] {
            let error = registry.patch_reported("d1", &patch(body.clone()), NOW).unwrap_err();
            assert!(error.message.contains(expected), "{body}: {}", error.message);
        }
        assert_eq!(registry.get("d1").unwrap().twin.reported_version, 3, "refused patches change nothing");
        assert_eq!(registry.patch_reported("nobody", &patch(json!({"a": 1})), NOW).unwrap_err().code, ErrorCode::DeviceNotFound);
    }

    #[test]
    fn a_whole_twin_echoed_back_is_accepted() {
        let mut registry = registry();
        let twin = serde_json::to_value(registry.get("d1").unwrap().to_twin()).unwrap();
        let mut body = twin;
        body["tags"] = json!({"room": 12});
        let write = TwinWrite::parse_replace(&body).unwrap();
        assert!(registry.write_twin("d1", &write, None, NOW).is_ok(), "reported bookkeeping ($metadata, $version) is ignored");
    }

    #[test]
    fn limits_are_enforced_with_the_path() {
        let mut registry = registry();
        let cases = [
            (json!({"tags": {"a.b": 1}}), "tags.a.b"),
            (json!({"properties": {"desired": {"bad key": null}}}), "properties.desired.bad key"),
            (json!({"properties": {"desired": {"s": "x".repeat(4097)}}}), "4097 bytes"),
            (json!({"tags": {"big": "x".repeat(4000), "big2": "x".repeat(4000), "big3": "x".repeat(400)}}), "at most 8192"),
            (json!({"properties": {"reported": {"fw": "1.0"}}}), "written by the device"),
            (json!({"tags": [1, 2]}), "tags must be an object, not an array"),
            (json!("text"), "must be a JSON object"),
        ];
        for (body, expected) in cases {
            let error = patch(&mut registry, &body, None).unwrap_err();
            assert_eq!(error.code, ErrorCode::ArgumentInvalid, "{body}");
            assert!(error.message.contains(expected), "{body}: {}", error.message);
        }
        let mut deep = json!(1);
        for level in 0..11 {
            deep = json!({ format!("l{level}"): deep });
        }
        assert!(patch(&mut registry, &json!({"properties": {"desired": deep}}), None).unwrap_err().message.contains("deeper than 10"));
        assert_eq!(registry.get("d1").unwrap().twin.etag, 1, "failed writes change nothing");
    }
}
