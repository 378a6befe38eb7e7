//! Starting and stopping a simulator: state directory, certificates, policies, the store and
//! the demo fleet, then an HTTPS listener serving the hub.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::auth::Policies;
use super::clock::now_ticks;
use super::error::SimError;
use super::faults::{FaultConfig, FaultInjector};
use super::files::{create_dir, read_text, write_private};
use super::hub::{Hub, open_store};
use super::registry::Registry;
use super::seed::{DEFAULT_FLEET_SIZE, demo_fleet};
use super::store::Batch;
use super::{http, tls};
use crate::azure::connection_string::{ServiceConnectionString, ServiceKind};

/// Where the simulator keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateLocation {
    /// A directory that survives restarts.
    Dir(PathBuf),
    /// A temporary directory removed on exit; nothing is persisted.
    Ephemeral,
}

/// Simulator settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Port (0 picks a free one; 443 is the only port the Node SDKs can reach).
    pub port: u16,
    /// State directory or ephemeral.
    pub state: StateLocation,
    /// Devices in the demo fleet seeded on first start.
    pub fleet_size: usize,
    /// Seed for the fleet and for fault choices.
    pub seed: u64,
    /// Injected faults.
    pub faults: FaultConfig,
    /// Wipe stored devices before starting.
    pub reset: bool,
    /// How the simulated fleet behaves.
    pub fleet: super::fleet::FleetConfig,
    /// How scheduled jobs behave.
    pub jobs: super::jobs::JobsConfig,
    /// How simulated devices answer direct methods.
    pub methods: super::methods::MethodConfig,
    /// Port of the second hub, contoso-west (0 picks a free one).
    pub west_port: u16,
    /// How the simulated DPS behaves.
    pub dps: super::dps::DpsConfig,
    /// Seed the demo enrollments and register their devices on first start (their devices join
    /// the hubs, so tests that count the fleet turn this off).
    pub dps_demo: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8443,
            state: StateLocation::Ephemeral,
            fleet_size: DEFAULT_FLEET_SIZE,
            seed: 43,
            faults: FaultConfig::default(),
            reset: false,
            fleet: super::fleet::FleetConfig::default(),
            jobs: super::jobs::JobsConfig::default(),
            methods: super::methods::MethodConfig::default(),
            west_port: 0,
            dps: super::dps::DpsConfig::default(),
            dps_demo: true,
        }
    }
}

/// The default state directory (platform data dir).
pub fn default_state_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "hubdeck", "hubdeck").map(|dirs| dirs.data_dir().join("sim"))
}

const POLICIES_FILE: &str = "policies.json";
const DATABASE_FILE: &str = "hub.redb";
const SEEDED_KEY: &str = "seeded";

/// The simulated hubs: the first serves the demo fleet and DPS, the second starts empty and
/// fills with devices DPS assigns to it. Names, regions (for geo-latency) and state folders.
pub const HUBS: [(&str, &str); 2] = [("contoso-east", "eastus"), ("contoso-west", "westus2")];

/// One simulated hub as scripts see it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubInfo {
    /// `contoso-east`.
    pub name: String,
    /// `localhost:PORT` (what DPS records as `assignedHub`).
    pub host_name: String,
    /// Listening port.
    pub port: u16,
    /// Service connection strings by policy name.
    pub connection_strings: std::collections::BTreeMap<String, String>,
}

/// The simulated DPS as scripts see it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DpsInfo {
    /// Service and device endpoint (the first hub's listener).
    pub host_name: String,
    /// ID scope devices register under.
    pub id_scope: String,
    /// Service connection strings by policy name.
    pub connection_strings: std::collections::BTreeMap<String, String>,
}

/// What scripts need to use a running simulator (`--ready-file`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyInfo {
    /// `localhost:PORT`, or `localhost` on 443.
    pub host_name: String,
    /// Listening port.
    pub port: u16,
    /// CA certificate to trust.
    pub ca_file: PathBuf,
    /// Devices registered.
    pub device_count: usize,
    /// Service connection strings by policy name.
    pub connection_strings: std::collections::BTreeMap<String, String>,
    /// Every simulated hub (the first is the one above).
    pub hubs: Vec<HubInfo>,
    /// The simulated DPS.
    pub dps: DpsInfo,
}

