//! A string that holds a secret (key, signature, connection string) and never shows it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

/// Bytes in a key the hub generates for a device (44 base64 characters).
pub const HUB_KEY_BYTES: usize = 32;
/// Bytes in a key DPS generates for an enrollment (88 base64 characters).
pub const DPS_KEY_BYTES: usize = 64;

/// A secret string: `Debug` and `Display` print `***`, so a secret cannot reach a log,
/// an event or an error message by accident. Read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the few places that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A new random symmetric key of `bytes` random bytes, base64-encoded, as the services
    /// generate them (the hub: [`HUB_KEY_BYTES`]; DPS: [`DPS_KEY_BYTES`]).
    pub fn generate_key(bytes: usize) -> Self {
        let mut raw = vec![0_u8; bytes];
        rand::rng().fill(raw.as_mut_slice());
        Self(BASE64.encode(raw))
    }

    /// True when no secret was given (the service then generates one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("c2VjcmV0LWtleQ==");
        assert!(!format!("{secret:?}").contains("c2VjcmV0"));
        assert!(!format!("{secret}").contains("c2VjcmV0"));
        assert_eq!(secret.expose(), "c2VjcmV0LWtleQ==");
    }

    #[test]
    fn generated_keys_have_the_services_lengths_and_differ() {
        let hub = Secret::generate_key(HUB_KEY_BYTES);
        assert_eq!(hub.expose().len(), 44, "{}", hub.expose());
        assert_eq!(BASE64.decode(hub.expose()).unwrap().len(), 32);
        let dps = Secret::generate_key(DPS_KEY_BYTES);
        assert_eq!(dps.expose().len(), 88, "{}", dps.expose());
        assert_ne!(Secret::generate_key(HUB_KEY_BYTES), hub, "two keys must not repeat");
    }

    #[test]
    fn serializes_as_plain_string() {
        let secret = Secret::new("abc");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"abc\"");
        let back: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, secret);
    }
}
