//! Figures for BENCHMARKS.md: a lockDoor job over every device of a 10 000-device simulated
//! fleet — wall time from creating the job to its completion, and how often progress reached the
//! console (events on the UI channel per second while it ran), through the real backend.
//!
//! Run: `cargo build --release --bin hubdeck && cargo run --release --example job_bench`
//! (`--devices N` changes the fleet size).

// A measuring script: fail loudly, print figures, and do float maths on counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::cast_precision_loss)]

use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubdeck::app::backend::profile_store::CommandLineProfile;
use hubdeck::app::backend::save_dialog::FixedDirSaveDialog;
use hubdeck::app::backend::{self, BackendOptions, SimulatorSettings};
use hubdeck::app::model::{Command, Event};
use hubdeck::azure::RetryPolicy;
use hubdeck::azure::secret::Secret;
use hubdeck::azure::wire::{CloudToDeviceMethod, JobRequest, JobType};
use hubdeck::sim::StateLocation;
use serde_json::{Value, json};

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn hubdeck_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("hubdeck");
    assert!(binary.exists(), "build it first: cargo build --release --bin hubdeck");
    binary
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let devices: usize =
        args.iter().position(|arg| arg == "--devices").and_then(|index| args.get(index + 1)).map_or(10_000, |text| text.parse().unwrap());
    let work = tempfile::tempdir().unwrap();
    let ready_file = work.path().join("ready.json");
    #[allow(clippy::zombie_processes)] // reaped in `Sim::drop`
    let child = Process::new(hubdeck_binary())
        .args([
            "sim",
            "--ephemeral",
            "--port",
            "0",
            "--churn-secs",
            "0",
            "--slow-per-mille",
            "0",
            "--devices",
            &devices.to_string(),
            "--ready-file",
        ])
        .arg(&ready_file)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _sim = Sim(child);
    let ready: Value = loop {
        if let Ok(text) = std::fs::read_to_string(&ready_file)
            && let Ok(ready) = serde_json::from_str::<Value>(&text)
        {
            break ready;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let options = BackendOptions {
        config_dir: work.path().join("config"),
        simulator: SimulatorSettings {
            state: StateLocation::Ephemeral,
            fleet_size: 0,
            fleet: hubdeck::sim::FleetConfig::default(),
            shared: None,
        },
        use_keyring: false,
        command_line: Some(CommandLineProfile {
            hub: Secret::new(ready["connectionStrings"]["iothubowner"].as_str().unwrap()),
            dps: None,
            ca_file: Some(ready["caFile"].as_str().unwrap().into()),
        }),
        retry: RetryPolicy::default(),
        save_dialog: Arc::new(FixedDirSaveDialog(work.path().to_owned())),
    };
    let mut handle = backend::spawn(runtime.handle(), options, Arc::new(|| {}));
    // Wait until connected (the first events are profiles and the connection).
    loop {
        if let Event::Connected { .. } = handle.events.blocking_recv().unwrap() {
            break;
        }
    }
    let request = JobRequest {
        job_id: "bench-lockdoor".into(),
        job_type: JobType::ScheduleDeviceMethod,
        cloud_to_device_method: Some(CloudToDeviceMethod {
            method_name: "lockDoor".into(),
            payload: json!({"lockTime": "10m"}),
            response_timeout_in_seconds: Some(30),
            connect_timeout_in_seconds: None,
        }),
        update_twin: None,
        query_condition: Some("*".into()),
        start_time: None,
        max_execution_time_in_seconds: Some(3600),
    };
    let started = Instant::now();
    handle.commands.blocking_send(Command::CreateJobs(vec![request])).unwrap();
    handle.commands.blocking_send(Command::WatchJob("bench-lockdoor".into())).unwrap();
    let mut updates = Vec::new();
    let mut first_running: Option<Instant> = None;
    let (done_at, stats, end_time, start_time) = loop {
        match handle.events.blocking_recv().unwrap() {
            Event::JobProgress { job, .. } => {
                let now = Instant::now();
                updates.push(now);
                if job.status == hubdeck::azure::wire::JobStatus::Running && first_running.is_none() {
                    first_running = Some(now);
                }
                if job.status.is_final() {
                    break (now, job.device_job_statistics.unwrap_or_default(), job.end_time.clone(), job.start_time.clone());
                }
            }
            Event::JobsCreated(results) => assert!(results.iter().all(Result::is_ok), "{results:?}"),
            _ => {}
        }
    };
    let wall = done_at - started;
    let running_from = first_running.unwrap_or(started);
    let while_running = updates.iter().filter(|at| **at >= running_from).count();
    let running_secs = (done_at - running_from).as_secs_f64();
    eprintln!("devices: {devices}");
    eprintln!("job statistics: {stats:?}");
    eprintln!("service start → end: {} → {}", start_time.unwrap_or_default(), end_time.unwrap_or_default());
    eprintln!("wall time from create to completed (seen by the console): {:.2} s", wall.as_secs_f64());
    eprintln!(
        "progress updates reaching the UI channel: {} in {:.2} s while running = {:.1} updates/s",
        while_running,
        running_secs,
        while_running as f64 / running_secs.max(0.001)
    );
}
