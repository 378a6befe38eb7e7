//! The console driven through its real views with `egui_kittest` (no display), against the
//! in-process simulator started by the real backend worker.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::console::{Console, ConsoleSetup, sim_config};
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use hubdeck::app::ConsoleApp;
use hubdeck::app::model::twin::TwinEditor;
use hubdeck::app::model::{ConnectionStatus, Page, ProfileId};
use hubdeck::azure::wire::DeviceStatus;
use hubdeck::sim::{SimConfig, Simulator};

/// A console on the built-in profile with `fleet_size` demo devices and without the DPS demo
/// devices, so the first hub holds exactly the fleet these tests count.
fn start(fleet_size: usize) -> Console {
    Console::start(ConsoleSetup::built_in(SimConfig { dps_demo: false, ..sim_config(fleet_size) }))
}

/// Opens the add-device dialog and types `device_id`.
fn open_add_device(console: &mut Console, device_id: &str) {
    console.click(Role::Button, "Add device…");
    console.type_into(Role::TextInput, "Device ID", device_id);
}

fn run_query(console: &mut Console, text: &str) {
    console.type_into(Role::TextInput, "Query", text);
    console.harness.step();
    console.harness.get_by_role_and_label(Role::Button, "Run").click();
    console.harness.step();
    console.wait_for("the query to finish", |app| app.state.devices.load_settled());
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
    // The list's live refresh may have a request out right now; it ends within the poll.
    console.wait_for("no request in flight", |app| app.state.in_flight() == 0);
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
    run_query(&mut console, "tags.building = 43");
    console.wait_for("the total", |app| app.state.devices.total.is_some());
    let devices = &console.app().state.devices;
    assert_eq!(devices.rows.len(), in_building_43);
    assert!(devices.rows.iter().all(|row| row.field("tags.building").unwrap().to_string() == "43"));
    console.harness.get_by_label(&format!("Showing {in_building_43} of {in_building_43} devices"));
    console.type_into(Role::TextInput, "Device ID prefix", "b43-f1");
    let shown = console.view_ids();
    assert!(shown.iter().all(|id| id.starts_with("b43-f1")));
    console.harness.get_by_label(&format!("Showing {} of {in_building_43} devices", shown.len()));
}

#[test]
fn a_bad_query_shows_the_error_under_the_bar_and_links_the_activity_entry() {
    let mut console = start(10);
    run_query(&mut console, "tags.building = = 43");
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
    open_add_device(&mut console, "lobby-door-01");
    console.harness.get_by_role_and_label(Role::Button, "Add").click();
    console.harness.step();
    console.wait_for("the new device", |app| {
        app.state.devices.rows.iter().any(|row| &*row.device_id == "lobby-door-01") && app.state.devices.load_complete()
    });
    console.wait_for("the total", |app| app.state.devices.total == Some(6));
    console.harness.get_by_label("lobby-door-01");
    console.harness.get_by_label("Showing 6 of 6 devices");
}

#[test]
fn an_invalid_device_id_cannot_be_added() {
    let mut console = start(3);
    open_add_device(&mut console, "has space");
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
    console.wait_for("the list without them", |app| app.state.devices.rows.len() == 10 && app.state.devices.load_complete());
    let remaining = console.view_ids();
    assert!(!remaining.contains(&ids[0]) && !remaining.contains(&ids[1]));
    console.wait_for("the total", |app| app.state.devices.total == Some(10));
    console.harness.get_by_label("Showing 10 of 10 devices");
}

#[test]
fn switching_to_a_second_profile() {
    let mut console = start(4);
    let config = SimConfig { dps_demo: false, ..sim_config(7) };
    let other = console.runtime.block_on(Simulator::start(config)).unwrap();
    let connection = other.connection_string("iothubowner").unwrap().expose();
    let ca_file = other.ca_path().display().to_string();

    console.harness.get_by_role_and_label(Role::Button, "Profiles…").click();
    console.settle();
    console.harness.get_by_role_and_label(Role::Button, "New profile").click();
    console.settle();
    console.type_into(Role::TextInput, "Name", "Staging");
    let secret_field = "IoT Hub service connection string";
    console.harness.get_by_role_and_label(Role::PasswordInput, secret_field).focus();
    console.harness.step();
    console.harness.get_by_role_and_label(Role::PasswordInput, secret_field).type_text(&connection);
    console.harness.step();
    console.type_into(Role::TextInput, "Extra CA certificate (optional, PEM file)", &ca_file);
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
            && app.state.devices.load_complete()
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
        app.state.profiles.active == ProfileId::simulator() && app.state.devices.load_complete()
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
    console.wait_for("the twin editor", |app| app.state.twin.as_ref().is_some_and(TwinEditor::is_ready));
    assert_eq!(console.app().state.twin.as_ref().map(|editor| editor.device_id.to_string()), Some(ids[2].clone()));
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num1);
    console.harness.step();
    console.harness.key_press(egui::Key::ArrowUp);
    console.harness.step();
    assert_eq!(console.app().state.devices.selection.len(), 1);
    console.harness.get_by_role_and_label(Role::Button, "Details").click();
    console.harness.step();
    console.wait_for("the details panel", |app| app.state.devices.details.as_ref().is_some_and(|details| details.loaded.is_loaded()));
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
    let disabled = |id: &str, status: DeviceStatus| {
        let id = id.to_owned();
        move |app: &ConsoleApp| {
            app.state.devices.load_complete() && app.state.devices.row_by_id(&id).is_some_and(|row| row.status == status)
        }
    };
    console.wait_for("the device to show disabled", disabled(&device_id, DeviceStatus::Disabled));
    assert!(console.app().state.devices.selection.contains(&device_id), "the selection survives the refresh");
    console.harness.get_by_role_and_label(Role::Button, "Enable").click();
    console.harness.step();
    console.wait_for("the device to show enabled", disabled(&device_id, DeviceStatus::Enabled));
}

#[test]
fn browse_fills_the_ca_file_from_the_file_dialog() {
    let picked = std::path::PathBuf::from("/tmp/hubdeck-ui-test/ca.pem");
    let setup =
        ConsoleSetup { picked_file: Some(picked.clone()), ..ConsoleSetup::built_in(SimConfig { dps_demo: false, ..sim_config(2) }) };
    let mut console = Console::start(setup);
    console.click(Role::Button, "Profiles…");
    console.click(Role::Button, "New profile");
    console.click(Role::Button, "Browse…");
    let expected = picked.display().to_string();
    console.wait_for("the picked file in the form", |app| {
        app.state.profiles.dialog.as_ref().is_some_and(|dialog| dialog.draft.ca_file == expected && !dialog.picking_ca)
    });
    let field = console.harness.get_by_role_and_label(Role::TextInput, "Extra CA certificate (optional, PEM file)");
    assert_eq!(field.value().as_deref(), Some(expected.as_str()));
}
