//! Registry rules: creates, etag-checked updates and deletes, key generation, bulk.

use serde_json::json;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::azure::wire::{
    AuthenticationMechanism, AuthenticationType, ExportImportDevice, ImportMode, SymmetricKey, TwinProperties, X509Thumbprint,
};

const NOW: Ticks = 637_000_000_000;

fn create(registry: &mut Registry, device_id: &str) -> DeviceRecord {
    registry.put_device(device_id, &Device::new_with_generated_keys(device_id), None, NOW).unwrap().clone()
}

#[test]
fn create_generates_keys_etag_generation_and_a_fresh_twin() {
    let mut registry = Registry::default();
    let record = create(&mut registry, "dev-1");
    let device = record.to_device();
    let primary = device.primary_key().unwrap().expose().to_owned();
    assert_eq!(primary.len(), 44);
    assert_eq!(BASE64.decode(&primary).unwrap().len(), 32);
    assert_ne!(device.primary_key(), device.secondary_key());
    assert_eq!(device.generation_id.as_ref().unwrap().len(), 18);
    let etag_text = String::from_utf8(BASE64.decode(device.etag.as_ref().unwrap()).unwrap()).unwrap();
    assert!(etag_text.parse::<u64>().is_ok(), "device etag is base64 of a decimal number: {etag_text}");
    let twin = record.to_twin();
    assert_eq!(twin.etag.as_deref(), Some("AAAAAAAAAAE="));
    assert_eq!(twin.version, Some(2));
    assert_eq!((twin.desired_version(), twin.reported_version()), (Some(1), Some(1)));
    assert!(twin.tags.is_none());
    assert_eq!(twin.device_etag, device.etag);
}

#[test]
fn given_keys_are_kept_and_bad_ones_refused() {
    let mut registry = Registry::default();
    let key = Secret::new(BASE64.encode([7_u8; 32]));
    let device = Device::new_with_keys("dev-k", key.clone(), Secret::default());
    let record = registry.put_device("dev-k", &device, None, NOW).unwrap();
    assert_eq!(record.auth.primary_key.as_ref(), Some(&key));
    assert_eq!(record.auth.secondary_key.as_ref().unwrap().expose().len(), 44, "the empty one is generated");
    let short = Device::new_with_keys("dev-s", Secret::new(BASE64.encode([1_u8; 8])), Secret::default());
    assert!(registry.put_device("dev-s", &short, None, NOW).unwrap_err().message.contains("16..64 bytes, not 8"));
    let garbage = Device::new_with_keys("dev-g", Secret::new("!!!"), Secret::default());
    assert!(registry.put_device("dev-g", &garbage, None, NOW).unwrap_err().message.contains("primaryKey is not valid base64"));
}

#[test]
fn create_twice_conflicts_and_ids_are_checked() {
    let mut registry = Registry::default();
    create(&mut registry, "dev-1");
    let error = registry.put_device("dev-1", &Device::new_with_generated_keys("dev-1"), None, NOW).unwrap_err();
    assert_eq!(error.code, ErrorCode::DeviceAlreadyExists);
    assert_eq!(error.message, "A device with ID 'dev-1' is already registered.");
    let mismatch = registry.put_device("dev-2", &Device::new_with_generated_keys("dev-3"), None, NOW).unwrap_err();
    assert!(mismatch.message.contains("does not match"));
    let bad = registry.put_device("bad id", &Device::new_with_generated_keys(""), None, NOW).unwrap_err();
    assert_eq!(bad.code, ErrorCode::ArgumentInvalid);
}

#[test]
fn update_needs_a_matching_etag_and_changes_it() {
    let mut registry = Registry::default();
    let created = create(&mut registry, "dev-1");
    let mut body = created.to_device();
    body.status = DeviceStatus::Disabled;
    body.status_reason = Some("maintenance".to_owned());
    let stale = Precondition::Etag("bm9wZQ==".to_owned());
    assert_eq!(registry.put_device("dev-1", &body, Some(&stale), NOW + 1).unwrap_err().code, ErrorCode::PreconditionFailed);
    let current = Precondition::parse(Some(&format!("\"{}\"", created.etag_wire()))).unwrap();
    let updated = registry.put_device("dev-1", &body, Some(&current), NOW + 1).unwrap().clone();
    assert_ne!(updated.etag, created.etag);
    assert_eq!(updated.status, DeviceStatus::Disabled);
    assert_eq!(updated.status_updated, NOW + 1);
    assert_eq!(updated.auth, created.auth, "keys sent back are kept");
    assert_eq!(updated.generation_id, created.generation_id);
    assert_eq!(
        registry.put_device("ghost", &Device::new_with_generated_keys("ghost"), Some(&Precondition::Any), NOW).unwrap_err().code,
        ErrorCode::DeviceNotFound
    );
}

#[test]
fn delete_checks_the_etag_and_removes_the_twin() {
    let mut registry = Registry::default();
    let created = create(&mut registry, "dev-1");
    assert_eq!(registry.delete("dev-1", Some(&Precondition::Etag("old".to_owned()))).unwrap_err().code, ErrorCode::PreconditionFailed);
    registry.delete("dev-1", Some(&Precondition::Etag(created.etag_wire()))).unwrap();
    assert_eq!(registry.get("dev-1").unwrap_err().code, ErrorCode::DeviceNotFound);
    assert_eq!(registry.delete("dev-1", None).unwrap_err().code, ErrorCode::DeviceNotFound);
    let again = create(&mut registry, "dev-1");
    assert_ne!(again.generation_id, created.generation_id, "a re-created id gets a new generation");
}

