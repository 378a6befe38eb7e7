//! Starting and stopping a simulator: the state directory and certificates, then per hub its
//! state and listener, then DPS linked to the hubs, then the accept loops; and what a running
//! simulator tells its users (addresses, connection strings).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::SimConfig;
use super::error::SimError;
use super::hub::Hub;
use super::listener::{accept_loop, device_host_name, host_name_for, hub_ip, listen, listen_or_fallback};
use super::ready_file::ReadyInfo;
use super::state_dir::{StateDir, open_hub};
use super::{http, tls};
use crate::azure::connection_string::{ServiceConnectionString, ServiceKind};

/// The simulated hubs: the first serves the demo fleet and DPS, the second starts empty and
/// fills with devices DPS assigns to it. Names, regions (for geo-latency) and state folders.
pub const HUBS: [(&str, &str); 2] = [("contoso-east", "eastus"), ("contoso-west", "westus2")];

/// A simulated hub with its listener.
struct RunningHub {
    name: String,
    hub: Arc<Hub>,
    address: SocketAddr,
    /// The MQTT/TLS device endpoint, unless turned off.
    mqtt_address: Option<SocketAddr>,
}

/// A running simulator. Dropping it stops the listeners.
pub struct Simulator {
    hubs: Vec<RunningHub>,
    dps: Arc<super::dps::Dps>,
    ca_path: PathBuf,
    shutdown: watch::Sender<bool>,
    accept_tasks: Vec<JoinHandle<()>>,
    engines: Vec<JoinHandle<()>>,
    /// The tier and units every hub enforces.
    tier: (super::tier::HubTier, u32),
    /// Kept for its `Drop`: an ephemeral state directory is removed with the simulator.
    _state: StateDir,
}

impl Simulator {
    /// Prepares state and starts listening; returns once the port accepts connections.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        config.faults.validate().map_err(SimError::Config)?;
        let state = StateDir::open(&config.state)?;
        let dir = state.path().to_owned();
        let tls = tls::load_or_create(&dir)?;
        let persistent = state.is_persistent();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut hubs = Vec::new();
        let mut listeners = Vec::new();
        for (index, (name, _region)) in HUBS.iter().enumerate() {
            // The first hub keeps its state where it always did; the others in a folder of their own.
            let (hub_dir, fleet_size, port) =
                if index == 0 { (dir.clone(), config.fleet_size, config.port) } else { (dir.join(name), 0, config.west_port) };
            let hub_ip = hub_ip(config.bind, index);
            let (listener, address) = if index == 0 {
                listen(SocketAddr::new(hub_ip, port)).await?
            } else {
                // Where the hub cannot have its own loopback address (not Linux), it shares the
                // first one's on another port.
                listen_or_fallback(SocketAddr::new(hub_ip, port), config.bind, "the second hub").await?
            };
            let mqtt = match config.mqtt_port {
                Some(mqtt_port) => {
                    Some(listen_or_fallback(SocketAddr::new(address.ip(), mqtt_port), address.ip(), "the MQTT device endpoint").await?)
                }
                None => None,
            };
            let device_host = device_host_name(address.ip());
            let hub = open_hub(&hub_dir, persistent, &config, fleet_size, &device_host).await?;
            hub.set_desired_listener(super::fleet::spawn(Arc::clone(&hub), config.fleet.clone(), config.seed, shutdown_rx.clone()));
            hubs.push(RunningHub { name: (*name).to_owned(), hub, address, mqtt_address: mqtt.as_ref().map(|(_, address)| *address) });
            listeners.push((listener, mqtt.map(|(listener, _)| listener)));
        }
        let dps_hubs = hubs
            .iter()
            .zip(HUBS)
            .map(|(running, (_, region))| super::dps::DpsHub {
                name: running.name.clone(),
                host_name: device_host_name(running.address.ip()),
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
        for (index, (running, (listener, mqtt_listener))) in hubs.iter().zip(listeners).enumerate() {
            engines.push(super::jobs::engine::spawn(Arc::clone(&running.hub), shutdown_rx.clone()));
            let dps_here = (index == 0).then(|| Arc::clone(&dps));
            if let Some(mqtt_listener) = mqtt_listener {
                let device_endpoint = super::mqtt::session::Endpoint {
                    hub: Arc::clone(&running.hub),
                    dps: dps_here.clone(),
                    protocol: crate::azure::wire::DeviceProtocol::Mqtt,
                };
                accept_tasks.push(tokio::spawn(super::mqtt::listener::accept_loop(
                    mqtt_listener,
                    tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.mqtt_config)),
                    device_endpoint,
                    shutdown_rx.clone(),
                )));
            }
            let endpoint = http::Endpoint { hub: Arc::clone(&running.hub), dps: dps_here, shutdown: shutdown_rx.clone() };
            accept_tasks.push(tokio::spawn(accept_loop(
                listener,
                tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.server_config)),
                endpoint,
                shutdown_rx.clone(),
            )));
        }
        Ok(Self { hubs, dps, ca_path: tls.ca_path, shutdown, accept_tasks, engines, tier: (config.tier, config.units), _state: state })
    }

    /// The hub tier and its units.
    pub fn tier(&self) -> (super::tier::HubTier, u32) {
        self.tier
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

    fn running(&self, name: &str) -> Option<&RunningHub> {
        self.hubs.iter().find(|running| running.name == name)
    }

    /// A hub by name.
    pub fn hub_named(&self, name: &str) -> Option<&Arc<Hub>> {
        self.running(name).map(|running| &running.hub)
    }

    /// A hub's listening address by name.
    pub fn hub_address(&self, name: &str) -> Option<SocketAddr> {
        self.running(name).map(|running| running.address)
    }

    /// A hub's `HostName` by name.
    pub fn hub_host_name(&self, name: &str) -> Option<String> {
        self.hub_address(name).map(host_name_for)
    }

    /// The host devices connect to (no port: MQTT on the MQTT port, WebSocket on the HTTPS
    /// port); also what DPS records as `assignedHub`.
    pub fn hub_device_host_name(&self, name: &str) -> Option<String> {
        self.hub_address(name).map(|address| device_host_name(address.ip()))
    }

    /// A hub's MQTT/TLS device endpoint, unless turned off.
    pub fn hub_mqtt_address(&self, name: &str) -> Option<SocketAddr> {
        self.running(name).and_then(|running| running.mqtt_address)
    }

    /// The first hub's MQTT/TLS device endpoint (also DPS's), unless turned off.
    pub fn mqtt_address(&self) -> Option<SocketAddr> {
        self.hubs[0].mqtt_address
    }

    /// A hub's service connection string for a built-in policy.
    pub fn hub_connection_string(&self, name: &str, policy_name: &str) -> Option<ServiceConnectionString> {
        let running = self.running(name)?;
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
        ReadyInfo::of(self)
    }

    /// Writes the ready file (0600: it holds keys).
    pub fn write_ready_file(&self, path: &Path) -> Result<(), SimError> {
        self.ready_info().write(path)
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
        // Connections and simulated devices may still hold a hub for a moment; its database is
        // closed now, so the same state directory can be opened again at once.
        for running in &self.hubs {
            running.hub.close_store().await;
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
