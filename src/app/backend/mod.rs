//! The backend worker: one supervisor task on the tokio runtime that owns the profile store,
//! the in-process simulator and the hub client, runs commands (long ones as their own tasks)
//! and reports events. The UI talks to it only through two bounded channels.

mod dps_tasks;
mod job_tasks;
pub mod profile_store;
pub mod save_dialog;
pub mod secrets;
mod sink;
mod tasks;
mod twin_tasks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use profile_store::CommandLineProfile;
use profile_store::ProfileStore;
use secrets::SecretStores;
use sink::EventSink;
pub use sink::Waker;

use crate::app::model::HubRef;
use crate::app::model::{Command, Event, KeyringStatus, ProfileId, RequestId};
use crate::azure::{ClientOptions, DpsClient, HubClient, RetryPolicy};
use crate::sim::{SimConfig, Simulator, StateLocation};

/// Commands the UI may queue before it must show "busy".
pub const COMMAND_QUEUE: usize = 256;
/// Events buffered towards the UI.
pub const EVENT_QUEUE: usize = 4096;
/// How long the keyring may take to say whether it works.
const KEYRING_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// How the in-process simulator runs.
#[derive(Clone, Debug)]
pub struct SimulatorSettings {
    /// State directory, or ephemeral.
    pub state: StateLocation,
    /// Demo fleet size on first start.
    pub fleet_size: usize,
    /// How the simulated devices behave.
    pub fleet: crate::sim::FleetConfig,
    /// A simulator started by the caller (tests reach it too); `None` starts one.
    pub shared: Option<Arc<Simulator>>,
}

/// Everything the backend needs.
#[derive(Clone)]
pub struct BackendOptions {
    /// Where `profiles.json` (and `secrets.json`, if chosen) live.
    pub config_dir: PathBuf,
    /// The built-in simulator.
    pub simulator: SimulatorSettings,
    /// Try the OS keyring (off in tests).
    pub use_keyring: bool,
    /// `--hub` / environment profile.
    pub command_line: Option<CommandLineProfile>,
    /// Client retry policy.
    pub retry: RetryPolicy,
    /// Where exports are saved (the platform dialog, or a fixed directory in tests).
    pub save_dialog: Arc<dyn save_dialog::SaveDialog>,
}

/// The UI's ends of the channels.
pub struct BackendHandle {
    /// Commands (bounded; the UI uses `try_send`).
    pub commands: mpsc::Sender<Command>,
    /// Events (bounded; the UI uses `try_recv`).
    pub events: mpsc::Receiver<Event>,
}

/// Starts the backend on `runtime`; `wake` is called after every event.
pub fn spawn(runtime: &tokio::runtime::Handle, options: BackendOptions, wake: Waker) -> BackendHandle {
    let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
    let sink = EventSink::new(event_tx, wake);
    runtime.spawn(supervise(command_rx, sink, options));
    BackendHandle { commands: command_tx, events: event_rx }
}

struct Worker {
    sink: EventSink,
    options: BackendOptions,
    profiles: ProfileStore,
    keyring: KeyringStatus,
    simulator: Option<Arc<Simulator>>,
    /// The hub in use.
    client: Option<HubClient>,
    /// Every hub of the profile (the simulator has several).
    hubs: Vec<(HubRef, HubClient)>,
    /// The profile's DPS, when it has one.
    dps: Option<DpsClient>,
    loads: HashMap<RequestId, JoinHandle<()>>,
    /// The job whose progress is being streamed.
    job_watch: Option<JoinHandle<()>>,
    startup_notice: Option<String>,
    /// The profile in use (or being connected).
    active: ProfileId,
}

async fn supervise(mut commands: mpsc::Receiver<Command>, sink: EventSink, options: BackendOptions) {
    let mut worker = Worker::start(sink, options).await;
    while let Some(command) = commands.recv().await {
        worker.handle(command).await;
    }
    // The UI closed: stop background loads; the simulator stops when dropped.
    for (_, load) in worker.loads.drain() {
        load.abort();
    }
}

