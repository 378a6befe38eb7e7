//! Figures for BENCHMARKS.md: simulator start-up, memory at 100 000 devices, and how long the
//! client takes to page through all of them with `SELECT * FROM devices`.
//!
//! Run: `cargo build --release --bin hubdeck && cargo run --release --example sim_bench`
//! (`--devices N` changes the fleet size; the default is 100 000).

// A measuring script: fail loudly, print figures, and do float maths on counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::cast_precision_loss)]

use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;

#[path = "../tests/common/console.rs"]
#[allow(dead_code)] // the benchmark uses the simulator process, not the kittest console
mod console;

use console::SimProcess;

/// `VmRSS` and `VmHWM` (peak) of a process, in MB.
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let devices: usize =
        std::env::args().skip_while(|arg| arg != "--devices").nth(1).map_or(100_000, |text| text.parse().expect("--devices N"));
    let work = tempfile::tempdir().unwrap();

    // 1. Start-up with the demo fleet (300 devices).
    let ephemeral: Vec<Duration> = (0..5).map(|_| SimProcess::start(&["--ephemeral"], work.path()).startup).collect();
    let state = work.path().join("state");
    let first = SimProcess::start(&["--state-dir", state.to_str().unwrap()], work.path()).startup;
    let restarts: Vec<Duration> =
        (0..5).map(|_| SimProcess::start(&["--state-dir", state.to_str().unwrap()], work.path()).startup).collect();
    eprintln!("startup, demo fleet (300), ephemeral: median {:?} of 5", median(ephemeral));
    eprintln!("startup, demo fleet (300), new state dir (certs + seed + fsync): {first:?}");
    eprintln!("startup, demo fleet (300), existing state dir: median {:?} of 5", median(restarts));

    // 2. A large fleet: memory, then paging through everything.
    let count = devices.to_string();
    // Without the DPS demo, the first hub holds exactly the fleet the bench counts.
    let sim = SimProcess::start(&["--ephemeral", "--no-dps-demo", "--devices", &count], work.path());
    let (rss_ready, _) = memory_mb(sim.pid());
    eprintln!("startup with {devices} devices (ephemeral): {:?}; simulator RSS {rss_ready:.0} MB", sim.startup);
    let client = sim.client();
    for page_size in [1000_u32, 100] {
        let started = Instant::now();
        let pages: Vec<_> = client.query_pages("SELECT * FROM devices".to_owned(), Some(page_size)).try_collect().await.unwrap();
        let elapsed = started.elapsed();
        let items: usize = pages.iter().map(|page| page.items.len()).sum();
        assert_eq!(items, devices, "every device of the fleet is listed once");
        eprintln!(
            "SELECT * FROM devices, page size {page_size}: {items} twins in {} pages, {elapsed:.2?} ({:.0} twins/s)",
            pages.len(),
            items as f64 / elapsed.as_secs_f64()
        );
    }
    let started = Instant::now();
    let filtered: Vec<_> = client
        .query_pages("SELECT * FROM devices WHERE tags.building = 43 AND properties.reported.firmware < '2.0'".to_owned(), Some(1000))
        .try_collect()
        .await
        .unwrap();
    let matched: usize = filtered.iter().map(|page| page.items.len()).sum();
    eprintln!("filtered query (building 43, firmware < 2.0): {matched} twins in {:.2?}", started.elapsed());
    let (rss_after, peak) = memory_mb(sim.pid());
    eprintln!("simulator RSS after paging: {rss_after:.0} MB (peak {peak:.0} MB)");
    drop(sim);

    let persistent = work.path().join("big");
    let seeded = SimProcess::start(&["--state-dir", persistent.to_str().unwrap(), "--no-dps-demo", "--devices", &count], work.path());
    eprintln!("first start with {devices} devices in a state dir (seed + one durable commit): {:?}", seeded.startup);
    drop(seeded);
    let reloaded = SimProcess::start(&["--state-dir", persistent.to_str().unwrap()], work.path());
    let (rss_reloaded, _) = memory_mb(reloaded.pid());
    eprintln!("restart loading {devices} devices from disk: {:?}; RSS {rss_reloaded:.0} MB", reloaded.startup);
}
