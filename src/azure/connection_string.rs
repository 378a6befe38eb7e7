//! Service connection strings for `IoT` Hub and DPS (`HostName=…;SharedAccessKeyName=…;SharedAccessKey=…`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::secret::Secret;

/// Which service a connection string is for; only changes the wording of errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// Azure `IoT` Hub (`*.azure-devices.net`).
    Hub,
    /// Azure `IoT` Hub Device Provisioning Service (`*.azure-devices-provisioning.net`).
    Dps,
}

impl ServiceKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Hub => "IoT Hub",
            Self::Dps => "DPS",
        }
    }
}

/// What is wrong with a connection string. Never carries the key or any value text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStringError {
    /// Nothing was given.
    #[error("the {service} connection string is empty")]
    Empty {
        /// Which service the string was for.
        service: &'static str,
    },
    /// A `;`-separated part has no `=`.
    #[error(
        "part {position} of the {service} connection string is not a Name=Value pair (expected HostName, SharedAccessKeyName or SharedAccessKey)"
    )]
    MissingEquals {
        /// Which service the string was for.
        service: &'static str,
        /// 1-based position of the part.
        position: usize,
    },
    /// A part name hubdeck does not know (a typo, usually).
    #[error("the {service} connection string has an unknown part '{name}' (expected HostName, SharedAccessKeyName, SharedAccessKey)")]
    UnknownPart {
        /// Which service the string was for.
        service: &'static str,
        /// The unknown name (names are not secret).
        name: String,
    },
    /// The same part appears twice.
    #[error("the {service} connection string has '{name}' twice")]
    DuplicatePart {
        /// Which service the string was for.
        service: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A required part is absent or empty.
    #[error("the {service} connection string has no {name}")]
    MissingPart {
        /// Which service the string was for.
        service: &'static str,
        /// The missing part's name.
        name: &'static str,
    },
    /// The `HostName` is not a host name (with an optional port).
    #[error("the {service} connection string's HostName is invalid: {reason}")]
    InvalidHostName {
        /// Which service the string was for.
        service: &'static str,
        /// Why (never the key).
        reason: String,
    },
    /// The key is not base64.
    #[error("the {service} connection string's SharedAccessKey is not valid base64")]
    InvalidKey {
        /// Which service the string was for.
        service: &'static str,
    },
    /// A device (not service) connection string was pasted.
    #[error(
        "this is a device connection string (it has DeviceId); hubdeck needs a {service} service connection string with SharedAccessKeyName, e.g. iothubowner"
    )]
    DeviceConnectionString {
        /// Which service the string was for.
        service: &'static str,
    },
    /// A pre-signed token instead of a key.
    #[error("SharedAccessSignature connection strings are not supported; use one with SharedAccessKeyName and SharedAccessKey")]
    SignatureNotSupported,
}

/// A parsed service connection string: host, policy name and key.
///
/// `Debug` and `Display` mask the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceConnectionString {
    kind: ServiceKind,
    host_name: String,
    key_name: String,
    key: Secret,
}

impl ServiceConnectionString {
    /// Parses an `IoT` Hub service connection string.
    pub fn parse_hub(text: &str) -> Result<Self, ConnectionStringError> {
        Self::parse(ServiceKind::Hub, text)
    }

    /// Parses a DPS service connection string.
    pub fn parse_dps(text: &str) -> Result<Self, ConnectionStringError> {
        Self::parse(ServiceKind::Dps, text)
    }

    /// Builds one from its parts (the simulator prints these).
    pub fn from_parts(kind: ServiceKind, host_name: &str, key_name: &str, key: &Secret) -> Self {
        Self { kind, host_name: host_name.to_owned(), key_name: key_name.to_owned(), key: key.clone() }
    }

    /// Splits on `;` and on the first `=` of each part, so base64 padding survives.
    pub fn parse(kind: ServiceKind, text: &str) -> Result<Self, ConnectionStringError> {
        let service = kind.label();
        let text = text.trim();
        if text.is_empty() {
            return Err(ConnectionStringError::Empty { service });
        }
        let mut host_name = None;
        let mut key_name = None;
        let mut key = None;
        let mut has_device_id = false;
        for (index, part) in text.split(';').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue; // a trailing ';' is common when strings are pasted
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(ConnectionStringError::MissingEquals { service, position: index + 1 });
            };
            let name = name.trim();
            let slot = match name {
                "HostName" => &mut host_name,
                "SharedAccessKeyName" => &mut key_name,
                "SharedAccessKey" => &mut key,
                "DeviceId" | "ModuleId" => {
                    has_device_id = true;
                    continue;
                }
                "SharedAccessSignature" => {
                    return Err(ConnectionStringError::SignatureNotSupported);
                }
                "GatewayHostName" => continue,
                // Echo a name only when it looks like one: a pasted key fragment
                // (`abc…=`) must never be repeated back in an error.
                other if looks_like_part_name(other) => {
                    return Err(ConnectionStringError::UnknownPart { service, name: other.to_owned() });
                }
                _ => {
                    return Err(ConnectionStringError::MissingEquals { service, position: index + 1 });
                }
            };
            if slot.is_some() {
                return Err(ConnectionStringError::DuplicatePart { service, name: name.to_owned() });
            }
            *slot = Some(value.trim().to_owned());
        }
        if has_device_id && key_name.is_none() {
            return Err(ConnectionStringError::DeviceConnectionString { service });
        }
        let host_name = require(host_name, service, "HostName")?;
        validate_host_name(&host_name).map_err(|reason| ConnectionStringError::InvalidHostName { service, reason })?;
        let key_name = require(key_name, service, "SharedAccessKeyName")?;
        let key = require(key, service, "SharedAccessKey")?;
        if BASE64.decode(key.as_bytes()).is_err() {
            return Err(ConnectionStringError::InvalidKey { service });
        }
        Ok(Self { kind, host_name, key_name, key: Secret::new(key) })
    }

    /// Which service this string is for.
    pub fn kind(&self) -> ServiceKind {
        self.kind
    }

    /// `HostName`, possibly with a port (`localhost:8443`).
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// `SharedAccessKeyName`, the shared access policy.
    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    /// `SharedAccessKey`, base64.
    pub fn key(&self) -> &Secret {
        &self.key
    }

    /// The full string with the key, for the clipboard or the keyring.
    pub fn expose(&self) -> String {
        format!("HostName={};SharedAccessKeyName={};SharedAccessKey={}", self.host_name, self.key_name, self.key.expose())
    }
}

