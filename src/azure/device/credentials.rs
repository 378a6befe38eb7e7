//! What a device signs in with over MQTT: the usernames and SAS passwords of the hub and of DPS,
//! built the way the official SDKs build them, and the derived key of a group enrollment's device.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use super::super::sas::{build_token, encode_component};
use super::super::secret::Secret;

/// The hub's MQTT api-version (the Node SDK's; the service accepts it on every hub).
pub const HUB_MQTT_API_VERSION: &str = "2021-04-12";
/// DPS's device api-version over MQTT.
pub const DPS_MQTT_API_VERSION: &str = "2019-03-31";
/// The `skn` DPS device tokens carry.
pub const DPS_KEY_NAME: &str = "registration";

/// `hubdeck-device/<version>`: how this client names itself to the service.
pub fn client_type() -> String {
    format!("hubdeck-device/{}", env!("CARGO_PKG_VERSION"))
}

/// The hub's MQTT username: `{HostName}/{deviceId}/?api-version=…&DeviceClientType=…`.
pub fn hub_username(host_name: &str, device_id: &str) -> String {
    format!("{host_name}/{device_id}/?api-version={HUB_MQTT_API_VERSION}&DeviceClientType={}", encode_component(&client_type()))
}

/// The hub's MQTT password: a device SAS token, `sr={url-encoded host/devices/id}`, no `skn`.
pub fn hub_password(host_name: &str, device_id: &str, key: &[u8], expiry_secs: u64) -> Secret {
    let resource = encode_component(&format!("{host_name}/devices/{device_id}"));
    build_token(&resource, key, expiry_secs, None)
}

/// DPS's MQTT username: `{idScope}/registrations/{regId}/api-version=…&ClientVersion=…` (no `?`,
/// as the SDKs send it).
pub fn dps_username(id_scope: &str, registration_id: &str) -> String {
    format!(
        "{id_scope}/registrations/{registration_id}/api-version={DPS_MQTT_API_VERSION}&ClientVersion={}",
        encode_component(&client_type())
    )
}

/// DPS's MQTT password: `sr={idScope}%2Fregistrations%2F{regId}`, `skn=registration`.
pub fn dps_password(id_scope: &str, registration_id: &str, key: &[u8], expiry_secs: u64) -> Secret {
    let resource = encode_component(&format!("{id_scope}/registrations/{registration_id}"));
    build_token(&resource, key, expiry_secs, Some(DPS_KEY_NAME))
}

/// The key of one device of a symmetric-key group enrollment:
/// `base64(HMAC-SHA256(base64decode(group key), registration id))`. `None` when the group key is
/// not base64.
pub fn derive_device_key(group_key: &Secret, registration_id: &str) -> Option<Secret> {
    let group_key = BASE64.decode(group_key.expose().as_bytes()).ok()?;
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&group_key) else {
        unreachable!("HMAC-SHA256 takes keys of any length");
    };
    mac.update(registration_id.as_bytes());
    Some(Secret::new(BASE64.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::super::super::sas::{ParsedSas, decode_key};
    use super::*;

    const KEY_B64: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=";

    fn key() -> Vec<u8> {
        decode_key(&Secret::new(KEY_B64)).unwrap()
    }

    #[test]
    fn hub_credentials_have_the_sdk_shapes() {
        let username = hub_username("localhost", "door-1");
        assert!(username.starts_with("localhost/door-1/?api-version=2021-04-12&DeviceClientType=hubdeck-device%2F"), "{username}");
        let password = hub_password("localhost", "door-1", &key(), 1_800_000_000);
        assert!(password.expose().starts_with("SharedAccessSignature sr=localhost%2Fdevices%2Fdoor-1&sig="), "shape");
        assert!(!password.expose().contains("skn="));
        let parsed = ParsedSas::parse(password.expose()).unwrap();
        assert_eq!(parsed.resource, "localhost/devices/door-1");
        assert_eq!(parsed.expiry_secs, 1_800_000_000);
        assert!(parsed.verify(&key()));
    }

    #[test]
    fn dps_credentials_have_the_sdk_shapes() {
        assert!(
            dps_username("0ne00000001", "reg-1")
                .starts_with("0ne00000001/registrations/reg-1/api-version=2019-03-31&ClientVersion=hubdeck-device%2F")
        );
        let password = dps_password("0ne00000001", "reg-1", &key(), 1_800_000_000);
        let parsed = ParsedSas::parse(password.expose()).unwrap();
        assert_eq!(parsed.resource_as_sent, "0ne00000001%2Fregistrations%2Freg-1");
        assert_eq!(parsed.key_name.as_deref(), Some("registration"));
        assert!(parsed.verify(&key()));
    }

    #[test]
    fn derived_keys_match_the_documented_computation() {
        // Computed with Python: base64(hmac.new(b64decode(KEY_B64), b"reg-1", sha256).digest()).
        let derived = derive_device_key(&Secret::new(KEY_B64), "reg-1").unwrap();
        assert_eq!(derived.expose(), "zFm9y/u3FVTwRsDHksllP/JJjBi7/TCzoPv9s6dPCqM=");
        assert_ne!(derive_device_key(&Secret::new(KEY_B64), "reg-2").unwrap(), derived);
        assert_eq!(derive_device_key(&Secret::new("not base64!"), "reg-1"), None);
    }
}
