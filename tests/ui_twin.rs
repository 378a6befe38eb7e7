//! The twin editor driven through its real views with `egui_kittest`, against an in-process
//! simulator. The console connects to it as a command-line profile, and the test keeps its own
//! client to prepare twins and to play "someone else" writing at the same time.
//!
//! The device edited is the first online thermostat of the seeded fleet: every such device
//! accepts a `mode` of auto, heat, cool or off (`sim::device_app`), whatever else it is strict
//! about, and the fleet does not churn, so it is known to acknowledge.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::console::{Console, ConsoleSetup, sim_config};
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT as _, Queryable as _, by};
use hubdeck::app::model::Page;
use hubdeck::app::model::twin::{SyncState, TwinEditor, leaf_state};
use hubdeck::azure::IfMatch;
use hubdeck::azure::wire::Twin;
use serde_json::{Value, json};

/// The desired setting edited: every thermostat accepts these values.
const MODE: &str = "properties.desired.mode";

fn start() -> Console {
    Console::start(ConsoleSetup::command_line(sim_config(12)))
}

/// The first online, enabled thermostat, its desired `mode` acknowledged as seeded ("auto").
fn online_thermostat(console: &Console) -> String {
    let client = console.hub_client("contoso-east");
    let query = "SELECT * FROM devices WHERE tags.deviceType = 'thermostat' AND connectionState = 'Connected' AND status = 'enabled'";
    let page = console.runtime.block_on(async move { client.query_page::<Twin>(query, Some(1), None).await.unwrap() });
    let twin = page.items.into_iter().next().expect("the seeded fleet has an online thermostat");
    assert_eq!(twin.desired().unwrap()["mode"], json!("auto"), "seeded in sync");
    twin.device_id
}

fn twin_now(console: &Console, device_id: &str) -> Twin {
    let client = console.hub_client("contoso-east");
    let device_id = device_id.to_owned();
    console.runtime.block_on(async move { client.get_twin(&device_id).await.unwrap() })
}

/// A console with the twin editor open on [`online_thermostat`].
fn start_on_thermostat() -> (Console, String) {
    let mut console = start();
    let device_id = online_thermostat(&console);
    open_twin(&mut console, &device_id);
    (console, device_id)
}

/// Selects the device's row, presses Enter, waits for the editor.
fn open_twin(console: &mut Console, device_id: &str) {
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::R);
    console.wait_for("the refreshed list", |app| app.state.devices.load_complete());
    console.harness.get_by_label(device_id).click();
    console.harness.step();
    console.harness.key_press(egui::Key::Enter);
    console.harness.step();
    assert_eq!(console.app().state.page, Page::Twin);
    console.wait_for("the twin", |app| app.state.twin.as_ref().is_some_and(TwinEditor::is_ready));
    console.settle();
}

/// Replaces the text of a tree value field or of the JSON text.
fn replace_text(console: &mut Console, field: &str, text: &str) {
    let role = if field == "Twin JSON" { Role::MultilineTextInput } else { Role::TextInput };
    console.replace_text(role, field, text);
}

fn draft_desired(console: &mut Console, key: &str) -> Option<Value> {
    console.app().state.twin.as_ref().and_then(|editor| editor.draft.as_ref()).and_then(|draft| draft.desired.get(key).cloned())
}

/// The sync badge shown beside a desired leaf (named by its dotted path for screen readers).
fn badge(console: &Console, path: &str) -> String {
    let prefix = format!("{path}: ");
    let badges: Vec<String> = console
        .harness
        .query_all(by().predicate(|node| node.label().is_some_and(|label| label.starts_with(&prefix))))
        .map(|node| node.accesskit_node().value().unwrap_or_default())
        .collect();
    assert_eq!(badges.len(), 1, "one badge for {path}: {badges:?}");
    badges[0].clone()
}

fn save_reviewed(console: &mut Console) {
    console.click(Role::Button, "Save (PATCH)");
    console.wait_for("the save", |app| app.state.twin.as_ref().is_some_and(|editor| !editor.is_saving()));
    console.settle();
}

#[test]
fn edit_review_save_and_watch_the_device_acknowledge() {
    let mut console = start();
    let device_id = online_thermostat(&console);
    let etag_before = twin_now(&console, &device_id).etag.unwrap();
    open_twin(&mut console, &device_id);
    assert_eq!(badge(&console, MODE), "in sync");

    replace_text(&mut console, MODE, "heat");
    assert_eq!(draft_desired(&mut console, "mode"), Some(json!("heat")));
    assert_eq!(badge(&console, MODE), "unsaved change");
    console.click(Role::Button, "Review & save…");
    console.harness.get_by_label("~ properties.desired.mode: \"auto\" → \"heat\"");
    let change_lines = console.harness.query_all_by_label_contains("properties.").filter(|node| {
        let label = node.accesskit_node().value().unwrap_or_default();
        label.starts_with("~ ") || label.starts_with("+ ") || label.starts_with("− ")
    });
    assert_eq!(change_lines.count(), 1, "the review shows exactly one change");
    let request = console.harness.get_by_label_contains("PATCH /twins/").accesskit_node().value().unwrap_or_default();
    assert!(request.contains(&format!("If-Match: \"{etag_before}\"")), "{request}");
    let body: Value = serde_json::from_str(&request[request.find("\n\n").unwrap()..]).unwrap();
    assert_eq!(body, json!({"properties": {"desired": {"mode": "heat"}}}), "only the changed key is sent");

    save_reviewed(&mut console);
    assert_eq!(badge(&console, MODE), "pending");
    assert_eq!(twin_now(&console, &device_id).desired().unwrap()["mode"], json!("heat"));
    console.wait_for("the device's acknowledgement", |app| {
        app.state
            .twin
            .as_ref()
            .and_then(|editor| editor.live.value())
            .is_some_and(|live| leaf_state(live, &["mode".to_owned()], &json!("heat")) == SyncState::InSync)
    });
    assert_eq!(badge(&console, MODE), "in sync");

    // Delete the key: the patch carries null.
    console.click(Role::Button, "Delete properties.desired.mode");
    assert_eq!(draft_desired(&mut console, "mode"), None);
    console.harness.get_by_label_contains("deleted — sent as null (was \"heat\")");
    console.click(Role::Button, "Review & save…");
    console.harness.get_by_label("− properties.desired.mode (was \"heat\") → null, deleted");
    let request = console.harness.get_by_label_contains("PATCH /twins/").accesskit_node().value().unwrap_or_default();
    assert!(request.contains("\"mode\": null"), "{request}");
    save_reviewed(&mut console);
    assert!(twin_now(&console, &device_id).desired().unwrap().get("mode").is_none());
}

