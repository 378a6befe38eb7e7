//! Figures for BENCHMARKS.md: a lockDoor job over every device of a 10 000-device simulated
//! fleet — wall time from creating the job to its completion, and how often progress reached the
//! console (events on the UI channel per second while it ran), through the real backend.
//!
//! Run: `cargo build --release --bin hubdeck && cargo run --release --example job_bench`
//! (`--devices N` changes the fleet size).

// A measuring script: fail loudly, print figures, and do float maths on counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::cast_precision_loss)]

use std::sync::Arc;

use hubdeck::app::backend;

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
    let run = console::create_and_watch(&mut handle, console::lock_door_everywhere("bench-lockdoor"));
    let (while_running, running_secs, rate) = run.updates_while_running();
    let stats = run.job.device_job_statistics.unwrap_or_default();
    eprintln!("devices: {devices}");
    eprintln!("job statistics: {stats:?}");
    eprintln!("service start → end: {} → {}", run.job.start_time.clone().unwrap_or_default(), run.job.end_time.clone().unwrap_or_default());
    eprintln!("wall time from create to completed (seen by the console): {:.2} s", (run.done_at - run.created).as_secs_f64());
    eprintln!("progress updates reaching the UI channel: {while_running} in {running_secs:.2} s while running = {rate:.1} updates/s");
}
