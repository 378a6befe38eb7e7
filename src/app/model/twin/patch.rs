//! JSON merge patches (RFC 7386, as twins use them): the minimal patch from a base to a draft,
//! applying a patch, and reading or writing a value at a key path.

use serde_json::{Map, Value};

/// The smallest merge patch that turns `base` into `draft`: changed leaves, whole new
/// objects, and `null` for deleted keys. A `null` in the draft also means "delete".
pub fn diff(base: &Map<String, Value>, draft: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = Map::new();
    for key in base.keys() {
        if !draft.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    for (key, wanted) in draft {
        match (base.get(key), wanted) {
            (Some(Value::Null) | None, Value::Null) => {}
            (Some(had), wanted) if had == wanted => {}
            (Some(Value::Object(had)), Value::Object(wanted)) => {
                let child = diff(had, wanted);
                if !child.is_empty() {
                    patch.insert(key.clone(), Value::Object(child));
                }
            }
            (_, wanted) => {
                patch.insert(key.clone(), wanted.clone());
            }
        }
    }
    patch
}

/// Applies a merge patch: objects merge, `null` deletes, anything else replaces.
pub fn apply(base: &Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    let mut result = base.clone();
    for (key, change) in patch {
        match change {
            Value::Null => {
                result.shift_remove(key);
            }
            Value::Object(child) => {
                let merged = match result.get(key) {
                    Some(Value::Object(existing)) => apply(existing, child),
                    _ => apply(&Map::new(), child),
                };
                result.insert(key.clone(), Value::Object(merged));
            }
            other => {
                result.insert(key.clone(), other.clone());
            }
        }
    }
    result
}

/// The document without `null`s (what a draft means once saved).
pub fn without_nulls(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| {
            let value = match value {
                Value::Object(child) => Value::Object(without_nulls(child)),
                other => other.clone(),
            };
            (key.clone(), value)
        })
        .collect()
}

/// The value at `path` (keys from the root).
pub fn get<'a>(map: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = map.get(first)?;
    for key in rest {
        value = value.as_object()?.get(key)?;
    }
    Some(value)
}

/// Sets (`Some`) or removes (`None`) the value at `path`, creating parent objects as needed.
pub fn set(map: &mut Map<String, Value>, path: &[String], value: Option<Value>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match value {
            Some(value) => {
                map.insert(first.clone(), value);
            }
            None => {
                map.shift_remove(first);
            }
        }
        return;
    }
    let child = map.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    if let Value::Object(child) = child {
        set(child, rest, value);
    }
}

/// The leaves a patch touches, with the base beneath it: `(path, new value or None for delete)`.
/// A patch object over a base object is descended; over anything else it is one leaf.
pub fn changes(base: &Map<String, Value>, patch: &Map<String, Value>) -> Vec<(Vec<String>, Option<Value>)> {
    let mut out = Vec::new();
    collect(base, patch, &mut Vec::new(), &mut out);
    out
}

fn collect(base: &Map<String, Value>, patch: &Map<String, Value>, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Option<Value>)>) {
    for (key, change) in patch {
        prefix.push(key.clone());
        match (base.get(key), change) {
            (Some(Value::Object(had)), Value::Object(child)) => collect(had, child, prefix, out),
            (_, Value::Null) => out.push((prefix.clone(), None)),
            (_, value) => out.push((prefix.clone(), Some(value.clone()))),
        }
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::azure::twin_rules::object;

    #[test]
    fn only_changed_keys_and_deletions_as_null() {
        let base = object(json!({"building": 43, "floor": 3, "fan": {"speed": 2, "mode": "auto"}, "old": true}));
        let draft = object(json!({"building": 44, "floor": 3, "fan": {"speed": 2, "mode": "eco"}, "new": {"a": 1}}));
        assert_eq!(Value::Object(diff(&base, &draft)), json!({"old": null, "building": 44, "fan": {"mode": "eco"}, "new": {"a": 1}}));
        assert!(diff(&base, &base).is_empty());
    }

    #[test]
    fn a_null_in_the_draft_deletes() {
        let base = object(json!({"a": 1, "b": 2}));
        let draft = object(json!({"a": null, "b": 2, "c": null}));
        assert_eq!(Value::Object(diff(&base, &draft)), json!({"a": null}));
    }

    #[test]
    fn changes_lists_leaves_under_the_base() {
        let base = object(json!({"fan": {"speed": 2}, "x": 1}));
        let patch = object(json!({"fan": {"speed": 3, "new": {"deep": 1}}, "x": null, "obj": {"k": 1}}));
        let listed: Vec<(String, Option<Value>)> =
            changes(&base, &patch).into_iter().map(|(path, value)| (path.join("."), value)).collect();
        assert_eq!(
            listed,
            vec![
                ("fan.speed".into(), Some(json!(3))),
                ("fan.new".into(), Some(json!({"deep": 1}))),
                ("x".into(), None),
                ("obj".into(), Some(json!({"k": 1}))),
            ]
        );
    }

    #[test]
    fn set_and_get_by_path() {
        let mut map = Map::new();
        let path: Vec<String> = ["a", "b", "c"].iter().map(|key| (*key).to_owned()).collect();
        set(&mut map, &path, Some(json!(1)));
        assert_eq!(get(&map, &path), Some(&json!(1)));
        set(&mut map, &path[..2], None);
        assert_eq!(Value::Object(map), json!({"a": {}}));
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-1000i64..1000).prop_map(Value::from),
            "[a-z]{0,4}".prop_map(Value::from),
            Just(json!([1, "x"]))
        ]
    }

    fn document() -> impl Strategy<Value = Map<String, Value>> {
        let value = leaf().prop_recursive(3, 24, 4, |inner| {
            prop::collection::btree_map("[a-d]", inner, 0..4).prop_map(|map| Value::Object(map.into_iter().collect()))
        });
        prop::collection::btree_map("[a-e]", value, 0..5).prop_map(|map| map.into_iter().collect())
    }

    proptest! {
        #[test]
        fn applying_the_diff_to_the_base_gives_the_draft(base in document(), draft in document()) {
            let base = without_nulls(&base);
            let patch = diff(&base, &draft);
            prop_assert_eq!(apply(&base, &patch), without_nulls(&draft));
        }

        #[test]
        fn the_diff_is_minimal(base in document(), draft in document()) {
            let base = without_nulls(&base);
            let patch = diff(&base, &draft);
            // Every listed change really changes something.
            for (path, value) in changes(&base, &patch) {
                prop_assert_ne!(get(&base, &path).cloned(), value.clone(), "{:?}", path);
            }
            prop_assert!(diff(&base, &base).is_empty());
        }
    }
}
