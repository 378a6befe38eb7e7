//! Twin writes through the client against the simulator: patch and replace with etags, the
//! service's limits, and two writers racing.

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use hubdeck::azure::IfMatch;
use hubdeck::azure::wire::Device;
use serde_json::json;

use common::{client_with, fast_retry, start_hub};

#[tokio::test]
async fn patch_with_etag_then_a_stale_etag_is_refused() {
    let hub = start_hub(0).await;
    hub.client.create_device(&Device::new_with_generated_keys("t1")).await.unwrap();
    let fresh = hub.client.get_twin("t1").await.unwrap();
    let etag = fresh.etag.clone().unwrap();
    let patched = hub
        .client
        .patch_twin(
            "t1",
            &json!({"tags": {"building": 43}, "properties": {"desired": {"building": 43, "floor": 3}}}),
            IfMatch::Etag(etag.clone()),
        )
        .await
        .unwrap();
    assert_ne!(patched.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(patched.desired_version(), Some(2));
    assert_eq!(patched.desired_metadata(&["floor"]).unwrap().last_updated_version, Some(2));
    let stale = hub.client.patch_twin("t1", &json!({"properties": {"desired": {"floor": 4}}}), IfMatch::Etag(etag)).await.unwrap_err();
    assert!(stale.is_precondition_failed(), "{stale}");
    let deleted = hub
        .client
        .patch_twin("t1", &json!({"properties": {"desired": {"floor": null}}}), IfMatch::Etag(patched.etag.clone().unwrap()))
        .await
        .unwrap();
    assert!(deleted.desired().unwrap().get("floor").is_none());
    assert_eq!(deleted.desired().unwrap()["building"], json!(43));
}

#[tokio::test]
async fn replace_swaps_tags_and_desired() {
    let hub = start_hub(0).await;
    hub.client.create_device(&Device::new_with_generated_keys("t2")).await.unwrap();
    hub.client.patch_twin("t2", &json!({"tags": {"a": 1}, "properties": {"desired": {"x": 1}}}), IfMatch::Any).await.unwrap();
    let replaced =
        hub.client.replace_twin("t2", &json!({"tags": {"b": 2}, "properties": {"desired": {"y": 2}}}), IfMatch::Any).await.unwrap();
    assert_eq!(replaced.tags.unwrap(), json!({"b": 2}).as_object().unwrap().clone());
    assert!(replaced.properties.unwrap().desired.unwrap().get("x").is_none());
}

#[tokio::test]
async fn limits_come_back_as_clear_400s() {
    let hub = start_hub(0).await;
    hub.client.create_device(&Device::new_with_generated_keys("t3")).await.unwrap();
    let cases = [
        (json!({"properties": {"desired": {"bad.key": 1}}}), "properties.desired.bad.key"),
        (json!({"properties": {"reported": {"fw": "2"}}}), "written by the device"),
        (json!({"properties": {"desired": {"huge": "x".repeat(5000)}}}), "5000 bytes"),
    ];
    for (patch, expected) in cases {
        let error = hub.client.patch_twin("t3", &patch, IfMatch::Any).await.unwrap_err();
        assert_eq!(error.status(), Some(400));
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[tokio::test]
async fn the_second_of_two_racing_writers_gets_412() {
    let hub = start_hub(0).await;
    hub.client.create_device(&Device::new_with_generated_keys("t4")).await.unwrap();
    let other = client_with(&hub.sim, "service", fast_retry(), None);
    let etag = hub.client.get_twin("t4").await.unwrap().etag.unwrap();
    let (mine, theirs) = (json!({"properties": {"desired": {"who": "first"}}}), json!({"properties": {"desired": {"who": "second"}}}));
    let (first, second) =
        tokio::join!(hub.client.patch_twin("t4", &mine, IfMatch::Etag(etag.clone())), other.patch_twin("t4", &theirs, IfMatch::Etag(etag)));
    assert!(first.is_ok() != second.is_ok(), "exactly one wins");
    let loser = first.err().or(second.err()).unwrap();
    assert!(loser.is_precondition_failed());
    let refused = client_with(&hub.sim, "registryReadWrite", fast_retry(), None)
        .patch_twin("t4", &json!({"tags": {"a": 1}}), IfMatch::Any)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(401), "twin writes need ServiceConnect");
}