/// A simulated hub with its listener.
struct RunningHub {
    name: String,
    hub: Arc<Hub>,
    address: SocketAddr,
}

/// A running simulator. Dropping it stops the listeners.
pub struct Simulator {
    hubs: Vec<RunningHub>,
    dps: Arc<super::dps::Dps>,
    ca_path: PathBuf,
    shutdown: watch::Sender<bool>,
    accept_tasks: Vec<JoinHandle<()>>,
    engines: Vec<JoinHandle<()>>,
    _temp_dir: Option<tempfile::TempDir>,
}

fn bind_error(address: SocketAddr, source: std::io::Error) -> SimError {
    SimError::Bind {
        address: address.to_string(),
        hint: match source.kind() {
            std::io::ErrorKind::PermissionDenied => " (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
            std::io::ErrorKind::AddrInUse => " (another program uses this port; pick another with --port)",
            _ => "",
        },
        source,
    }
}

async fn listen(address: SocketAddr) -> Result<(TcpListener, SocketAddr), SimError> {
    let listener = TcpListener::bind(address).await.map_err(|source| bind_error(address, source))?;
    let address = listener.local_addr().map_err(|source| SimError::Io {
        action: "cannot read the address of",
        path: PathBuf::from(address.to_string()),
        source,
    })?;
    Ok((listener, address))
}

fn host_name_for(address: SocketAddr) -> String {
    match address.port() {
        443 => "localhost".to_owned(),
        port => format!("localhost:{port}"),
    }
}

/// Opens one hub's state in `dir` (policies, database, seeded fleet of `fleet_size`).
async fn open_hub(dir: &Path, persistent: bool, config: &SimConfig, fleet_size: usize) -> Result<Arc<Hub>, SimError> {
    create_dir(dir)?;
    let policies = load_or_create_policies(dir)?;
    let (store, registry, jobs) = if persistent {
        let path = dir.join(DATABASE_FILE);
        if config.reset {
            remove_if_present(&path)?;
        }
        let config = SimConfig { fleet_size, ..config.clone() };
        let (store, registry, jobs) = tokio::task::spawn_blocking(move || {
            let (store, registry) = load_and_seed(&path, &config)?;
            let jobs = super::hub::load_jobs(&store)?;
            Ok::<_, SimError>((store, registry, jobs))
        })
        .await
        .map_err(|error| SimError::Config(format!("startup task failed: {error}")))??;
        (Some(store), registry, jobs)
    } else {
        (None, Registry::from_records(demo_fleet(fleet_size, config.seed, now_ticks())), Vec::new())
    };
    let host_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned(), "[::1]".to_owned()];
    let parts = super::hub::HubParts {
        policies,
        faults: FaultInjector::new(config.faults.clone(), config.seed),
        host_names,
        jobs: super::jobs::Jobs::new(config.jobs.clone(), jobs),
        method_config: config.methods.clone(),
    };
    Ok(Arc::new(Hub::new(registry, store, parts)))
}

