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
}

/// A running simulator. Dropping it stops the listener.
pub struct Simulator {
    hub: Arc<Hub>,
    address: SocketAddr,
    ca_path: PathBuf,
    shutdown: watch::Sender<bool>,
    accept_task: Option<JoinHandle<()>>,
    engine: Option<JoinHandle<()>>,
    _temp_dir: Option<tempfile::TempDir>,
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
        let policies = load_or_create_policies(&dir)?;
        let (store, registry, jobs) = match config.state {
            StateLocation::Dir(_) => {
                let path = dir.join(DATABASE_FILE);
                if config.reset {
                    remove_if_present(&path)?;
                }
                let config = config.clone();
                let (store, registry, jobs) = tokio::task::spawn_blocking(move || {
                    let (store, registry) = load_and_seed(&path, &config)?;
                    let jobs = super::hub::load_jobs(&store)?;
                    Ok::<_, SimError>((store, registry, jobs))
                })
                .await
                .map_err(|error| SimError::Config(format!("startup task failed: {error}")))??;
                (Some(store), registry, jobs)
            }
            StateLocation::Ephemeral => (None, Registry::from_records(demo_fleet(config.fleet_size, config.seed, now_ticks())), Vec::new()),
        };
        let host_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned(), "[::1]".to_owned()];
        let parts = super::hub::HubParts {
            policies,
            faults: FaultInjector::new(config.faults.clone(), config.seed),
            host_names,
            jobs: super::jobs::Jobs::new(config.jobs.clone(), jobs),
            method_config: config.methods.clone(),
        };
        let hub = Arc::new(Hub::new(registry, store, parts));
        let address = SocketAddr::new(config.bind, config.port);
        let listener = TcpListener::bind(address).await.map_err(|source| SimError::Bind {
            address: address.to_string(),
            hint: match source.kind() {
                std::io::ErrorKind::PermissionDenied => " (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
                std::io::ErrorKind::AddrInUse => " (another program uses this port; pick another with --port)",
                _ => "",
            },
            source,
        })?;
        let address = listener.local_addr().map_err(|source| SimError::Io {
            action: "cannot read the address of",
            path: PathBuf::from(address.to_string()),
            source,
        })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        hub.set_desired_listener(super::fleet::spawn(Arc::clone(&hub), config.fleet.clone(), config.seed, shutdown_rx.clone()));
        let engine = super::jobs::engine::spawn(Arc::clone(&hub), shutdown_rx.clone());
        let accept_task =
            tokio::spawn(accept_loop(listener, tokio_rustls::TlsAcceptor::from(tls.server_config), Arc::clone(&hub), shutdown_rx));
        Ok(Self { hub, address, ca_path: tls.ca_path, shutdown, accept_task: Some(accept_task), engine: Some(engine), _temp_dir: temp_dir })
    }

    /// The listening address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `HostName` for connection strings: `localhost:PORT`, or `localhost` on 443.
    pub fn host_name(&self) -> String {
        match self.address.port() {
            443 => "localhost".to_owned(),
            port => format!("localhost:{port}"),
        }
    }

    /// The CA certificate clients must trust.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// The hub, for in-process control (fault injection in tests).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The service connection string of a built-in policy.
    pub fn connection_string(&self, policy_name: &str) -> Option<ServiceConnectionString> {
        let policy = self.hub.policies().get(policy_name)?;
        Some(ServiceConnectionString::from_parts(ServiceKind::Hub, &self.host_name(), &policy.name, &policy.primary_key))
    }

    /// What `--ready-file` holds.
    pub fn ready_info(&self) -> ReadyInfo {
        let connection_strings = ["iothubowner", "service", "registryRead", "registryReadWrite"]
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), self.connection_string(name)?.expose())))
            .collect();
        ReadyInfo {
            host_name: self.host_name(),
            port: self.address.port(),
            ca_file: self.ca_path.clone(),
            device_count: self.hub.read(Registry::len),
            connection_strings,
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
        if let Some(task) = self.accept_task.take() {
            task.await.ok();
        }
        // The job engine saves its jobs on the way out.
        if let Some(task) = self.engine.take() {
            task.await.ok();
        }
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

async fn accept_loop(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let app = http::router(hub);
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
