//! The `hubdeck sim` process: ready file, crash safety under `kill -9`, restart, `--reset`, and
//! `--help` as plain text.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::console::SimProcess;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use hubdeck::azure::wire::{Device, DeviceStatus};
use hubdeck::azure::{IfMatch, ServiceConnectionString};

/// `hubdeck sim` on a free port with 50 demo devices (no DPS demo) kept in `state`.
fn start(state: &Path, extra: &[&str]) -> SimProcess {
    let state_dir = state.to_str().expect("a UTF-8 temporary path");
    let mut args = vec!["--devices", "50", "--no-dps-demo", "--state-dir", state_dir];
    args.extend_from_slice(extra);
    SimProcess::start(&args, state.parent().expect("the state dir has a parent"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sim = start(&state, &[]);
    assert_eq!(sim.ready["deviceCount"], 50);
    let client = sim.client();

    let victims: Vec<String> = client.list_devices(5).await.unwrap().into_iter().map(|device| device.device_id).collect();
    for victim in &victims {
        client.delete_device(victim, IfMatch::Any).await.unwrap();
    }
    let mut target = client.get_device(&client.list_devices(1).await.unwrap()[0].device_id).await.unwrap();
    target.status = DeviceStatus::Disabled;
    let target_etag = target.etag.clone().unwrap();
    client.update_device(&target, IfMatch::Etag(target_etag)).await.unwrap();

    // A burst of concurrent creates; kill -9 once some are acknowledged.
    let mut pending: FuturesUnordered<_> = (0..60)
        .map(|index| {
            let client = client.clone();
            async move {
                let device_id = format!("burst-{index:03}");
                client.create_device(&Device::new_with_generated_keys(&device_id)).await.map(|_| device_id)
            }
        })
        .collect();
    let mut acknowledged = Vec::new();
    while let Some(result) = pending.next().await {
        if let Ok(device_id) = result {
            acknowledged.push(device_id);
        }
        if acknowledged.len() == 20 {
            break;
        }
    }
    sim.kill_hard();
    while let Some(result) = pending.next().await {
        if let Ok(device_id) = result {
            acknowledged.push(device_id);
        }
    }
    assert!(acknowledged.len() >= 20);

    let restarted = start(&state, &[]);
    let client = restarted.client();
    for device_id in &acknowledged {
        client.get_device(device_id).await.unwrap_or_else(|error| panic!("acknowledged {device_id} lost: {error}"));
    }
    for victim in &victims {
        assert!(client.get_device(victim).await.unwrap_err().is_not_found(), "deleted {victim} came back");
    }
    assert_eq!(client.get_device(&target.device_id).await.unwrap().status, DeviceStatus::Disabled);
    let total = client.registry_statistics().await.unwrap().total_device_count;
    assert!(total >= 45 + acknowledged.len() as u64, "the fleet is not re-seeded on restart ({total})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_certificates_persist_and_reset_reseeds() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let first = start(&state, &[]);
    let owner_key = |sim: &SimProcess| {
        sim.ready["connectionStrings"]["iothubowner"].as_str().unwrap().rsplit_once("SharedAccessKey=").unwrap().1.to_owned()
    };
    let owner = owner_key(&first);
    let ca = std::fs::read(first.ready["caFile"].as_str().unwrap()).unwrap();
    first.client().delete_device(&first.client().list_devices(1).await.unwrap()[0].device_id, IfMatch::Any).await.unwrap();
    drop(first);

    let second = start(&state, &[]);
    assert_eq!(owner_key(&second), owner, "policy keys are kept");
    assert_eq!(std::fs::read(second.ready["caFile"].as_str().unwrap()).unwrap(), ca, "the CA is kept");
    assert_eq!(second.ready["deviceCount"], 49);
    drop(second);

    let reset = start(&state, &["--reset"]);
    assert_eq!(reset.ready["deviceCount"], 50);
    assert_eq!(owner_key(&reset), owner);
}

#[test]
fn ready_file_lists_connection_strings_and_goes_away_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut sim = start(&state, &[]);
    let strings = sim.ready["connectionStrings"].as_object().unwrap();
    let names: Vec<&str> = strings.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["iothubowner", "registryRead", "registryReadWrite", "service"]);
    for text in strings.values() {
        ServiceConnectionString::parse_hub(text.as_str().unwrap()).unwrap();
    }
    assert!(Path::new(sim.ready["caFile"].as_str().unwrap()).exists());
    let status = Command::new("kill").arg("-TERM").arg(sim.pid().to_string()).status().unwrap();
    assert!(status.success());
    let exit = sim.wait_for_exit();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    assert!(!sim.ready_file.exists(), "the ready file is removed on exit");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = blocker.local_addr().unwrap().port().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_hubdeck")).args(["sim", "--ephemeral", "--port", &port]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another program uses this port"), "{stderr}");
}

#[test]
fn bad_fault_rate_is_refused() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_hubdeck")).args(["sim", "--ephemeral", "--port", "0", "--fault-429", "2"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--fault-429 must be between 0 and 1"));
}

#[test]
fn help_reads_as_plain_text() {
    for args in [&["--help"][..], &["sim", "--help"][..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_hubdeck")).args(args).output().expect("hubdeck binary runs");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(output.status.success(), "hubdeck {args:?} failed: {text}");
        assert!(text.contains("IoT Hub"), "hubdeck {args:?} does not name IoT Hub:\n{text}");
        assert!(!text.contains('`'), "hubdeck {args:?} shows markdown backticks:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_is_checked_and_shown_in_the_ready_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_hubdeck"))
        .args(["sim", "--ephemeral", "--port", "0", "--tier", "S3", "--units", "11"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("a S3 hub has 1 to 10 units, not 11"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let sim = start(&dir.path().join("state"), &["--tier", "s1", "--units", "2"]);
    assert_eq!((sim.ready["tier"].as_str(), sim.ready["units"].as_u64()), (Some("S1"), Some(2)));
}
