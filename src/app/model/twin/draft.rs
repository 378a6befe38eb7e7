//! A twin draft: the tags and desired properties being edited, the twin they started from (whose
//! etag the save is sent with), and the edits the tree makes to them.

use serde_json::{Map, Value, json};

use super::patch::{changes, diff, get, set, without_nulls};
use crate::azure::twin_rules::{RuleViolation, Section, check_section, key_problem};
use crate::azure::wire::{Twin, section_values};

/// The tags and desired properties being edited, on top of `base`.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinDraft {
    /// The twin the draft started from; its etag goes in `If-Match` and its sections are what
    /// the patch is computed against.
    pub base: Twin,
    /// Draft tags.
    pub tags: Map<String, Value>,
    /// Draft desired properties (without `$metadata`/`$version`).
    pub desired: Map<String, Value>,
}

/// One line of the review: what a save changes at one key.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeLine {
    /// Tags or desired properties.
    pub section: Section,
    /// Key path within the section.
    pub path: Vec<String>,
    /// Value before (`None`: the key is new).
    pub before: Option<Value>,
    /// Value after (`None`: deleted, sent as `null`).
    pub after: Option<Value>,
}

impl ChangeLine {
    /// `tags.building`, `properties.desired.fan.speed`.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.section.path(), self.path.join("."))
    }
}

/// Why an edit could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The key breaks the service's rules.
    #[error("{0}")]
    InvalidKey(String),
    /// The parent already has a key with that name.
    #[error("'{0}' already exists here")]
    Exists(String),
    /// The section is not editable.
    #[error("reported properties are written by the device and cannot be edited")]
    ReadOnly,
}

impl TwinDraft {
    /// A clean draft of `twin`.
    pub fn new(twin: Twin) -> Self {
        let tags = twin.tags.clone().unwrap_or_default();
        let desired = section_values(twin.desired());
        Self { base: twin, tags, desired }
    }

    /// The etag saves are sent with.
    pub fn etag(&self) -> Option<&str> {
        self.base.etag.as_deref()
    }

    /// The base's values of an editable section.
    pub fn base_section(&self, section: Section) -> Map<String, Value> {
        match section {
            Section::Tags => self.base.tags.clone().unwrap_or_default(),
            Section::Desired => section_values(self.base.desired()),
            Section::Reported => section_values(self.base.reported()),
        }
    }

    /// The draft's values of an editable section (`None` for reported).
    pub fn section(&self, section: Section) -> Option<&Map<String, Value>> {
        match section {
            Section::Tags => Some(&self.tags),
            Section::Desired => Some(&self.desired),
            Section::Reported => None,
        }
    }

    fn section_mut(&mut self, section: Section) -> Result<&mut Map<String, Value>, EditError> {
        match section {
            Section::Tags => Ok(&mut self.tags),
            Section::Desired => Ok(&mut self.desired),
            Section::Reported => Err(EditError::ReadOnly),
        }
    }

    /// The merge patch a save sends: only changed keys, deletions as `null`.
    pub fn patch(&self) -> Value {
        let mut body = Map::new();
        let tags = diff(&self.base_section(Section::Tags), &self.tags);
        if !tags.is_empty() {
            body.insert("tags".to_owned(), Value::Object(tags));
        }
        let desired = diff(&self.base_section(Section::Desired), &self.desired);
        if !desired.is_empty() {
            body.insert("properties".to_owned(), json!({ "desired": desired }));
        }
        Value::Object(body)
    }

    /// True when saving would change something.
    pub fn is_dirty(&self) -> bool {
        self.patch().as_object().is_some_and(|body| !body.is_empty())
    }

    /// Every change, key by key, for the review.
    pub fn change_lines(&self) -> Vec<ChangeLine> {
        let mut lines = Vec::new();
        for section in [Section::Tags, Section::Desired] {
            let base = self.base_section(section);
            let draft = self.section(section).cloned().unwrap_or_default();
            for (path, after) in changes(&base, &diff(&base, &draft)) {
                let before = get(&base, &path).cloned();
                lines.push(ChangeLine { section, path, before, after });
            }
        }
        lines
    }

