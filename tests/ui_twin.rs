//! The twin editor driven through its real views with `egui_kittest`, against an in-process
//! simulator. The console connects to it as a command-line profile, and the test keeps its own
//! client to prepare twins and to play "someone else" writing at the same time.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _, by};
use hubdeck::app::ConsoleApp;
use hubdeck::app::backend::profile_store::CommandLineProfile;
use hubdeck::app::backend::{self, BackendOptions, SimulatorSettings};
use hubdeck::app::model::twin::{SyncState, TwinLoad, leaf_state};
use hubdeck::app::model::{LoadState, Page};
use hubdeck::azure::secret::Secret;
use hubdeck::azure::wire::Twin;
use hubdeck::azure::{HubClient, IfMatch, RetryPolicy};
use hubdeck::sim::{FleetConfig, SimConfig, Simulator, StateLocation};
use serde_json::{Value, json};

struct TwinConsole {
    harness: Harness<'static, ConsoleApp>,
    client: HubClient,
    runtime: tokio::runtime::Runtime,
    _sim: Simulator,
    _config: tempfile::TempDir,
}

fn start() -> TwinConsole {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let fleet = FleetConfig { ack_delay_min: Duration::from_millis(50), ack_delay_max: Duration::from_millis(150), churn_every: None };
    let sim = runtime
        .block_on(Simulator::start(SimConfig { port: 0, state: StateLocation::Ephemeral, fleet_size: 12, fleet, ..SimConfig::default() }))
        .unwrap();
    let client = common::client_with(&sim, "iothubowner", common::fast_retry(), None);
    let config = tempfile::tempdir().unwrap();
    let options = BackendOptions {
        config_dir: config.path().to_owned(),
        simulator: SimulatorSettings { state: StateLocation::Ephemeral, fleet_size: 0, fleet: FleetConfig::default(), shared: None },
        use_keyring: false,
        command_line: Some(CommandLineProfile {
            hub: Secret::new(sim.connection_string("iothubowner").unwrap().expose()),
            dps: None,
            ca_file: Some(sim.ca_path().to_owned()),
        }),
        retry: RetryPolicy { max_attempts: 2, first_backoff: Duration::from_millis(100), ..RetryPolicy::default() },
        save_dialog: Arc::new(hubdeck::app::backend::save_dialog::FixedDirSaveDialog(config.path().to_owned())),
    };
    let handle = backend::spawn(runtime.handle(), options, Arc::new(|| {}));
    let app = ConsoleApp::new(handle, None);
    let harness = Harness::builder().with_size([1400.0, 900.0]).build_ui_state(|ui, app: &mut ConsoleApp| app.frame_ui(ui), app);
    let mut console = TwinConsole { harness, client, runtime, _sim: sim, _config: config };
    console.wait_for("the first load", |app| app.state.devices.load == LoadState::Done && !app.state.devices.rows.is_empty());
    console
}

