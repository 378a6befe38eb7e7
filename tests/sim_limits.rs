//! The simulator's tier limits over real HTTPS: an S1 hub with its rates shrunk so the test runs in
//! seconds (the *shape* of S1: one job at a time, registry and daily-quota refusals) and DPS with
//! a small registration budget.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use hubdeck::azure::sas::{build_token, decode_key, encode_component, resource_for_host};
use hubdeck::sim::dps::DpsConfig;
use hubdeck::sim::dps::throttles::DpsLimits;
use hubdeck::sim::tier::{HubLimits, HubTier};
use hubdeck::sim::{SimConfig, Simulator, StateLocation};
use reqwest::Method;
use serde_json::{Value, json};

/// What the tests read from an answer.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }
}

fn http(sim: &Simulator) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(sim.ca_path()).unwrap()).unwrap()])
        .no_proxy()
        .build()
        .unwrap()
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
    Answer { status, headers, body }
}

/// A request signed with the hub's `iothubowner` or DPS's `provisioningserviceowner` key.
async fn send(sim: &Simulator, method: Method, path: &str, body: Option<Value>, dps: bool) -> Answer {
    let (connection, policy) = if dps {
        (sim.dps_connection_string("provisioningserviceowner").unwrap(), "provisioningserviceowner")
    } else {
        (sim.connection_string("iothubowner").unwrap(), "iothubowner")
    };
    let key = decode_key(connection.key()).unwrap();
    let token = build_token(&resource_for_host(connection.host_name()), &key, 4_000_000_000, Some(policy));
    let mut request = http(sim).request(method, format!("https://{}{path}", sim.host_name())).header("Authorization", token.expose());
    if let Some(body) = body {
        request = request.header("Content-Type", "application/json").body(serde_json::to_vec(&body).unwrap());
    }
    answer(request).await
}

/// S1 × 1 with 5 registry operations a minute and 3 messages a day; DPS 2 registrations a minute.
async fn start_s1() -> Simulator {
    let limits = HubLimits { registry_ops_per_min: Some(5), daily_messages: Some(3), ..HubLimits::for_tier(HubTier::S1, 1).unwrap() };
    let dps = DpsConfig { limits: DpsLimits { registrations_per_min: Some(2), ..DpsLimits::default() }, ..DpsConfig::default() };
    Simulator::start(SimConfig {
        port: 0,
        mqtt_port: None,
        state: StateLocation::Ephemeral,
        fleet_size: 0,
        dps_demo: false,
        tier: HubTier::S1,
        units: 1,
        limits,
        dps,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

const API: &str = "api-version=2021-04-12";

fn scheduled_job(job_id: &str) -> Value {
    json!({
        "jobId": job_id,
        "type": "scheduleUpdateTwin",
        "updateTwin": {"etag": "*", "properties": {"desired": {"x": 1}}},
        "queryCondition": "deviceId = 'nobody'",
        "startTime": "2099-01-01T00:00:00Z",
        "maxExecutionTimeInSeconds": 60
    })
}

#[tokio::test]
async fn an_s1_hub_runs_one_job_throttles_its_registry_and_ends_the_day_with_403002() {
    let sim = start_s1().await;
    assert_eq!(sim.tier(), (HubTier::S1, 1));
    assert_eq!(sim.ready_info().tier, "S1");

    // One job at a time: the second gets 429004 in the hub's envelope.
    let first = send(&sim, Method::PUT, &format!("/jobs/v2/wave-1?{API}"), Some(scheduled_job("wave-1")), false).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = send(&sim, Method::PUT, &format!("/jobs/v2/wave-2?{API}"), Some(scheduled_job("wave-2")), false).await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert_eq!(second.header("iothub-errorcode"), Some("ThrottlingMaxActiveJobCountExceeded"));
    assert!(second.body["Message"].as_str().unwrap().starts_with("ErrorCode:ThrottlingMaxActiveJobCountExceeded;"), "{}", second.body);
    assert!(second.body["ExceptionMessage"].as_str().unwrap().contains("Tracking ID:"), "{}", second.body);

    // Five registry operations a minute, then 429 ThrottlingException with Retry-After.
    let created = send(&sim, Method::PUT, &format!("/devices/d1?{API}"), Some(json!({"deviceId": "d1"})), false).await;
    assert_eq!(created.status, 200, "{}", created.body);
    for _ in 0..4 {
        assert_eq!(send(&sim, Method::GET, &format!("/devices/d1?{API}"), None, false).await.status, 200);
    }
    let throttled = send(&sim, Method::GET, &format!("/devices/d1?{API}"), None, false).await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert_eq!(throttled.header("iothub-errorcode"), Some("ThrottlingException"));
    assert!(throttled.body["Message"].as_str().unwrap().starts_with("ErrorCode:ThrottlingException;"), "{}", throttled.body);
    let retry_after: u32 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry_after), "{retry_after}");

    // Three messages a day: three twin updates of one chunk each, then 403002.
    for value in 0..3 {
        let patched =
            send(&sim, Method::PATCH, &format!("/twins/d1?{API}"), Some(json!({"properties": {"desired": {"v": value}}})), false).await;
        assert_eq!(patched.status, 200, "{}", patched.body);
    }
    let over = send(&sim, Method::PATCH, &format!("/twins/d1?{API}"), Some(json!({"properties": {"desired": {"v": 9}}})), false).await;
    assert_eq!(over.status, 403, "{}", over.body);
    assert_eq!(over.header("iothub-errorcode"), Some("IotHubQuotaExceeded"));
    assert!(over.body["Message"].as_str().unwrap().starts_with("ErrorCode:IotHubQuotaExceeded;"), "{}", over.body);
    let method = json!({"methodName": "lockDoor", "payload": {}, "responseTimeoutInSeconds": 5});
    assert_eq!(send(&sim, Method::POST, &format!("/twins/d1/methods?{API}"), Some(method), false).await.status, 403);
    // Reading a twin costs no messages and still works.
    assert_eq!(send(&sim, Method::GET, &format!("/twins/d1?{API}"), None, false).await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn dps_answers_429_with_retry_after_once_the_registration_budget_is_used() {
    let sim = start_s1().await;
    let key = [7_u8; 32];
    let key_text = base64_key(&key);
    for id in ["door-a", "door-b", "door-c"] {
        let enrollment = json!({
            "registrationId": id,
            "attestation": {"type": "symmetricKey", "symmetricKey": {"primaryKey": key_text, "secondaryKey": key_text}}
        });
        let saved = send(&sim, Method::PUT, &format!("/enrollments/{id}?api-version=2021-10-01"), Some(enrollment), true).await;
        assert_eq!(saved.status, 200, "{}", saved.body);
    }
    let id_scope = sim.dps().id_scope().to_owned();
    let register = |id: &'static str| {
        let resource = format!("{id_scope}/registrations/{id}");
        let token = build_token(&encode_component(&resource), &key, 4_000_000_000, Some("registration"));
        http(&sim)
            .put(format!("https://{}/{id_scope}/registrations/{id}/register?api-version=2021-06-01", sim.host_name()))
            .header("Authorization", token.expose())
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&json!({"registrationId": id})).unwrap())
    };
    assert_eq!(answer(register("door-a")).await.status, 202);
    assert_eq!(answer(register("door-b")).await.status, 202);
    let throttled = answer(register("door-c")).await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    let retry_after: u32 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(throttled.body["errorCode"], 429_001);
    assert_eq!(throttled.body["message"], "Operations are being throttled by the service.");
    sim.shutdown().await;
}