    /// The service's rules the draft breaks (the sections as they would be after the save).
    pub fn violations(&self) -> Vec<RuleViolation> {
        let mut violations = check_section(Section::Tags, &without_nulls(&self.tags));
        violations.extend(check_section(Section::Desired, &without_nulls(&self.desired)));
        violations
    }

    /// Sets the value at `path` (`null` deletes the key when saved).
    pub fn set_value(&mut self, section: Section, path: &[String], value: Value) -> Result<(), EditError> {
        set(self.section_mut(section)?, path, Some(value));
        Ok(())
    }

    /// Removes the key at `path`; the patch sends `null` for it.
    pub fn delete(&mut self, section: Section, path: &[String]) -> Result<(), EditError> {
        set(self.section_mut(section)?, path, None);
        Ok(())
    }

    /// Adds `key` under the object at `parent` with `value`.
    pub fn add_key(&mut self, section: Section, parent: &[String], key: &str, value: Value) -> Result<(), EditError> {
        if let Some(problem) = key_problem(key) {
            return Err(EditError::InvalidKey(problem));
        }
        let map = self.section_mut(section)?;
        let mut path = parent.to_vec();
        path.push(key.to_owned());
        if get(map, &path).is_some() {
            return Err(EditError::Exists(key.to_owned()));
        }
        set(map, &path, Some(value));
        Ok(())
    }

    /// Renames the key at `path` to `new_key`, keeping its value (a delete plus an add on the wire).
    pub fn rename(&mut self, section: Section, path: &[String], new_key: &str) -> Result<(), EditError> {
        if let Some(problem) = key_problem(new_key) {
            return Err(EditError::InvalidKey(problem));
        }
        let Some((_, parent)) = path.split_last() else {
            return Ok(());
        };
        let map = self.section_mut(section)?;
        let mut target = parent.to_vec();
        target.push(new_key.to_owned());
        if target == path {
            return Ok(());
        }
        if get(map, &target).is_some() {
            return Err(EditError::Exists(new_key.to_owned()));
        }
        let value = get(map, path).cloned().unwrap_or(Value::Null);
        set(map, path, None);
        set(map, &target, Some(value));
        Ok(())
    }

    /// The editable document for JSON mode: `{"tags": …, "properties": {"desired": …}}`.
    pub fn to_json_text(&self) -> String {
        let document = json!({ "tags": self.tags, "properties": { "desired": self.desired } });
        serde_json::to_string_pretty(&document).unwrap_or_default()
    }

    /// Takes tags and desired from JSON-mode text.
    pub fn set_from_json_text(&mut self, text: &str) -> Result<(), JsonTextError> {
        let document: Value = serde_json::from_str(text).map_err(|error| JsonTextError {
            line: Some(error.line()),
            column: Some(error.column()),
            message: error.to_string(),
        })?;
        let (tags, desired) = split_document(&document).map_err(|message| JsonTextError { line: None, column: None, message })?;
        self.tags = tags;
        self.desired = desired;
        Ok(())
    }
}

/// Why JSON-mode text cannot become the draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonTextError {
    /// 1-based line of a syntax error.
    pub line: Option<usize>,
    /// 1-based column of a syntax error.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Tags and desired properties of a JSON-mode document.
type Sections = (Map<String, Value>, Map<String, Value>);

