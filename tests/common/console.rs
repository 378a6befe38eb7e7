//! The console harness shared by every UI test and the benchmarks: the real console
//! (`ConsoleApp` and the real backend worker) driven through `egui_kittest` against a simulator,
//! with one way to wait on background work ([`Deadline`], behind [`Console::wait_for`]) that
//! fails showing the console's state.
//!
//! Tests include it through `tests/common/mod.rs`; the examples with
//! `#[path = "../tests/common/console.rs"] mod console;`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use hubdeck::app::ConsoleApp;
use hubdeck::app::backend::file_dialogs::FixedFileDialogs;
use hubdeck::app::backend::{self, BackendOptions, CommandLineProfile, SimulatorSettings};
use hubdeck::azure::secret::Secret;
use hubdeck::azure::{ClientOptions, HubClient, ProxySetting, RetryPolicy};
use hubdeck::sim::{FleetConfig, SimConfig, Simulator, StateLocation};
use serde_json::Value;

/// How long a wait lasts before the test fails.
const WAIT_LIMIT: Duration = Duration::from_secs(30);
/// Real time between two looks while waiting on background work.
const FRAME_PAUSE: Duration = Duration::from_millis(15);
/// Real time between two looks for a simulator's ready file (start-up is measured with it).
const READY_PAUSE: Duration = Duration::from_millis(2);

/// The harness's one way to wait on real background work (the backend, a simulator process):
/// look, then [`Deadline::pause`] until the next look, failing with the state once
/// [`WAIT_LIMIT`] has passed.
struct Deadline(Instant);

impl Deadline {
    fn start() -> Self {
        Self(Instant::now() + WAIT_LIMIT)
    }

    /// Sleeps until the next look, or fails the test naming `what` and showing `state()`.
    fn pause(&self, what: &str, state: impl FnOnce() -> String) {
        self.pause_for(FRAME_PAUSE, what, state);
    }

    /// [`Deadline::pause`] with its own time between looks.
    fn pause_for(&self, between_looks: Duration, what: &str, state: impl FnOnce() -> String) {
        assert!(Instant::now() < self.0, "timed out waiting for {what}; {}", state());
        std::thread::sleep(between_looks);
    }
}

/// Simulated devices that acknowledge desired changes within 50–150 ms and never drop off, so a
/// device that is online stays online for the whole test.
pub fn quick_fleet() -> FleetConfig {
    FleetConfig { ack_delay_min: Duration::from_millis(50), ack_delay_max: Duration::from_millis(150), churn_every: None }
}

/// An ephemeral simulator on a free port with `fleet_size` demo devices of [`quick_fleet`].
pub fn sim_config(fleet_size: usize) -> SimConfig {
    SimConfig { port: 0, mqtt_port: Some(0), state: StateLocation::Ephemeral, fleet_size, fleet: quick_fleet(), ..SimConfig::default() }
}

/// Client options that trust the CA in `ca_path` (a simulator's), with no proxy.
pub fn trusting(ca_path: &Path, retry: RetryPolicy) -> ClientOptions {
    ClientOptions {
        extra_ca_pem: Some(std::fs::read(ca_path).expect("ca.pem readable")),
        proxy: ProxySetting::Disabled,
        retry,
        ..ClientOptions::default()
    }
}

/// The console's retry policy in tests: one quick retry.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy { max_attempts: 2, first_backoff: Duration::from_millis(100), ..RetryPolicy::default() }
}

/// Which profile the console starts with.
pub enum ProfileSource {
    /// The built-in "Local simulator" profile, served by an already started simulator.
    BuiltIn(Arc<Simulator>),
    /// A command-line profile (`--hub`, `--ca-file`) pointing at a hub.
    CommandLine {
        /// The hub's `iothubowner` connection string.
        hub: Secret,
        /// The CA certificate the hub's TLS certificate chains to.
        ca_file: PathBuf,
    },
}

impl ProfileSource {
    /// The command-line profile of `sim`'s first hub.
    pub fn command_line_of(sim: &Simulator) -> Self {
        let hub = sim.connection_string("iothubowner").expect("built-in policy");
        Self::CommandLine { hub: Secret::new(hub.expose()), ca_file: sim.ca_path().to_owned() }
    }
}

