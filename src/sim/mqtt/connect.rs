//! Who an MQTT CONNECT says it is: the username forms of IoT Hub devices
//! (`{host}/{deviceId}/?api-version=…&DeviceClientType=…`) and of DPS registrations
//! (`{idScope}/registrations/{regId}/api-version=…`), read from untrusted text, and the device
//! SAS check the hub makes on the password. Every refusal names its reason (for the log); the
//! device only ever sees "not authorized", as from the service.

use percent_encoding::percent_decode_str;
use thiserror::Error;

use crate::azure::sas::{ParsedSas, decode_key, encode_component};
use crate::azure::secret::Secret;

/// Why a CONNECT is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConnectRefusal {
    /// The username is not one of the forms the device SDKs send.
    #[error("the username '{0}' is neither '{{host}}/{{deviceId}}/?api-version=…' nor '{{idScope}}/registrations/{{regId}}/…'")]
    BadUsername(String),
    /// The client id differs from the device or registration id in the username.
    #[error("the client id '{client_id}' is not the id '{expected}' the username names")]
    ClientIdMismatch {
        /// The CONNECT's client id.
        client_id: String,
        /// The id in the username.
        expected: String,
    },
    /// Module identities are not simulated.
    #[error("module identities ('{0}') are not simulated; connect as the device")]
    Module(String),
    /// No password, or not a SAS token.
    #[error("the password is not a SharedAccessSignature token: {0}")]
    BadToken(String),
    /// The token's `sr` names another hub or device.
    #[error("the token's sr '{got}' is not '{expected}'")]
    WrongResource {
        /// What the hub expected (host without port, then `/devices/{id}`).
        expected: String,
        /// The decoded `sr`.
        got: String,
    },
    /// The token expired.
    #[error("the token expired at {0} (Unix seconds)")]
    Expired(u64),
    /// The device does not exist on this hub.
    #[error("device '{0}' is not registered on this hub")]
    UnknownDevice(String),
    /// The device is disabled.
    #[error("device '{0}' is disabled")]
    Disabled(String),
    /// The device authenticates with certificates, not keys.
    #[error("device '{0}' has no symmetric keys (X.509 devices are not simulated)")]
    NoKeys(String),
    /// Neither of the device's keys made the signature.
    #[error("the signature does not match device '{0}''s keys")]
    BadSignature(String),
    /// A DPS registration on a listener without DPS, or a device on DPS's.
    #[error("{0}")]
    WrongEndpoint(String),
}

/// Who a CONNECT claims to be, from its username.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// An IoT Hub device.
    Device {
        /// Host as written in the username (may carry a port).
        host: String,
        /// The device id.
        device_id: String,
        /// `api-version`, when given.
        api_version: String,
        /// `DeviceClientType`, decoded, when given.
        client_type: String,
    },
    /// A DPS registration.
    Registration {
        /// The ID scope.
        id_scope: String,
        /// The registration id.
        registration_id: String,
        /// `api-version`, when given.
        api_version: String,
    },
}

/// Reads the username of a CONNECT and checks the client id against it.
pub fn claimed(client_id: &str, username: &str) -> Result<Claimed, ConnectRefusal> {
    let bad = || ConnectRefusal::BadUsername(username.to_owned());
    let (path, query) = match username.split_once('?') {
        Some((path, query)) => (path, query),
        None => match username.find("/api-version=") {
            // DPS usernames put the query after a slash, without '?'.
            Some(at) => (&username[..=at], &username[at + 1..]),
            None => (username, ""),
        },
    };
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let query_value = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| percent_decode_str(value).decode_utf8_lossy().into_owned())
            .unwrap_or_default()
    };
    let expect_client = |expected: &str| {
        if client_id == expected {
            Ok(())
        } else {
            Err(ConnectRefusal::ClientIdMismatch { client_id: client_id.to_owned(), expected: expected.to_owned() })
        }
    };
    match parts.as_slice() {
        [id_scope, "registrations", registration_id] if !id_scope.is_empty() && !registration_id.is_empty() => {
            expect_client(registration_id)?;
            Ok(Claimed::Registration {
                id_scope: (*id_scope).to_owned(),
                registration_id: (*registration_id).to_owned(),
                api_version: query_value("api-version"),
            })
        }
        [host, device_id] if !host.is_empty() && !device_id.is_empty() => {
            expect_client(device_id)?;
            Ok(Claimed::Device {
                host: (*host).to_owned(),
                device_id: (*device_id).to_owned(),
                api_version: query_value("api-version"),
                client_type: query_value("DeviceClientType"),
            })
        }
        [_, device_id, module_id] if !device_id.is_empty() && !module_id.is_empty() => {
            Err(ConnectRefusal::Module(format!("{device_id}/{module_id}")))
        }
        _ => Err(bad()),
    }
}

