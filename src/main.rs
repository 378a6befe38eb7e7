//! The `hubdeck` command: the desktop console (default), `hubdeck sim`, the simulator, and
//! `hubdeck device`, a real device (or a fleet of them) for IoT Hub and the simulator.

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
    /// Run a device (the door-lock app) against IoT Hub or the simulator, over MQTT.
    Device(DeviceArgs),
}

/// `hubdeck device`: one device by connection string or through DPS, or `--fleet N` of them.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    hubdeck device --connection-string \"HostName=…;DeviceId=door-1;SharedAccessKey=…\" --ca-file ca.pem\n  \
    hubdeck device --id-scope 0ne00000001 --registration-id door-2 --symmetric-key … --provisioning-host localhost\n  \
    hubdeck device --fleet 1000 --hub-connection-string \"HostName=…;SharedAccessKeyName=iothubowner;SharedAccessKey=…\"")]
struct DeviceArgs {
    /// Device connection string: HostName=…;DeviceId=…;SharedAccessKey=…[;GatewayHostName=host[:port]].
    #[arg(long, env = "IOTHUB_DEVICE_CONNECTION_STRING", hide_env_values = true, conflicts_with_all = ["id_scope", "fleet"])]
    connection_string: Option<String>,
    /// Register through DPS with this ID scope.
    #[arg(long)]
    id_scope: Option<String>,
    /// DPS registration id (with --fleet: not used; ids are --device-prefix and a number).
    #[arg(long)]
    registration_id: Option<String>,
    /// The DPS symmetric key: the individual enrollment's, or with --group-key the group's.
    #[arg(long, env = "IOTHUB_DEVICE_SYMMETRIC_KEY", hide_env_values = true)]
    symmetric_key: Option<String>,
    /// --symmetric-key is a group enrollment's key: derive the device's key from it.
    #[arg(long)]
    group_key: bool,
    /// DPS host, host[:port].
    #[arg(long, default_value = hubdeck::azure::device::provisioning::GLOBAL_PROVISIONING_HOST)]
    provisioning_host: String,
    /// Extra CA certificate (PEM) to trust besides the OS roots, e.g. the simulator's ca.pem.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// MQTT over WebSocket (`wss://host:443/$iothub/websocket`) instead of MQTT over TLS (8883).
    #[arg(long)]
    websockets: bool,
    /// Port instead of 8883 (or 443 with --websockets), for every host.
    #[arg(long)]
    mqtt_port: Option<u16>,
    /// Port for one host, HOST=PORT (repeatable): e.g. a simulator's second hub on 127.0.0.2.
    #[arg(long = "host-port", value_parser = parse_host_port)]
    host_ports: Vec<(String, u16)>,
    /// Send telemetry every this many seconds (0: none).
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Seconds a `reboot` keeps the device away.
    #[arg(long, default_value_t = 5)]
    reboot_delay: u64,
    /// Run this many devices in one process, for load.
    #[arg(long)]
    fleet: Option<usize>,
    /// With --fleet: the hub's service connection string; missing devices are created.
    #[arg(long, requires = "fleet")]
    hub_connection_string: Option<String>,
    /// With --fleet: device (or registration) ids are this prefix and 1…N.
    #[arg(long, default_value = "bench-")]
    device_prefix: String,
    /// With --fleet: devices connecting or registering at once.
    #[arg(long, default_value_t = 50)]
    connect_concurrency: usize,
    /// With --fleet: print a summary every this many seconds.
    #[arg(long, default_value_t = 5)]
    summary_secs: u64,
}

fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = text.rsplit_once('=').ok_or_else(|| format!("'{text}' is not HOST=PORT"))?;
    let port = port.parse::<u16>().ok().filter(|port| *port > 0).ok_or_else(|| format!("'{port}' is not a port number"))?;
    if host.is_empty() {
        return Err(format!("'{text}' names no host"));
    }
    Ok((host.to_owned(), port))
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
    /// Scheduled jobs that may be queued, scheduled or running at once (more get 429004);
    /// default: the tier's (F1/S1 1, S2 5, S3 10; 5 on dev).
    #[arg(long)]
    max_active_jobs: Option<usize>,
    /// Hub tier whose limits both hubs enforce: dev (no limits), F1, S1, S2 or S3.
    #[arg(long, default_value = "dev")]
    tier: hubdeck::sim::tier::HubTier,
    /// Units of the tier (F1 1, S1/S2 1–200, S3 1–10).
    #[arg(long, default_value_t = 1)]
    units: u32,
    /// Override the tier's job device operations per second.
    #[arg(long)]
    job_device_ops_per_sec: Option<f64>,
    /// Override the tier's identity-registry operations per minute.
    #[arg(long)]
    registry_ops_per_min: Option<u32>,
    /// Override the tier's queries per minute.
    #[arg(long)]
    queries_per_min: Option<u32>,
    /// Override the tier's daily message quota (all units together).
    #[arg(long)]
    daily_messages: Option<u64>,
    /// DPS device registrations per minute (0: unlimited).
    #[arg(long, default_value_t = hubdeck::sim::dps::throttles::DEFAULT_PER_MINUTE)]
    dps_registrations_per_min: u32,
    /// DPS service operations per minute (0: unlimited).
    #[arg(long, default_value_t = hubdeck::sim::dps::throttles::DEFAULT_PER_MINUTE)]
    dps_service_ops_per_min: u32,
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
        Some(Command::Device(args)) => run_device_app(args),
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
    // Every device connection is a socket: use the whole open-files allowance (desktops often
    // start with a soft limit of 1 024 under a much higher hard one).
    rlimit::increase_nofile_limit(u64::MAX).ok();
    let limits = hub_limits(&args)?;
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
        jobs: hubdeck::sim::jobs::JobsConfig::default(),
        methods: hubdeck::sim::methods::MethodConfig {
            slow_per_mille: args.slow_per_mille.min(1000),
            ..hubdeck::sim::methods::MethodConfig::default()
        },
        west_port: args.west_port.unwrap_or(args.port),
        mqtt_port: (!args.no_mqtt).then_some(args.mqtt_port),
        dps: hubdeck::sim::dps::DpsConfig {
            limits: hubdeck::sim::dps::throttles::DpsLimits {
                registrations_per_min: (args.dps_registrations_per_min > 0).then_some(args.dps_registrations_per_min),
                service_ops_per_min: (args.dps_service_ops_per_min > 0).then_some(args.dps_service_ops_per_min),
                ..hubdeck::sim::dps::throttles::DpsLimits::default()
            },
            ..hubdeck::sim::dps::DpsConfig::default()
        },
        dps_demo: !args.no_dps_demo,
        tier: args.tier,
        units: args.units,
        limits,
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

/// The tier's limits with each override given on the command line applied.
fn hub_limits(args: &SimArgs) -> anyhow::Result<hubdeck::sim::tier::HubLimits> {
    let mut limits = hubdeck::sim::tier::HubLimits::for_tier(args.tier, args.units)?;
    if let Some(max_active) = args.max_active_jobs {
        limits.max_active_jobs = Some(max_active.max(1));
    }
    if let Some(per_sec) = args.job_device_ops_per_sec {
        anyhow::ensure!(per_sec > 0.0, "--job-device-ops-per-sec must be above 0");
        limits.job_device_ops_per_sec = Some(per_sec);
    }
    if let Some(per_min) = args.registry_ops_per_min {
        limits.registry_ops_per_min = Some(per_min.max(1));
    }
    if let Some(per_min) = args.queries_per_min {
        limits.queries_per_min = Some(per_min.max(1));
    }
    if let Some(daily) = args.daily_messages {
        limits.daily_messages = Some(daily);
    }
    Ok(limits)
}

fn print_banner(simulator: &Simulator, state: &StateLocation) {
    let info = simulator.ready_info();
    let state_text = match state {
        StateLocation::Dir(dir) => format!("state in {}", dir.display()),
        StateLocation::Ephemeral => "ephemeral: nothing is kept".to_owned(),
    };
    println!("hubdeck simulator ready on https://{} ({} devices, {state_text})", info.host_name, info.device_count);
    println!(
        "Tier: {} × {} unit(s){}",
        info.tier,
        info.units,
        if info.tier == "dev" { " — no limits (--tier S1 for the service's)" } else { "" }
    );
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

fn run_device_app(args: DeviceArgs) -> anyhow::Result<()> {
    use hubdeck::azure::device::runner::{DeviceSettings, IdentitySource};
    use hubdeck::azure::device::{ReconnectPolicy, TransportSettings};

    // A fleet holds one socket per device.
    rlimit::increase_nofile_limit(u64::MAX).ok();

    let mut transport = TransportSettings::new(hubdeck::azure::device::tls_config(args.ca_file.as_deref())?);
    transport.websockets = args.websockets;
    transport.port_override = args.mqtt_port;
    transport.host_ports.clone_from(&args.host_ports);
    let template = DeviceSettings {
        source: IdentitySource::ConnectionString(hubdeck::azure::device::HubIdentity {
            host_name: String::new(),
            device_id: String::new(),
            key: Secret::default(),
            gateway_host_name: None,
        }),
        transport,
        telemetry_interval: (args.interval > 0).then(|| Duration::from_secs(args.interval)),
        reboot_delay: Duration::from_secs(args.reboot_delay),
        policy: ReconnectPolicy::default(),
        connect_gate: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (stop_sender, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_stop_signal().await;
            stop_sender.send_replace(true);
        });
        if let Some(count) = args.fleet {
            return run_fleet_command(&args, count, template, stop).await;
        }
        let settings = DeviceSettings { source: single_device_source(&args)?, ..template };
        let reporter: std::sync::Arc<dyn hubdeck::azure::device::runner::Reporter> = std::sync::Arc::new(PrintReporter);
        hubdeck::azure::device::runner::run_device(settings, reporter, stop).await?;
        Ok(())
    })
}

