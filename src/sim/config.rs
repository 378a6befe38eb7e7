//! What a simulator is started with: [`SimConfig`] and where its state lives.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::faults::FaultConfig;
use super::seed::DEFAULT_FLEET_SIZE;

/// The port device SDKs use for MQTT over TLS (the Python SDK cannot use another).
pub const DEFAULT_MQTT_PORT: u16 = 8883;

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
    /// Port of the second hub, contoso-west (0 picks a free one). On Linux the second hub has its
    /// own loopback address (127.0.0.2), so it can use the same port as the first.
    pub west_port: u16,
    /// Port of every hub's MQTT/TLS device endpoint (8883; 0 picks a free one; `None`: no MQTT
    /// listener, only MQTT over WebSocket on the HTTPS port). A port in use falls back to a free one.
    pub mqtt_port: Option<u16>,
    /// How the simulated DPS behaves.
    pub dps: super::dps::DpsConfig,
    /// Seed the demo enrollments and register their devices on first start (their devices join
    /// the hubs, so tests that count the fleet turn this off).
    pub dps_demo: bool,
    /// The hub tier both hubs show (`dev`: no limits).
    pub tier: super::tier::HubTier,
    /// The tier's units.
    pub units: u32,
    /// What each hub allows: the tier's table with any per-limit overrides applied.
    pub limits: super::tier::HubLimits,
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
            mqtt_port: Some(DEFAULT_MQTT_PORT),
            dps: super::dps::DpsConfig::default(),
            dps_demo: true,
            tier: super::tier::HubTier::Dev,
            units: 1,
            limits: super::tier::HubLimits::unlimited(),
        }
    }
}

/// The default state directory (platform data dir).
pub fn default_state_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "hubdeck", "hubdeck").map(|dirs| dirs.data_dir().join("sim"))
}