/// The backend options of a test or benchmark console: no keyring, files in `config_dir`,
/// exports saved into `export_dir`, and `picked` answered by the CA-file picker.
pub fn backend_options(config_dir: &Path, profile: ProfileSource, export_dir: &Path, picked: Option<PathBuf>) -> BackendOptions {
    let (shared, command_line) = match profile {
        ProfileSource::BuiltIn(sim) => (Some(sim), None),
        ProfileSource::CommandLine { hub, ca_file } => (None, Some(CommandLineProfile { hub, dps: None, ca_file: Some(ca_file) })),
    };
    BackendOptions {
        config_dir: config_dir.to_owned(),
        simulator: SimulatorSettings { state: StateLocation::Ephemeral, fleet_size: 0, fleet: quick_fleet(), shared },
        use_keyring: false,
        command_line,
        retry: quick_retry(),
        file_dialogs: Arc::new(FixedFileDialogs { save_dir: export_dir.to_owned(), picked }),
    }
}

/// How a [`Console`] starts.
pub struct ConsoleSetup {
    /// The simulator the console talks to.
    pub sim: SimConfig,
    /// Connect with the built-in simulator profile (true) or a command-line profile (false).
    pub built_in: bool,
    /// Window size in points.
    pub size: [f32; 2],
    /// What the CA-file picker answers.
    pub picked_file: Option<PathBuf>,
}

impl ConsoleSetup {
    /// The built-in profile on `sim`, in a 1400 × 900 window.
    pub fn built_in(sim: SimConfig) -> Self {
        Self { sim, built_in: true, size: [1400.0, 900.0], picked_file: None }
    }

    /// A command-line profile on `sim`'s first hub, in a 1400 × 900 window.
    pub fn command_line(sim: SimConfig) -> Self {
        Self { built_in: false, ..Self::built_in(sim) }
    }

    /// Another window size (tall enough that a long page needs no scrolling to be clicked).
    #[must_use]
    pub fn with_size(mut self, size: [f32; 2]) -> Self {
        self.size = size;
        self
    }
}

/// The console in a kittest harness, its backend and simulator.
pub struct Console {
    /// The kittest harness around the console.
    pub harness: Harness<'static, ConsoleApp>,
    /// The simulator the console talks to (tests reach it directly too).
    pub sim: Arc<Simulator>,
    /// The runtime of the backend and the simulator; tests run their own client calls on it.
    pub runtime: tokio::runtime::Runtime,
    /// Where exported files are saved.
    pub exports: tempfile::TempDir,
    _config: tempfile::TempDir,
}

impl Console {
    /// Starts the simulator, the backend and the console, and waits for the first device list.
    pub fn start(setup: ConsoleSetup) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let sim = Arc::new(runtime.block_on(Simulator::start(setup.sim)).expect("the simulator starts"));
        let config = tempfile::tempdir().expect("config dir");
        let exports = tempfile::tempdir().expect("export dir");
        let profile = if setup.built_in { ProfileSource::BuiltIn(Arc::clone(&sim)) } else { ProfileSource::command_line_of(&sim) };
        let options = backend_options(config.path(), profile, exports.path(), setup.picked_file);
        let handle = backend::spawn(runtime.handle(), options, Arc::new(|| {}));
        let app = ConsoleApp::new(handle, None);
        let harness = Harness::builder().with_size(setup.size).build_ui_state(|ui, app: &mut ConsoleApp| app.frame_ui(ui), app);
        let mut console = Self { harness, sim, runtime, exports, _config: config };
        console.wait_for("the first device list", |app| app.state.devices.load_complete());
        console
    }

    /// The console.
    pub fn app(&mut self) -> &mut ConsoleApp {
        self.harness.state_mut()
    }

    /// Steps frames, with real time passing for the backend, until `done` holds; fails after
    /// [`WAIT_LIMIT`] showing the console's state.
    pub fn wait_for(&mut self, what: &str, done: impl Fn(&ConsoleApp) -> bool) {
        let deadline = Deadline::start();
        loop {
            self.harness.step();
            if done(self.harness.state()) {
                self.harness.step();
                return;
            }
            deadline.pause(what, || describe(self.harness.state()));
        }
    }

    /// A few frames, so a dialog opened by the last click is laid out and visible.
    pub fn settle(&mut self) {
        for _ in 0..3 {
            self.harness.step();
        }
    }

    /// Clicks the widget with `role` and `label`, then lets the result be drawn.
    pub fn click(&mut self, role: Role, label: &str) {
        self.harness.get_by_role_and_label(role, label).click();
        self.harness.step();
        self.settle();
    }

    /// Clicks the node labelled `label` (a row, a selectable label), then lets the result be drawn.
    pub fn click_label(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.harness.step();
        self.settle();
    }

    /// Types `text` at the end of the field with `role` and `label`.
    pub fn type_into(&mut self, role: Role, field: &str, text: &str) {
        self.harness.get_by_role_and_label(role, field).focus();
        self.harness.step();
        self.harness.get_by_role_and_label(role, field).type_text(text);
        self.harness.step();
    }

    /// Replaces the text of the field with `role` and `label`: focus, select all, type.
    pub fn replace_text(&mut self, role: Role, field: &str, text: &str) {
        self.harness.get_by_role_and_label(role, field).focus();
        self.harness.step();
        self.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        self.harness.step();
        self.harness.get_by_role_and_label(role, field).type_text(text);
        self.harness.step();
        self.harness.step();
    }

    /// Device ids in the table's order.
    pub fn view_ids(&mut self) -> Vec<String> {
        self.app().state.devices.view_ids().iter().map(ToString::to_string).collect()
    }

    /// An `iothubowner` client of one of the simulator's hubs, for checking and preparing
    /// what the console shows.
    pub fn hub_client(&self, hub: &str) -> HubClient {
        let connection = self.sim.hub_connection_string(hub, "iothubowner").expect("the simulator has this hub");
        HubClient::new(&connection, &self.client_options()).expect("client builds")
    }

    /// Client options trusting the simulator's CA.
    pub fn client_options(&self) -> ClientOptions {
        trusting(self.sim.ca_path(), quick_retry())
    }
}

