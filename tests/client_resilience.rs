//! Retry policy against injected faults, auth refusals, bad input answered with clear errors,
//! secrets kept out of events and errors, and the proxy path.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hubdeck::azure::sas::{build_token, decode_key, resource_for_host};
use hubdeck::azure::wire::Device;
use hubdeck::azure::{CallOutcome, ClientEvent, HubClient, ProxySetting, RetryPolicy, RetryReason};
use hubdeck::sim::Fault;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

use common::{client_with, fast_retry, options_for, start_hub};

fn calls(events: &[ClientEvent]) -> Vec<(Option<u16>, u32, CallOutcome)> {
    events
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Call(call) => Some((call.status, call.attempt, call.outcome)),
            ClientEvent::RetryWaiting(_) => None,
        })
        .collect()
}

#[tokio::test]
async fn throttled_call_waits_for_retry_after_then_succeeds() {
    let hub = start_hub(5).await;
    hub.sim.hub().faults().queue([Fault::Throttle { retry_after_secs: 1 }]);
    let started = Instant::now();
    let statistics = hub.client.registry_statistics().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(statistics.total_device_count, 5);
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    let events = hub.events.lock().clone();
    assert_eq!(calls(&events), vec![(Some(429), 1, CallOutcome::WillRetry), (Some(200), 2, CallOutcome::Succeeded)]);
    let waits: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            ClientEvent::RetryWaiting(notice) => Some((notice.wait, notice.reason, notice.next_attempt)),
            ClientEvent::Call(_) => None,
        })
        .collect();
    assert_eq!(waits, vec![(Duration::from_secs(1), RetryReason::Throttled, 2)]);
}

#[tokio::test]
async fn unavailable_backs_off_exponentially_then_succeeds() {
    let hub = start_hub(1).await;
    hub.sim.hub().faults().queue([Fault::Unavailable, Fault::Unavailable]);
    let started = Instant::now();
    hub.client.get_device(&hub.client.list_devices(1).await.unwrap()[0].device_id).await.ok();
    // list_devices took the two 503s: 200 ms then 400 ms of back-off.
    assert!(started.elapsed() >= Duration::from_millis(600), "{:?}", started.elapsed());
    let events = hub.events.lock().clone();
    assert_eq!(
        calls(&events)[..3],
        [(Some(503), 1, CallOutcome::WillRetry), (Some(503), 2, CallOutcome::WillRetry), (Some(200), 3, CallOutcome::Succeeded)]
    );
}

#[tokio::test]
async fn persistent_unavailability_gives_a_typed_error() {
    let hub = start_hub(0).await;
    hub.sim.hub().faults().queue([Fault::Unavailable; 3]);
    let error = hub.client.registry_statistics().await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(503), Some("ServiceUnavailable")));
    assert_eq!(calls(&hub.events.lock())[2], (Some(503), 3, CallOutcome::Failed));
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let hub = start_hub(0).await;
    let error = hub.client.get_device("missing").await.unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(calls(&hub.events.lock()), vec![(Some(404), 1, CallOutcome::Failed)]);
}