impl Worker {
    async fn start(sink: EventSink, options: BackendOptions) -> Self {
        let use_keyring = options.use_keyring;
        let keyring = if use_keyring {
            // A session bus that never answers must not hold up the first connection.
            match tokio::time::timeout(KEYRING_PROBE_TIMEOUT, tokio::task::spawn_blocking(secrets::probe_keyring)).await {
                Ok(Ok(Ok(()))) => KeyringStatus::Available,
                Ok(Ok(Err(reason))) => KeyringStatus::Unavailable(reason),
                Ok(Err(error)) => KeyringStatus::Unavailable(error.to_string()),
                Err(_) => KeyringStatus::Unavailable(format!("the keyring did not answer within {} s", KEYRING_PROBE_TIMEOUT.as_secs())),
            }
        } else {
            KeyringStatus::Unavailable("the OS keyring is turned off for this session".to_owned())
        };
        let stores = SecretStores::new(&options.config_dir, keyring == KeyringStatus::Available);
        let (profiles, startup_notice) = ProfileStore::open(&options.config_dir, stores, options.command_line.clone());
        let initial = profiles.initial();
        let mut worker = Self {
            sink,
            options,
            profiles,
            keyring,
            simulator: None,
            client: None,
            hubs: Vec::new(),
            dps: None,
            loads: HashMap::new(),
            job_watch: None,
            startup_notice,
            active: initial.clone(),
        };
        worker.activate(initial).await;
        worker
    }

