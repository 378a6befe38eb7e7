//! The ready file (`hubdeck sim --ready-file`): what scripts need to use a running simulator —
//! host names, ports, the CA to trust and connection strings — written once it listens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::SimError;
use super::registry::Registry;
use super::server::Simulator;
use crate::files::write_private;

/// The hub policies whose connection strings the ready file lists.
const HUB_POLICIES: [&str; 4] = ["iothubowner", "service", "registryRead", "registryReadWrite"];
/// The DPS policies whose connection strings the ready file lists.
const DPS_POLICIES: [&str; 3] = ["provisioningserviceowner", "enrollmentread", "enrollmentwrite"];

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
    /// The host devices connect to (no port; the device SDKs cannot take one); MQTT over TLS on
    /// `mqttPort`, MQTT over WebSocket on `port` at `/$iothub/websocket`.
    pub device_host_name: String,
    /// The MQTT/TLS device endpoint's port (absent with `--no-mqtt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt_port: Option<u16>,
    /// Service connection strings by policy name.
    pub connection_strings: BTreeMap<String, String>,
}

/// The simulated DPS as scripts see it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DpsInfo {
    /// Service and device endpoint (the first hub's listener).
    pub host_name: String,
    /// The host devices register with (`provisioning_host`; no port): MQTT on the first hub's
    /// MQTT port, HTTPS and WebSocket on its HTTPS port.
    pub device_host_name: String,
    /// ID scope devices register under.
    pub id_scope: String,
    /// Service connection strings by policy name.
    pub connection_strings: BTreeMap<String, String>,
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
    pub connection_strings: BTreeMap<String, String>,
    /// Every simulated hub (the first is the one above).
    pub hubs: Vec<HubInfo>,
    /// The simulated DPS.
    pub dps: DpsInfo,
    /// The hub tier whose limits the hubs enforce (`dev`: none).
    pub tier: String,
    /// The tier's units.
    pub units: u32,
}

impl ReadyInfo {
    /// Describes `sim` as it runs now.
    pub fn of(sim: &Simulator) -> Self {
        let hub_strings = |hub_name: &str| {
            HUB_POLICIES
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), sim.hub_connection_string(hub_name, name)?.expose())))
                .collect::<BTreeMap<_, _>>()
        };
        let hubs: Vec<HubInfo> = sim
            .hub_names()
            .into_iter()
            .filter_map(|name| {
                let address = sim.hub_address(&name)?;
                Some(HubInfo {
                    host_name: super::listener::host_name_for(address),
                    port: address.port(),
                    device_host_name: super::listener::device_host_name(address.ip()),
                    mqtt_port: sim.hub_mqtt_address(&name).map(|address| address.port()),
                    connection_strings: hub_strings(&name),
                    name,
                })
            })
            .collect();
        let dps = DpsInfo {
            host_name: sim.host_name(),
            device_host_name: super::listener::device_host_name(sim.address().ip()),
            id_scope: sim.dps().id_scope().to_owned(),
            connection_strings: DPS_POLICIES
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), sim.dps_connection_string(name)?.expose())))
                .collect(),
        };
        Self {
            host_name: sim.host_name(),
            port: sim.address().port(),
            ca_file: sim.ca_path().to_owned(),
            device_count: sim.hub().read(Registry::len),
            connection_strings: hubs.first().map(|hub| hub.connection_strings.clone()).unwrap_or_default(),
            hubs,
            dps,
            tier: sim.tier().0.name().to_owned(),
            units: sim.tier().1,
        }
    }

    /// Writes it as JSON to `path`, owner-only: it holds keys.
    pub fn write(&self, path: &Path) -> Result<(), SimError> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|error| SimError::Encode { what: "the ready file".to_owned(), detail: error.to_string() })?;
        Ok(write_private(path, &text)?)
    }
}
