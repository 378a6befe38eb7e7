//! What a desired-property push carries: the JSON merge patch that turns the desired section the
//! device last saw into the current one (changed values, `null` for removed keys), so a device
//! applying pushes in order ends up with exactly the service's desired properties, whatever path
//! changed them (REST PATCH or PUT, a twin-update job, a DPS reset).

use serde_json::{Map, Value};

/// The merge patch from `seen` to `current`; `None` when nothing changed.
pub fn desired_patch(seen: &Map<String, Value>, current: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut patch = Map::new();
    for (key, value) in current {
        match (seen.get(key), value) {
            (Some(Value::Object(before)), Value::Object(after)) => {
                if let Some(inner) = desired_patch(before, after) {
                    patch.insert(key.clone(), Value::Object(inner));
                }
            }
            (Some(before), after) if before == after => {}
            (_, after) => {
                patch.insert(key.clone(), after.clone());
            }
        }
    }
    for key in seen.keys().filter(|key| !current.contains_key(*key)) {
        patch.insert(key.clone(), Value::Null);
    }
    (!patch.is_empty()).then_some(patch)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn object(value: &Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    /// Applies a merge patch as a device SDK's twin cache does (RFC 7396).
    fn apply(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
        for (key, value) in patch {
            match value {
                Value::Null => {
                    target.remove(key);
                }
                Value::Object(inner) => {
                    let entry = target.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
                    if !entry.is_object() {
                        *entry = Value::Object(Map::new());
                    }
                    if let Value::Object(entry) = entry {
                        apply(entry, inner);
                    }
                }
                other => {
                    target.insert(key.clone(), other.clone());
                }
            }
        }
    }

    #[test]
    fn changes_additions_and_removals_at_any_depth() {
        let seen = object(&json!({"mode": "eco", "fan": {"speed": 2, "auto": true}, "gone": 1, "same": [1, 2]}));
        let current = object(&json!({"mode": "eco", "fan": {"speed": 3, "auto": true}, "building": 43, "same": [1, 2]}));
        assert_eq!(desired_patch(&seen, &current), Some(object(&json!({"fan": {"speed": 3}, "building": 43, "gone": null}))));
        assert_eq!(desired_patch(&current, &current), None);
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-5_i64..5).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::from)
        ]
    }

    fn section() -> impl Strategy<Value = Map<String, Value>> {
        // Desired sections never hold nulls (a null deletes), so leaves here are never null.
        let leaf = json_leaf().prop_filter("no nulls in a stored section", |value| !value.is_null());
        let value = leaf.prop_recursive(3, 12, 3, |inner| {
            prop::collection::btree_map("[a-d]", inner, 0..3).prop_map(|map| Value::Object(map.into_iter().collect()))
        });
        prop::collection::btree_map("[a-e]", value, 0..4).prop_map(|map| map.into_iter().collect())
    }

    proptest! {
        #[test]
        fn applying_the_patch_gives_the_current_section(seen in section(), current in section()) {
            let mut device_view = seen.clone();
            if let Some(patch) = desired_patch(&seen, &current) {
                apply(&mut device_view, &patch);
            }
            // Empty objects are kept by the service but a patch cannot create them empty when
            // they were absent: compare without empty objects.
            prop_assert_eq!(strip_empty(&device_view), strip_empty(&current));
        }
    }

    fn strip_empty(map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .filter_map(|(key, value)| match value {
                Value::Object(inner) => {
                    let inner = strip_empty(inner);
                    (!inner.is_empty()).then(|| (key.clone(), Value::Object(inner)))
                }
                other => Some((key.clone(), other.clone())),
            })
            .collect()
    }
}
