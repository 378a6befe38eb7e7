//! The console driven through its real views with `egui_kittest` (no display), against the
//! in-process simulator started by the real backend worker.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use hubdeck::app::ConsoleApp;
use hubdeck::app::backend::{self, BackendOptions, SimulatorSettings};
use hubdeck::app::model::twin::TwinLoad;
use hubdeck::app::model::{ConnectionStatus, LoadState, Page, ProfileId};
use hubdeck::azure::RetryPolicy;
use hubdeck::sim::{FleetConfig, SimConfig, Simulator, StateLocation};

struct Console {
    harness: Harness<'static, ConsoleApp>,
    // Kept alive for the backend and the simulators.
    runtime: tokio::runtime::Runtime,
    _config: tempfile::TempDir,
}

fn start(fleet_size: usize) -> Console {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = tempfile::tempdir().unwrap();
    let fleet = FleetConfig { ack_delay_min: Duration::from_millis(50), ack_delay_max: Duration::from_millis(150), churn_every: None };
    // Without the DPS demo devices, so the first hub holds exactly the fleet these tests count.
    let simulator = hubdeck::sim::SimConfig {
        port: 0,
        state: StateLocation::Ephemeral,
        fleet_size,
        fleet: fleet.clone(),
        dps_demo: false,
        ..hubdeck::sim::SimConfig::default()
    };
    let simulator = Arc::new(runtime.block_on(hubdeck::sim::Simulator::start(simulator)).unwrap());
    let options = BackendOptions {
        config_dir: config.path().to_owned(),
        simulator: SimulatorSettings { state: StateLocation::Ephemeral, fleet_size, fleet, shared: Some(simulator) },
        use_keyring: false,
        command_line: None,
        retry: RetryPolicy { max_attempts: 2, first_backoff: Duration::from_millis(100), ..RetryPolicy::default() },
        save_dialog: Arc::new(hubdeck::app::backend::save_dialog::FixedDirSaveDialog(config.path().to_owned())),
    };
    let handle = backend::spawn(runtime.handle(), options, Arc::new(|| {}));
    let app = ConsoleApp::new(handle, None);
    let harness = Harness::builder().with_size([1400.0, 900.0]).build_ui_state(|ui, app: &mut ConsoleApp| app.frame_ui(ui), app);
    let mut console = Console { harness, runtime, _config: config };
    console.wait_for("the first load", |app| app.state.devices.load == LoadState::Done);
    console
}