impl Simulator {
    /// Prepares state and starts listening; returns once the port accepts connections.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        config.faults.validate().map_err(SimError::Config)?;
        let (dir, temp_dir) = match &config.state {
            StateLocation::Dir(dir) => (dir.clone(), None),
            StateLocation::Ephemeral => {
                let temp = tempfile::Builder::new().prefix("hubdeck-sim-").tempdir().map_err(|source| SimError::Io {
                    action: "cannot create a temporary state directory in",
                    path: std::env::temp_dir(),
                    source,
                })?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        create_dir(&dir)?;
        let tls = tls::load_or_create(&dir)?;
        let persistent = matches!(config.state, StateLocation::Dir(_));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut hubs = Vec::new();
        let mut listeners = Vec::new();
        for (index, (name, _region)) in HUBS.iter().enumerate() {
            // The first hub keeps its state where it always did; the others in a folder of their own.
            let (hub_dir, fleet_size, port) =
                if index == 0 { (dir.clone(), config.fleet_size, config.port) } else { (dir.join(name), 0, config.west_port) };
            let hub = open_hub(&hub_dir, persistent, &config, fleet_size).await?;
            let (listener, address) = listen(SocketAddr::new(config.bind, port)).await?;
            hub.set_desired_listener(super::fleet::spawn(Arc::clone(&hub), config.fleet.clone(), config.seed, shutdown_rx.clone()));
            hubs.push(RunningHub { name: (*name).to_owned(), hub, address });
            listeners.push(listener);
        }
        let dps_hubs = hubs
            .iter()
            .zip(HUBS)
            .map(|(running, (_, region))| super::dps::DpsHub {
                name: running.name.clone(),
                host_name: host_name_for(running.address),
                region: region.to_owned(),
                allocation_weight: 1,
                apply_allocation_policy: true,
                hub: Arc::clone(&running.hub),
            })
            .collect();
        let host_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned(), "[::1]".to_owned()];
        let (dps, fresh) = super::dps::Dps::open(persistent.then_some(dir.as_path()), dps_hubs, host_names, config.dps.clone())?;
        let dps = Arc::new(dps);
        dps.listen_for_reprovision_requests();
        if fresh && config.dps_demo {
            super::dps::seed::seed(&dps).await;
        }
        dps.save().await?;
        let mut accept_tasks = Vec::new();
        let mut engines = Vec::new();
        for (index, (running, listener)) in hubs.iter().zip(listeners).enumerate() {
            engines.push(super::jobs::engine::spawn(Arc::clone(&running.hub), shutdown_rx.clone()));
            let endpoint = http::Endpoint { hub: Arc::clone(&running.hub), dps: (index == 0).then(|| Arc::clone(&dps)) };
            accept_tasks.push(tokio::spawn(accept_loop(
                listener,
                tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.server_config)),
                endpoint,
                shutdown_rx.clone(),
            )));
        }
        Ok(Self { hubs, dps, ca_path: tls.ca_path, shutdown, accept_tasks, engines, _temp_dir: temp_dir })
    }

    /// The listening address of the first hub (and DPS).
    pub fn address(&self) -> SocketAddr {
        self.hubs[0].address
    }

    /// `HostName` of the first hub for connection strings: `localhost:PORT`, or `localhost` on 443.
    pub fn host_name(&self) -> String {
        host_name_for(self.address())
    }

    /// The simulated DPS.
    pub fn dps(&self) -> &Arc<super::dps::Dps> {
        &self.dps
    }

    /// Names of the simulated hubs, first hub first.
    pub fn hub_names(&self) -> Vec<String> {
        self.hubs.iter().map(|running| running.name.clone()).collect()
    }

    /// A hub by name.
    pub fn hub_named(&self, name: &str) -> Option<&Arc<Hub>> {
        self.hubs.iter().find(|running| running.name == name).map(|running| &running.hub)
    }

    /// A hub's `HostName` by name.
    pub fn hub_host_name(&self, name: &str) -> Option<String> {
        self.hubs.iter().find(|running| running.name == name).map(|running| host_name_for(running.address))
    }

    /// A hub's service connection string for a built-in policy.
    pub fn hub_connection_string(&self, name: &str, policy_name: &str) -> Option<ServiceConnectionString> {
        let running = self.hubs.iter().find(|running| running.name == name)?;
        let policy = running.hub.policies().get(policy_name)?;
        Some(ServiceConnectionString::from_parts(ServiceKind::Hub, &host_name_for(running.address), &policy.name, &policy.primary_key))
    }

    /// The DPS service connection string for a built-in policy (`provisioningserviceowner`).
    pub fn dps_connection_string(&self, policy_name: &str) -> Option<ServiceConnectionString> {
        let policy = self.dps.policies().get(policy_name)?;
        Some(ServiceConnectionString::from_parts(ServiceKind::Dps, &self.host_name(), &policy.name, &policy.primary_key))
    }

    /// The CA certificate clients must trust.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// The first hub, for in-process control (fault injection in tests).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hubs[0].hub
    }

    /// The first hub's service connection string of a built-in policy.
    pub fn connection_string(&self, policy_name: &str) -> Option<ServiceConnectionString> {
        self.hub_connection_string(&self.hubs[0].name, policy_name)
    }

    /// What `--ready-file` holds.
    pub fn ready_info(&self) -> ReadyInfo {
        let hub_strings = |hub_name: &str| {
            ["iothubowner", "service", "registryRead", "registryReadWrite"]
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), self.hub_connection_string(hub_name, name)?.expose())))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let hubs = self
            .hubs
            .iter()
            .map(|running| HubInfo {
                name: running.name.clone(),
                host_name: host_name_for(running.address),
                port: running.address.port(),
                connection_strings: hub_strings(&running.name),
            })
            .collect();
        let dps = DpsInfo {
            host_name: self.host_name(),
            id_scope: self.dps.id_scope().to_owned(),
            connection_strings: ["provisioningserviceowner", "enrollmentread", "enrollmentwrite"]
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), self.dps_connection_string(name)?.expose())))
                .collect(),
        };
        ReadyInfo {
            host_name: self.host_name(),
            port: self.address().port(),
            ca_file: self.ca_path.clone(),
            device_count: self.hub().read(Registry::len),
            connection_strings: hub_strings(&self.hubs[0].name),
            hubs,
            dps,
        }
    }

    /// Writes the ready file (0600: it holds keys).
    pub fn write_ready_file(&self, path: &Path) -> Result<(), SimError> {
        let text = serde_json::to_vec_pretty(&self.ready_info()).map_err(|error| SimError::Config(error.to_string()))?;
        write_private(path, &text)
    }

    /// Stops accepting and waits for the listener task.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in std::mem::take(&mut self.accept_tasks) {
            task.await.ok();
        }
        // The job engines save their jobs on the way out.
        for task in std::mem::take(&mut self.engines) {
            task.await.ok();
        }
    }
}