    // One arm per command, each a line or a hand-off; splitting it would only scatter the dispatch.
    #[allow(clippy::too_many_lines)]
    async fn handle(&mut self, command: Command) {
        self.loads.retain(|_, load| !load.is_finished());
        match command {
            Command::ActivateProfile(id) => self.activate(id).await,
            Command::SaveProfile(draft) => {
                let saved = tokio::task::block_in_place(|| self.profiles.save(&draft));
                match saved {
                    Ok((id, placement)) => {
                        self.send_profiles().await;
                        self.sink.send(Event::ProfileSaved { id: id.clone(), placement }).await;
                        if self.active_is(&id) {
                            self.activate(id).await; // new secrets: reconnect
                        }
                    }
                    Err(error) => {
                        self.sink.send(Event::ProfileFailed(error.to_string())).await;
                    }
                }
            }
            Command::DeleteProfile(id) => {
                let deleted = tokio::task::block_in_place(|| self.profiles.delete(&id));
                match deleted {
                    Ok(()) => {
                        self.send_profiles().await;
                        if self.active_is(&id) {
                            self.activate(ProfileId::simulator()).await;
                        }
                    }
                    Err(error) => {
                        self.sink.send(Event::ProfileFailed(error.to_string())).await;
                    }
                }
            }
            Command::EditProfile(id) => {
                let draft = tokio::task::block_in_place(|| self.profiles.draft_for(&id));
                let event = draft.map_or_else(|error| Event::ProfileFailed(error.to_string()), Event::ProfileForEdit);
                self.sink.send(event).await;
            }
            Command::LoadDevices { request, query, count_query, returns_twins } => {
                if let Some(client) = self.client.clone() {
                    let load = tokio::spawn(tasks::load_devices(client, self.sink.clone(), request, query, count_query, returns_twins));
                    self.loads.insert(request, load);
                } else {
                    self.sink.send(Event::LoadFailed { request, status: None, message: "not connected to a hub".to_owned() }).await;
                }
            }
            Command::CancelLoad(request) => {
                if let Some(load) = self.loads.remove(&request) {
                    load.abort();
                    self.sink.send(Event::LoadFinished { request, cancelled: true }).await;
                }
            }
            Command::CreateDevice { device_id, keys } => {
                self.spawn_action(move |client, sink| tasks::create_device(client, sink, device_id, keys)).await;
            }
            Command::SetEnabled { device_ids, enabled } => {
                self.spawn_action(move |client, sink| tasks::set_enabled(client, sink, device_ids, enabled)).await;
            }
            Command::DeleteDevices(targets) => {
                self.spawn_action(move |client, sink| tasks::delete_devices(client, sink, targets)).await;
            }
            Command::LoadDetails(device_id) => {
                self.spawn_action(move |client, sink| tasks::load_details(client, sink, device_id)).await;
            }
            Command::CopyConnectionString(device_id) => {
                self.spawn_action(move |client, sink| tasks::connection_string(client, sink, device_id)).await;
            }
            Command::LoadJobs => match self.client.clone() {
                Some(client) => {
                    tokio::spawn(job_tasks::load_jobs(client, self.sink.clone()));
                }
                None => self.sink.send(Event::JobsLoaded(Err("not connected to a hub".to_owned()))).await,
            },
            Command::PreviewTargets { condition } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(job_tasks::preview(client, self.sink.clone(), condition));
                }
            }
            Command::CreateJobs(requests) => match self.client.clone() {
                Some(client) => {
                    tokio::spawn(job_tasks::create_jobs(client, self.sink.clone(), requests));
                }
                None => self.sink.send(Event::JobsCreated(vec![Err("not connected to a hub".to_owned())])).await,
            },
            Command::WatchJob(job_id) => {
                if let Some(previous) = self.job_watch.take() {
                    previous.abort();
                }
                if let Some(client) = self.client.clone() {
                    self.job_watch = Some(tokio::spawn(job_tasks::watch_job(client, self.sink.clone(), job_id)));
                }
            }
            Command::StopWatchingJob => {
                if let Some(previous) = self.job_watch.take() {
                    previous.abort();
                }
            }
            Command::CancelJob(job_id) => match self.client.clone() {
                Some(client) => {
                    tokio::spawn(job_tasks::cancel_job(client, self.sink.clone(), job_id));
                }
                None => self.sink.send(Event::JobCancelled(Err("not connected to a hub".to_owned()))).await,
            },
            Command::InvokeMethod { device_id, method } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(job_tasks::invoke_method(client, self.sink.clone(), device_id, method));
                } else {
                    let event =
                        Event::MethodDone { device_id, method_name: method.method_name, result: Err("not connected to a hub".to_owned()) };
                    self.sink.send(event).await;
                }
            }
            Command::ExportCsv { file_name, text } => {
                let dialog = Arc::clone(&self.options.save_dialog);
                let sink = self.sink.clone();
                tokio::spawn(async move {
                    let result = match dialog.choose(&file_name).await {
                        Some(path) => match tokio::fs::write(&path, text.as_bytes()).await {
                            Ok(()) => Ok(Some(path)),
                            Err(error) => Err(format!("cannot write {}: {error}", path.display())),
                        },
                        None => Ok(None),
                    };
                    sink.send(Event::CsvExported(result)).await;
                });
            }
            command @ (Command::SwitchHub(_)
            | Command::LoadEnrollments
            | Command::SaveEnrollment { .. }
            | Command::DeleteEnrollment { .. }
            | Command::BulkSetPolicy(_)
            | Command::LoadEnrollmentRecords { .. }
            | Command::LoadEnrollmentKeys { .. }
            | Command::ReRegister { .. }
            | Command::FindEnrollment(_)) => self.handle_dps(command).await,
            Command::LoadTwin { device_id, refresh } => match self.client.clone() {
                Some(client) => {
                    tokio::spawn(twin_tasks::load_twin(client, self.sink.clone(), device_id, refresh));
                }
                None => self.sink.send(Event::TwinLoaded { device_id, refresh, result: Err("not connected to a hub".to_owned()) }).await,
            },
            Command::SaveTwin { device_id, etag, patch } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(twin_tasks::save_twin(client, self.sink.clone(), device_id, etag, patch));
                } else {
                    let outcome = crate::app::model::TwinSaveOutcome::Failed("not connected to a hub; the draft is kept".to_owned());
                    self.sink.send(Event::TwinSaved { device_id, outcome }).await;
                }
            }
        }
    }

    async fn spawn_action<F, Fut>(&self, action: F)
    where
        F: FnOnce(HubClient, EventSink) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match self.client.clone() {
            Some(client) => {
                tokio::spawn(action(client, self.sink.clone()));
            }
            None => {
                self.sink
                    .send(Event::ActionDone { summary: "Nothing was done".to_owned(), failures: vec!["not connected to a hub".to_owned()] })
                    .await;
            }
        }
    }

    fn active_is(&self, id: &ProfileId) -> bool {
        self.active == *id
    }

    async fn send_profiles(&self) {
        let host = self.simulator.as_ref().map(|simulator| simulator.host_name());
        let profiles = self.profiles.summaries(host.as_deref());
        self.sink.send(Event::Profiles { profiles, active: self.active.clone(), keyring: self.keyring.clone() }).await;
    }

    /// Connects with a profile: starts the simulator if needed, builds the client, reports.
    async fn activate(&mut self, id: ProfileId) {
        self.sink.send(Event::Connecting(id.clone())).await;
        self.active = id.clone();
        for (_, load) in self.loads.drain() {
            load.abort();
        }
        self.client = None;
        self.hubs.clear();
        self.dps = None;
        let mut notice = self.startup_notice.take();
        let connected = if id == ProfileId::simulator() { self.connect_simulator(&mut notice).await } else { self.connect_saved(&id) };
        match connected {
            Ok((hubs, dps)) => {
                if let Err(error) = tokio::task::block_in_place(|| self.profiles.set_active(&id)) {
                    notice = Some(format!("the active profile could not be remembered: {error}"));
                }
                self.send_profiles().await;
                self.hubs = hubs;
                self.dps = dps;
                let first = self.hubs.first().map(|(hub, _)| hub.name.clone()).unwrap_or_default();
                self.use_hub(&id, &first, notice).await;
            }
            Err(message) => {
                self.send_profiles().await;
                self.sink.send(Event::ConnectionFailed { profile: id, message }).await;
            }
        }
    }

    /// Makes `hub_name` the hub in use and tells the UI.
    async fn use_hub(&mut self, profile: &ProfileId, hub_name: &str, notice: Option<String>) {
        let Some((hub, client)) = self.hubs.iter().find(|(hub, _)| hub.name == hub_name).cloned() else {
            let message = format!("the profile has no hub named '{hub_name}'");
            self.sink.send(Event::ConnectionFailed { profile: profile.clone(), message }).await;
            return;
        };
        for (_, load) in self.loads.drain() {
            load.abort();
        }
        if let Some(watch) = self.job_watch.take() {
            watch.abort();
        }
        let event = Event::Connected {
            profile: profile.clone(),
            host: client.host_name().to_owned(),
            in_flight: client.in_flight(),
            notice,
            hubs: self.hubs.iter().map(|(hub, _)| hub.clone()).collect(),
            hub: hub.name,
            dps: self.dps.is_some(),
        };
        self.client = Some(client);
        self.sink.send(event).await;
    }

    fn client_options(&self, extra_ca_pem: Option<Vec<u8>>) -> ClientOptions {
        ClientOptions {
            extra_ca_pem,
            retry: self.options.retry.clone(),
            events: Some(Arc::new(self.sink.clone())),
            ..ClientOptions::default()
        }
    }

    async fn connect_simulator(&mut self, notice: &mut Option<String>) -> Result<Connected, String> {
        if self.simulator.is_none()
            && let Some(shared) = &self.options.simulator.shared
        {
            self.simulator = Some(Arc::clone(shared));
        }
        if self.simulator.is_none() {
            let settings = &self.options.simulator;
            let config = SimConfig {
                port: 0,
                state: settings.state.clone(),
                fleet_size: settings.fleet_size,
                fleet: settings.fleet.clone(),
                ..SimConfig::default()
            };
            let started = match Simulator::start(config.clone()).await {
                Ok(simulator) => simulator,
                // Usually `hubdeck sim` holds the state directory: run on a temporary one.
                Err(error) if matches!(settings.state, StateLocation::Dir(_)) => {
                    *notice = Some(format!(
                        "The simulator's saved state is unavailable ({error}); using a temporary simulator for this session."
                    ));
                    Simulator::start(SimConfig { state: StateLocation::Ephemeral, ..config }).await.map_err(|error| error.to_string())?
                }
                Err(error) => return Err(error.to_string()),
            };
            self.simulator = Some(Arc::new(started));
        }
        let simulator = self.simulator.as_ref().ok_or("the simulator did not start")?;
        let ca = std::fs::read(simulator.ca_path()).map_err(|error| format!("cannot read {}: {error}", simulator.ca_path().display()))?;
        let options = self.client_options(Some(ca));
        let mut hubs = Vec::new();
        for name in simulator.hub_names() {
            let connection = simulator.hub_connection_string(&name, "iothubowner").ok_or("the simulator has no iothubowner policy")?;
            let client = HubClient::new(&connection, &options).map_err(|error| error.to_string())?;
            hubs.push((HubRef { name, host: connection.host_name().to_owned() }, client));
        }
        let dps_connection = simulator.dps_connection_string("provisioningserviceowner").ok_or("the simulator has no DPS owner policy")?;
        let dps = DpsClient::new(&dps_connection, &options).map_err(|error| error.to_string())?;
        Ok((hubs, Some(dps)))
    }

    fn connect_saved(&self, id: &ProfileId) -> Result<Connected, String> {
        let connection = tokio::task::block_in_place(|| self.profiles.connection(id)).map_err(|error| error.to_string())?;
        let ca = match &connection.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|error| format!("cannot read the CA file {}: {error}", path.display()))?),
            None => None,
        };
        let options = self.client_options(ca);
        let client = HubClient::new(&connection.hub, &options).map_err(|error| error.to_string())?;
        let host = connection.hub.host_name().to_owned();
        let dps = match &connection.dps {
            Some(dps) => Some(DpsClient::new(dps, &options).map_err(|error| error.to_string())?),
            None => None,
        };
        Ok((vec![(HubRef { name: host.clone(), host }, client)], dps))
    }

    /// Runs a DPS task, or reports that the profile has no DPS.
    fn spawn_dps<F, Fut>(&self, task: F) -> bool
    where
        F: FnOnce(DpsClient, EventSink) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match self.dps.clone() {
            Some(dps) => {
                tokio::spawn(task(dps, self.sink.clone()));
                true
            }
            None => false,
        }
    }
}

