//! The `hubdeck` command: the desktop console (default) and `hubdeck sim`, the simulator.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use hubdeck::app::{BackendOptions, CommandLineProfile, SimulatorSettings};
use hubdeck::azure::{RetryPolicy, Secret, ServiceConnectionString};
use hubdeck::sim::{FaultConfig, FleetConfig, SimConfig, Simulator, StateLocation, default_state_dir};

/// A console for Azure IoT Hub and DPS, with an embedded simulator of their service APIs.
#[derive(Parser, Debug)]
#[command(name = "hubdeck", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// IoT Hub service connection string for a one-off session (not saved).
    #[arg(long, env = "IOTHUB_CONNECTION_STRING", hide_env_values = true)]
    hub: Option<String>,
    /// DPS service connection string for a one-off session (not saved).
    #[arg(long, env = "IOTHUB_DPS_CONNECTION_STRING", hide_env_values = true)]
    dps: Option<String>,
    /// Extra CA certificate (PEM) to trust, e.g. a simulator's ca.pem.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Run the built-in simulator on a temporary state (nothing kept).
    #[arg(long)]
    ephemeral_sim: bool,
    /// Devices the built-in simulator seeds on first start.
    #[arg(long, default_value_t = hubdeck::sim::seed::DEFAULT_FLEET_SIZE)]
    sim_devices: usize,
    /// Do not use the OS keyring (secrets stay in memory unless saved to a file).
    #[arg(long)]
    no_keyring: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the IoT Hub simulator headless (HTTPS on localhost).
    Sim(SimArgs),
}

#[derive(Args, Debug)]
#[allow(clippy::struct_excessive_bools)] // command-line switches, each its own flag
struct SimArgs {
    /// Port to listen on (443 is the only port the official Node SDKs can reach). Serves the
    /// first hub (contoso-east) and DPS.
    #[arg(long, default_value_t = 8443)]
    port: u16,
    /// Port of the second hub, contoso-west (default: the same as --port, on its own loopback
    /// address 127.0.0.2; where that address is unusable, a free port on --bind).
    #[arg(long)]
    west_port: Option<u16>,
    /// Port of the MQTT/TLS device endpoint of every hub (each hub on its own address); the
    /// Python device SDK can only use 8883. A port in use falls back to a free one.
    #[arg(long, default_value_t = hubdeck::sim::config::DEFAULT_MQTT_PORT, conflicts_with = "no_mqtt")]
    mqtt_port: u16,
    /// No MQTT/TLS listener (MQTT over WebSocket on the HTTPS port still works).
    #[arg(long)]
    no_mqtt: bool,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Where devices, keys and certificates are kept (default: the platform data dir).
    #[arg(long, conflicts_with = "ephemeral")]
    state_dir: Option<PathBuf>,
    /// Keep nothing: a fresh hub in a temporary directory, removed on exit.
    #[arg(long)]
    ephemeral: bool,
    /// Delete stored devices and seed a fresh fleet.
    #[arg(long)]
    reset: bool,
    /// Devices in the demo fleet seeded on first start.
    #[arg(long = "devices", default_value_t = hubdeck::sim::seed::DEFAULT_FLEET_SIZE)]
    fleet_size: usize,
    /// Start DPS without the demo enrollments (and without the devices they register).
    #[arg(long)]
    no_dps_demo: bool,
    /// Seed for the fleet and for injected faults.
    #[arg(long, default_value_t = 43)]
    seed: u64,
    /// Share of requests answered 429 Too Many Requests (0..1).
    #[arg(long = "fault-429", default_value_t = 0.0)]
    throttle_rate: f64,
    /// Share of requests answered 503 Service Unavailable (0..1).
    #[arg(long = "fault-503", default_value_t = 0.0)]
    unavailable_rate: f64,
    /// Milliseconds added to every request.
    #[arg(long = "fault-latency-ms", default_value_t = 0)]
    latency_ms: u64,
    /// Retry-After seconds sent with injected 429s.
    #[arg(long = "fault-retry-after", default_value_t = 2)]
    retry_after_secs: u32,
    /// Every this many seconds one offline simulated device reconnects and one drops off (0: never).
    #[arg(long, default_value_t = 45)]
    churn_secs: u64,
    /// Simulated devices per thousand that answer direct methods too slowly (gateway timeouts).
    #[arg(long, default_value_t = 30)]
    slow_per_mille: u16,
    /// Scheduled jobs that may be queued, scheduled or running at once (more get 429).
    #[arg(long, default_value_t = 5)]
    max_active_jobs: usize,
    /// Write connection strings and the CA path as JSON here once ready (removed on exit).
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,hubdeck=info".into()))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Some(Command::Sim(args)) => run_simulator(args),
        None => run_console(cli),
    }
}

