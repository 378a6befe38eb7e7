//! Roll-outs driven against the simulator by the backend's driver: waves as real jobs, one after
//! another, the abort rule stopping a roll-out whose target includes offline devices, and a hub
//! that runs one job at a time (a second job waits for the first, as on S1).

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use hubdeck::app::backend::rollout_driver::drive;
use hubdeck::app::model::rollout::{AbortRule, ContinueWhen, Rollout, RolloutOperation, RolloutSpec, RolloutStatus, WavePlan, WaveStatus};
use hubdeck::azure::wire::CloudToDeviceMethod;
use serde_json::{Value, json};

fn now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

fn lock_door(plan: WavePlan, abort: Option<AbortRule>) -> RolloutSpec {
    RolloutSpec {
        name: "lock the doors".into(),
        operation: RolloutOperation::Method {
            method: CloudToDeviceMethod {
                method_name: "lockDoor".into(),
                payload: json!({"lockTime": "10m"}),
                response_timeout_in_seconds: Some(5),
                connect_timeout_in_seconds: Some(0),
            },
        },
        plan,
        soak_secs: 0,
        continue_when: ContinueWhen::Succeeded { min_percent: 90.0 },
        abort,
        max_execution_secs: 120,
    }
}

async fn device_ids(hub: &common::TestHub, condition: &str) -> Vec<String> {
    let query = format!("SELECT deviceId FROM devices WHERE {condition}");
    let page = hub.client.query_page::<Value>(&query, Some(1000), None).await.unwrap();
    page.items.iter().map(|row| row["deviceId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_wave_roll_out_runs_its_waves_as_jobs_one_after_another_and_completes() {
    let hub = common::start_hub(60).await;
    // Online, enabled devices that answer in time (a few simulated devices answer too slowly).
    let targets = device_ids(&hub, "connectionState = 'Connected' AND status = 'enabled'").await;
    let targets: Vec<String> = targets.into_iter().filter(|id| !hubdeck::sim::methods::is_slow(id, 30)).take(20).collect();
    assert_eq!(targets.len(), 20, "the demo fleet has 20 fast online devices");
    let plan = WavePlan::Percentages { steps: vec![10.0, 50.0, 100.0] };
    let mut rollout = Rollout::new("ro-three".into(), lock_door(plan, None), targets, now()).unwrap();
    let mut seen = Vec::new();
    drive(&hub.client, &mut rollout, Duration::from_millis(100), now, |current| seen.push(current.status.clone())).await.unwrap();
    assert_eq!(rollout.status, RolloutStatus::Completed, "{:?}", rollout.status);
    assert_eq!(
        rollout.waves.iter().map(|wave| (wave.devices.len(), wave.counts.succeeded)).collect::<Vec<_>>(),
        [(2, 2), (8, 8), (10, 10)]
    );
    // Each wave is a job of the hub, started after the one before ended.
    for pair in rollout.waves.windows(2) {
        assert!(pair[1].started_at.unwrap() >= pair[0].ended_at.unwrap(), "{pair:?}");
    }
    let job = hub.client.get_job("ro-three-w2-1").await.unwrap();
    assert_eq!(job.query_condition.as_deref().map(|condition| condition.starts_with("deviceId IN [")), Some(true), "{job:?}");
    assert!(seen.len() >= 6, "every change is reported: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_abort_rule_stops_a_roll_out_whose_target_includes_offline_devices() {
    let hub = common::start_hub(60).await;
    let offline = device_ids(&hub, "connectionState = 'Disconnected'").await;
    assert!(offline.len() >= 3, "the demo fleet has offline devices: {offline:?}");
    let online = device_ids(&hub, "connectionState = 'Connected' AND status = 'enabled'").await;
    // The first wave is mostly offline devices: they fail at once (404103).
    let mut targets: Vec<String> = offline.iter().take(3).cloned().collect();
    targets.extend(online.into_iter().take(7));
    let rule = AbortRule { max_failed_percent: 20.0, min_finished: 3 };
    let mut rollout = Rollout::new("ro-abort".into(), lock_door(WavePlan::Fixed { size: 5 }, Some(rule)), targets, now()).unwrap();
    drive(&hub.client, &mut rollout, Duration::from_millis(100), now, |_| {}).await.unwrap();
    let RolloutStatus::Aborted { reason } = &rollout.status else { panic!("not aborted: {:?}", rollout.status) };
    assert!(reason.contains("finished devices failed"), "{reason}");
    assert_eq!(rollout.waves[1].status, WaveStatus::Cancelled, "the second wave never starts");
    assert!(hub.client.get_job("ro-abort-w2-1").await.unwrap_err().is_not_found(), "no job was made for it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_hub_running_one_job_at_a_time_a_wave_waits_for_the_running_job() {
    let sim = hubdeck::sim::Simulator::start(hubdeck::sim::SimConfig {
        port: 0,
        mqtt_port: Some(0),
        state: hubdeck::sim::StateLocation::Ephemeral,
        fleet_size: 40,
        dps_demo: false,
        jobs: hubdeck::sim::jobs::JobsConfig { max_active: 1, ..hubdeck::sim::jobs::JobsConfig::default() },
        ..hubdeck::sim::SimConfig::default()
    })
    .await
    .unwrap();
    // No client retries: the driver itself must meet the 429 and wait.
    let client = common::client_with(&sim, "iothubowner", hubdeck::azure::RetryPolicy::none(), None);
    // Someone else's job holds the hub's only slot for a while (it waits for offline devices).
    let blocker = hubdeck::azure::wire::JobRequest {
        job_id: "someone-else".into(),
        job_type: hubdeck::azure::wire::JobType::ScheduleDeviceMethod,
        cloud_to_device_method: Some(CloudToDeviceMethod {
            method_name: "lockDoor".into(),
            payload: json!({}),
            response_timeout_in_seconds: Some(5),
            connect_timeout_in_seconds: Some(3),
        }),
        update_twin: None,
        query_condition: Some("connectionState = 'Disconnected'".into()),
        start_time: None,
        max_execution_time_in_seconds: Some(60),
    };
    client.create_job(&blocker).await.unwrap();
    let page = client.query_page::<Value>("SELECT deviceId FROM devices WHERE connectionState = 'Connected'", Some(4), None).await.unwrap();
    let targets = page.items.iter().map(|row| row["deviceId"].as_str().unwrap().to_owned()).collect();
    let mut rollout = Rollout::new("ro-wait".into(), lock_door(WavePlan::AllAtOnce, None), targets, now()).unwrap();
    drive(&client, &mut rollout, Duration::from_millis(100), now, |_| {}).await.unwrap();
    assert_eq!(rollout.status, RolloutStatus::Completed, "{:?}", rollout.status);
    assert!(rollout.waves[0].throttled > 0, "the wave met the busy hub (429) before it could start");
    let blocker = client.get_job("someone-else").await.unwrap();
    assert!(blocker.status.is_final());
}