impl Console {
    /// Steps frames (with real time passing for the backend) until `done` holds.
    fn wait_for(&mut self, what: &str, done: impl Fn(&ConsoleApp) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.harness.step();
            if done(self.harness.state()) {
                self.harness.step();
                return;
            }
            if Instant::now() > deadline {
                let app = self.harness.state();
                let calls: Vec<String> = app
                    .state
                    .activity
                    .visible()
                    .iter()
                    .map(|entry| {
                        format!(
                            "{} {} {:?} {:?}",
                            entry.record.operation, entry.record.target, entry.record.status, entry.record.error_message
                        )
                    })
                    .collect();
                panic!(
                    "timed out waiting for {what}; load {:?}, {} rows, add dialog {:?}, profile dialog {:?}, calls {calls:#?}",
                    app.state.devices.load,
                    app.state.devices.rows.len(),
                    app.state.add_device,
                    app.state.profiles.dialog,
                );
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    fn app(&mut self) -> &mut ConsoleApp {
        self.harness.state_mut()
    }

    fn view_ids(&mut self) -> Vec<String> {
        self.app().state.devices.view_ids().iter().map(ToString::to_string).collect()
    }

    /// A few frames, so a dialog opened by the last click is laid out and visible.
    fn settle(&mut self) {
        for _ in 0..3 {
            self.harness.step();
        }
    }

    fn type_into(&mut self, field: &str, text: &str) {
        self.harness.get_by_role_and_label(Role::TextInput, field).focus();
        self.harness.step();
        self.harness.get_by_role_and_label(Role::TextInput, field).type_text(text);
        self.harness.step();
    }

    fn run_query(&mut self, text: &str) {
        self.type_into("Query", text);
        self.harness.step();
        self.harness.get_by_role_and_label(Role::Button, "Run").click();
        self.harness.step();
        self.wait_for("the query to finish", |app| matches!(app.state.devices.load, LoadState::Done | LoadState::Failed));
    }
}

#[test]
fn the_window_lists_the_simulators_devices() {
    let mut console = start(40);
    assert_eq!(console.app().state.devices.rows.len(), 40);
    console.wait_for("the total", |app| app.state.devices.total == Some(40));
    console.harness.get_by_label("Showing 40 of 40 devices");
    let first = console.view_ids()[0].clone();
    console.harness.get_by_label(&first);
    assert!(matches!(console.app().state.connection, ConnectionStatus::Connected { .. }));
    console.harness.get_by_label_contains("Local simulator — localhost:");
    console.harness.get_by_label("0 requests in flight");
}

#[test]
fn a_query_filters_the_list_and_the_count_follows() {
    let mut console = start(60);
    let in_building_43 = console
        .app()
        .state
        .devices
        .rows
        .iter()
        .filter(|row| row.field("tags.building").is_some_and(|value| value.to_string() == "43"))
        .count();
    assert!(in_building_43 > 0 && in_building_43 < 60, "the demo fleet spreads over buildings");
    console.run_query("tags.building = 43");
    console.wait_for("the total", |app| app.state.devices.total.is_some());
    let devices = &console.app().state.devices;
    assert_eq!(devices.rows.len(), in_building_43);
    assert!(devices.rows.iter().all(|row| row.field("tags.building").unwrap().to_string() == "43"));
    console.harness.get_by_label(&format!("Showing {in_building_43} of {in_building_43} devices"));
    console.type_into("Device ID prefix", "b43-f1");
    let shown = console.view_ids();
    assert!(shown.iter().all(|id| id.starts_with("b43-f1")));
    console.harness.get_by_label(&format!("Showing {} of {in_building_43} devices", shown.len()));
}

#[test]
fn a_bad_query_shows_the_error_under_the_bar_and_links_the_activity_entry() {
    let mut console = start(10);
    console.run_query("tags.building = = 43");
    let error = console.app().state.devices.query_error.clone().expect("the error is kept for the bar");
    assert_eq!(error.column, Some(17));
    console.harness.get_by_label_contains("syntax error at line 1, column 45: expected a value");
    console.harness.get_by_label("                ^");
    // The connection string of the profile form is masked on screen.
    assert_eq!(console.app().state.devices.rows.len(), 10, "the previous rows stay");
    let link = console.harness.get_by_label_contains("Last error: query devices");
    link.click();
    console.harness.step();
    assert_eq!(console.app().state.page, Page::Activity);
    let highlighted = console.app().state.activity.highlight.unwrap();
    console.harness.get_by_label(&highlighted.to_string());
    assert!(console.harness.query_all_by_label("400").count() >= 1, "the failed call's status is listed");
}

#[test]
fn adding_a_device_shows_it_in_the_list() {
    let mut console = start(5);
    console.harness.get_by_role_and_label(Role::Button, "Add device…").click();
    console.settle();
    console.type_into("Device ID", "lobby-door-01");
    console.harness.get_by_role_and_label(Role::Button, "Add").click();
    console.harness.step();
    console.wait_for("the new device", |app| {
        app.state.devices.rows.iter().any(|row| &*row.device_id == "lobby-door-01") && app.state.devices.load == LoadState::Done
    });
    console.wait_for("the total", |app| app.state.devices.total == Some(6));
    console.harness.get_by_label("lobby-door-01");
    console.harness.get_by_label("Showing 6 of 6 devices");
}

#[test]
fn an_invalid_device_id_cannot_be_added() {
    let mut console = start(3);
    console.harness.get_by_role_and_label(Role::Button, "Add device…").click();
    console.settle();
    console.type_into("Device ID", "has space");
    console.harness.get_by_label_contains("contains ' '");
    assert!(console.harness.get_by_role_and_label(Role::Button, "Add").accesskit_node().is_disabled());
}

#[test]
fn deleting_two_selected_devices() {
    let mut console = start(12);
    let ids = console.view_ids();
    console.harness.get_by_label(&ids[0]).click();
    console.harness.step();
    console.harness.get_by_label(&ids[1]).click_modifiers(egui::Modifiers::COMMAND);
    console.harness.step();
    assert_eq!(console.app().state.devices.selection.len(), 2);
    console.harness.get_by_role_and_label(Role::Button, "Delete 2 devices…").click();
    console.settle();
    console.harness.get_by_label("Delete 2 devices?");
    console.harness.get_by_role_and_label(Role::Button, "Delete 2 devices").click();
    console.harness.step();
    console.wait_for("the list without them", |app| app.state.devices.rows.len() == 10 && app.state.devices.load == LoadState::Done);
    let remaining = console.view_ids();
    assert!(!remaining.contains(&ids[0]) && !remaining.contains(&ids[1]));
    console.wait_for("the total", |app| app.state.devices.total == Some(10));
    console.harness.get_by_label("Showing 10 of 10 devices");
}

#[test]
fn switching_to_a_second_profile() {
    let mut console = start(4);
    let config = SimConfig { port: 0, state: StateLocation::Ephemeral, fleet_size: 7, dps_demo: false, ..SimConfig::default() };
    let other = console.runtime.block_on(Simulator::start(config)).unwrap();
    let connection = other.connection_string("iothubowner").unwrap().expose();
    let ca_file = other.ca_path().display().to_string();

    console.harness.get_by_role_and_label(Role::Button, "Profiles…").click();
    console.settle();
    console.harness.get_by_role_and_label(Role::Button, "New profile").click();
    console.settle();
    console.type_into("Name", "Staging");
    let secret_field = "IoT Hub service connection string";
    console.harness.get_by_role_and_label(Role::PasswordInput, secret_field).focus();
    console.harness.step();
    console.harness.get_by_role_and_label(Role::PasswordInput, secret_field).type_text(&connection);
    console.harness.step();
    console.type_into("Extra CA certificate (optional, PEM file)", &ca_file);
    let key = other.connection_string("iothubowner").unwrap().key().expose().to_owned();
    assert!(console.harness.query_all_by_label_contains(&key).next().is_none(), "the key is masked on screen");
    console.harness.get_by_label_contains("No OS keyring is available");
    console.harness.get_by_role_and_label(Role::Button, "Save").click();
    console.harness.step();
    console.wait_for("the saved profile", |app| app.state.profiles.list.iter().any(|profile| profile.name == "Staging"));
    console.harness.get_by_label_contains("Secrets are kept in memory for this session only");
    console.harness.get_by_role_and_label(Role::Button, "Use this profile").click();
    console.harness.step();
    console.wait_for("the other hub's devices", |app| {
        matches!(&app.state.connection, ConnectionStatus::Connected { host, .. } if *host == other.host_name())
            && app.state.devices.load == LoadState::Done
    });
    assert_eq!(console.app().state.devices.rows.len(), 7);
    assert_ne!(console.app().state.profiles.active, ProfileId::simulator());
    console.harness.get_by_role_and_label(Role::Button, "Close").click();
    console.settle();
    console.harness.get_by_label_contains(&format!("Staging — {}", other.host_name()));
    // And back to the simulator through the top bar's menu.
    console.harness.get_by_role_and_label(Role::Button, "Profile: Staging ⏷").click();
    console.settle();
    console.harness.get_by_label_contains("Local simulator  (localhost:").click();
    console.harness.step();
    console.wait_for("the simulator's devices again", |app| {
        app.state.profiles.active == ProfileId::simulator() && app.state.devices.load == LoadState::Done
    });
    assert_eq!(console.app().state.devices.rows.len(), 4);
}

#[test]
fn keyboard_navigation() {
    let mut console = start(20);
    let ids = console.view_ids();
    console.harness.key_press(egui::Key::ArrowDown);
    console.harness.key_press(egui::Key::ArrowDown);
    console.harness.step();
    assert_eq!(console.app().state.devices.selection.cursor.as_deref(), Some(ids[1].as_str()));
    console.harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowDown);
    console.harness.step();
    let mut selected: Vec<String> = console.app().state.devices.selection.ids.iter().map(ToString::to_string).collect();
    selected.sort();
    assert_eq!(selected, vec![ids[1].clone(), ids[2].clone()]);
    console.harness.key_press(egui::Key::Enter);
    console.harness.step();
    assert_eq!(console.app().state.page, Page::Twin, "Enter opens the twin editor");
    console.wait_for("the twin editor", |app| app.state.twin.as_ref().is_some_and(|editor| editor.load == TwinLoad::Ready));
    assert_eq!(console.app().state.twin.as_ref().map(|editor| editor.device_id.to_string()), Some(ids[2].clone()));
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num1);
    console.harness.step();
    console.harness.key_press(egui::Key::ArrowUp);
    console.harness.step();
    assert_eq!(console.app().state.devices.selection.len(), 1);
    console.harness.get_by_role_and_label(Role::Button, "Details").click();
    console.harness.step();
    console.wait_for("the details panel", |app| {
        app.state.devices.details.as_ref().is_some_and(|details| matches!(details.loaded, Some(Ok(_))))
    });
    console.harness.get_by_label("Reveal keys");
    console.harness.get_by_label_contains("Reported properties");
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    console.harness.step();
    assert_eq!(console.app().state.devices.selection.len(), 20);
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num4);
    console.harness.step();
    assert_eq!(console.app().state.page, Page::Activity);
    console.harness.get_by_label_contains("calls logged");
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    console.harness.step();
    console.harness.step();
    assert_eq!(console.app().state.page, Page::Devices);
    assert!(console.harness.get_by_role_and_label(Role::TextInput, "Query").is_focused());
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num2);
    console.harness.step();
    assert_eq!(console.app().state.page, Page::Jobs);
    console.harness.get_by_role_and_label(Role::Button, "New job…");
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    console.harness.step();
    assert_eq!(console.app().state.page, Page::Enrollments);
    console.harness.get_by_label_contains("Individual enrollments");
}