impl std::fmt::Debug for Simulator {
    /// Names the hubs and DPS scope; never a key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("hubs", &self.hub_names()).field("id_scope", &self.dps.id_scope()).finish_non_exhaustive()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

fn remove_if_present(path: &Path) -> Result<(), SimError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SimError::Io { action: "cannot remove", path: path.to_owned(), source }),
    }
}

fn load_or_create_policies(dir: &Path) -> Result<Policies, SimError> {
    let path = dir.join(POLICIES_FILE);
    if path.exists() {
        let text = read_text(&path)?;
        return serde_json::from_str(&text).map_err(|error| SimError::Corrupt { path, detail: error.to_string() });
    }
    let policies = Policies::generate();
    let text = serde_json::to_vec_pretty(&policies).map_err(|error| SimError::Config(error.to_string()))?;
    write_private(&path, &text)?;
    Ok(policies)
}

/// Opens the database; on first start seeds the demo fleet in one transaction.
fn load_and_seed(path: &Path, config: &SimConfig) -> Result<(super::store::Store, Registry), SimError> {
    let (store, registry) = open_store(path)?;
    if store.get_meta(SEEDED_KEY)?.is_some() {
        return Ok((store, registry));
    }
    let fleet = demo_fleet(config.fleet_size, config.seed, now_ticks());
    let upserts = fleet.iter().map(|record| (record.device_id.clone(), serde_json::to_vec(record).unwrap_or_default())).collect();
    store.write(&Batch { upserts, deletes: Vec::new(), meta: vec![(SEEDED_KEY.to_owned(), b"1".to_vec())] })?;
    let mut registry = registry;
    for record in fleet {
        registry.insert(record);
    }
    Ok((store, registry))
}

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    endpoint: http::Endpoint,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = http::router(endpoint);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((tcp, peer)) = accepted else {
            continue;
        };
        // Without this, Nagle's algorithm and delayed ACKs stall large answers by ~40 ms.
        tcp.set_nodelay(true).ok();
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let mut connection_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(tls), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                }
                _ = connection_shutdown.changed() => {}
            }
        });
    }
}