#[tokio::test]
async fn policies_are_enforced() {
    let hub = start_hub(3).await;
    let reader = client_with(&hub.sim, "registryRead", RetryPolicy::none(), None);
    assert_eq!(reader.registry_statistics().await.unwrap().total_device_count, 3);
    let refused = reader.create_device(&Device::new_with_generated_keys("nope")).await.unwrap_err();
    assert_eq!((refused.status(), refused.code()), (Some(401), Some("IotHubUnauthorizedAccess")));
    assert!(refused.to_string().contains("does not grant RegistryWrite"), "{refused}");
    let service = client_with(&hub.sim, "service", RetryPolicy::none(), None);
    service.query_page::<serde_json::Value>("SELECT * FROM devices", None, None).await.expect("the service policy may query");
    assert_eq!(service.list_devices(1).await.unwrap_err().status(), Some(401));

    let forged_text = hub
        .sim
        .connection_string("iothubowner")
        .unwrap()
        .expose()
        .replace(hub.sim.connection_string("iothubowner").unwrap().key().expose(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    let forged = HubClient::new(
        &hubdeck::azure::ServiceConnectionString::parse_hub(&forged_text).unwrap(),
        &options_for(&hub.sim, RetryPolicy::none()),
    )
    .unwrap();
    let error = forged.registry_statistics().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(error.to_string().contains("signature does not match"));
}

/// Raw requests for what the typed client never sends.
async fn raw(hub: &common::TestHub, method: reqwest::Method, path: &str, body: Vec<u8>, token: bool) -> (u16, Option<String>, String) {
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(hub.sim.ca_path()).unwrap()).unwrap()])
        .no_proxy()
        .build()
        .unwrap();
    let connection = hub.sim.connection_string("iothubowner").unwrap();
    let key = decode_key(connection.key()).unwrap();
    let authorization = build_token(&resource_for_host(connection.host_name()), &key, 4_000_000_000, Some("iothubowner"));
    let mut request = http.request(method, format!("https://{}{path}", hub.sim.host_name())).body(body);
    if token {
        request = request.header("Authorization", authorization.expose());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let code = response.headers().get("iothub-errorcode").map(|value| value.to_str().unwrap().to_owned());
    (status, code, response.text().await.unwrap())
}

// (method, path, body, signed, status, error code, text in the message)
type Case<'a> = (reqwest::Method, &'a str, Vec<u8>, bool, u16, &'a str, &'a str);

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let hub = start_hub(0).await;
    let put = reqwest::Method::PUT;
    let post = reqwest::Method::POST;
    let cases: Vec<Case<'_>> = vec![
        (
            put.clone(),
            "/devices/d1?api-version=2021-04-12",
            b"{\"deviceId\": \"d1\",".to_vec(),
            true,
            400,
            "IotHubFormatError",
            "is not valid JSON",
        ),
        (
            put.clone(),
            "/devices/d1?api-version=2021-04-12",
            b"{\"deviceId\":\"d1\",\"status\":\"sleeping\"}".to_vec(),
            true,
            400,
            "IotHubFormatError",
            "unknown variant `sleeping`",
        ),
        (put.clone(), "/devices/d1?api-version=2021-04-12", Vec::new(), true, 400, "ArgumentNull", "has no body"),
        (put.clone(), "/devices/bad%20id?api-version=2021-04-12", b"{}".to_vec(), true, 400, "ArgumentInvalid", "contains ' '"),
        (put, "/devices/d1?api-version=2021-04-12", vec![b' '; 300 * 1024], true, 413, "MessageTooLarge", "larger than 262144 bytes"),
        (reqwest::Method::GET, "/widgets?api-version=2021-04-12", Vec::new(), true, 404, "ResourceNotFound", "GET /widgets"),
        (reqwest::Method::GET, "/devices", Vec::new(), true, 400, "InvalidProtocolVersion", "api-version"),
        (
            reqwest::Method::GET,
            "/devices?api-version=2021-04-12",
            Vec::new(),
            false,
            401,
            "IotHubUnauthorizedAccess",
            "no Authorization header",
        ),
        (
            post.clone(),
            "/devices/query?api-version=2021-04-12",
            b"{\"query\": \"SELECT * FROM devices WHERE\"}".to_vec(),
            true,
            400,
            "ArgumentInvalid",
            "line 1, column 28",
        ),
        (
            post.clone(),
            "/devices/query?api-version=2021-04-12",
            b"{\"sql\": \"SELECT\"}".to_vec(),
            true,
            400,
            "IotHubFormatError",
            "missing field `query`",
        ),
        (
            post,
            "/devices?api-version=2021-04-12",
            b"{\"id\":\"x\"}".to_vec(),
            true,
            400,
            "IotHubFormatError",
            "array of ExportImportDevice",
        ),
        (reqwest::Method::PATCH, "/devices/d1?api-version=2021-04-12", Vec::new(), true, 405, "InvalidOperation", "PATCH is not allowed"),
    ];
    for (method, path, body, token, status, code, text) in cases {
        let (got_status, got_code, got_body) = raw(&hub, method.clone(), path, body, token).await;
        assert_eq!(got_status, status, "{method} {path}: {got_body}");
        assert_eq!(got_code.as_deref(), Some(code), "{method} {path}: {got_body}");
        let body: serde_json::Value = serde_json::from_str(&got_body).unwrap();
        let message = body["Message"].as_str().unwrap();
        assert!(message.starts_with(&format!("ErrorCode:{code};")), "{message}");
        assert!(message.contains(text), "{method} {path}: {message}");
        assert!(body["ExceptionMessage"].as_str().unwrap().starts_with("Tracking ID:"));
    }
}