fn base64_key(key: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key)
}

#[tokio::test]
async fn simulated_devices_registering_at_once_see_a_429_storm_and_a_wave_within_budget_does_not() {
    let dps = DpsConfig { limits: DpsLimits { registrations_per_min: Some(5), ..DpsLimits::default() }, ..DpsConfig::default() };
    let sim = Simulator::start(SimConfig {
        port: 0,
        mqtt_port: None,
        state: StateLocation::Ephemeral,
        fleet_size: 0,
        dps,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // The demo registered its devices at start (seeding is not throttled).
    let mut devices: Vec<(std::sync::Arc<hubdeck::sim::hub::Hub>, String)> = Vec::new();
    for linked in sim.dps().hubs() {
        let ids: Vec<String> = sim.dps().read(|state| {
            state
                .registrations
                .values()
                .filter(|record| record.state.assigned_hub.as_deref().is_some_and(|hub| hub.eq_ignore_ascii_case(&linked.host_name)))
                .filter_map(|record| record.state.device_id.clone())
                .collect()
        });
        devices.extend(ids.into_iter().map(|id| (std::sync::Arc::clone(&linked.hub), id)));
    }
    assert!(devices.len() >= 15, "{} demo devices", devices.len());

    // A wave within the budget: five devices, no 429.
    for (hub, device_id) in &devices[..5] {
        assert!(hub.request_reprovision(device_id));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sim.dps().throttles().fleet_counts().throttled, 0);

    // Everyone else at once: the budget is spent, so each is throttled and waits Retry-After.
    let rest = &devices[5..];
    for (hub, device_id) in rest {
        assert!(hub.request_reprovision(device_id));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    // At most the five tokens the first wave might have left unspent let some through.
    let storm = u64::try_from(rest.len() - 5).unwrap();
    while sim.dps().throttles().fleet_counts().throttled < storm.max(1) {
        assert!(std::time::Instant::now() < deadline, "{:?}", sim.dps().throttles().fleet_counts());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sim.dps().throttles().fleet_counts().retried, 0, "nobody retries before its Retry-After");
    sim.shutdown().await;
}