#[test]
fn the_app_is_idle_when_nothing_happens() {
    let mut console = start(30);
    console.wait_for("the total", |app| app.state.devices.total == Some(30));
    // `try_run` steps until no repaint is requested; it fails if something keeps repainting.
    let steps = console.harness.try_run().expect("no animation or spinner keeps the app busy when idle");
    assert!(steps <= 3, "settled after {steps} frames");
}

#[test]
fn disabling_and_enabling_from_the_toolbar() {
    let mut console = start(8);
    let device_id = console.view_ids()[3].clone();
    console.harness.get_by_label(&device_id).click();
    console.harness.step();
    console.harness.get_by_role_and_label(Role::Button, "Disable").click();
    console.harness.step();
    let disabled = |id: &str, status: hubdeck::azure::wire::DeviceStatus| {
        let id = id.to_owned();
        move |app: &ConsoleApp| {
            app.state.devices.load == LoadState::Done && app.state.devices.row_by_id(&id).is_some_and(|row| row.status == status)
        }
    };
    console.wait_for("the device to show disabled", disabled(&device_id, hubdeck::azure::wire::DeviceStatus::Disabled));
    assert!(console.app().state.devices.selection.contains(&device_id), "the selection survives the refresh");
    console.harness.get_by_role_and_label(Role::Button, "Enable").click();
    console.harness.step();
    console.wait_for("the device to show enabled", disabled(&device_id, hubdeck::azure::wire::DeviceStatus::Enabled));
}
