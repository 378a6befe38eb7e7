//! Device connection strings (`HostName=…;DeviceId=…;SharedAccessKey=…[;GatewayHostName=host[:port]]`),
//! parsed with errors that name the bad part and never repeat the key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use thiserror::Error;

use super::super::id_rules::check_device_id;
use super::super::secret::Secret;

/// What is wrong with a device connection string. Never carries the key.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DeviceConnectionStringError {
    /// Nothing was given.
    #[error("the device connection string is empty")]
    Empty,
    /// A `;`-separated part has no `=`.
    #[error("part {position} of the device connection string is not a Name=Value pair (expected HostName, DeviceId, SharedAccessKey)")]
    MissingEquals {
        /// 1-based position of the part.
        position: usize,
    },
    /// A part name the device side does not know.
    #[error("the device connection string has an unknown part '{name}' (expected HostName, DeviceId, SharedAccessKey, GatewayHostName)")]
    UnknownPart {
        /// The unknown name (names are not secret).
        name: String,
    },
    /// The same part twice.
    #[error("the device connection string has '{name}' twice")]
    DuplicatePart {
        /// The repeated name.
        name: String,
    },
    /// A required part is absent or empty.
    #[error("the device connection string has no {name}")]
    MissingPart {
        /// The missing part.
        name: &'static str,
    },
    /// `HostName` or `GatewayHostName` is not `host[:port]`.
    #[error("the device connection string's {part} is invalid: {reason}")]
    InvalidHost {
        /// `HostName` or `GatewayHostName`.
        part: &'static str,
        /// Why.
        reason: String,
    },
    /// The device id breaks the service's rules.
    #[error("the device connection string's DeviceId is invalid: {0}")]
    InvalidDeviceId(String),
    /// The key is not base64.
    #[error("the device connection string's SharedAccessKey is not valid base64")]
    InvalidKey,
    /// A module identity: `hubdeck device` is a device, not a module.
    #[error(
        "module connection strings (with ModuleId) are not supported: hubdeck device connects as a device; use the device's own connection string"
    )]
    ModuleNotSupported,
    /// X.509 authentication instead of a symmetric key.
    #[error("X.509 device authentication is not supported: hubdeck device authenticates with a symmetric key (SharedAccessKey)")]
    X509NotSupported,
    /// A pre-signed token instead of a key (it cannot be renewed).
    #[error("SharedAccessSignature device connection strings are not supported (a token cannot be renewed); use one with SharedAccessKey")]
    SignatureNotSupported,
    /// A service connection string was pasted.
    #[error(
        "this is a service connection string (it has SharedAccessKeyName); hubdeck device needs a device connection string with DeviceId"
    )]
    ServiceConnectionString,
}

/// A parsed device connection string. `Debug` and `Display` mask the key.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceConnectionString {
    /// `HostName`: the hub (`myhub.azure-devices.net`). It names the hub in the SAS `sr` and
    /// the MQTT username.
    pub host_name: String,
    /// `DeviceId`.
    pub device_id: String,
    /// `SharedAccessKey`, base64.
    pub key: Secret,
    /// `GatewayHostName` (`host[:port]`): where to open the connection instead of `HostName`.
    pub gateway_host_name: Option<String>,
}