/// What the hub knows of a device when it checks a CONNECT.
#[derive(Clone, Debug)]
pub struct DeviceCredentials {
    /// Enabled in the registry.
    pub enabled: bool,
    /// Primary and secondary symmetric keys, when it has them.
    pub keys: Option<(Secret, Secret)>,
}

/// Checks a device's SAS password as the hub does: `sr` is this hub (host without port, any
/// case) and `/devices/{id}`, not expired, signed with the device's primary or secondary key
/// (over `sr` as sent, or its canonical encoding).
pub fn check_device_token(
    password: &str,
    device_id: &str,
    hosts: &[String],
    credentials: Option<&DeviceCredentials>,
    now_secs: u64,
) -> Result<(), ConnectRefusal> {
    let credentials = credentials.ok_or_else(|| ConnectRefusal::UnknownDevice(device_id.to_owned()))?;
    let token = ParsedSas::parse(password).map_err(|error| ConnectRefusal::BadToken(error.to_string()))?;
    let resource = token.resource.trim_start_matches("https://").trim_start_matches("http://");
    let (host, path) = resource.split_once('/').unwrap_or((resource, ""));
    let host_only = host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(host, _)| host);
    let expected_path = format!("devices/{device_id}");
    let path_matches =
        path.trim_end_matches('/') == expected_path || percent_decode_str(path).decode_utf8_lossy().trim_end_matches('/') == expected_path;
    if !hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host_only)) || !path_matches {
        let first_host = hosts.first().map_or("", String::as_str);
        return Err(ConnectRefusal::WrongResource { expected: format!("{first_host}/{expected_path}"), got: token.resource.clone() });
    }
    if token.is_expired_at(now_secs) {
        return Err(ConnectRefusal::Expired(token.expiry_secs));
    }
    if !credentials.enabled {
        return Err(ConnectRefusal::Disabled(device_id.to_owned()));
    }
    let (primary, secondary) = credentials.keys.as_ref().ok_or_else(|| ConnectRefusal::NoKeys(device_id.to_owned()))?;
    let canonical = encode_component(&token.resource);
    let signed = [primary, secondary]
        .into_iter()
        .filter_map(decode_key)
        .any(|key| token.verify(&key) || token.verify_with_resource(&key, &canonical));
    if signed { Ok(()) } else { Err(ConnectRefusal::BadSignature(device_id.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::sas::build_token;

    const NOW: u64 = 1_800_000_000;
    const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=";
    const OTHER_KEY: &str = "b3RoZXIta2V5LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc=";

    fn hosts() -> Vec<String> {
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
    }

    fn credentials(enabled: bool) -> DeviceCredentials {
        DeviceCredentials { enabled, keys: Some((Secret::new(OTHER_KEY), Secret::new(KEY))) }
    }

    fn token(sr: &str, key: &str, expiry: u64) -> String {
        build_token(sr, &decode_key(&Secret::new(key)).unwrap(), expiry, None).expose().to_owned()
    }

    #[test]
    fn the_usernames_the_sdks_send_are_read() {
        let python = "localhost/dev-py/?api-version=2019-10-01&DeviceClientType=azure-iot-device-py%2F2.14.0%28linux%29";
        assert_eq!(
            claimed("dev-py", python),
            Ok(Claimed::Device {
                host: "localhost".into(),
                device_id: "dev-py".into(),
                api_version: "2019-10-01".into(),
                client_type: "azure-iot-device-py/2.14.0(linux)".into(),
            })
        );
        let dps = "0ne00000001/registrations/reg-1/api-version=2019-03-31&ClientVersion=azure-iot-device-provisioning-py%2F2.14.0";
        assert_eq!(
            claimed("reg-1", dps),
            Ok(Claimed::Registration { id_scope: "0ne00000001".into(), registration_id: "reg-1".into(), api_version: "2019-03-31".into() })
        );
        assert!(matches!(claimed("d", "localhost:8883/d/?api-version=2021-04-12"), Ok(Claimed::Device { .. })));
    }

    #[test]
    fn bad_usernames_and_client_ids_are_refused_with_the_reason() {
        assert!(matches!(claimed("other", "localhost/dev/?api-version=1"), Err(ConnectRefusal::ClientIdMismatch { .. })));
        assert!(matches!(claimed("dev/m1", "localhost/dev/m1/?api-version=1"), Err(ConnectRefusal::Module(_))));
        for username in ["", "/", "justtext", "//?x", "a/b/c/d/e"] {
            assert!(matches!(claimed("x", username), Err(ConnectRefusal::BadUsername(_))), "{username:?}");
        }
    }

    #[test]
    fn every_sr_form_the_sdks_send_is_accepted_with_either_key() {
        let sr_forms =
            ["localhost%2Fdevices%2Fdev-1", "localhost/devices/dev-1", "LOCALHOST%3A8883%2Fdevices%2Fdev-1", "127.0.0.1/devices/dev-1"];
        for sr in sr_forms {
            for key in [KEY, OTHER_KEY] {
                let password = token(sr, key, NOW + 3600);
                assert_eq!(check_device_token(&password, "dev-1", &hosts(), Some(&credentials(true)), NOW), Ok(()), "{sr}");
            }
        }
        let node_order = format!("SharedAccessSignature se={}&sr=localhost%2Fdevices%2Fdev-1&sig=", NOW + 60);
        let signed = token("localhost%2Fdevices%2Fdev-1", KEY, NOW + 60);
        let sig = signed.split("sig=").nth(1).unwrap().split('&').next().unwrap();
        assert_eq!(check_device_token(&format!("{node_order}{sig}"), "dev-1", &hosts(), Some(&credentials(true)), NOW), Ok(()));
    }

    type Case<'a> = (String, &'a str, Option<DeviceCredentials>, fn(&ConnectRefusal) -> bool);

    #[test]
    fn each_refusal_says_why() {
        let good = token("localhost%2Fdevices%2Fdev-1", KEY, NOW + 3600);
        let cases: Vec<Case<'_>> = vec![
            (good.clone(), "dev-1", None, |refusal| matches!(refusal, ConnectRefusal::UnknownDevice(_))),
            (good.clone(), "dev-1", Some(credentials(false)), |refusal| matches!(refusal, ConnectRefusal::Disabled(_))),
            (good.clone(), "dev-2", Some(credentials(true)), |refusal| matches!(refusal, ConnectRefusal::WrongResource { .. })),
            (token("otherhub%2Fdevices%2Fdev-1", KEY, NOW + 60), "dev-1", Some(credentials(true)), |refusal| {
                matches!(refusal, ConnectRefusal::WrongResource { .. })
            }),
            (token("localhost%2Fdevices%2Fdev-1", KEY, NOW - 1), "dev-1", Some(credentials(true)), |refusal| {
                matches!(refusal, ConnectRefusal::Expired(_))
            }),
            (
                token("localhost%2Fdevices%2Fdev-1", "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMTI=", NOW + 60),
                "dev-1",
                Some(credentials(true)),
                |refusal| matches!(refusal, ConnectRefusal::BadSignature(_)),
            ),
            ("Basic abc".to_owned(), "dev-1", Some(credentials(true)), |refusal| matches!(refusal, ConnectRefusal::BadToken(_))),
            (good, "dev-1", Some(DeviceCredentials { enabled: true, keys: None }), |refusal| matches!(refusal, ConnectRefusal::NoKeys(_))),
        ];
        for (password, device_id, credentials, expected) in cases {
            let refusal = check_device_token(&password, device_id, &hosts(), credentials.as_ref(), NOW).unwrap_err();
            assert!(expected(&refusal), "{device_id}: {refusal:?}");
            assert!(!refusal.to_string().contains(KEY), "a refusal never repeats a key");
        }
    }
}
