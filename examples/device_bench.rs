//! Figures for BENCHMARKS.md: real MQTT devices held by the simulator, and a lockDoor job over
//! them. `hubdeck sim` (no demo fleet) and `hubdeck device --fleet N` run as two processes; the
//! benchmark measures how long N devices take to connect, the simulator's memory per connection,
//! then a lockDoor job over all of them — wall time from create to completed and how often
//! progress reached the console's UI channel, through the real backend.
//!
//! Run as root (it raises the open-files limit for both processes):
//! `cargo build --release --bin hubdeck && cargo run --release --example device_bench -- --devices 10000`

// A measuring script: fail loudly, print figures, and do float maths on counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::cast_precision_loss)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubdeck::app::backend;

#[path = "../tests/common/console.rs"]
#[allow(dead_code)] // the benchmark drives the backend alone, without the kittest console
mod console;

use console::{SimProcess, backend_options};

/// `VmRSS` of a process, in MB.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The device fleet process; killed when dropped.
struct Fleet(Child);

impl Drop for Fleet {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let devices: usize =
        args.iter().position(|arg| arg == "--devices").and_then(|index| args.get(index + 1)).map_or(10_000, |text| text.parse().unwrap());
    // Each connection is a socket in both processes; children inherit the raised limit.
    let wanted = (devices as u64) * 2 + 4096;
    if rlimit::setrlimit(rlimit::Resource::NOFILE, wanted, wanted).is_err() {
        rlimit::increase_nofile_limit(wanted).ok();
    }
    eprintln!("open-files limit: {:?}", rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap());
    let work = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&["--ephemeral", "--no-dps-demo", "--devices", "0"], work.path());
    let rss_idle = rss_mb(sim.pid());
    let owner = sim.ready["connectionStrings"]["iothubowner"].as_str().unwrap().to_owned();
    let ca_file = sim.ready["caFile"].as_str().unwrap().to_owned();
    let mqtt_port = sim.ready["hubs"][0]["mqttPort"].as_u64().unwrap().to_string();
    let binary = std::env::current_exe().unwrap().parent().and_then(Path::parent).unwrap().join("hubdeck");
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped in `Drop`
    let fleet = Fleet(
        Command::new(binary)
            .args(["device", "--fleet", &devices.to_string(), "--hub-connection-string", &owner, "--ca-file", &ca_file])
            .args(["--mqtt-port", &mqtt_port, "--interval", "3600"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("hubdeck device starts"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client = sim.client();
    let deadline = Instant::now() + Duration::from_mins(10);
    loop {
        let connected = runtime.block_on(client.service_statistics()).map_or(0, |stats| stats.connected_device_count);
        if connected >= devices as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {connected} of {devices} devices connected after 10 minutes");
        std::thread::sleep(Duration::from_millis(200));
    }
    let connect_time = started.elapsed();
    // Let allocations settle before reading memory.
    std::thread::sleep(Duration::from_secs(2));
    let rss_connected = rss_mb(sim.pid());
    let fleet_rss = rss_mb(fleet.0.id());
    eprintln!("devices: {devices}");
    eprintln!("create (bulk) + connect all over MQTT/TLS: {:.2} s", connect_time.as_secs_f64());
    eprintln!(
        "simulator RSS: {rss_idle:.0} MB idle, {rss_connected:.0} MB with {devices} connected = {:.1} KB per connection (with its device record and twin)",
        (rss_connected - rss_idle) * 1024.0 / devices as f64
    );
    eprintln!("hubdeck device --fleet RSS: {fleet_rss:.0} MB = {:.1} KB per device", fleet_rss * 1024.0 / devices as f64);

    let options = backend_options(&work.path().join("config"), sim.profile(), work.path(), None);
    let mut handle = backend::spawn(runtime.handle(), options, Arc::new(|| {}));
    let run = console::create_and_watch(&mut handle, console::lock_door_everywhere("bench-real-lockdoor"));
    let (while_running, running_secs, rate) = run.updates_while_running();
    let stats = run.job.device_job_statistics.unwrap_or_default();
    eprintln!("lockDoor job over {devices} real MQTT devices: {stats:?}");
    assert_eq!(stats.succeeded_count, devices as u64, "every real device answered");
    eprintln!("wall time from create to completed (seen by the console): {:.2} s", (run.done_at - run.created).as_secs_f64());
    eprintln!("progress updates reaching the UI channel: {while_running} in {running_secs:.2} s while running = {rate:.1} updates/s");
    drop(fleet);
}