impl TwinConsole {
    fn wait_for(&mut self, what: &str, done: impl Fn(&ConsoleApp) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.harness.step();
            if done(self.harness.state()) {
                self.harness.step();
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; twin editor: {:#?}", self.harness.state().state.twin);
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    fn settle(&mut self) {
        for _ in 0..3 {
            self.harness.step();
        }
    }

    fn app(&mut self) -> &mut ConsoleApp {
        self.harness.state_mut()
    }

    /// A connected device whose app accepts `building`, with desired.building = 43 acknowledged.
    fn device_with_building_43(&mut self) -> String {
        let client = self.client.clone();
        self.runtime.block_on(async move {
            let page = client
                .query_page::<Twin>("SELECT * FROM devices WHERE connectionState = 'Connected' AND status = 'enabled'", Some(50), None)
                .await
                .unwrap();
            for twin in page.items {
                let written =
                    client.patch_twin(&twin.device_id, &json!({"properties": {"desired": {"building": 43}}}), IfMatch::Any).await.unwrap();
                let version = written.desired_version().unwrap();
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    let now = client.get_twin(&twin.device_id).await.unwrap();
                    if let Some(ack) = now.reported().and_then(|reported| reported.get("building"))
                        && ack["av"].as_u64() >= Some(version)
                    {
                        if ack["ac"] == json!(200) {
                            return twin.device_id;
                        }
                        break; // a strict device: try the next one
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            panic!("no connected device accepted desired.building");
        })
    }

    fn twin_now(&self, device_id: &str) -> Twin {
        let client = self.client.clone();
        let device_id = device_id.to_owned();
        self.runtime.block_on(async move { client.get_twin(&device_id).await.unwrap() })
    }

    /// Selects the device's row, presses Enter, waits for the editor.
    fn open_twin(&mut self, device_id: &str) {
        self.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::R);
        self.wait_for("the refreshed list", |app| app.state.devices.load == LoadState::Done);
        self.harness.get_by_label(device_id).click();
        self.harness.step();
        self.harness.key_press(egui::Key::Enter);
        self.harness.step();
        assert_eq!(self.app().state.page, Page::Twin);
        self.wait_for("the twin", |app| app.state.twin.as_ref().is_some_and(|editor| editor.load == TwinLoad::Ready));
        self.settle();
    }

    /// Replaces the text of a field: focus, select all, type.
    fn replace_text(&mut self, field: &str, text: &str) {
        let role = if field == "Twin JSON" { Role::MultilineTextInput } else { Role::TextInput };
        self.harness.get_by_role_and_label(role, field).focus();
        self.harness.step();
        self.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        self.harness.step();
        self.harness.get_by_role_and_label(role, field).type_text(text);
        self.harness.step();
        self.harness.step();
    }

    fn draft_desired(&mut self, key: &str) -> Option<Value> {
        self.app().state.twin.as_ref().and_then(|editor| editor.draft.as_ref()).and_then(|draft| draft.desired.get(key).cloned())
    }

    /// The sync badge shown beside a desired leaf (named by its dotted path for screen readers).
    fn badge(&self, path: &str) -> String {
        let prefix = format!("{path}: ");
        let badges: Vec<String> = self
            .harness
            .query_all(by().predicate(|node| node.label().is_some_and(|label| label.starts_with(&prefix))))
            .map(|node| node.accesskit_node().value().unwrap_or_default())
            .collect();
        assert_eq!(badges.len(), 1, "one badge for {path}: {badges:?}");
        badges[0].clone()
    }

    fn click_button(&mut self, label: &str) {
        self.harness.get_by_role_and_label(Role::Button, label).click();
        self.harness.step();
        self.settle();
    }

    fn save_reviewed(&mut self) {
        self.click_button("Save (PATCH)");
        self.wait_for("the save", |app| app.state.twin.as_ref().is_some_and(|editor| !editor.saving));
        self.settle();
    }
}

#[test]
fn edit_review_save_and_watch_the_device_acknowledge() {
    let mut console = start();
    let device_id = console.device_with_building_43();
    let etag_before = console.twin_now(&device_id).etag.unwrap();
    console.open_twin(&device_id);
    assert_eq!(console.badge("properties.desired.building"), "in sync");

    console.replace_text("properties.desired.building", "44");
    assert_eq!(console.draft_desired("building"), Some(json!(44)));
    assert_eq!(console.badge("properties.desired.building"), "unsaved change");
    console.click_button("Review & save…");
    console.harness.get_by_label("~ properties.desired.building: 43 → 44");
    let change_lines = console.harness.query_all_by_label_contains("properties.").filter(|node| {
        let label = node.accesskit_node().value().unwrap_or_default();
        label.starts_with("~ ") || label.starts_with("+ ") || label.starts_with("− ")
    });
    assert_eq!(change_lines.count(), 1, "the review shows exactly one change");
    let request = console.harness.get_by_label_contains("PATCH /twins/").accesskit_node().value().unwrap_or_default();
    assert!(request.contains(&format!("If-Match: \"{etag_before}\"")), "{request}");
    let body: Value = serde_json::from_str(&request[request.find("\n\n").unwrap()..]).unwrap();
    assert_eq!(body, json!({"properties": {"desired": {"building": 44}}}), "only the changed key is sent");

    console.save_reviewed();
    assert_eq!(console.badge("properties.desired.building"), "pending");
    assert_eq!(console.twin_now(&device_id).desired().unwrap()["building"], json!(44));
    console.wait_for("the device's acknowledgement", |app| {
        app.state
            .twin
            .as_ref()
            .and_then(|editor| editor.live.as_ref())
            .is_some_and(|live| leaf_state(live, &["building".to_owned()], &json!(44)) == SyncState::InSync)
    });
    assert_eq!(console.badge("properties.desired.building"), "in sync");

    // Delete the key: the patch carries null.
    console.click_button("Delete properties.desired.building");
    assert_eq!(console.draft_desired("building"), None);
    console.harness.get_by_label_contains("deleted — sent as null (was 44)");
    console.click_button("Review & save…");
    console.harness.get_by_label("− properties.desired.building (was 44) → null, deleted");
    let request = console.harness.get_by_label_contains("PATCH /twins/").accesskit_node().value().unwrap_or_default();
    assert!(request.contains("\"building\": null"), "{request}");
    console.save_reviewed();
    assert!(console.twin_now(&device_id).desired().unwrap().get("building").is_none());
}

#[test]
fn a_concurrent_update_shows_the_conflict_and_the_merge_is_saved() {
    let mut console = start();
    let device_id = console.device_with_building_43();
    console.open_twin(&device_id);
    console.replace_text("properties.desired.building", "44");

    // Someone else writes building and another key meanwhile.
    let client = console.client.clone();
    let other = device_id.clone();
    console.runtime.block_on(async move {
        client.patch_twin(&other, &json!({"properties": {"desired": {"building": 45, "floor": 9}}}), IfMatch::Any).await.unwrap();
    });

    console.click_button("Review & save…");
    console.click_button("Save (PATCH)");
    console.wait_for("the conflict", |app| app.state.twin.as_ref().is_some_and(|editor| editor.conflict.is_some()));
    console.settle();
    console.harness.get_by_label(&format!("Someone else changed the twin of {device_id}"));
    console.harness.get_by_label_contains("properties.desired.floor = 9");
    assert!(
        console.harness.get_by_role_and_label(Role::Button, "Apply and review…").accesskit_node().is_disabled(),
        "building must be decided first"
    );
    console.harness.get_by_label("Keep mine for properties.desired.building").click();
    console.settle();
    console.click_button("Apply and review…");
    console.harness.get_by_label("~ properties.desired.building: 45 → 44");
    console.save_reviewed();
    let saved = console.twin_now(&device_id);
    assert_eq!(saved.desired().unwrap()["building"], json!(44), "mine");
    assert_eq!(saved.desired().unwrap()["floor"], json!(9), "theirs, kept");
    assert!(console.app().state.twin.as_ref().is_some_and(|editor| !editor.has_unsaved_work()));
}

#[test]
fn json_mode_points_at_parse_errors_and_keeps_the_text() {
    let mut console = start();
    let device_id = console.device_with_building_43();
    console.open_twin(&device_id);
    console.click_button("JSON");
    console.replace_text("Twin JSON", "{\"tags\": {\"a\": 1,}}");
    let error = console.app().state.twin.as_ref().unwrap().json_error.clone().expect("a parse error");
    assert_eq!(error.line, Some(1));
    let column = error.column.unwrap();
    console.harness.get_by_label_contains(&format!("Line 1, column {column}:"));
    assert!(console.harness.get_by_role_and_label(Role::Button, "Review & save…").accesskit_node().is_disabled());
    assert!(console.harness.get_by_role_and_label(Role::Button, "Tree").accesskit_node().is_disabled(), "the tree waits for valid JSON");
    assert_eq!(console.app().state.twin.as_ref().unwrap().json_text, "{\"tags\": {\"a\": 1,}}", "the text is kept as typed");

    // Fixed text becomes the draft, and the tree shows it.
    console.replace_text("Twin JSON", "{\"tags\": {\"a\": 1}, \"properties\": {\"desired\": {\"building\": 47}}}");
    assert!(console.app().state.twin.as_ref().unwrap().json_error.is_none());
    console.click_button("Tree");
    assert_eq!(console.draft_desired("building"), Some(json!(47)));
    console.harness.get_by_role_and_label(Role::TextInput, "tags.a");
}

#[test]
fn an_invalid_key_cannot_be_saved() {
    let mut console = start();
    let device_id = console.device_with_building_43();
    console.open_twin(&device_id);
    console.click_button("Add key to properties.desired");
    console.replace_text("New key name", "bad key");
    console.harness.get_by_label_contains("keys cannot contain '.', '$', spaces or control characters");
    assert!(console.harness.get_by_role_and_label(Role::Button, "Add").accesskit_node().is_disabled());
    console.click_button("Cancel");

    // The JSON editor can type such a key; the draft then cannot be saved.
    console.click_button("JSON");
    console.replace_text("Twin JSON", "{\"tags\": {}, \"properties\": {\"desired\": {\"building\": 43, \"room.no\": 5}}}");
    console.harness.get_by_label_contains("properties.desired.room.no: key 'room.no' contains '.'");
    assert!(console.harness.get_by_role_and_label(Role::Button, "Review & save…").accesskit_node().is_disabled());
    console.click_button("Tree");
    console.harness.get_by_label_contains("⚠ key 'room.no' contains '.'");
    assert!(console.app().state.twin.as_ref().unwrap().save_blocker().is_some());
}