/// The console's state in a few lines, for a failed wait.
pub fn describe(app: &ConsoleApp) -> String {
    let state = &app.state;
    let calls: Vec<String> = state
        .activity
        .visible()
        .iter()
        .rev()
        .take(6)
        .map(|entry| {
            let record = &entry.record;
            format!("{} {} {:?} {:?}", record.operation, record.target, record.status, record.error_message)
        })
        .collect();
    let twin = state.twin.as_ref().map(|editor| {
        format!(
            "{} ready {} saving {} conflict {} save error {:?} live {:?}",
            editor.device_id,
            editor.is_ready(),
            editor.is_saving(),
            editor.conflict.is_some(),
            editor.save_error,
            editor.live.error()
        )
    });
    let job = state.jobs.detail.as_ref().map(|detail| (detail.job_id.clone(), detail.job.as_ref().map(|job| job.status), &detail.error));
    let enrollment = state.enrollments.editor.as_ref().map(|editor| {
        format!("{} message {:?} records {:?} watching {:?}", editor.base.id(), editor.message, editor.records, editor.reregistering)
    });
    format!(
        "connection {:?}; devices {:?}, {} rows, total {:?}, query error {:?}; add dialog {:?}; profile dialog {:?}; twin {twin:?}; \
         job draft error {:?}, detail {job:?}, list {:?}; enrollments {:?}, editor {enrollment:?}; last calls {calls:#?}",
        state.connection,
        state.devices.load,
        state.devices.rows.len(),
        state.devices.total,
        state.devices.query_error,
        state.add_device,
        state.profiles.dialog,
        state.jobs.draft.as_ref().map(|draft| &draft.error),
        state.jobs.list.error(),
        state.enrollments.lists.error(),
    )
}

/// `hubdeck sim` as a child process, for the tests and benchmarks that need the real binary (the
/// benchmarks measure the console without the simulator in the same process; the process tests
/// kill it); killed when dropped.
pub struct SimProcess {
    child: Child,
    /// The ready file's content: connection strings, CA file, ports.
    pub ready: Value,
    /// Where the ready file is (the simulator removes it when it exits cleanly).
    pub ready_file: PathBuf,
    /// From spawning the process to a ready file that parses.
    pub startup: Duration,
}

