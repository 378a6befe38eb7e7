//! Figures for BENCHMARKS.md: simulator start-up, memory at 100 000 devices, and how long the
//! client takes to page through all of them with `SELECT * FROM devices`.
//!
//! Run: `cargo build --release --bin hubdeck && cargo run --release --example sim_bench`
//! (`--devices N` changes the fleet size; the default is 100 000).

// A measuring script: fail loudly, print figures, and do float maths on counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use hubdeck::azure::{ClientOptions, HubClient, ProxySetting, RetryPolicy, ServiceConnectionString};
use serde_json::Value;

fn hubdeck_binary() -> PathBuf {
    // examples live in target/<profile>/examples/, the binary in target/<profile>/.
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("hubdeck");
    assert!(binary.exists(), "build it first: cargo build --release --bin hubdeck");
    binary
}

struct Sim {
    child: Child,
    ready: Value,
    startup: Duration,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn start(args: &[&str], work: &Path) -> Sim {
    let ready_file = work.join("ready.json");
    std::fs::remove_file(&ready_file).ok();
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped in `Sim::drop`
    let child = Command::new(hubdeck_binary())
        .args(["sim", "--port", "0", "--ready-file"])
        .arg(&ready_file)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready_file)
            && let Ok(ready) = serde_json::from_str::<Value>(&text)
        {
            return Sim { child, ready, startup: started.elapsed() };
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

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

fn client(sim: &Sim) -> HubClient {
    let connection = ServiceConnectionString::parse_hub(sim.ready["connectionStrings"]["iothubowner"].as_str().unwrap()).unwrap();
    let options = ClientOptions {
        extra_ca_pem: Some(std::fs::read(sim.ready["caFile"].as_str().unwrap()).unwrap()),
        proxy: ProxySetting::Disabled,
        retry: RetryPolicy::none(),
        ..ClientOptions::default()
    };
    HubClient::new(&connection, &options).unwrap()
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
    let ephemeral: Vec<Duration> = (0..5).map(|_| start(&["--ephemeral"], work.path()).startup).collect();
    let state = work.path().join("state");
    let first = start(&["--state-dir", state.to_str().unwrap()], work.path()).startup;
    let restarts: Vec<Duration> = (0..5).map(|_| start(&["--state-dir", state.to_str().unwrap()], work.path()).startup).collect();
    eprintln!("startup, demo fleet (300), ephemeral: median {:?} of 5", median(ephemeral));
    eprintln!("startup, demo fleet (300), new state dir (certs + seed + fsync): {first:?}");
    eprintln!("startup, demo fleet (300), existing state dir: median {:?} of 5", median(restarts));

    // 2. A large fleet: memory, then paging through everything.
    let count = devices.to_string();
    // Without the DPS demo, the first hub holds exactly the fleet the bench counts.
    let sim = start(&["--ephemeral", "--no-dps-demo", "--devices", &count], work.path());
    let (rss_ready, _) = memory_mb(sim.child.id());
    eprintln!("startup with {devices} devices (ephemeral): {:?}; simulator RSS {rss_ready:.0} MB", sim.startup);
    let client = client(&sim);
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
    let (rss_after, peak) = memory_mb(sim.child.id());
    eprintln!("simulator RSS after paging: {rss_after:.0} MB (peak {peak:.0} MB)");
    drop(sim);

    let persistent = work.path().join("big");
    let seeded = start(&["--state-dir", persistent.to_str().unwrap(), "--no-dps-demo", "--devices", &count], work.path());
    eprintln!("first start with {devices} devices in a state dir (seed + one durable commit): {:?}", seeded.startup);
    drop(seeded);
    let reloaded = start(&["--state-dir", persistent.to_str().unwrap()], work.path());
    let (rss_reloaded, _) = memory_mb(reloaded.child.id());
    eprintln!("restart loading {devices} devices from disk: {:?}; RSS {rss_reloaded:.0} MB", reloaded.startup);
}
