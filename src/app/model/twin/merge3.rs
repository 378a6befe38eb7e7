//! Three-way merge of a twin draft: the user's changes (base → mine) replayed onto what the
//! service has now (theirs). Keys both sides changed differently are conflicts for the user.

use serde_json::{Map, Value};

use super::patch::{changes, diff, get, set};

/// One key both sides changed, differently.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// Key path within the section.
    pub path: Vec<String>,
    /// What it was when editing started (`None`: absent).
    pub base: Option<Value>,
    /// What the service has now.
    pub theirs: Option<Value>,
    /// What the draft has.
    pub mine: Option<Value>,
}

/// The outcome: a new draft on top of theirs, and the conflicts still to decide. Conflicting keys
/// start with their value; choosing "mine" applies the draft's.
#[derive(Clone, Debug, PartialEq)]
pub struct Rebased {
    /// Theirs plus every change of mine that does not conflict.
    pub draft: Map<String, Value>,
    /// Keys to decide.
    pub conflicts: Vec<Conflict>,
}

/// Replays `mine`'s changes relative to `base` onto `theirs`.
pub fn rebase(base: &Map<String, Value>, theirs: &Map<String, Value>, mine: &Map<String, Value>) -> Rebased {
    let mut draft = theirs.clone();
    let mut conflicts = Vec::new();
    for (path, wanted) in changes(base, &diff(base, mine)) {
        let before = get(base, &path).cloned();
        let now = get(theirs, &path).cloned();
        if now == before || now == wanted {
            set(&mut draft, &path, wanted);
        } else {
            conflicts.push(Conflict { path, base: before, theirs: now, mine: wanted });
        }
    }
    Rebased { draft, conflicts }
}

/// Applies the user's choice for a conflict to a rebased draft.
pub fn choose(draft: &mut Map<String, Value>, conflict: &Conflict, take_mine: bool) {
    let value = if take_mine { conflict.mine.clone() } else { conflict.theirs.clone() };
    set(draft, &conflict.path, value);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::azure::twin_rules::object;

    #[test]
    fn independent_changes_both_survive() {
        let base = object(json!({"building": 43, "floor": 3, "mode": "auto"}));
        let theirs = object(json!({"building": 43, "floor": 4, "mode": "auto"}));
        let mine = object(json!({"building": 44, "floor": 3}));
        let rebased = rebase(&base, &theirs, &mine);
        assert!(rebased.conflicts.is_empty());
        assert_eq!(Value::Object(rebased.draft), json!({"building": 44, "floor": 4}), "their floor, my building, my deletion of mode");
    }

    #[test]
    fn same_key_changed_differently_is_a_conflict() {
        let base = object(json!({"building": 43, "fan": {"speed": 1}}));
        let theirs = object(json!({"building": 45, "fan": {"speed": 2}}));
        let mine = object(json!({"building": 44, "fan": {"speed": 2}}));
        let mut rebased = rebase(&base, &theirs, &mine);
        assert_eq!(
            rebased.conflicts,
            vec![Conflict { path: vec!["building".into()], base: Some(json!(43)), theirs: Some(json!(45)), mine: Some(json!(44)) }]
        );
        assert_eq!(rebased.draft["building"], json!(45), "theirs until the user chooses");
        assert_eq!(rebased.draft["fan"], json!({"speed": 2}), "the same change on both sides is no conflict");
        let conflict = rebased.conflicts[0].clone();
        choose(&mut rebased.draft, &conflict, true);
        assert_eq!(rebased.draft["building"], json!(44));
    }

    #[test]
    fn deleted_by_them_while_i_edited_it() {
        let base = object(json!({"a": 1}));
        let theirs = object(json!({}));
        let mine = object(json!({"a": 2}));
        let mut rebased = rebase(&base, &theirs, &mine);
        assert_eq!(rebased.conflicts.len(), 1);
        assert_eq!(rebased.conflicts[0].theirs, None);
        let conflict = rebased.conflicts[0].clone();
        choose(&mut rebased.draft, &conflict, false);
        assert!(rebased.draft.is_empty());
    }
}