#[test]
fn precondition_header_forms() {
    assert_eq!(Precondition::parse(Some("\"*\"")), Some(Precondition::Any));
    assert_eq!(Precondition::parse(Some("*")), Some(Precondition::Any));
    assert_eq!(Precondition::parse(Some("\"AAAAAAAAAAE=\"")), Some(Precondition::Etag("AAAAAAAAAAE=".to_owned())));
    assert_eq!(Precondition::parse(Some("W/\"abc\"")), Some(Precondition::Etag("abc".to_owned())));
    assert_eq!(Precondition::parse(Some("")), None);
    assert_eq!(Precondition::parse(None), None);
}

#[test]
fn x509_devices_need_valid_thumbprints() {
    let mut registry = Registry::default();
    let mut device = Device::new_with_generated_keys("x509");
    device.authentication = Some(AuthenticationMechanism {
        symmetric_key: Some(SymmetricKey::default()),
        x509_thumbprint: Some(X509Thumbprint { primary_thumbprint: Some("AB".repeat(20)), secondary_thumbprint: None }),
        kind: AuthenticationType::SelfSigned,
    });
    let record = registry.put_device("x509", &device, None, NOW).unwrap();
    assert!(record.auth.primary_key.is_none());
    device.authentication.as_mut().unwrap().x509_thumbprint.as_mut().unwrap().primary_thumbprint = Some("xyz".to_owned());
    assert!(
        registry
            .put_device("x509-bad", &Device { device_id: "x509-bad".into(), ..device }, None, NOW)
            .unwrap_err()
            .message
            .contains("40 (SHA-1) or 64")
    );
}

#[test]
fn statistics_count_enabled_and_disabled() {
    let mut registry = Registry::default();
    for id in ["a", "b", "c"] {
        create(&mut registry, id);
    }
    registry.get_mut("b").unwrap().status = DeviceStatus::Disabled;
    let statistics = registry.statistics();
    assert_eq!((statistics.total_device_count, statistics.enabled_device_count, statistics.disabled_device_count), (3, 2, 1));
}

#[test]
fn bulk_applies_each_item_and_reports_failures() {
    let mut registry = Registry::default();
    let existing = create(&mut registry, "old");
    create(&mut registry, "gone");
    let mut with_twin = ExportImportDevice::new("new-1", ImportMode::Create);
    with_twin.tags = Some(json!({"building": 43}).as_object().unwrap().clone());
    with_twin.properties = Some(TwinProperties { desired: Some(json!({"mode": "eco"}).as_object().unwrap().clone()), reported: None });
    let mut stale_update = ExportImportDevice::new("old", ImportMode::UpdateIfMatchETag);
    stale_update.e_tag = Some("c3RhbGU=".to_owned());
    stale_update.status = Some(DeviceStatus::Disabled);
    let items = vec![
        with_twin,
        ExportImportDevice::new("old", ImportMode::Create),
        ExportImportDevice::new("gone", ImportMode::Delete),
        ExportImportDevice::new("never", ImportMode::Delete),
    ];
    let (result, changes) = registry.bulk(&items, NOW).unwrap();
    assert!(!result.is_successful);
    let codes: Vec<(&str, &str)> = result.errors.iter().map(|error| (error.device_id.as_str(), error.error_code.as_str())).collect();
    assert_eq!(codes, vec![("old", "DeviceAlreadyExists"), ("never", "DeviceNotFound")]);
    assert_eq!(changes, Changes { upserted: vec!["new-1".into()], deleted: vec!["gone".into()], desired_changed: vec!["new-1".into()] });
    let twin = registry.get("new-1").unwrap().to_twin();
    assert_eq!(twin.tags.as_ref().unwrap()["building"], json!(43));
    assert_eq!(twin.desired().unwrap()["mode"], json!("eco"));
    let (stale, _) = registry.bulk(&[stale_update], NOW).unwrap();
    assert_eq!(stale.errors[0].error_code, "PreconditionFailed");
    assert_eq!(registry.get("old").unwrap().etag, existing.etag, "failed items change nothing");
}

#[test]
fn bulk_refuses_duplicates_oversize_and_bad_twins() {
    let mut registry = Registry::default();
    let twice = vec![ExportImportDevice::new("a", ImportMode::Create), ExportImportDevice::new("a", ImportMode::Delete)];
    assert_eq!(registry.bulk(&twice, NOW).unwrap_err().code, ErrorCode::DeviceDefinedMultipleTimes);
    let many: Vec<_> = (0..101).map(|index| ExportImportDevice::new(format!("d{index}"), ImportMode::Create)).collect();
    assert!(registry.bulk(&many, NOW).unwrap_err().message.contains("at most 100"));
    let mut bad_tags = ExportImportDevice::new("t", ImportMode::Create);
    bad_tags.tags = Some(json!({"a.b": 1}).as_object().unwrap().clone());
    let (result, _) = registry.bulk(&[bad_tags], NOW).unwrap();
    assert!(result.errors[0].error_status.contains("tags.a.b"));
    assert!(registry.is_empty());
}

#[test]
fn after_a_restart_only_simulated_apps_are_still_connected() {
    let mut real = crate::sim::seed::demo_fleet(2, 43, 1);
    let simulated = real.remove(1);
    let mut real = real.remove(0);
    real.simulated = None;
    real.connection_state = crate::azure::wire::ConnectionState::Connected;
    let (real_id, simulated_state) = (real.device_id.clone(), simulated.connection_state);
    let simulated_id = simulated.device_id.clone();
    let mut registry = Registry::from_records([real, simulated]);
    assert_eq!(registry.disconnect_real_devices(99), 1);
    let record = registry.get(&real_id).unwrap();
    assert_eq!((record.connection_state, record.connection_state_updated), (crate::azure::wire::ConnectionState::Disconnected, 99));
    assert_eq!(registry.get(&simulated_id).unwrap().connection_state, simulated_state);
}