impl DeviceConnectionString {
    /// Splits on `;` and on the first `=` of each part, so base64 padding survives.
    pub fn parse(text: &str) -> Result<Self, DeviceConnectionStringError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DeviceConnectionStringError::Empty);
        }
        let (mut host_name, mut device_id, mut key, mut gateway) = (None, None, None, None);
        for (index, part) in text.split(';').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue; // a trailing ';' is common when strings are pasted
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(DeviceConnectionStringError::MissingEquals { position: index + 1 });
            };
            let slot = match name.trim() {
                "HostName" => &mut host_name,
                "DeviceId" => &mut device_id,
                "SharedAccessKey" => &mut key,
                "GatewayHostName" => &mut gateway,
                "ModuleId" => return Err(DeviceConnectionStringError::ModuleNotSupported),
                "x509" | "X509" => return Err(DeviceConnectionStringError::X509NotSupported),
                "SharedAccessSignature" => return Err(DeviceConnectionStringError::SignatureNotSupported),
                "SharedAccessKeyName" => return Err(DeviceConnectionStringError::ServiceConnectionString),
                // Echo a name only when it looks like one: a pasted key fragment (`abc…=`) must
                // never be repeated back in an error.
                other if looks_like_part_name(other) => {
                    return Err(DeviceConnectionStringError::UnknownPart { name: other.to_owned() });
                }
                _ => return Err(DeviceConnectionStringError::MissingEquals { position: index + 1 }),
            };
            if slot.is_some() {
                return Err(DeviceConnectionStringError::DuplicatePart { name: name.trim().to_owned() });
            }
            *slot = Some(value.trim().to_owned());
        }
        let host_name = require(host_name, "HostName")?;
        check_host("HostName", &host_name)?;
        let device_id = require(device_id, "DeviceId")?;
        check_device_id(&device_id).map_err(|error| DeviceConnectionStringError::InvalidDeviceId(error.to_string()))?;
        let key = require(key, "SharedAccessKey")?;
        if BASE64.decode(key.as_bytes()).is_err() {
            return Err(DeviceConnectionStringError::InvalidKey);
        }
        let gateway_host_name = gateway.filter(|gateway| !gateway.is_empty());
        if let Some(gateway) = &gateway_host_name {
            check_host("GatewayHostName", gateway)?;
        }
        Ok(Self { host_name, device_id, key: Secret::new(key), gateway_host_name })
    }

    /// The full string with the key, for the few places that must hand it on.
    pub fn expose(&self) -> String {
        let gateway = self.gateway_host_name.as_ref().map_or_else(String::new, |gateway| format!(";GatewayHostName={gateway}"));
        format!("HostName={};DeviceId={};SharedAccessKey={}{gateway}", self.host_name, self.device_id, self.key.expose())
    }
}

/// Splits `host[:port]`; the port is `None` when absent. Assumes [`check_host`] accepted it.
pub fn split_host_port(host_and_port: &str) -> (&str, Option<u16>) {
    match host_and_port.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(port) => (host, Some(port)),
            Err(_) => (host_and_port, None),
        },
        None => (host_and_port, None),
    }
}

/// Checks `host[:port]`: a DNS name or IPv4 address, and a port from 1 to 65535.
pub fn check_host(part_name: &'static str, host_and_port: &str) -> Result<(), DeviceConnectionStringError> {
    let invalid = |reason: String| DeviceConnectionStringError::InvalidHost { part: part_name, reason };
    if host_and_port.contains("://") {
        return Err(invalid("give the host name only, without a scheme such as https://".to_owned()));
    }
    let (host, port) = match host_and_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_and_port, None),
    };
    if host.is_empty() {
        return Err(invalid("it has no host".to_owned()));
    }
    if let Some(bad) = host.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
        return Err(invalid(format!("'{bad}' is not allowed in a host name")));
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |port| port == 0)
    {
        return Err(invalid(format!("'{port}' is not a port number")));
    }
    Ok(())
}

/// Part names are short words of letters (a key fragment has digits, `+`, `/` or `=`).
fn looks_like_part_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 24 && name.chars().all(|c| c.is_ascii_alphabetic())
}

fn require(value: Option<String>, name: &'static str) -> Result<String, DeviceConnectionStringError> {
    match value {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(DeviceConnectionStringError::MissingPart { name }),
    }
}

impl fmt::Debug for DeviceConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceConnectionString")
            .field("host_name", &self.host_name)
            .field("device_id", &self.device_id)
            .field("key", &self.key)
            .field("gateway_host_name", &self.gateway_host_name)
            .finish()
    }
}