/// The one device's identity: a connection string, or DPS.
fn single_device_source(args: &DeviceArgs) -> anyhow::Result<hubdeck::azure::device::runner::IdentitySource> {
    use hubdeck::azure::device::runner::IdentitySource;
    if let Some(connection_string) = &args.connection_string {
        let parsed = hubdeck::azure::device::DeviceConnectionString::parse(connection_string).context("--connection-string")?;
        return Ok(IdentitySource::ConnectionString(parsed.into()));
    }
    let Some(id_scope) = &args.id_scope else {
        bail!("give --connection-string, or --id-scope with --registration-id and --symmetric-key (or --fleet N)");
    };
    let registration_id = args.registration_id.as_deref().context("--id-scope needs --registration-id")?;
    hubdeck::azure::id_rules::check_dps_id("registration id", registration_id).context("--registration-id")?;
    let key = Secret::new(args.symmetric_key.clone().context("--id-scope needs --symmetric-key")?);
    let device_key = if args.group_key {
        hubdeck::azure::device::credentials::derive_device_key(&key, registration_id).context("--symmetric-key is not valid base64")?
    } else {
        key
    };
    Ok(IdentitySource::Dps(hubdeck::azure::device::ProvisioningSettings {
        provisioning_host: args.provisioning_host.clone(),
        id_scope: id_scope.clone(),
        registration_id: registration_id.to_owned(),
        device_key,
    }))
}

/// `--fleet N`: the devices from the hub (created when missing) or a DPS group, then a summary
/// line every few seconds until Ctrl+C.
async fn run_fleet_command(
    args: &DeviceArgs,
    count: usize,
    mut template: hubdeck::azure::device::runner::DeviceSettings,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use hubdeck::azure::device::fleet::{FleetCounters, dps_fleet_settings, fleet_ids, hub_fleet_identities, run_fleet};
    use hubdeck::azure::device::runner::IdentitySource;

    let ids = fleet_ids(&args.device_prefix, count);
    let sources: Vec<IdentitySource> = if let Some(hub_connection_string) = &args.hub_connection_string {
        let connection = ServiceConnectionString::parse_hub(hub_connection_string).context("--hub-connection-string")?;
        let extra_ca_pem = match &args.ca_file {
            Some(path) => Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?),
            None => None,
        };
        let options =
            hubdeck::azure::ClientOptions { extra_ca_pem, retry: RetryPolicy::default(), ..hubdeck::azure::ClientOptions::default() };
        let hub = hubdeck::azure::HubClient::new(&connection, &options)?;
        // A WebSocket connection goes to the hub's HTTPS port, which the service HostName names.
        if args.websockets
            && args.mqtt_port.is_none()
            && let (_, Some(port)) = hubdeck::azure::device::connection_string::split_host_port(connection.host_name())
        {
            template.transport.port_override = Some(port);
        }
        println!("fleet: preparing {count} devices {}1…{count} on {}", args.device_prefix, connection.host_name());
        let identities = hub_fleet_identities(&hub, connection.host_name(), &ids).await?;
        identities.into_iter().map(IdentitySource::ConnectionString).collect()
    } else if let Some(id_scope) = &args.id_scope {
        if !args.group_key {
            bail!("a fleet through DPS needs a group enrollment's key: add --group-key");
        }
        let group_key = Secret::new(args.symmetric_key.clone().context("--id-scope needs --symmetric-key")?);
        dps_fleet_settings(&args.provisioning_host, id_scope, &group_key, &ids)?.into_iter().map(IdentitySource::Dps).collect()
    } else {
        bail!("--fleet needs --hub-connection-string, or --id-scope with a group --symmetric-key and --group-key");
    };
    let counters = std::sync::Arc::new(FleetCounters::default());
    let summary = {
        let counters = std::sync::Arc::clone(&counters);
        let every = Duration::from_secs(args.summary_secs.max(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                println!("{}", counters.snapshot(count));
            }
        })
    };
    run_fleet(sources, &template, args.connect_concurrency, std::sync::Arc::clone(&counters), stop).await;
    summary.abort();
    println!("{}", counters.snapshot(count));
    Ok(())
}

/// Prints each device event on its own line (events never carry keys or tokens).
struct PrintReporter;

impl hubdeck::azure::device::runner::Reporter for PrintReporter {
    fn report(&self, device: &str, event: hubdeck::azure::device::runner::DeviceEvent) {
        println!("[{device}] {event}");
    }
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