fn run_console(cli: Cli) -> anyhow::Result<()> {
    let dirs = directories::ProjectDirs::from("dev", "hubdeck", "hubdeck").context("no home directory to keep settings in")?;
    let sim_state = if cli.ephemeral_sim {
        StateLocation::Ephemeral
    } else {
        StateLocation::Dir(default_state_dir().context("no data directory on this platform")?)
    };
    let command_line = match cli.hub {
        Some(hub) => Some(CommandLineProfile { hub: Secret::new(hub), dps: cli.dps.map(Secret::new), ca_file: cli.ca_file }),
        None if cli.dps.is_some() => bail!("--dps (or IOTHUB_DPS_CONNECTION_STRING) needs --hub (or IOTHUB_CONNECTION_STRING) too"),
        None => None,
    };
    if let Some(profile) = &command_line {
        // Fail fast with the named problem rather than inside the window.
        ServiceConnectionString::parse_hub(profile.hub.expose()).context("--hub / IOTHUB_CONNECTION_STRING")?;
        if let Some(dps) = &profile.dps {
            ServiceConnectionString::parse_dps(dps.expose()).context("--dps / IOTHUB_DPS_CONNECTION_STRING")?;
        }
    }
    let options = BackendOptions {
        config_dir: dirs.config_dir().to_owned(),
        simulator: SimulatorSettings {
            state: sim_state,
            fleet_size: cli.sim_devices,
            fleet: FleetConfig { churn_every: Some(Duration::from_secs(45)), ..FleetConfig::default() },
            shared: None,
        },
        use_keyring: !cli.no_keyring,
        command_line,
        retry: RetryPolicy::default(),
        file_dialogs: std::sync::Arc::new(hubdeck::app::backend::file_dialogs::RfdFileDialogs),
    };
    // The runtime lives off the main thread; the window owns the main thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hubdeck-worker")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let entered = runtime.enter();
    hubdeck::app::run(runtime.handle(), options).map_err(|error| anyhow::anyhow!("the window could not be opened: {error}"))?;
    drop(entered);
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

fn run_simulator(args: SimArgs) -> anyhow::Result<()> {
    let state = if args.ephemeral {
        StateLocation::Ephemeral
    } else {
        StateLocation::Dir(args.state_dir.or_else(default_state_dir).context("no data directory on this platform; pass --state-dir")?)
    };
    let config = SimConfig {
        bind: args.bind,
        port: args.port,
        state: state.clone(),
        fleet_size: args.fleet_size,
        seed: args.seed,
        faults: FaultConfig {
            throttle_rate: args.throttle_rate,
            unavailable_rate: args.unavailable_rate,
            latency: Duration::from_millis(args.latency_ms),
            retry_after_secs: args.retry_after_secs,
        },
        reset: args.reset,
        fleet: FleetConfig { churn_every: (args.churn_secs > 0).then(|| Duration::from_secs(args.churn_secs)), ..FleetConfig::default() },
        jobs: hubdeck::sim::jobs::JobsConfig { max_active: args.max_active_jobs.max(1), ..hubdeck::sim::jobs::JobsConfig::default() },
        methods: hubdeck::sim::methods::MethodConfig {
            slow_per_mille: args.slow_per_mille.min(1000),
            ..hubdeck::sim::methods::MethodConfig::default()
        },
        west_port: args.west_port.unwrap_or(args.port),
        mqtt_port: (!args.no_mqtt).then_some(args.mqtt_port),
        dps: hubdeck::sim::dps::DpsConfig::default(),
        dps_demo: !args.no_dps_demo,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let simulator = Simulator::start(config).await.context("the simulator could not start")?;
        print_banner(&simulator, &state);
        if let Some(path) = &args.ready_file {
            simulator.write_ready_file(path).with_context(|| format!("cannot write the ready file {}", path.display()))?;
        }
        wait_for_stop_signal().await;
        simulator.shutdown().await;
        if let Some(path) = &args.ready_file {
            std::fs::remove_file(path).ok();
        }
        Ok(())
    })
}

fn print_banner(simulator: &Simulator, state: &StateLocation) {
    let info = simulator.ready_info();
    let state_text = match state {
        StateLocation::Dir(dir) => format!("state in {}", dir.display()),
        StateLocation::Ephemeral => "ephemeral: nothing is kept".to_owned(),
    };
    println!("hubdeck simulator ready on https://{} ({} devices, {state_text})", info.host_name, info.device_count);
    println!("CA certificate: {}", info.ca_file.display());
    println!("  Python: REQUESTS_CA_BUNDLE={0}   Node: NODE_EXTRA_CA_CERTS={0}", info.ca_file.display());
    for hub in &info.hubs {
        println!("Hub {} on https://{} — connection strings:", hub.name, hub.host_name);
        match hub.mqtt_port {
            Some(mqtt_port) => println!(
                "  devices: HostName={} — MQTT on port {mqtt_port}, MQTT over WebSocket on port {} (/$iothub/websocket)",
                hub.device_host_name, hub.port
            ),
            None => println!("  devices: HostName={} — MQTT over WebSocket on port {} only (--no-mqtt)", hub.device_host_name, hub.port),
        }
        for (policy, connection_string) in &hub.connection_strings {
            println!("  {policy:<24} {connection_string}");
        }
    }
    println!(
        "DPS on https://{} (ID scope {}; devices register with provisioning host {}) — connection strings:",
        info.dps.host_name, info.dps.id_scope, info.dps.device_host_name
    );
    for (policy, connection_string) in &info.dps.connection_strings {
        println!("  {policy:<24} {connection_string}");
    }
    if info.port != 443 {
        println!("Note: the official Node SDKs only reach port 443; start with --port 443 (as root) for them.");
    }
    println!("Press Ctrl+C to stop.");
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = async {
                match terminate.as_mut() {
                    Some(signal) => { signal.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.ok();
}
