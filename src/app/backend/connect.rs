//! Connecting with a profile: starting (or sharing) the simulator, reading the CA file, building
//! a hub client per hub and the DPS client, choosing the hub in use, and telling the UI.

use std::sync::Arc;

use super::Worker;
use crate::app::model::connect_device::DeviceSide;
use crate::app::model::{AppError, Connected, ConnectionEvent, HubRef, ProfileEvent, ProfileId};
use crate::azure::{ClientOptions, DpsClient, HubClient};
use crate::sim::{SimConfig, Simulator, StateLocation};

/// A profile's hubs (each with its client) and its DPS.
type Clients = (Vec<(HubRef, HubClient)>, Option<DpsClient>);

/// Reads a certificate file without blocking a runtime thread.
async fn read_ca(path: &std::path::Path, what: &str) -> Result<Vec<u8>, AppError> {
    tokio::fs::read(path).await.map_err(|error| AppError::local(format!("cannot read {what} {}: {error}", path.display())))
}

fn client_error(error: &crate::azure::AzureError) -> AppError {
    AppError::local(error.to_string())
}

impl Worker {
    /// Sends the profile list (after any change, and when connecting).
    pub(super) async fn send_profiles(&self) {
        let host = self.simulator.as_ref().map(|simulator| simulator.host_name());
        let summaries = self.profiles.run(move |store| store.summaries(host.as_deref())).await;
        match summaries {
            Ok(profiles) => {
                let event = ProfileEvent::Listed { profiles, active: self.active.clone(), keyring: self.keyring.clone() };
                self.sink.send(event.into()).await;
            }
            Err(error) => self.sink.send(ProfileEvent::Failed(error).into()).await,
        }
    }

    /// Connects with a profile: starts the simulator if needed, builds the clients, reports.
    pub(super) async fn activate(&mut self, id: ProfileId) {
        self.sink.send(ConnectionEvent::Connecting(id.clone()).into()).await;
        self.active = id.clone();
        for (_, load) in self.loads.drain() {
            load.abort();
        }
        self.client = None;
        self.hubs.clear();
        self.dps = None;
        self.device_ca = None;
        let mut notice = self.startup_notice.take();
        let connected =
            if id == ProfileId::simulator() { self.connect_simulator(&mut notice).await } else { self.connect_saved(&id).await };
        match connected {
            Ok((hubs, dps)) => {
                let remembered = {
                    let id = id.clone();
                    self.profiles.try_run(move |store| store.set_active(&id)).await
                };
                if let Err(error) = remembered {
                    notice = Some(format!("the active profile could not be remembered: {error}"));
                }
                self.send_profiles().await;
                self.hubs = hubs;
                self.dps = dps;
                let first = self.hubs.first().map(|(hub, _)| hub.name.clone()).unwrap_or_default();
                self.use_hub(&id, &first, notice).await;
            }
            Err(error) => {
                self.send_profiles().await;
                self.sink.send(ConnectionEvent::Failed { profile: id, error }.into()).await;
            }
        }
    }

    /// Makes `hub_name` the hub in use and tells the UI.
    pub(super) async fn use_hub(&mut self, profile: &ProfileId, hub_name: &str, notice: Option<String>) {
        let Some((hub, client)) = self.hubs.iter().find(|(hub, _)| hub.name == hub_name).cloned() else {
            let error = AppError::local(format!("the profile has no hub named '{hub_name}'"));
            self.sink.send(ConnectionEvent::Failed { profile: profile.clone(), error }.into()).await;
            return;
        };
        for (_, load) in self.loads.drain() {
            load.abort();
        }
        if let Some(watch) = self.job_watch.take() {
            watch.abort();
        }
        // The simulator's hubs each have their own device host and MQTT endpoint; a saved
        // profile's hub is reached at its host name (without a port) on the default port.
        let simulated = self.simulator.as_ref().filter(|_| *profile == ProfileId::simulator());
        let mqtt_port = simulated.and_then(|simulator| simulator.hub_mqtt_address(&hub.name)).map(|address| address.port());
        let device_side = DeviceSide::new(&hub.host, self.device_ca.clone(), mqtt_port);
        let connected = Connected {
            profile: profile.clone(),
            device_side,
            host: client.host_name().to_owned(),
            in_flight: client.in_flight(),
            notice,
            hubs: self.hubs.iter().map(|(hub, _)| hub.clone()).collect(),
            hub: hub.name,
            dps: self.dps.is_some(),
        };
        self.client = Some(client);
        self.sink.send(ConnectionEvent::Connected(Box::new(connected)).into()).await;
    }

    fn client_options(&self, extra_ca_pem: Option<Vec<u8>>) -> ClientOptions {
        ClientOptions {
            extra_ca_pem,
            retry: self.options.retry.clone(),
            events: Some(Arc::new(self.sink.clone())),
            ..ClientOptions::default()
        }
    }

    async fn connect_simulator(&mut self, notice: &mut Option<String>) -> Result<Clients, AppError> {
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
                    Simulator::start(SimConfig { state: StateLocation::Ephemeral, ..config })
                        .await
                        .map_err(|error| AppError::local(error.to_string()))?
                }
                Err(error) => return Err(AppError::local(error.to_string())),
            };
            self.simulator = Some(Arc::new(started));
        }
        let simulator = Arc::clone(self.simulator.as_ref().ok_or_else(|| AppError::local("the simulator did not start"))?);
        let ca = read_ca(simulator.ca_path(), "the simulator's CA certificate").await?;
        self.device_ca = Some(simulator.ca_path().to_owned());
        let options = self.client_options(Some(ca));
        let mut hubs = Vec::new();
        for name in simulator.hub_names() {
            let connection = simulator
                .hub_connection_string(&name, "iothubowner")
                .ok_or_else(|| AppError::local("the simulator has no iothubowner policy"))?;
            let client = HubClient::new(&connection, &options).map_err(|error| client_error(&error))?;
            // DPS names hubs by the host devices use (no port), as a real hub's host has none.
            let host = simulator.hub_device_host_name(&name).unwrap_or_else(|| connection.host_name().to_owned());
            hubs.push((HubRef { name, host }, client));
        }
        let dps_connection = simulator
            .dps_connection_string("provisioningserviceowner")
            .ok_or_else(|| AppError::local("the simulator has no DPS owner policy"))?;
        let dps = DpsClient::new(&dps_connection, &options).map_err(|error| client_error(&error))?;
        Ok((hubs, Some(dps)))
    }

    async fn connect_saved(&mut self, id: &ProfileId) -> Result<Clients, AppError> {
        let connection = {
            let id = id.clone();
            self.profiles.try_run(move |store| store.connection(&id)).await?
        };
        let ca = match &connection.ca_file {
            Some(path) => Some(read_ca(path, "the CA file").await?),
            None => None,
        };
        let options = self.client_options(ca);
        // A CA file means the hub is not a public one (e.g. `hubdeck sim`): devices need it too.
        self.device_ca.clone_from(&connection.ca_file);
        let client = HubClient::new(&connection.hub, &options).map_err(|error| client_error(&error))?;
        let host = connection.hub.host_name().to_owned();
        let dps = match &connection.dps {
            Some(dps) => Some(DpsClient::new(dps, &options).map_err(|error| client_error(&error))?),
            None => None,
        };
        Ok((vec![(HubRef { name: host.clone(), host }, client)], dps))
    }
}