/// A profile's hubs (each with its client) and its DPS.
type Connected = (Vec<(HubRef, HubClient)>, Option<DpsClient>);

impl Worker {
    async fn handle_dps(&mut self, command: Command) {
        let no_dps = "this profile has no DPS connection string".to_owned();
        match command {
            Command::SwitchHub(name) => {
                let profile = self.active.clone();
                self.use_hub(&profile, &name, None).await;
            }
            Command::LoadEnrollments if !self.spawn_dps(dps_tasks::load_enrollments) => {
                self.sink.send(Event::EnrollmentsLoaded(Err(no_dps))).await;
            }
            Command::SaveEnrollment { item, etag } => {
                let id = item.id().to_owned();
                if !self.spawn_dps(move |dps, sink| dps_tasks::save_enrollment(dps, sink, *item, etag)) {
                    let outcome = crate::app::model::EnrollmentSaveOutcome::Failed(no_dps);
                    self.sink.send(Event::EnrollmentSaved { id, outcome }).await;
                }
            }
            Command::DeleteEnrollment { kind, id, etag } => {
                let for_event = id.clone();
                if !self.spawn_dps(move |dps, sink| dps_tasks::delete_enrollment(dps, sink, kind, id, etag)) {
                    self.sink.send(Event::EnrollmentDeleted { id: for_event, result: Err(no_dps) }).await;
                }
            }
            Command::BulkSetPolicy(items) if self.dps.is_none() => {
                drop(items);
                self.sink.send(Event::BulkPolicyDone(Err(no_dps))).await;
            }
            Command::BulkSetPolicy(items) => {
                self.spawn_dps(move |dps, sink| dps_tasks::bulk_set_policy(dps, sink, items));
            }
            Command::LoadEnrollmentRecords { kind, id } => {
                let for_event = id.clone();
                if !self.spawn_dps(move |dps, sink| dps_tasks::load_records(dps, sink, kind, id)) {
                    self.sink.send(Event::EnrollmentRecords { id: for_event, result: Err(no_dps) }).await;
                }
            }
            Command::LoadEnrollmentKeys { kind, id } => {
                let for_event = id.clone();
                if !self.spawn_dps(move |dps, sink| dps_tasks::load_keys(dps, sink, kind, id)) {
                    self.sink.send(Event::EnrollmentKeys { id: for_event, result: Err(no_dps) }).await;
                }
            }
            Command::ReRegister { hub, device_id, registration_id } => {
                if let Some((_, client)) = self.hubs.iter().find(|(entry, _)| entry.name == hub) {
                    tokio::spawn(dps_tasks::reregister(client.clone(), self.sink.clone(), device_id, registration_id));
                } else {
                    let result = Err(format!("the profile has no hub named '{hub}'"));
                    self.sink.send(Event::ReRegisterSent { registration_id, result }).await;
                }
            }
            Command::FindEnrollment(device_id) => {
                let for_event = Arc::clone(&device_id);
                if !self.spawn_dps(move |dps, sink| dps_tasks::find_enrollment(dps, sink, device_id)) {
                    self.sink.send(Event::EnrollmentFound { device_id: for_event, result: Err(no_dps) }).await;
                }
            }
            _ => {}
        }
    }
}
