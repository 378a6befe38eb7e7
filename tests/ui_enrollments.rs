//! The Enrollments page driven through the real views with `egui_kittest`, against the built-in
//! simulator profile (two hubs and DPS) started by the test so it can check the hubs itself:
//! a policy change then "Re-register now" (reset, migrate east to west, never), the bulk policy
//! change, and a conflict on save.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::console::{Console, ConsoleSetup, sim_config};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;
use hubdeck::app::model::Page;
use hubdeck::app::model::reprovision_choice::PolicyChoice;
use hubdeck::azure::wire::{DeviceRegistrationState, RegistrationStatus, RegistrationSubstatus, ReprovisionPolicy, Twin};
use hubdeck::azure::{DpsClient, IfMatch};
use hubdeck::sim::SimConfig;
use hubdeck::sim::dps::DpsConfig;
use serde_json::json;

/// The console on the Enrollments page, and a DPS client of its simulator.
fn start() -> (Console, DpsClient) {
    let dps = DpsConfig { assign_delay: Duration::from_millis(100), retry_after_secs: 1, ..DpsConfig::default() };
    // Tall enough that the whole editor fits: kittest clicks land where a widget is drawn, and a
    // widget scrolled out of view cannot be clicked.
    let mut console = Console::start(ConsoleSetup::built_in(SimConfig { dps, ..sim_config(40) }).with_size([1400.0, 2000.0]));
    let client =
        DpsClient::new(&console.sim.dps_connection_string("provisioningserviceowner").unwrap(), &console.client_options()).unwrap();
    console.click(Role::Button, "Enrollments");
    console.wait_for("the enrollment lists", |app| app.state.enrollments.lists.is_loaded());
    (console, client)
}

fn open(console: &mut Console, id: &str) {
    console.click_label(id);
    console.wait_for("the editor", |app| app.state.enrollments.editor.as_ref().is_some_and(|editor| editor.base.id() == id));
}

fn save(console: &mut Console) {
    console.click(Role::Button, "Save");
    console.wait_for("the save", |app| app.state.enrollments.editor.as_ref().is_some_and(|editor| !editor.is_saving()));
}

fn record(console: &Console, dps: &DpsClient, registration_id: &str) -> DeviceRegistrationState {
    let dps = dps.clone();
    let id = registration_id.to_owned();
    console.runtime.block_on(async move { dps.get_registration(&id).await.unwrap() })
}

fn hub_of(console: &Console, dps: &DpsClient, registration_id: &str) -> &'static str {
    let host = record(console, dps, registration_id).assigned_hub.unwrap();
    if host == console.sim.hub_device_host_name("contoso-east").unwrap() { "contoso-east" } else { "contoso-west" }
}

fn twin(console: &Console, hub: &str, device_id: &str) -> Option<Twin> {
    let client = console.hub_client(hub);
    let id = device_id.to_owned();
    console.runtime.block_on(async move { client.get_twin(&id).await.ok() })
}

fn patch(console: &Console, hub: &str, device_id: &str, patch: serde_json::Value) {
    let client = console.hub_client(hub);
    let id = device_id.to_owned();
    console.runtime.block_on(async move { client.patch_twin(&id, &patch, IfMatch::Any).await.unwrap() });
}

/// Clicks "Re-register now" and waits until the editor shows the new record.
fn reregister(console: &mut Console, dps: &DpsClient, registration_id: &str) -> DeviceRegistrationState {
    let before = record(console, dps, registration_id).etag;
    console.click(Role::Button, "Re-register now");
    console.wait_for("the device to register again", |app| {
        app.state.enrollments.editor.as_ref().is_some_and(|editor| {
            editor.reregistering.is_empty()
                && editor.records().iter().any(|record| {
                    record.registration_id == registration_id && record.etag != before && record.status == RegistrationStatus::Assigned
                })
        })
    });
    let shown = console.harness.state().state.enrollments.editor.as_ref().unwrap().records()[0].clone();
    assert_eq!(shown, record(console, dps, registration_id), "the editor shows the record DPS has");
    shown
}

