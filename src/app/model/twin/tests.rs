//! The editor state machine driven through the reducer, without a UI or a service.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::app::model::twin::{DiscardThen, EditorMode};
use crate::app::model::{AppError, AppState, Command, Now, Page, RequestId, TwinCommand, TwinEvent, TwinSaveOutcome};
use crate::azure::twin_rules::Section;
use crate::azure::wire::Twin;

fn twin(etag: &str, desired_version: u64, desired: Value) -> Twin {
    let mut desired = desired;
    desired["$version"] = json!(desired_version);
    serde_json::from_value(json!({
        "deviceId": "b43-0001", "etag": etag, "connectionState": "Connected",
        "tags": {"site": "Contoso"},
        "properties": {"desired": desired, "reported": {"$version": 1}}
    }))
    .unwrap()
}

fn path(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|key| (*key).to_owned()).collect()
}

/// The time handed to the reducer; the editor never reads the clock itself.
fn now() -> Now {
    Now::read()
}

/// The request of the twin load in `out` for `device_id`, checking it is the only command.
fn twin_load(out: &[Command], device_id: &str, refresh: bool) -> RequestId {
    match out {
        [Command::Twin(TwinCommand::Load { request, device_id: loaded, refresh: polled })]
            if &**loaded == device_id && *polled == refresh =>
        {
            *request
        }
        _ => panic!("expected one twin load of {device_id}, got {out:?}"),
    }
}

fn opened(first: Twin) -> AppState {
    let mut state = AppState::default();
    let mut out = Vec::new();
    state.open_twin(Arc::from("b43-0001"), &mut out);
    let request = twin_load(&out, "b43-0001", false);
    assert_eq!(state.page, Page::Twin);
    let loaded = TwinEvent::Loaded { request, device_id: Arc::from("b43-0001"), refresh: false, result: Ok(Box::new(first)) };
    state.apply(loaded.into(), now(), &mut out);
    state
}