/// Part names are short words (the longest known one, `SharedAccessSignature`, has 21 letters).
fn looks_like_part_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 24 && name.chars().all(|c| c.is_ascii_alphabetic())
}

fn require(value: Option<String>, service: &'static str, name: &'static str) -> Result<String, ConnectionStringError> {
    match value {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(ConnectionStringError::MissingPart { service, name }),
    }
}

fn validate_host_name(host_name: &str) -> Result<(), String> {
    if host_name.contains("://") {
        return Err("give the host name only, without https://".to_owned());
    }
    let (host, port) = match host_name.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_name, None),
    };
    if host.is_empty() {
        return Err("it has no host".to_owned());
    }
    if let Some(bad) = host.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
        return Err(format!("'{bad}' is not allowed in a host name"));
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |port| port == 0)
    {
        return Err(format!("'{port}' is not a port number"));
    }
    Ok(())
}

impl fmt::Debug for ServiceConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConnectionString")
            .field("kind", &self.kind)
            .field("host_name", &self.host_name)
            .field("key_name", &self.key_name)
            .field("key", &self.key)
            .finish()
    }
}

impl fmt::Display for ServiceConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostName={};SharedAccessKeyName={};SharedAccessKey=***", self.host_name, self.key_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=";

    fn hub(text: &str) -> Result<ServiceConnectionString, ConnectionStringError> {
        ServiceConnectionString::parse_hub(text)
    }

    #[test]
    fn parses_and_keeps_base64_padding() {
        let parsed = hub(&format!("HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey={KEY}")).unwrap();
        assert_eq!(parsed.host_name(), "myhub.azure-devices.net");
        assert_eq!(parsed.key_name(), "iothubowner");
        assert_eq!(parsed.key().expose(), KEY);
        assert!(parsed.expose().ends_with(KEY));
    }

    #[test]
    fn accepts_any_order_a_port_and_a_trailing_semicolon() {
        let parsed = hub(&format!(" SharedAccessKey={KEY};HostName=localhost:8443;SharedAccessKeyName=service; ")).unwrap();
        assert_eq!(parsed.host_name(), "localhost:8443");
        assert_eq!(parsed.key_name(), "service");
    }

    #[test]
    fn every_error_names_the_part_and_never_the_key() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (format!("HostName=h;SharedAccessKeyName=p;{KEY}"), "part 3"),
            (format!("HostName=h;SharedAccesKey={KEY};SharedAccessKeyName=p"), "'SharedAccesKey'"),
            // A key pasted without its name: its '=' padding must not turn it into a "name".
            (format!("HostName=h;SharedAccessKeyName=p;{KEY}"), "part 3"),
            ("HostName=h;SharedAccessKeyName=p;c2VjcmV0=x".to_owned(), "part 3"),
            (format!("HostName=h;HostName=h;SharedAccessKeyName=p;SharedAccessKey={KEY}"), "'HostName' twice"),
            (format!("SharedAccessKeyName=p;SharedAccessKey={KEY}"), "no HostName"),
            (format!("HostName=h;SharedAccessKey={KEY}"), "no SharedAccessKeyName"),
            ("HostName=h;SharedAccessKeyName=p;SharedAccessKey=".to_owned(), "no SharedAccessKey"),
            ("HostName=h;SharedAccessKeyName=p;SharedAccessKey=not*base64!".to_owned(), "not valid base64"),
            (format!("HostName=https://h;SharedAccessKeyName=p;SharedAccessKey={KEY}"), "without https://"),
            (format!("HostName=h:99999;SharedAccessKeyName=p;SharedAccessKey={KEY}"), "not a port"),
            (format!("HostName=h b;SharedAccessKeyName=p;SharedAccessKey={KEY}"), "' ' is not allowed"),
            (format!("HostName=h;DeviceId=d1;SharedAccessKey={KEY}"), "device connection string"),
            ("HostName=h;SharedAccessSignature=SharedAccessSignature sr=x".to_owned(), "not supported"),
        ];
        for (text, expected) in cases {
            let err = hub(&text).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(expected), "{text:?} gave {message:?}, expected {expected:?}");
            assert!(!message.contains("c2VjcmV0"), "key leaked in {message:?}");
            assert!(!format!("{err:?}").contains("c2VjcmV0"), "key leaked in Debug");
        }
    }

    #[test]
    fn debug_and_display_mask_the_key() {
        let parsed = hub(&format!("HostName=h;SharedAccessKeyName=p;SharedAccessKey={KEY}")).unwrap();
        assert!(!format!("{parsed:?}").contains(KEY));
        assert_eq!(parsed.to_string(), "HostName=h;SharedAccessKeyName=p;SharedAccessKey=***");
    }

    #[test]
    fn dps_errors_say_dps() {
        let err = ServiceConnectionString::parse_dps("HostName=x.azure-devices-provisioning.net").unwrap_err();
        assert_eq!(err.to_string(), "the DPS connection string has no SharedAccessKeyName");
    }
}
