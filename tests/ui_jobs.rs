//! The job scheduler and direct methods driven through the real views with `egui_kittest`,
//! against an in-process simulator the test can also reach with its own client.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::console::{Console, ConsoleSetup, sim_config};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;
use hubdeck::app::ConsoleApp;
use hubdeck::app::model::Page;
use hubdeck::azure::wire::{ConnectionState, DeviceJobStatus, JobStatus, Twin};
use hubdeck::sim::SimConfig;
use hubdeck::sim::jobs::JobsConfig;
use hubdeck::sim::methods::MethodConfig;
use serde_json::json;

fn start(methods: MethodConfig) -> Console {
    let jobs = JobsConfig { queue_delay: Duration::from_millis(100), ..JobsConfig::default() };
    Console::start(ConsoleSetup::command_line(SimConfig { jobs, methods, ..sim_config(120) }))
}

/// Devices that answer methods within 5–40 ms, none of them slow.
fn fast_devices() -> MethodConfig {
    let answer = Duration::from_millis(5)..Duration::from_millis(40);
    MethodConfig { slow_per_mille: 0, answer_delay_min: answer.start, answer_delay_max: answer.end, ..MethodConfig::default() }
}

/// Replaces the text of a form field (the payload is multi-line).
fn type_into(console: &mut Console, field: &str, text: &str) {
    let role = if field.contains("(JSON)") { Role::MultilineTextInput } else { Role::TextInput };
    console.replace_text(role, field, text);
}

fn twins(console: &Console, condition: &str) -> Vec<Twin> {
    let client = console.hub_client("contoso-east");
    let query = format!("SELECT * FROM devices WHERE {condition}");
    console.runtime.block_on(async move { client.query_page::<Twin>(&query, Some(1000), None).await.unwrap().items })
}

/// The status of the job shown in the detail view.
fn job_status(app: &ConsoleApp) -> Option<JobStatus> {
    app.state.jobs.detail.as_ref().and_then(|detail| detail.job.as_ref()).map(|job| job.status)
}

fn open_new_job(console: &mut Console) {
    console.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num2);
    console.harness.step();
    assert_eq!(console.harness.state().state.page, Page::Jobs);
    console.wait_for("the job list", |app| !app.state.jobs.list.is_loading());
    if console.harness.state().state.jobs.detail.is_some() {
        console.click(Role::Button, "All jobs");
    }
    console.click(Role::Button, "New job…");
    console.harness.get_by_label("New job");
}

fn schedule_and_wait(console: &mut Console, wanted: JobStatus) {
    console.click(Role::Button, "Schedule job");
    console.wait_for("the job to be created", |app| app.state.jobs.draft.is_none() && app.state.jobs.detail.is_some());
    console.wait_for("the job status", move |app| job_status(app) == Some(wanted));
    console.settle();
}

#[test]
fn lock_door_on_building_43_with_preview_progress_results_retry_and_export() {
    let mut console = start(fast_devices());
    let targets = twins(&console, "tags.building = 43");
    let offline: Vec<String> = targets
        .iter()
        .filter(|twin| twin.connection_state != Some(ConnectionState::Connected))
        .map(|twin| twin.device_id.clone())
        .collect();
    assert!(!offline.is_empty() && offline.len() < targets.len(), "building 43 has online and offline devices");

    open_new_job(&mut console);
    type_into(&mut console, "WHERE", "tags.building = 43");
    // No click: the preview follows the condition once typing pauses.
    console.wait_for("the live preview", |app| {
        app.state.jobs.draft.as_ref().and_then(|draft| draft.preview.loaded()).is_some_and(|preview| preview.count.is_some())
    });
    console.harness.get_by_label(&format!("{} devices match", targets.len()));
    schedule_and_wait(&mut console, JobStatus::Completed);

    let summary = format!("{} succeeded", targets.len() - offline.len());
    console.harness.get_by_label(&summary);
    console.harness.get_by_label(&format!("{} failed", offline.len()));
    let rows = console.harness.state().state.jobs.detail.as_ref().unwrap().rows.clone();
    assert_eq!(rows.len(), targets.len());
    for row in &rows {
        if offline.contains(&row.device_id) {
            assert_eq!(row.status, DeviceJobStatus::Failed);
            assert_eq!(row.error.as_ref().unwrap().code, "DeviceNotOnline");
        } else {
            assert_eq!(row.status, DeviceJobStatus::Completed);
            assert_eq!(row.outcome.as_ref().unwrap().device_method_response.as_ref().unwrap().status, 200);
        }
    }
    console
        .harness
        .get_all_by_label_contains("DeviceNotOnline: Timed out waiting for device to connect.")
        .next()
        .expect("failed rows show the error");
    assert!(console.harness.state().state.jobs.detail.as_ref().unwrap().samples.len() >= 2, "progress was streamed");

    // Export the grid.
    console.click(Role::Button, "Export CSV…");
    let job_id = console.harness.state().state.jobs.detail.as_ref().unwrap().job_id.clone();
    console.wait_for("the export", |app| app.state.jobs.detail.as_ref().is_some_and(|detail| detail.export_message.is_some()));
    let csv = std::fs::read_to_string(console.exports.path().join(format!("{job_id}.csv"))).unwrap();
    assert_eq!(csv.lines().count(), targets.len() + 1);
    assert_eq!(csv.lines().filter(|line| line.contains(",failed,") && line.contains("DeviceNotOnline")).count(), offline.len());
    assert_eq!(csv.lines().filter(|line| line.contains(",completed,") && line.contains(",200,")).count(), targets.len() - offline.len());

    // Retry exactly the failed devices.
    console.click(Role::Button, &format!("Retry {} failed devices", offline.len()));
    console.wait_for("the retry job", |app| app.state.jobs.detail.as_ref().is_some_and(|detail| detail.job_id.contains("-retry-")));
    console.wait_for("the retry to finish", |app| {
        app.state.jobs.detail.as_ref().and_then(|detail| detail.job.as_ref()).is_some_and(|job| job.status == JobStatus::Completed)
    });
    let retry = console.harness.state().state.jobs.detail.as_ref().unwrap().clone();
    let mut retried: Vec<String> = retry.rows.iter().map(|row| row.device_id.clone()).collect();
    retried.sort();
    let mut expected = offline.clone();
    expected.sort();
    assert_eq!(retried, expected, "the retry targets exactly the failed devices");
}

