//! The job scheduler and direct methods driven through the real views with `egui_kittest`,
//! against an in-process simulator the test can also reach with its own client.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use hubdeck::app::ConsoleApp;
use hubdeck::app::backend::profile_store::CommandLineProfile;
use hubdeck::app::backend::save_dialog::FixedDirSaveDialog;
use hubdeck::app::backend::{self, BackendOptions, SimulatorSettings};
use hubdeck::app::model::{LoadState, Page};
use hubdeck::azure::secret::Secret;
use hubdeck::azure::wire::{ConnectionState, DeviceJobStatus, JobStatus, Twin};
use hubdeck::azure::{HubClient, RetryPolicy};
use hubdeck::sim::jobs::JobsConfig;
use hubdeck::sim::methods::MethodConfig;
use hubdeck::sim::{FleetConfig, SimConfig, Simulator, StateLocation};
use serde_json::json;

struct JobsConsole {
    harness: Harness<'static, ConsoleApp>,
    client: HubClient,
    runtime: tokio::runtime::Runtime,
    exports: tempfile::TempDir,
    _sim: Simulator,
    _config: tempfile::TempDir,
}

fn start(methods: MethodConfig) -> JobsConsole {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = SimConfig {
        port: 0,
        state: StateLocation::Ephemeral,
        fleet_size: 120,
        fleet: FleetConfig { ack_delay_min: Duration::from_millis(50), ack_delay_max: Duration::from_millis(150), churn_every: None },
        jobs: JobsConfig { queue_delay: Duration::from_millis(100), ..JobsConfig::default() },
        methods,
        ..SimConfig::default()
    };
    let sim = runtime.block_on(Simulator::start(config)).unwrap();
    let client = common::client_with(&sim, "iothubowner", common::fast_retry(), None);
    let config_dir = tempfile::tempdir().unwrap();
    let exports = tempfile::tempdir().unwrap();
    let options = BackendOptions {
        config_dir: config_dir.path().to_owned(),
        simulator: SimulatorSettings { state: StateLocation::Ephemeral, fleet_size: 0, fleet: FleetConfig::default(), shared: None },
        use_keyring: false,
        command_line: Some(CommandLineProfile {
            hub: Secret::new(sim.connection_string("iothubowner").unwrap().expose()),
            dps: None,
            ca_file: Some(sim.ca_path().to_owned()),
        }),
        retry: RetryPolicy { max_attempts: 2, first_backoff: Duration::from_millis(100), ..RetryPolicy::default() },
        save_dialog: Arc::new(FixedDirSaveDialog(exports.path().to_owned())),
    };
    let handle = backend::spawn(runtime.handle(), options, Arc::new(|| {}));
    let app = ConsoleApp::new(handle, None);
    let harness = Harness::builder().with_size([1400.0, 900.0]).build_ui_state(|ui, app: &mut ConsoleApp| app.frame_ui(ui), app);
    let mut console = JobsConsole { harness, client, runtime, exports, _sim: sim, _config: config_dir };
    console.wait_for("the first load", |app| app.state.devices.load == LoadState::Done && !app.state.devices.rows.is_empty());
    console
}

fn fast_devices() -> MethodConfig {
    MethodConfig {
        slow_per_mille: 0,
        answer_delay_min: Duration::from_millis(5),
        answer_delay_max: Duration::from_millis(40),
        ..MethodConfig::default()
    }
}

impl JobsConsole {
    fn wait_for(&mut self, what: &str, done: impl Fn(&ConsoleApp) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.harness.step();
            if done(self.harness.state()) {
                self.harness.step();
                return;
            }
            let app = self.harness.state();
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; draft {:#?}, detail job {:#?}",
                app.state.jobs.draft,
                app.state.jobs.detail.as_ref().map(|detail| &detail.job)
            );
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    fn settle(&mut self) {
        for _ in 0..3 {
            self.harness.step();
        }
    }

    fn click(&mut self, role: Role, label: &str) {
        self.harness.get_by_role_and_label(role, label).click();
        self.harness.step();
        self.settle();
    }

    fn type_into(&mut self, field: &str, text: &str) {
        let role = if field.contains("(JSON)") { Role::MultilineTextInput } else { Role::TextInput };
        self.harness.get_by_role_and_label(role, field).focus();
        self.harness.step();
        self.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        self.harness.step();
        self.harness.get_by_role_and_label(role, field).type_text(text);
        self.harness.step();
        self.harness.step();
    }

    fn twins(&self, condition: &str) -> Vec<Twin> {
        let client = self.client.clone();
        let query = format!("SELECT * FROM devices WHERE {condition}");
        self.runtime.block_on(async move { client.query_page::<Twin>(&query, Some(1000), None).await.unwrap().items })
    }

    fn job_status(&mut self) -> Option<JobStatus> {
        self.harness.state().state.jobs.detail.as_ref().and_then(|detail| detail.job.as_ref()).map(|job| job.status)
    }

    fn open_new_job(&mut self) {
        self.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num2);
        self.harness.step();
        assert_eq!(self.harness.state().state.page, Page::Jobs);
        self.wait_for("the job list", |app| !app.state.jobs.loading);
        if self.harness.state().state.jobs.detail.is_some() {
            self.click(Role::Button, "All jobs");
        }
        self.click(Role::Button, "New job…");
        self.harness.get_by_label("New job");
    }

