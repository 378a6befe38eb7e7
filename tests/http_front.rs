//! The request front end over real TLS: the hub and DPS share one listener and one front end
//! (api-version, body limit, `If-Match`), yet each answers in its own error envelope.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use hubdeck::azure::sas::{build_token, decode_key, resource_for_host};
use reqwest::Method;
use serde_json::{Value, json};

use common::start_hub;

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

/// A raw request signed with the hub's `iothubowner` or DPS's `provisioningserviceowner` key.
async fn send(hub: &common::TestHub, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>, dps: bool) -> Answer {
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(hub.sim.ca_path()).unwrap()).unwrap()])
        .no_proxy()
        .build()
        .unwrap();
    let (connection, policy) = if dps {
        (hub.sim.dps_connection_string("provisioningserviceowner").unwrap(), "provisioningserviceowner")
    } else {
        (hub.sim.connection_string("iothubowner").unwrap(), "iothubowner")
    };
    let key = decode_key(connection.key()).unwrap();
    let token = build_token(&resource_for_host(connection.host_name()), &key, 4_000_000_000, Some(policy));
    let mut request =
        http.request(method, format!("https://{}{path}", hub.sim.host_name())).header("Authorization", token.expose()).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
    Answer { status, headers, body }
}

fn enrollment(id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"registrationId": id, "attestation": {"type": "symmetricKey"}})).unwrap()
}

#[tokio::test]
async fn one_listener_two_envelopes() {
    let hub = start_hub(0).await;
    let too_large = vec![b' '; 300 * 1024];

    let hub_answer = send(&hub, Method::PUT, "/devices/d1?api-version=2021-04-12", &[], too_large.clone(), false).await;
    assert_eq!(hub_answer.status, 413);
    assert_eq!(hub_answer.header("iothub-errorcode"), Some("MessageTooLarge"));
    assert!(hub_answer.body["Message"].as_str().unwrap().contains("larger than 262144 bytes"), "{}", hub_answer.body);
    assert_eq!(hub_answer.header("x-ms-error-code"), None);

    let dps_answer = send(&hub, Method::PUT, "/enrollments/door-1?api-version=2021-10-01", &[], too_large, true).await;
    assert_eq!(dps_answer.status, 413);
    assert_eq!(dps_answer.header("x-ms-error-code"), Some("413001"));
    assert_eq!(dps_answer.body["errorCode"], 413_001);
    assert!(dps_answer.body["message"].as_str().unwrap().contains("larger than 98304 bytes"), "{}", dps_answer.body);
    assert_eq!(dps_answer.header("x-ms-request-id"), dps_answer.body["trackingId"].as_str());
    assert_eq!(dps_answer.header("iothub-errorcode"), None);

    let no_version = send(&hub, Method::GET, "/enrollments/door-1", &[], Vec::new(), true).await;
    assert_eq!((no_version.status, no_version.body["errorCode"].as_u64()), (400, Some(400_004)));
    assert!(no_version.body["message"].as_str().unwrap().contains("api-version=2021-10-01"), "{}", no_version.body);
    let hub_no_version = send(&hub, Method::GET, "/devices", &[], Vec::new(), false).await;
    assert_eq!((hub_no_version.status, hub_no_version.header("iothub-errorcode")), (400, Some("InvalidProtocolVersion")));

    let not_json = send(&hub, Method::PUT, "/enrollments/door-1?api-version=2021-10-01", &[], b"{\"registrationId\":".to_vec(), true).await;
    assert_eq!((not_json.status, not_json.body["errorCode"].as_u64()), (400, Some(400_004)));
    assert!(not_json.body["message"].as_str().unwrap().contains("is not valid JSON"), "{}", not_json.body);
}

#[tokio::test]
async fn both_apis_route_and_authorize_before_reading_the_body() {
    let hub = start_hub(0).await;
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(hub.sim.ca_path()).unwrap()).unwrap()])
        .no_proxy()
        .build()
        .unwrap();
    let base = format!("https://{}", hub.sim.host_name());
    // Unsigned and over both limits: authorization is decided from the head, so these are 401s.
    let hub_answer = http.put(format!("{base}/devices/d1?api-version=2021-04-12")).body(vec![b' '; 300 * 1024]).send().await.unwrap();
    assert_eq!(hub_answer.status().as_u16(), 401);
    assert_eq!(hub_answer.headers()["iothub-errorcode"], "IotHubUnauthorizedAccess");
    let dps_answer =
        http.put(format!("{base}/enrollments/door-1?api-version=2021-10-01")).body(vec![b' '; 300 * 1024]).send().await.unwrap();
    assert_eq!(dps_answer.status().as_u16(), 401);
    assert_eq!(dps_answer.headers()["x-ms-error-code"], "401002");
    // A method the path does not take is named before anything else is looked at.
    let wrong = http.patch(format!("{base}/enrollments/door-1?api-version=2021-10-01")).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 405);
    assert_eq!(wrong.headers()["x-ms-error-code"], "405001");
}

#[tokio::test]
async fn dps_preconditions_read_like_the_hubs() {
    let hub = start_hub(0).await;
    let path = "/enrollments/door-7?api-version=2021-10-01";
    let created = send(&hub, Method::PUT, path, &[], enrollment("door-7"), true).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let etag = created.body["etag"].as_str().unwrap().to_owned();
    assert!(created.header("x-ms-request-id").is_some(), "successes carry a request id too");

    let stale = send(&hub, Method::PUT, path, &[("If-Match", "\"stale\"")], enrollment("door-7"), true).await;
    assert_eq!((stale.status, stale.body["errorCode"].as_u64()), (412, Some(412_002)));
    let unquoted = etag.trim_matches('"').to_owned();
    let updated = send(&hub, Method::PUT, path, &[("If-Match", unquoted.as_str())], enrollment("door-7"), true).await;
    assert_eq!(updated.status, 200, "an unquoted etag matches: {}", updated.body);
    let etag = updated.body["etag"].as_str().unwrap().to_owned();

    let weak = format!("W/{etag}");
    let deleted = send(&hub, Method::DELETE, path, &[("If-Match", weak.as_str())], Vec::new(), true).await;
    assert_eq!(deleted.status, 204, "a weak etag matches as the hub's do: {}", deleted.body);
    let star = send(&hub, Method::PUT, path, &[("If-Match", "*")], enrollment("door-7"), true).await;
    assert_eq!(star.status, 200, "`*` creates: {}", star.body);
    let missing =
        send(&hub, Method::PUT, "/enrollments/door-8?api-version=2021-10-01", &[("If-Match", &etag)], enrollment("door-8"), true).await;
    assert_eq!((missing.status, missing.body["errorCode"].as_u64()), (404, Some(404_201)), "an etag names an existing enrollment");
}
