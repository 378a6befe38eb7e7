//! Figures for BENCHMARKS.md: a lockDoor job over every device of a 10 000-device simulated
//! fleet — wall time from creating the job to its completion, and how often progress reached the
//! console (events on the UI channel per second while it ran), through the real backend.
//!
//! Run: `cargo build --release --bin hubdeck && cargo run --release --example job_bench`
//! (`--devices N` changes the fleet size).

// A measuring script: fail loudly, print figures, and do float maths on counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::cast_precision_loss)]

use std::sync::Arc;
use std::time::Instant;

use hubdeck::app::backend;
use hubdeck::app::model::{ConnectionEvent, Event, JobCommand, JobEvent, RequestId};
use hubdeck::azure::wire::{CloudToDeviceMethod, JobRequest, JobType};
use serde_json::json;

#[path = "../tests/common/console.rs"]
#[allow(dead_code)] // the benchmark drives the backend alone, without the kittest console
mod console;

use console::{SimProcess, backend_options};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let devices: usize =
        args.iter().position(|arg| arg == "--devices").and_then(|index| args.get(index + 1)).map_or(10_000, |text| text.parse().unwrap());
    let work = tempfile::tempdir().unwrap();
    let devices_arg = devices.to_string();
    let sim = SimProcess::start(
        &["--ephemeral", "--no-dps-demo", "--churn-secs", "0", "--slow-per-mille", "0", "--devices", &devices_arg],
        work.path(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let options = backend_options(&work.path().join("config"), sim.profile(), work.path(), None);
    let mut handle = backend::spawn(runtime.handle(), options, Arc::new(|| {}));
    // Wait until connected (the first events are profiles and the connection).
    loop {
        if let Event::Connection(ConnectionEvent::Connected(_)) = handle.events.blocking_recv().unwrap() {
            break;
        }
    }
    let job = JobRequest {
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
    handle.commands.blocking_send(JobCommand::Create { request: RequestId::fresh(), jobs: vec![job] }.into()).unwrap();
    let watch = hubdeck::app::model::RequestId::fresh();
    handle.commands.blocking_send(JobCommand::Watch { request: watch, job_id: "bench-lockdoor".into() }.into()).unwrap();
    let mut updates = Vec::new();
    let mut first_running: Option<Instant> = None;
    let (done_at, stats, end_time, start_time) = loop {
        match handle.events.blocking_recv().unwrap() {
            Event::Jobs(JobEvent::Progress { job, .. }) => {
                let now = Instant::now();
                updates.push(now);
                if job.status == hubdeck::azure::wire::JobStatus::Running && first_running.is_none() {
                    first_running = Some(now);
                }
                if job.status.is_final() {
                    break (now, job.device_job_statistics.unwrap_or_default(), job.end_time.clone(), job.start_time.clone());
                }
            }
            Event::Jobs(JobEvent::Created { results, .. }) => assert!(results.iter().all(Result::is_ok), "{results:?}"),
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
