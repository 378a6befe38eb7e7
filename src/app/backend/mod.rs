//! The backend worker: one supervisor task on the tokio runtime that owns the profile store,
//! the in-process simulator and the hub client, runs commands (long ones as their own tasks)
//! and reports events. The UI talks to it only through two bounded channels. Connecting to a
//! profile is in `connect.rs`, running commands in `dispatch.rs`.

mod connect;
mod dispatch;
mod dps_tasks;
pub mod file_dialogs;
mod job_tasks;
pub mod profile_store;
pub mod rollout_driver;
pub mod rollout_store;
pub mod secrets;
mod sink;
mod store_handle;
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
use store_handle::StoreHandle;

use crate::app::model::HubRef;
use crate::app::model::{Command, Event, KeyringStatus, ProfileId, RequestId};
use crate::azure::{DpsClient, HubClient, RetryPolicy};
use crate::sim::{Simulator, StateLocation};

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
    /// The save and open dialogs (the platform's, or fixed answers in tests).
    pub file_dialogs: Arc<dyn file_dialogs::FileDialogs>,
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
    profiles: StoreHandle,
    keyring: KeyringStatus,
    simulator: Option<Arc<Simulator>>,
    /// The hub in use.
    client: Option<HubClient>,
    /// Every hub of the profile (the simulator has several).
    hubs: Vec<(HubRef, HubClient)>,
    /// The profile's DPS, when it has one.
    dps: Option<DpsClient>,
    /// The CA certificate device code must trust to reach the profile's hubs (the simulator's,
    /// or the profile's CA file).
    device_ca: Option<PathBuf>,
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
        let keyring = if options.use_keyring {
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
        let (config_dir, command_line, use_keyring) =
            (options.config_dir.clone(), options.command_line.clone(), keyring == KeyringStatus::Available);
        // Reading profiles.json is file I/O: it runs on the blocking pool.
        let opened = tokio::task::spawn_blocking(move || {
            let stores = SecretStores::new(&config_dir, use_keyring);
            ProfileStore::open(&config_dir, stores, command_line)
        })
        .await;
        let (profiles, startup_notice) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                let stores = SecretStores::new(&options.config_dir, false);
                let empty = ProfileStore::empty(&options.config_dir, stores, options.command_line.clone());
                (empty, Some(format!("the saved profiles could not be read: {error}")))
            }
        };
        let initial = profiles.initial();
        let mut worker = Self {
            sink,
            options,
            profiles: StoreHandle::new(profiles),
            keyring,
            simulator: None,
            client: None,
            hubs: Vec::new(),
            dps: None,
            device_ca: None,
            loads: HashMap::new(),
            job_watch: None,
            startup_notice,
            active: initial.clone(),
        };
        worker.activate(initial).await;
        worker
    }
}