    fn schedule_and_wait(&mut self, wanted: JobStatus) {
        self.click(Role::Button, "Schedule job");
        self.wait_for("the job to be created", |app| app.state.jobs.draft.is_none() && app.state.jobs.detail.is_some());
        self.wait_for("the job status", move |app| {
            app.state.jobs.detail.as_ref().and_then(|detail| detail.job.as_ref()).is_some_and(|job| job.status == wanted)
        });
        self.settle();
    }
}

#[test]
fn lock_door_on_building_43_with_preview_progress_results_retry_and_export() {
    let mut console = start(fast_devices());
    let targets = console.twins("tags.building = 43");
    let offline: Vec<String> = targets
        .iter()
        .filter(|twin| twin.connection_state != Some(ConnectionState::Connected))
        .map(|twin| twin.device_id.clone())
        .collect();
    assert!(!offline.is_empty() && offline.len() < targets.len(), "building 43 has online and offline devices");

    console.open_new_job();
    console.type_into("WHERE", "tags.building = 43");
    // No click: the preview follows the condition once typing pauses.
    console.wait_for("the live preview", |app| {
        app.state.jobs.draft.as_ref().and_then(|draft| draft.preview.as_ref()).is_some_and(|preview| preview.count.is_some())
    });
    console.harness.get_by_label(&format!("{} devices match", targets.len()));
    console.schedule_and_wait(JobStatus::Completed);

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
    let targets = console.twins("tags.building = 41");
    console.open_new_job();
    console.click(Role::RadioButton, "Twin update");
    // The patch is edited with the twin editor's tree: building 43 is there; floor becomes 4.
    console.type_into("properties.desired.floor", "4");
    console.type_into("WHERE", "tags.building = 41");
    let request = console.harness.state().state.jobs.draft.as_ref().unwrap().requests().unwrap().remove(0);
    assert_eq!(request.update_twin, Some(json!({"properties": {"desired": {"building": 43, "floor": 4}}, "etag": "*"})));
    console.schedule_and_wait(JobStatus::Completed);
    for twin in console.twins("tags.building = 41") {
        assert_eq!(twin.desired().unwrap()["building"], json!(43), "{}", twin.device_id);
        assert_eq!(twin.desired().unwrap()["floor"], json!(4));
    }
    assert!(!targets.is_empty());
}

#[test]
fn a_job_a_minute_ahead_waits_scheduled_and_can_be_cancelled() {
    let mut console = start(fast_devices());
    console.open_new_job();
    console.click(Role::RadioButton, "All devices");
    console.click(Role::RadioButton, "At (local time)");
    let in_two_minutes = (chrono::Local::now() + chrono::Duration::minutes(2)).format("%Y-%m-%d %H:%M").to_string();
    console.type_into("Start at (local)", &in_two_minutes);
    console.harness.get_by_label_contains(" UTC");
    console.schedule_and_wait(JobStatus::Scheduled);
    console.click(Role::Button, "Cancel job…");
    console.click(Role::Button, "Cancel job");
    console.wait_for("the cancellation", |app| {
        app.state.jobs.list.iter().any(|job| job.status == JobStatus::Cancelled)
            || app.state.jobs.detail.as_ref().and_then(|detail| detail.job.as_ref()).is_some_and(|job| job.status == JobStatus::Cancelled)
    });
}

#[test]
fn cancelling_a_running_job() {
    let slow = MethodConfig { slow_per_mille: 1000, slow_answer: Duration::from_mins(1), ..MethodConfig::default() };
    let mut console = start(slow);
    console.open_new_job();
    console.type_into("WHERE", "connectionState = 'Connected'");
    console.schedule_and_wait(JobStatus::Running);
    console.click(Role::Button, "Cancel job…");
    console.click(Role::Button, "Cancel job");
    console.wait_for("the job to stop", |app| {
        app.state.jobs.detail.as_ref().and_then(|detail| detail.job.as_ref()).is_some_and(|job| job.status == JobStatus::Cancelled)
    });
    let stats = console.job_status();
    assert_eq!(stats, Some(JobStatus::Cancelled));
}

#[test]
fn a_direct_method_result_stays_on_screen() {
    let mut console = start(fast_devices());
    let online = console.twins("connectionState = 'Connected' AND status = 'enabled'")[0].device_id.clone();
    let offline = console.twins("connectionState = 'Disconnected'")[0].device_id.clone();
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
    console.type_into("Payload (JSON)", "{\"lockTime\":");
    console.harness.get_by_label_contains("payload: not valid JSON");
}