#[test]
fn reset_to_initial_config_then_reregister_gives_the_device_its_initial_twin() {
    let (mut console, dps) = start();
    let device = "b43-lobby-lock-01";
    let hub = hub_of(&console, &dps, device);
    // The operator's changes since provisioning, which a reset throws away.
    patch(&console, hub, device, json!({"tags": {"room": "moved-by-operator"}, "properties": {"desired": {"autoLockSeconds": 120}}}));
    open(&mut console, device);
    assert_eq!(console.harness.state().state.enrollments.editor.as_ref().unwrap().policy, PolicyChoice::Migrate);
    console.harness.get_by_label_contains("DPS runs the allocation policy again and gives the device this enrollment's initial twin");
    console.click(Role::RadioButton, "Re-provision and reset to initial config");
    save(&mut console);
    let editor = console.harness.state().state.enrollments.editor.as_ref().unwrap();
    assert_eq!(editor.base.settings().reprovision_policy, Some(ReprovisionPolicy::RESET), "{:?}", editor.message);
    assert!(!editor.is_dirty());

    let record = reregister(&mut console, &dps, device);
    assert_eq!(record.substatus, Some(RegistrationSubstatus::DeviceDataReset));
    console.harness.get_by_label("deviceDataReset: given the initial twin");
    let twin = twin(&console, hub, device).unwrap();
    assert_eq!(twin.tags.unwrap(), json!({"building": 43, "room": "lobby", "deviceType": "doorLock"}).as_object().unwrap().clone());
    let desired = twin.properties.unwrap().desired.unwrap();
    assert_eq!(desired["autoLockSeconds"], 30, "the initial desired value is back");

    // From the registration, jump to the device's twin on its hub.
    console.click(Role::Button, "Open device");
    console.wait_for("the twin editor", |app| {
        app.state.page == Page::Twin && app.state.twin.as_ref().is_some_and(|editor| editor.draft.is_some())
    });
    assert_eq!(&*console.harness.state().state.twin.as_ref().unwrap().device_id, device);

    // And back: from the device's details to the enrollment it registered through.
    console.click(Role::Button, "Devices");
    console.wait_for("the device list", |app| app.state.devices.load_complete());
    console.click_label(device);
    console.click(Role::Button, "Details");
    console.wait_for("the details", |app| app.state.devices.details.as_ref().is_some_and(|details| !details.loaded.is_loading()));
    console.click(Role::Button, "Enrollment");
    console.wait_for("the enrollment", |app| {
        app.state.page == Page::Enrollments && app.state.enrollments.editor.as_ref().is_some_and(|editor| editor.base.id() == device)
    });
}

#[test]
fn migrate_moves_the_device_east_to_west_with_its_twin_and_never_keeps_it_there() {
    let (mut console, dps) = start();
    let device = "b43-lobby-thermo-01"; // static to contoso-east
    assert_eq!(hub_of(&console, &dps, device), "contoso-east");
    patch(&console, "contoso-east", device, json!({"tags": {"note": "calibrated"}}));
    open(&mut console, device);
    console.click(Role::RadioButton, "Re-provision and migrate data");
    let east = console.sim.hub_device_host_name("contoso-east").unwrap();
    let west = console.sim.hub_device_host_name("contoso-west").unwrap();
    console.click(Role::CheckBox, &format!("contoso-east  ({east})"));
    console.click(Role::CheckBox, &format!("contoso-west  ({west})"));
    save(&mut console);
    let record = reregister(&mut console, &dps, device);
    assert_eq!(record.substatus, Some(RegistrationSubstatus::DeviceDataMigrated));
    assert_eq!(record.assigned_hub.as_deref(), Some(west.as_str()));
    assert!(twin(&console, "contoso-east", device).is_none(), "gone from the old hub");
    let moved = twin(&console, "contoso-west", device).unwrap();
    assert_eq!(moved.tags.unwrap()["note"], "calibrated", "its twin came along");
    console.harness.get_by_label("deviceDataMigrated: moved with its twin");

    // Never: pointed back at east, it stays on west.
    console.click(Role::RadioButton, "Never re-provision");
    console.click(Role::CheckBox, &format!("contoso-west  ({west})"));
    console.click(Role::CheckBox, &format!("contoso-east  ({east})"));
    save(&mut console);
    let kept = reregister(&mut console, &dps, device);
    assert_eq!(kept.assigned_hub.as_deref(), Some(west.as_str()));
    assert!(twin(&console, "contoso-west", device).is_some());
    assert!(twin(&console, "contoso-east", device).is_none());

    // Opening the device switches the console to contoso-west.
    console.click(Role::Button, "Open device");
    console.wait_for("the switch to contoso-west", |app| {
        app.state.hub == "contoso-west" && app.state.twin.as_ref().is_some_and(|editor| editor.draft.is_some())
    });
}