impl fmt::Display for DeviceConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostName={};DeviceId={};SharedAccessKey=***", self.host_name, self.device_id)?;
        if let Some(gateway) = &self.gateway_host_name {
            write!(f, ";GatewayHostName={gateway}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=";

    #[test]
    fn parses_parts_in_any_order_and_keeps_the_padding() {
        let parsed =
            DeviceConnectionString::parse(&format!(" SharedAccessKey={KEY};DeviceId=door-1;HostName=myhub.azure-devices.net; ")).unwrap();
        assert_eq!(parsed.host_name, "myhub.azure-devices.net");
        assert_eq!(parsed.device_id, "door-1");
        assert_eq!(parsed.key.expose(), KEY);
        assert_eq!(parsed.gateway_host_name, None);
        let round_trip = DeviceConnectionString::parse(&parsed.expose()).unwrap();
        assert_eq!(round_trip, parsed);
    }

    #[test]
    fn reads_a_gateway_with_a_port() {
        let parsed =
            DeviceConnectionString::parse(&format!("HostName=localhost;DeviceId=d1;SharedAccessKey={KEY};GatewayHostName=localhost:18883"))
                .unwrap();
        assert_eq!(parsed.gateway_host_name.as_deref(), Some("localhost:18883"));
        assert_eq!(split_host_port("localhost:18883"), ("localhost", Some(18883)));
        assert_eq!(split_host_port("localhost"), ("localhost", None));
        assert!(parsed.to_string().ends_with(";GatewayHostName=localhost:18883"));
    }

    #[test]
    fn every_error_names_the_part_and_never_the_key() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (format!("HostName=h;DeviceId=d;{KEY}"), "part 3"),
            ("HostName=h;DeviceId=d;c2VjcmV0=x".to_owned(), "part 3"),
            (format!("HostName=h;DeviceId=d;SharedAccesKey={KEY}"), "'SharedAccesKey'"),
            (format!("HostName=h;HostName=h;DeviceId=d;SharedAccessKey={KEY}"), "'HostName' twice"),
            (format!("DeviceId=d;SharedAccessKey={KEY}"), "no HostName"),
            (format!("HostName=h;SharedAccessKey={KEY}"), "no DeviceId"),
            ("HostName=h;DeviceId=d;SharedAccessKey=".to_owned(), "no SharedAccessKey"),
            ("HostName=h;DeviceId=d;SharedAccessKey=not*base64!".to_owned(), "not valid base64"),
            (format!("HostName=https://h;DeviceId=d;SharedAccessKey={KEY}"), "without a scheme"),
            (format!("HostName=h:0;DeviceId=d;SharedAccessKey={KEY}"), "not a port"),
            (format!("HostName=h;DeviceId=d;SharedAccessKey={KEY};GatewayHostName=g:x"), "GatewayHostName is invalid"),
            (format!("HostName=h;DeviceId=d e;SharedAccessKey={KEY}"), "DeviceId is invalid"),
            (format!("HostName=h;DeviceId=d;ModuleId=m;SharedAccessKey={KEY}"), "ModuleId"),
            ("HostName=h;DeviceId=d;x509=true".to_owned(), "X.509"),
            ("HostName=h;DeviceId=d;SharedAccessSignature=SharedAccessSignature sr=x".to_owned(), "cannot be renewed"),
            (format!("HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey={KEY}"), "service connection string"),
        ];
        for (text, expected) in cases {
            let error = DeviceConnectionString::parse(&text).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(expected), "{text:?} gave {message:?}, expected {expected:?}");
            assert!(!message.contains("c2VjcmV0"), "key leaked in {message:?}");
            assert!(!format!("{error:?}").contains("c2VjcmV0"), "key leaked in Debug");
        }
    }

    #[test]
    fn debug_and_display_mask_the_key() {
        let parsed = DeviceConnectionString::parse(&format!("HostName=h;DeviceId=d;SharedAccessKey={KEY}")).unwrap();
        assert!(!format!("{parsed:?}").contains(KEY));
        assert_eq!(parsed.to_string(), "HostName=h;DeviceId=d;SharedAccessKey=***");
    }
}