fn split_document(document: &Value) -> Result<Sections, String> {
    let Value::Object(root) = document else {
        return Err("the document must be a JSON object with \"tags\" and \"properties\": {\"desired\": …}".to_owned());
    };
    if let Some(key) = root.keys().find(|key| *key != "tags" && *key != "properties") {
        return Err(format!("\"{key}\" cannot be edited here; only \"tags\" and \"properties.desired\" can"));
    }
    let tags = match root.get("tags") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(tags)) => tags.clone(),
        Some(_) => return Err("\"tags\" must be an object".to_owned()),
    };
    let desired = match root.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(properties)) => {
            if properties.contains_key("reported") {
                return Err("\"properties.reported\" is written by the device and cannot be edited".to_owned());
            }
            if let Some(key) = properties.keys().find(|key| *key != "desired") {
                return Err(format!("\"properties.{key}\" cannot be edited; only \"properties.desired\" can"));
            }
            match properties.get("desired") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(desired)) => desired.clone(),
                Some(_) => return Err("\"properties.desired\" must be an object".to_owned()),
            }
        }
        Some(_) => return Err("\"properties\" must be an object".to_owned()),
    };
    if let Some(key) = desired.keys().find(|key| key.starts_with('$')) {
        return Err(format!("\"properties.desired.{key}\" is maintained by the service and cannot be written"));
    }
    Ok((tags, desired))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twin() -> Twin {
        serde_json::from_value(json!({
            "deviceId": "b43-0001", "etag": "AAAAAAAAAAE=",
            "tags": {"building": 43, "floor": 3},
            "properties": {
                "desired": {"targetTemperature": 21, "fan": {"speed": 2}, "$version": 4, "$metadata": {}},
                "reported": {"firmware": "1.2", "$version": 9}
            }
        }))
        .unwrap()
    }

    fn path(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|key| (*key).to_owned()).collect()
    }

    #[test]
    fn a_clean_draft_sends_nothing() {
        let draft = TwinDraft::new(twin());
        assert!(!draft.is_dirty());
        assert_eq!(draft.patch(), json!({}));
        assert!(draft.desired.get("$version").is_none(), "service fields are not part of the draft");
    }

    #[test]
    fn edits_become_a_minimal_patch_with_deletions_as_null() {
        let mut draft = TwinDraft::new(twin());
        draft.set_value(Section::Tags, &path(&["building"]), json!(44)).unwrap();
        draft.delete(Section::Desired, &path(&["fan", "speed"])).unwrap();
        draft.add_key(Section::Desired, &[], "mode", json!("eco")).unwrap();
        assert_eq!(draft.patch(), json!({"tags": {"building": 44}, "properties": {"desired": {"fan": {"speed": null}, "mode": "eco"}}}));
        let lines: Vec<String> = draft.change_lines().iter().map(ChangeLine::dotted).collect();
        assert_eq!(lines, vec!["tags.building", "properties.desired.fan.speed", "properties.desired.mode"]);
        assert_eq!(draft.etag(), Some("AAAAAAAAAAE="));
    }

    #[test]
    fn rename_moves_the_value_and_rejects_bad_or_taken_names() {
        let mut draft = TwinDraft::new(twin());
        draft.rename(Section::Tags, &path(&["floor"]), "level").unwrap();
        assert_eq!(draft.patch(), json!({"tags": {"floor": null, "level": 3}}));
        assert_eq!(draft.rename(Section::Tags, &path(&["level"]), "building"), Err(EditError::Exists("building".into())));
        assert!(
            matches!(draft.rename(Section::Tags, &path(&["level"]), "a.b"), Err(EditError::InvalidKey(message)) if message.contains("'.'"))
        );
        assert_eq!(draft.add_key(Section::Reported, &[], "x", json!(1)), Err(EditError::ReadOnly));
    }

    #[test]
    fn violations_name_the_path() {
        let mut draft = TwinDraft::new(twin());
        draft.set_from_json_text(r#"{"tags": {"bad key": 1}, "properties": {"desired": {"s": "ok"}}}"#).unwrap();
        let violations = draft.violations();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].path, "tags.bad key");
    }

    #[test]
    fn json_text_round_trips_and_reports_positions() {
        let mut draft = TwinDraft::new(twin());
        draft.set_value(Section::Desired, &path(&["fan", "mode"]), json!("auto")).unwrap();
        let text = draft.to_json_text();
        let mut other = TwinDraft::new(twin());
        other.set_from_json_text(&text).unwrap();
        assert_eq!(other, draft);
        let error = other.set_from_json_text("{\n  \"tags\": {\n    \"a\": 1,\n  }\n}").unwrap_err();
        assert_eq!((error.line, error.column), (Some(4), Some(3)));
        assert_eq!(other, draft, "a parse error changes nothing");
        let error = other.set_from_json_text(r#"{"properties": {"reported": {}}}"#).unwrap_err();
        assert!(error.message.contains("written by the device"), "{}", error.message);
        let error = other.set_from_json_text(r#"{"properties": {"desired": {"$version": 3}}}"#).unwrap_err();
        assert!(error.message.contains("$version"), "{}", error.message);
    }
}
