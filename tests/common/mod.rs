//! Test harness: an in-process simulator on a free loopback port and clients trusting its CA;
//! `console` drives the whole console against one.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod console;
pub mod mqtt;

use std::sync::Arc;
use std::time::Duration;

use hubdeck::azure::{ClientEvent, ClientOptions, HubClient, RetryPolicy, ServiceConnectionString};
use hubdeck::sim::{SimConfig, Simulator, StateLocation};
use parking_lot::Mutex;

/// A running simulator and an owner client that records its events.
pub struct TestHub {
    pub sim: Simulator,
    pub client: HubClient,
    pub events: Arc<Mutex<Vec<ClientEvent>>>,
}

/// A quick retry policy so tests do not wait 5 s per retry.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        first_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(1),
        jitter: 0.0,
        ..RetryPolicy::default()
    }
}

/// Starts an ephemeral simulator with `fleet_size` demo devices (and no DPS demo devices, so the
/// first hub holds exactly the fleet).
pub async fn start_hub(fleet_size: usize) -> TestHub {
    start_with(SimConfig {
        port: 0,
        mqtt_port: Some(0),
        state: StateLocation::Ephemeral,
        fleet_size,
        dps_demo: false,
        ..SimConfig::default()
    })
    .await
}

/// Starts an ephemeral simulator with the demo fleet and the DPS demo enrollments and devices.
pub async fn start_hub_with_dps(fleet_size: usize) -> TestHub {
    start_with(SimConfig { port: 0, mqtt_port: Some(0), state: StateLocation::Ephemeral, fleet_size, ..SimConfig::default() }).await
}

async fn start_with(config: SimConfig) -> TestHub {
    let sim = Simulator::start(config).await.expect("simulator starts");
    let events = Arc::new(Mutex::new(Vec::new()));
    let client = client_with(&sim, "iothubowner", fast_retry(), Some(Arc::clone(&events)));
    TestHub { sim, client, events }
}

/// Options trusting the simulator's CA, no proxy.
pub fn options_for(sim: &Simulator, retry: RetryPolicy) -> ClientOptions {
    console::trusting(sim.ca_path(), retry)
}

/// A client for one of the simulator's policies.
pub fn client_with(sim: &Simulator, policy: &str, retry: RetryPolicy, events: Option<Arc<Mutex<Vec<ClientEvent>>>>) -> HubClient {
    let mut options = options_for(sim, retry);
    if let Some(events) = events {
        options.events = Some(Arc::new(move |event| events.lock().push(event)));
    }
    let connection: ServiceConnectionString = sim.connection_string(policy).expect("built-in policy");
    HubClient::new(&connection, &options).expect("client builds")
}