#[tokio::test]
async fn secrets_never_reach_events_or_errors() {
    let hub = start_hub(2).await;
    let owner_key = hub.sim.connection_string("iothubowner").unwrap().key().expose().to_owned();
    let device = hub.client.create_device(&Device::new_with_generated_keys("secret-dev")).await.unwrap();
    let device_key = device.primary_key().unwrap().expose().to_owned();
    hub.sim.hub().faults().queue([Fault::Throttle { retry_after_secs: 0 }]);
    hub.client.get_device("secret-dev").await.unwrap();
    let error = hub.client.get_device("missing").await.unwrap_err();
    let rendered = format!("{:?} {:?} {} {:?} {:?}", hub.events.lock(), error, error, hub.client, device);
    for secret in [owner_key.as_str(), device_key.as_str(), "SharedAccessSignature", "sig="] {
        assert!(!rendered.contains(secret), "{secret} leaked");
    }
}

/// A minimal HTTP CONNECT proxy that counts tunnels.
async fn start_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&tunnels);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut reader = BufReader::new(client);
                let mut request_line = String::new();
                reader.read_line(&mut request_line).await.unwrap();
                let target = request_line.split_whitespace().nth(1).unwrap().to_owned();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).await.unwrap();
                    if header == "\r\n" || header.is_empty() {
                        break;
                    }
                }
                let mut client = reader.into_inner();
                let mut upstream = TcpStream::connect(target.replace("localhost", "127.0.0.1")).await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.unwrap();
                tokio::io::copy_bidirectional(&mut client, &mut upstream).await.ok();
            });
        }
    });
    (format!("http://{address}"), tunnels)
}

#[tokio::test]
async fn https_proxy_is_used_when_configured() {
    let hub = start_hub(4).await;
    let (proxy_url, tunnels) = start_proxy().await;
    let env = |name: &str| (name == "HTTPS_PROXY").then(|| proxy_url.clone());
    let mut options = options_for(&hub.sim, fast_retry());
    options.proxy = ProxySetting::FromEnvironment.resolve(env);
    let client = HubClient::new(&hub.sim.connection_string("iothubowner").unwrap(), &options).unwrap();
    assert_eq!(client.registry_statistics().await.unwrap().total_device_count, 4);
    assert_eq!(tunnels.load(Ordering::SeqCst), 1, "the call went through the proxy");

    options.proxy = ProxySetting::Url { url: proxy_url, no_proxy: Some("localhost".to_owned()) };
    let bypassing = HubClient::new(&hub.sim.connection_string("iothubowner").unwrap(), &options).unwrap();
    bypassing.registry_statistics().await.unwrap();
    assert_eq!(tunnels.load(Ordering::SeqCst), 1, "NO_PROXY hosts go direct");
}

#[tokio::test]
async fn wrong_ca_is_a_clear_transport_error() {
    let hub = start_hub(0).await;
    let mut options = options_for(&hub.sim, RetryPolicy::none());
    options.extra_ca_pem = None;
    let client = HubClient::new(&hub.sim.connection_string("iothubowner").unwrap(), &options).unwrap();
    let error = client.registry_statistics().await.unwrap_err();
    assert!(matches!(error, hubdeck::azure::AzureError::Transport { .. }), "{error:?}");
    assert!(error.to_string().to_lowercase().contains("certificate"), "{error}");
    options.extra_ca_pem = Some(b"not a certificate".to_vec());
    assert!(
        HubClient::new(&hub.sim.connection_string("iothubowner").unwrap(), &options).unwrap_err().to_string().contains("CA certificate")
    );
}