#[test]
fn a_concurrent_update_shows_the_conflict_and_the_merge_is_saved() {
    let (mut console, device_id) = start_on_thermostat();
    replace_text(&mut console, MODE, "heat");

    // Someone else writes building and another key meanwhile.
    let client = console.hub_client("contoso-east");
    let other = device_id.clone();
    console.runtime.block_on(async move {
        client.patch_twin(&other, &json!({"properties": {"desired": {"mode": "cool", "floor": 9}}}), IfMatch::Any).await.unwrap();
    });

    console.click(Role::Button, "Review & save…");
    console.click(Role::Button, "Save (PATCH)");
    console.wait_for("the conflict", |app| app.state.twin.as_ref().is_some_and(|editor| editor.conflict.is_some()));
    console.settle();
    console.harness.get_by_label(&format!("Someone else changed the twin of {device_id}"));
    console.harness.get_by_label_contains("properties.desired.floor = 9");
    assert!(
        console.harness.get_by_role_and_label(Role::Button, "Apply and review…").accesskit_node().is_disabled(),
        "mode must be decided first"
    );
    console.harness.get_by_label("Keep mine for properties.desired.mode").click();
    console.settle();
    console.click(Role::Button, "Apply and review…");
    console.harness.get_by_label("~ properties.desired.mode: \"cool\" → \"heat\"");
    save_reviewed(&mut console);
    let saved = twin_now(&console, &device_id);
    assert_eq!(saved.desired().unwrap()["mode"], json!("heat"), "mine");
    assert_eq!(saved.desired().unwrap()["floor"], json!(9), "theirs, kept");
    assert!(console.app().state.twin.as_ref().is_some_and(|editor| !editor.has_unsaved_work()));
}

#[test]
fn json_mode_points_at_parse_errors_and_keeps_the_text() {
    let (mut console, _device_id) = start_on_thermostat();
    console.click(Role::Button, "JSON");
    replace_text(&mut console, "Twin JSON", "{\"tags\": {\"a\": 1,}}");
    let error = console.app().state.twin.as_ref().unwrap().json_error.clone().expect("a parse error");
    assert_eq!(error.line, Some(1));
    let column = error.column.unwrap();
    console.harness.get_by_label_contains(&format!("Line 1, column {column}:"));
    assert!(console.harness.get_by_role_and_label(Role::Button, "Review & save…").accesskit_node().is_disabled());
    assert!(console.harness.get_by_role_and_label(Role::Button, "Tree").accesskit_node().is_disabled(), "the tree waits for valid JSON");
    assert_eq!(console.app().state.twin.as_ref().unwrap().json_text, "{\"tags\": {\"a\": 1,}}", "the text is kept as typed");

    // Fixed text becomes the draft, and the tree shows it.
    replace_text(&mut console, "Twin JSON", "{\"tags\": {\"a\": 1}, \"properties\": {\"desired\": {\"building\": 47}}}");
    assert!(console.app().state.twin.as_ref().unwrap().json_error.is_none());
    console.click(Role::Button, "Tree");
    assert_eq!(draft_desired(&mut console, "building"), Some(json!(47)));
    console.harness.get_by_role_and_label(Role::TextInput, "tags.a");
}

#[test]
fn an_invalid_key_cannot_be_saved() {
    let (mut console, _device_id) = start_on_thermostat();
    console.click(Role::Button, "Add key to properties.desired");
    replace_text(&mut console, "New key name", "bad key");
    console.harness.get_by_label_contains("keys cannot contain '.', '$', spaces or control characters");
    assert!(console.harness.get_by_role_and_label(Role::Button, "Add").accesskit_node().is_disabled());
    console.click(Role::Button, "Cancel");

    // The JSON editor can type such a key; the draft then cannot be saved.
    console.click(Role::Button, "JSON");
    replace_text(&mut console, "Twin JSON", "{\"tags\": {}, \"properties\": {\"desired\": {\"building\": 43, \"room.no\": 5}}}");
    console.harness.get_by_label_contains("properties.desired.room.no: key 'room.no' contains '.'");
    assert!(console.harness.get_by_role_and_label(Role::Button, "Review & save…").accesskit_node().is_disabled());
    console.click(Role::Button, "Tree");
    console.harness.get_by_label_contains("⚠ key 'room.no' contains '.'");
    assert!(console.app().state.twin.as_ref().unwrap().save_blocker().is_some());
}