impl SimProcess {
    /// Starts `hubdeck sim --port 0 --ready-file …` with `args` (`--ephemeral` or a
    /// `--state-dir`, sizes, …) and waits for the ready file in `work`. Needs the `hubdeck`
    /// binary built next to the running executable's folder (`target/<profile>/hubdeck`).
    pub fn start(args: &[&str], work: &Path) -> Self {
        let exe = std::env::current_exe().expect("current exe");
        let binary = exe.parent().and_then(Path::parent).expect("target dir").join("hubdeck");
        assert!(binary.exists(), "build it first: cargo build --bin hubdeck (with --release for the benchmarks)");
        let ready_file = work.join(format!("ready-{}.json", std::process::id()));
        std::fs::remove_file(&ready_file).ok();
        let started = Instant::now();
        #[allow(clippy::zombie_processes)] // reaped in `Drop`
        let child = Process::new(binary)
            .args(["sim", "--port", "0", "--mqtt-port", "0"])
            .args(args)
            .arg("--ready-file")
            .arg(&ready_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hubdeck sim starts");
        let deadline = Deadline::start();
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_file)
                && let Ok(ready) = serde_json::from_str(&text)
            {
                return Self { child, ready, ready_file, startup: started.elapsed() };
            }
            deadline.pause_for(READY_PAUSE, "the simulator's ready file", || format!("{} not written", ready_file.display()));
        }
    }

    /// The command-line profile of its first hub.
    pub fn profile(&self) -> ProfileSource {
        ProfileSource::CommandLine {
            hub: Secret::new(self.ready["connectionStrings"]["iothubowner"].as_str().expect("owner connection string")),
            ca_file: self.ready["caFile"].as_str().expect("CA file").into(),
        }
    }

    /// An `iothubowner` client of its first hub that trusts its CA and never retries.
    pub fn client(&self) -> HubClient {
        let text = self.ready["connectionStrings"]["iothubowner"].as_str().expect("owner connection string");
        let connection = hubdeck::azure::ServiceConnectionString::parse_hub(text).expect("a hub connection string");
        let options = trusting(Path::new(self.ready["caFile"].as_str().expect("CA file")), RetryPolicy::none());
        HubClient::new(&connection, &options).expect("client builds")
    }

    /// The process id (signals, `/proc` figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with SIGKILL: no chance to flush anything.
    pub fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("reaped");
    }

    /// Waits for it to exit by itself (after a signal the test sent).
    pub fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("reaped")
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// What the console's backend showed of a job from its creation to its end (the job
/// benchmarks): when it ended, as it ended, and when each progress update reached the UI channel.
pub struct JobRun {
    /// When `CreateJobs` was sent.
    pub created: Instant,
    /// When the final progress update arrived.
    pub done_at: Instant,
    /// The job as last reported.
    pub job: hubdeck::azure::wire::JobResponse,
    /// When the first `running` update arrived.
    pub running_from: Instant,
    /// Arrival of every progress update.
    pub updates: Vec<Instant>,
}

impl JobRun {
    /// Progress updates while the job ran, the seconds it ran, and their rate.
    pub fn updates_while_running(&self) -> (usize, f64, f64) {
        let count = self.updates.iter().filter(|at| **at >= self.running_from).count();
        let secs = (self.done_at - self.running_from).as_secs_f64();
        #[allow(clippy::cast_precision_loss)] // a count of updates
        let rate = count as f64 / secs.max(0.001);
        (count, secs, rate)
    }
}

/// The job benchmarks' job: lockDoor (`{"lockTime":"10m"}`) on every device of the hub.
pub fn lock_door_everywhere(job_id: &str) -> hubdeck::azure::wire::JobRequest {
    use hubdeck::azure::wire::{CloudToDeviceMethod, JobRequest, JobType};
    JobRequest {
        job_id: job_id.into(),
        job_type: JobType::ScheduleDeviceMethod,
        cloud_to_device_method: Some(CloudToDeviceMethod {
            method_name: "lockDoor".into(),
            payload: serde_json::json!({"lockTime": "10m"}),
            response_timeout_in_seconds: Some(30),
            connect_timeout_in_seconds: None,
        }),
        update_twin: None,
        query_condition: Some("*".into()),
        start_time: None,
        max_execution_time_in_seconds: Some(3600),
    }
}

/// Waits for the backend to connect, creates `job` and watches it to its end, as the Jobs page
/// does.
pub fn create_and_watch(handle: &mut backend::BackendHandle, job: hubdeck::azure::wire::JobRequest) -> JobRun {
    use hubdeck::app::model::{ConnectionEvent, Event, JobCommand, JobEvent, RequestId};
    loop {
        if let Event::Connection(ConnectionEvent::Connected(_)) = handle.events.blocking_recv().expect("the backend runs") {
            break;
        }
    }
    let job_id = job.job_id.clone();
    let created = Instant::now();
    handle.commands.blocking_send(JobCommand::Create { request: RequestId::fresh(), jobs: vec![job] }.into()).expect("the backend runs");
    handle.commands.blocking_send(JobCommand::Watch { request: RequestId::fresh(), job_id }.into()).expect("the backend runs");
    let mut updates = Vec::new();
    let mut running_from = None;
    loop {
        match handle.events.blocking_recv().expect("the backend runs") {
            Event::Jobs(JobEvent::Progress { job, .. }) => {
                let now = Instant::now();
                updates.push(now);
                if job.status == hubdeck::azure::wire::JobStatus::Running && running_from.is_none() {
                    running_from = Some(now);
                }
                if job.status.is_final() {
                    return JobRun { created, done_at: now, job: *job, running_from: running_from.unwrap_or(created), updates };
                }
            }
            Event::Jobs(JobEvent::Created { results, .. }) => assert!(results.iter().all(Result::is_ok), "{results:?}"),
            _ => {}
        }
    }
}