#[test]
fn bulk_policy_change_and_a_conflict_on_save() {
    let (mut console, dps) = start();
    console.click(Role::CheckBox, "Pick b43-garage-air-01");
    console.click(Role::CheckBox, "Pick legacy-meter-01");
    console.click(Role::Button, "Set policy on 2 selected...");
    console.click(Role::RadioButton, "Re-provision and migrate data");
    console.click(Role::Button, "Apply");
    console.wait_for("the bulk results", |app| app.state.enrollments.bulk.as_ref().is_some_and(|bulk| bulk.results.is_some()));
    let results = console.harness.state().state.enrollments.bulk.as_ref().unwrap().results.clone().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|(_, result)| result.is_ok()), "{results:?}");
    for id in ["b43-garage-air-01", "legacy-meter-01"] {
        let saved = console.runtime.block_on(async { dps.get_enrollment(id).await.unwrap() });
        assert_eq!(saved.settings.reprovision_policy, Some(ReprovisionPolicy::MIGRATE), "{id}");
    }
    console.click(Role::Button, "Close");
    console.wait_for("the list again", |app| app.state.enrollments.lists.is_loaded() && app.state.enrollments.bulk.is_none());

    // Someone else saves while the editor is open: nothing is overwritten.
    open(&mut console, "b43-garage-air-01");
    console.click(Role::RadioButton, "Re-provision and reset to initial config");
    console.runtime.block_on(async {
        let mut theirs = dps.get_enrollment("b43-garage-air-01").await.unwrap();
        theirs.settings.provisioning_status = Some("disabled".to_owned());
        let etag = theirs.settings.etag.clone().unwrap();
        dps.put_enrollment(&theirs, Some(IfMatch::Etag(etag))).await.unwrap();
    });
    save(&mut console);
    console.wait_for("the conflict view", |app| app.state.enrollments.editor.as_ref().is_some_and(|editor| editor.conflict.is_some()));
    console.harness.get_by_label("Someone else saved this enrollment after you opened it. Nothing was overwritten.");
    let lines = console.harness.state().state.enrollments.editor.as_ref().unwrap().conflict_lines();
    assert!(lines.iter().any(|line| line.field == "Provisioning status" && line.theirs == "disabled"), "{lines:?}");
    assert!(lines.iter().any(|line| line.field == "Re-provisioning policy" && line.mine == "Re-provision and reset to initial config"));
    console.click(Role::Button, "Keep mine");
    save(&mut console);
    let saved = console.runtime.block_on(async { dps.get_enrollment("b43-garage-air-01").await.unwrap() });
    assert_eq!(saved.settings.reprovision_policy, Some(ReprovisionPolicy::RESET), "mine was saved over theirs");
    assert_eq!(saved.settings.provisioning_status.as_deref(), Some("enabled"), "keeping mine means my whole version");
}

#[test]
fn creating_and_deleting_an_enrollment() {
    let (mut console, dps) = start();
    console.click(Role::Button, "New enrollment...");
    console.harness.get_by_role_and_label(Role::TextInput, "Registration id").focus();
    console.harness.step();
    console.harness.get_by_role_and_label(Role::TextInput, "Registration id").type_text("b43-lobby-lock-01");
    console.settle();
    console.harness.get_by_label("b43-lobby-lock-01 already exists; open it from the list to change it.");
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    console.harness.step();
    console.harness.get_by_role_and_label(Role::TextInput, "Registration id").type_text("b43-new-door-9");
    console.settle();
    console.click(Role::Button, "Create");
    console.wait_for("the new enrollment's editor", |app| {
        app.state.enrollments.editor.as_ref().is_some_and(|editor| editor.base.id() == "b43-new-door-9")
    });
    let (created, keys) = console.runtime.block_on(async {
        (dps.get_enrollment("b43-new-door-9").await.unwrap(), dps.enrollment_attestation("b43-new-door-9").await.unwrap())
    });
    assert_eq!(created.settings.reprovision_policy, Some(ReprovisionPolicy::MIGRATE));
    assert!(keys.symmetric_key.unwrap().primary_key.is_some(), "DPS generated the keys");

    console.click(Role::Button, "Delete...");
    console.click(Role::Button, "Delete");
    console.wait_for("the editor to close", |app| app.state.enrollments.editor.is_none());
    let gone = console.runtime.block_on(async { dps.get_enrollment("b43-new-door-9").await });
    assert_eq!(gone.unwrap_err().status(), Some(404));
    assert!(console.harness.state().state.enrollments.lists().individuals.iter().all(|item| item.registration_id != "b43-new-door-9"));
}

#[test]
fn the_enrollments_page_and_editor_are_idle_when_nothing_happens() {
    let (mut console, _dps) = start();
    // `try_run` steps until no repaint is requested; it fails if something keeps repainting.
    let steps = console.harness.try_run().expect("the list does not keep the app busy");
    assert!(steps <= 3, "the list settled after {steps} frames");
    console.click_label("Enrollment groups (3)");
    open(&mut console, "building-43-locks");
    console.wait_for("the group's registrations", |app| {
        app.state.enrollments.editor.as_ref().is_some_and(|editor| editor.records().len() == 8)
    });
    let steps = console.harness.try_run().expect("the editor does not keep the app busy");
    assert!(steps <= 3, "the editor settled after {steps} frames");
}