#[test]
fn a_twin_update_job_sets_desired_properties() {
    let mut console = start(fast_devices());
    let targets = twins(&console, "tags.building = 41");
    open_new_job(&mut console);
    console.click(Role::RadioButton, "Twin update");
    // The patch is edited with the twin editor's tree: building 43 is there; floor becomes 4.
    type_into(&mut console, "properties.desired.floor", "4");
    type_into(&mut console, "WHERE", "tags.building = 41");
    let request = console.harness.state().state.jobs.draft.as_ref().unwrap().requests().unwrap().remove(0);
    assert_eq!(request.update_twin, Some(json!({"properties": {"desired": {"building": 43, "floor": 4}}, "etag": "*"})));
    schedule_and_wait(&mut console, JobStatus::Completed);
    for twin in twins(&console, "tags.building = 41") {
        assert_eq!(twin.desired().unwrap()["building"], json!(43), "{}", twin.device_id);
        assert_eq!(twin.desired().unwrap()["floor"], json!(4));
    }
    assert!(!targets.is_empty());
}

#[test]
fn a_job_a_minute_ahead_waits_scheduled_and_can_be_cancelled() {
    let mut console = start(fast_devices());
    open_new_job(&mut console);
    console.click(Role::RadioButton, "All devices");
    console.click(Role::RadioButton, "At (local time)");
    let in_two_minutes = (chrono::Local::now() + chrono::Duration::minutes(2)).format("%Y-%m-%d %H:%M").to_string();
    type_into(&mut console, "Start at (local)", &in_two_minutes);
    console.harness.get_by_label_contains(" UTC");
    schedule_and_wait(&mut console, JobStatus::Scheduled);
    console.click(Role::Button, "Cancel job…");
    console.click(Role::Button, "Cancel job");
    console.wait_for("the cancellation", |app| {
        app.state.jobs.list.value().is_some_and(|list| list.iter().any(|job| job.status == JobStatus::Cancelled))
            || job_status(app) == Some(JobStatus::Cancelled)
    });
}

#[test]
fn cancelling_a_running_job() {
    let slow = MethodConfig { slow_per_mille: 1000, slow_answer: Duration::from_mins(1), ..MethodConfig::default() };
    let mut console = start(slow);
    open_new_job(&mut console);
    type_into(&mut console, "WHERE", "connectionState = 'Connected'");
    schedule_and_wait(&mut console, JobStatus::Running);
    console.click(Role::Button, "Cancel job…");
    console.click(Role::Button, "Cancel job");
    console.wait_for("the job to stop", |app| job_status(app) == Some(JobStatus::Cancelled));
    let job_id = console.harness.state().state.jobs.detail.as_ref().unwrap().job_id.clone();
    let client = console.hub_client("contoso-east");
    let job = console.runtime.block_on(async move { client.get_job(&job_id).await.unwrap() });
    assert_eq!(job.status, JobStatus::Cancelled, "the hub stopped it, not just the console");
}

#[test]
fn a_direct_method_result_stays_on_screen() {
    let mut console = start(fast_devices());
    let online = twins(&console, "connectionState = 'Connected' AND status = 'enabled'")[0].device_id.clone();
    let offline = twins(&console, "connectionState = 'Disconnected'")[0].device_id.clone();
    for device_id in [&online, &offline] {
        console.harness.get_by_label(device_id).click();
        console.harness.step();
        console.click(Role::Button, "Direct method…");
        console.click(Role::Button, "Invoke");
        console.wait_for("the answer", |app| !app.state.method.waiting());
    }
    console.harness.get_by_label_contains(&format!("lockDoor on {online}: device status 200"));
    console.harness.get_by_label_contains("lockDoor called successfully");
    console.harness.get_by_label_contains(&format!("lockDoor on {offline}: Timed out waiting for device to connect. (DeviceNotOnline)"));
    assert_eq!(console.harness.state().state.method.history.len(), 2, "both results are kept");
    type_into(&mut console, "Payload (JSON)", "{\"lockTime\":");
    console.harness.get_by_label_contains("payload: not valid JSON");
}
