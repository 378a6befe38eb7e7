//! The service's rules for twin documents (key characters, depth, string and section sizes),
//! shared by the simulator, which enforces them, and the editor, which checks drafts as typed.

use std::fmt;

use serde_json::{Map, Value};

/// Longest key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest string value, in UTF-8 bytes.
pub const MAX_STRING_BYTES: usize = 4096;
/// Deepest nesting of objects below a section root.
pub const MAX_DEPTH: usize = 10;
/// Largest integer magnitude the service stores exactly.
pub const MAX_SAFE_INTEGER: i64 = 4_503_599_627_370_495;

/// A twin section, each with its own size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    /// `tags`, ≤ 8 KB.
    Tags,
    /// `properties.desired`, ≤ 32 KB.
    Desired,
    /// `properties.reported`, ≤ 32 KB.
    Reported,
}

impl Section {
    /// The path prefix used in messages.
    pub fn path(self) -> &'static str {
        match self {
            Self::Tags => "tags",
            Self::Desired => "properties.desired",
            Self::Reported => "properties.reported",
        }
    }

    /// Size limit in bytes of the section's JSON (without `$metadata`/`$version`).
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Tags => 8 * 1024,
            Self::Desired | Self::Reported => 32 * 1024,
        }
    }
}

/// One broken rule, with the path of the offending key or value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleViolation {
    /// Dotted path (`properties.desired.a.b`).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Why a key is not allowed, or `None` when it is fine.
pub fn key_problem(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("a key cannot be empty".to_owned());
    }
    if key.len() > MAX_KEY_BYTES {
        return Some(format!("key is {} bytes; at most {MAX_KEY_BYTES} are allowed", key.len()));
    }
    let bad = key.chars().find(|c| *c == '.' || *c == '$' || *c == ' ' || c.is_control())?;
    let shown = if bad.is_control() { format!("control character U+{:04X}", u32::from(bad)) } else { format!("'{bad}'") };
    Some(format!("key '{}' contains {shown}; keys cannot contain '.', '$', spaces or control characters", key.escape_debug()))
}

/// Checks a whole section as it would be after a write (`null` values are deletions in a
/// patch and are not counted). Returns every violation, in document order.
pub fn check_section(section: Section, content: &Map<String, Value>) -> Vec<RuleViolation> {
    let mut violations = Vec::new();
    check_object(content, section.path(), 1, &mut violations);
    let size = section_size(content);
    if size > section.max_bytes() {
        violations.push(RuleViolation {
            path: section.path().to_owned(),
            problem: format!("is {size} bytes; at most {} are allowed", section.max_bytes()),
        });
    }
    violations
}

/// The size the limits count: the compact JSON of the section without `$`-prefixed keys.
pub fn section_size(content: &Map<String, Value>) -> usize {
    content
        .iter()
        .filter(|(key, _)| !key.starts_with('$'))
        .map(|(key, value)| key.len() + 3 + serde_json::to_string(value).map_or(0, |text| text.len()) + 1)
        .sum::<usize>()
        + 2
}

fn check_object(object: &Map<String, Value>, path: &str, depth: usize, violations: &mut Vec<RuleViolation>) {
    for (key, value) in object {
        if depth == 1 && matches!(key.as_str(), "$metadata" | "$version") {
            continue; // service-maintained fields clients echo back at a section's root
        }
        let child_path = format!("{path}.{key}");
        if let Some(problem) = key_problem(key) {
            violations.push(RuleViolation { path: child_path.clone(), problem });
        }
        check_value(value, &child_path, depth, violations);
    }
}

fn check_value(value: &Value, path: &str, depth: usize, violations: &mut Vec<RuleViolation>) {
    match value {
        Value::Object(child) => {
            if depth >= MAX_DEPTH {
                violations.push(RuleViolation { path: path.to_owned(), problem: format!("nests deeper than {MAX_DEPTH} levels") });
                return;
            }
            check_object(child, path, depth + 1, violations);
        }
        Value::String(text) if text.len() > MAX_STRING_BYTES => {
            violations.push(RuleViolation {
                path: path.to_owned(),
                problem: format!("string is {} bytes; at most {MAX_STRING_BYTES} are allowed", text.len()),
            });
        }
        Value::Number(number) => {
            if let Some(int) = number.as_i64()
                && !(-MAX_SAFE_INTEGER - 1..=MAX_SAFE_INTEGER).contains(&int)
            {
                violations.push(RuleViolation { path: path.to_owned(), problem: format!("integer {int} is outside ±2^52") });
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_value(item, &format!("{path}[{index}]"), depth, violations);
            }
        }
        _ => {}
    }
}

/// The object inside `value` (a `json!({...})` literal), for tests that build twin sections.
#[cfg(test)]
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn accepts_a_normal_section() {
        let content = object(json!({"building": 43, "location": {"floor": 3, "room": "3.12"}, "list": [1, 2]}));
        assert!(check_section(Section::Tags, &content).is_empty());
    }

    #[test]
    fn names_each_bad_key_with_its_path() {
        let content = object(json!({"a.b": 1, "ok": {"bad$key": 2, "with space": 3, "ctl\u{1}": 4}}));
        let messages: Vec<String> = check_section(Section::Desired, &content).iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].starts_with("properties.desired.a.b: key 'a.b' contains '.'"), "{}", messages[0]);
        assert!(messages[1].contains("properties.desired.ok.bad$key") && messages[1].contains("'$'"));
        assert!(messages[2].contains("' '"));
        assert!(messages[3].contains("control character U+0001"));
    }

    #[test]
    fn depth_limit_is_ten_levels() {
        let mut deep = json!(1);
        for level in (1..=10).rev() {
            deep = json!({ format!("l{level}"): deep });
        }
        assert!(check_section(Section::Desired, &object(deep.clone())).is_empty(), "10 levels are allowed");
        let too_deep = object(json!({"l0": deep}));
        let violations = check_section(Section::Desired, &too_deep);
        assert_eq!(violations.len(), 1);
        assert!(violations[0].problem.contains("deeper than 10"));
    }

    #[test]
    fn string_and_section_sizes() {
        let long = object(json!({"s": "x".repeat(4097)}));
        assert!(check_section(Section::Desired, &long)[0].problem.contains("4097 bytes"));
        let big_tags = object(json!({"a": "x".repeat(4000), "b": "x".repeat(4000), "c": "x".repeat(500)}));
        let violations = check_section(Section::Tags, &big_tags);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].path, "tags");
        assert!(check_section(Section::Desired, &big_tags).is_empty(), "the same content fits in 32 KB");
    }

    #[test]
    fn service_fields_are_not_keys() {
        let content = object(json!({"$version": 3, "$metadata": {"$lastUpdated": "x"}, "a": 1}));
        assert!(check_section(Section::Desired, &content).is_empty());
        let nested = object(json!({"a": {"$version": 3}, "$other": 1}));
        let paths: Vec<String> = check_section(Section::Desired, &nested).into_iter().map(|violation| violation.path).collect();
        assert_eq!(paths, ["properties.desired.a.$version", "properties.desired.$other"]);
    }
}