/// The request of the save in `out`.
fn saving(out: &[Command]) -> RequestId {
    out.iter()
        .find_map(|command| match command {
            Command::Twin(TwinCommand::Save { request, .. }) => Some(*request),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no save in {out:?}"))
}

/// The editor polls and the service answers with `current`.
fn polled(state: &mut AppState, current: Twin) {
    let mut out = Vec::new();
    state.twin.as_mut().unwrap().poll(Instant::now(), &mut out);
    let request = twin_load(&out, "b43-0001", true);
    let loaded = TwinEvent::Loaded { request, device_id: Arc::from("b43-0001"), refresh: true, result: Ok(Box::new(current)) };
    state.apply(loaded.into(), now(), &mut out);
}

#[test]
fn edit_save_and_saved_twin_becomes_the_base() {
    let mut state = opened(twin("e1", 2, json!({"building": 43, "mode": "auto"})));
    let editor = state.twin.as_mut().unwrap();
    assert!(editor.is_ready() && editor.live.is_loaded());
    assert!(editor.save_blocker().is_some(), "nothing to save yet");
    editor.draft.as_mut().unwrap().set_value(Section::Desired, &path(&["building"]), json!(44)).unwrap();
    let mut out = Vec::new();
    editor.save(&mut out);
    let request = saving(&out);
    assert_eq!(
        out,
        vec![Command::Twin(TwinCommand::Save {
            request,
            device_id: Arc::from("b43-0001"),
            etag: Some("e1".into()),
            patch: json!({"properties": {"desired": {"building": 44}}})
        })]
    );
    assert!(editor.is_saving());
    let saved = twin("e2", 3, json!({"building": 44, "mode": "auto"}));
    let saved_at = now();
    state.apply(
        TwinEvent::Saved { request, device_id: Arc::from("b43-0001"), outcome: TwinSaveOutcome::Saved(Box::new(saved)) }.into(),
        saved_at,
        &mut out,
    );
    let editor = state.twin.as_ref().unwrap();
    assert!(!editor.is_saving() && !editor.has_unsaved_work());
    assert_eq!(editor.draft.as_ref().unwrap().etag(), Some("e2"));
    assert_eq!(editor.poll_due_in(saved_at.instant + Duration::from_millis(1100)), Duration::ZERO, "fast polling after a save");
}

#[test]
fn a_conflict_keeps_the_draft_and_merges_by_choice() {
    let mut state = opened(twin("e1", 2, json!({"building": 43, "floor": 3, "mode": "auto"})));
    let editor = state.twin.as_mut().unwrap();
    let draft = editor.draft.as_mut().unwrap();
    draft.set_value(Section::Desired, &path(&["building"]), json!(44)).unwrap();
    draft.set_value(Section::Desired, &path(&["mode"]), json!("eco")).unwrap();
    let mut out = Vec::new();
    editor.save(&mut out);
    let request = saving(&out);
    let theirs = twin("e5", 3, json!({"building": 43, "floor": 9, "mode": "off"}));
    state.apply(
        TwinEvent::Saved { request, device_id: Arc::from("b43-0001"), outcome: TwinSaveOutcome::Conflict(Box::new(theirs)) }.into(),
        now(),
        &mut out,
    );
    let editor = state.twin.as_mut().unwrap();
    let conflict = editor.conflict.as_mut().unwrap();
    assert_eq!(conflict.keys.len(), 2);
    let building = conflict.keys.iter().find(|key| key.conflict.path == ["building"]).unwrap();
    assert!(!building.contested, "only I changed building");
    assert_eq!(building.take_mine, Some(true));
    let mode = conflict.keys.iter_mut().find(|key| key.conflict.path == ["mode"]).unwrap();
    assert!(mode.contested);
    assert_eq!((mode.conflict.theirs.clone(), mode.conflict.mine.clone()), (Some(json!("off")), Some(json!("eco"))));
    assert!(!conflict.decided());
    assert_eq!(conflict.their_other_changes.len(), 1, "their floor change is listed");
    editor.resolve_conflict();
    assert!(editor.conflict.is_some(), "undecided conflicts are not applied");
    editor.conflict.as_mut().unwrap().keys.iter_mut().find(|key| key.contested).unwrap().take_mine = Some(false);
    editor.resolve_conflict();
    assert!(editor.conflict.is_none() && editor.review, "the review opens on the merged draft");
    let draft = editor.draft.as_ref().unwrap();
    assert_eq!(draft.etag(), Some("e5"), "the next save goes against their etag");
    assert_eq!(draft.patch(), json!({"properties": {"desired": {"building": 44}}}));
    assert_eq!(Value::Object(draft.desired.clone()), json!({"building": 44, "floor": 9, "mode": "off"}));
}

#[test]
fn changes_elsewhere_are_announced_not_merged_into_a_draft() {
    let mut state = opened(twin("e1", 2, json!({"building": 43})));
    let editor = state.twin.as_mut().unwrap();
    editor.draft.as_mut().unwrap().set_value(Section::Desired, &path(&["building"]), json!(44)).unwrap();
    let elsewhere = twin("e2", 3, json!({"building": 45}));
    polled(&mut state, elsewhere.clone());
    let editor = state.twin.as_mut().unwrap();
    assert!(editor.elsewhere.as_deref().is_some_and(|text| text.contains("Someone else changed")));
    let draft = editor.draft.as_ref().unwrap();
    assert_eq!(draft.etag(), Some("e1"), "the draft stays on its base");
    assert_eq!(draft.desired["building"], json!(44));
    // A clean editor adopts their values, and says so.
    editor.reset();
    assert_eq!(editor.draft.as_ref().unwrap().desired["building"], json!(45));
    let again = twin("e3", 4, json!({"building": 46}));
    polled(&mut state, again);
    let editor = state.twin.as_ref().unwrap();
    assert_eq!(editor.draft.as_ref().unwrap().desired["building"], json!(46));
    assert!(editor.elsewhere.as_deref().is_some_and(|text| text.contains("now shows their values")));
}

#[test]
fn json_mode_keeps_unparsable_text_and_blocks_saving() {
    let mut state = opened(twin("e1", 2, json!({"building": 43})));
    let editor = state.twin.as_mut().unwrap();
    editor.set_mode(EditorMode::Json);
    editor.json_text = editor.json_text.replace("43", "44,");
    editor.json_edited();
    assert!(editor.json_error.as_ref().is_some_and(|error| error.line.is_some()));
    editor.set_mode(EditorMode::Tree);
    assert_eq!(editor.mode, EditorMode::Json, "cannot leave JSON mode with text that does not parse");
    assert!(editor.save_blocker().is_some_and(|why| why.contains("does not parse")));
    assert!(editor.has_unsaved_work());
    editor.json_text = editor.json_text.replace("44,", "44");
    editor.json_edited();
    editor.set_mode(EditorMode::Tree);
    assert_eq!(editor.mode, EditorMode::Tree);
    assert_eq!(editor.draft.as_ref().unwrap().patch(), json!({"properties": {"desired": {"building": 44}}}));
}

#[test]
fn opening_another_twin_asks_before_dropping_a_draft() {
    let mut state = opened(twin("e1", 2, json!({"building": 43})));
    state.twin.as_mut().unwrap().draft.as_mut().unwrap().set_value(Section::Tags, &path(&["building"]), json!(44)).unwrap();
    let mut out = Vec::new();
    state.page = Page::Devices;
    state.open_twin(Arc::from("b44-0002"), &mut out);
    assert!(out.is_empty());
    assert_eq!(state.page, Page::Twin);
    let editor = state.twin.as_ref().unwrap();
    assert_eq!(&*editor.device_id, "b43-0001", "the draft is still there");
    assert_eq!(editor.confirm_discard, Some(DiscardThen::Open(Arc::from("b44-0002"))));
    state.discard_twin_draft(&mut out);
    assert_eq!(&*state.twin.as_ref().unwrap().device_id, "b44-0002");
    twin_load(&out, "b44-0002", false);
}

#[test]
fn a_failed_save_keeps_the_draft() {
    let mut state = opened(twin("e1", 2, json!({"building": 43})));
    let mut out = Vec::new();
    let editor = state.twin.as_mut().unwrap();
    editor.draft.as_mut().unwrap().set_value(Section::Desired, &path(&["building"]), json!(44)).unwrap();
    editor.save(&mut out);
    let request = saving(&out);
    let failed = TwinSaveOutcome::Failed(AppError::local("connection refused"));
    state.apply(TwinEvent::Saved { request, device_id: Arc::from("b43-0001"), outcome: failed }.into(), now(), &mut out);
    let editor = state.twin.as_ref().unwrap();
    assert_eq!(editor.save_error.as_deref(), Some("connection refused"));
    assert_eq!(editor.draft.as_ref().unwrap().desired["building"], json!(44));
    assert!(editor.save_blocker().is_none(), "it can be saved again");
}

#[test]
fn a_late_save_answer_of_a_closed_editor_is_dropped() {
    let mut state = opened(twin("e1", 2, json!({"building": 43})));
    let mut out = Vec::new();
    let editor = state.twin.as_mut().unwrap();
    editor.draft.as_mut().unwrap().set_value(Section::Desired, &path(&["building"]), json!(44)).unwrap();
    editor.save(&mut out);
    let old = saving(&out);
    // The same device opened again (after a hub switch, say): a new editor, nothing saving.
    state.twin = None;
    let reopened = opened(twin("e7", 9, json!({"building": 50})));
    state.twin = reopened.twin;
    let late = twin("e2", 3, json!({"building": 44}));
    let answer = TwinEvent::Saved { request: old, device_id: Arc::from("b43-0001"), outcome: TwinSaveOutcome::Saved(Box::new(late)) };
    state.apply(answer.into(), now(), &mut Vec::new());
    let editor = state.twin.as_ref().unwrap();
    assert_eq!(editor.draft.as_ref().unwrap().etag(), Some("e7"), "the other twin's save did not replace this draft");
    assert!(state.notices.is_empty(), "nor was it announced: {:?}", state.notices);
}
