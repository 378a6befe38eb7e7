//! Shared access signature tokens: signing (client) and parsing/verifying (simulator).
//!
//! The rule every SDK follows: `sig = base64(HMAC-SHA256(base64decode(key), sr + "\n" + se))`
//! where `sr` is the resource URI exactly as it appears in the token (already URL-encoded).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use parking_lot::Mutex;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

use super::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Characters `encodeURIComponent` leaves alone, minus `!'()*` (Node's strict variant).
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// How long a token lives; every SDK uses one hour.
pub const TOKEN_TTL: Duration = Duration::from_hours(1);
/// A cached token is replaced when it has less than this left.
pub const RENEW_BEFORE: Duration = Duration::from_mins(5);

/// Percent-encodes one URI component (device ids in paths, the `sr` value).
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// The `sr` a service token carries for a host: lower-case, URL-encoded (`localhost%3A8443`).
pub fn resource_for_host(host_name: &str) -> String {
    encode_component(&host_name.to_ascii_lowercase())
}

/// Computes the base64 signature over `sr_as_sent + "\n" + se_as_sent`.
pub fn sign(key: &[u8], resource: &str, expiry: &str) -> String {
    BASE64.encode(mac(key, resource, expiry).finalize().into_bytes())
}

/// `resource` and `expiry` exactly as they appear in the token.
fn mac(key: &[u8], resource: &str, expiry: &str) -> HmacSha256 {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        unreachable!("HMAC-SHA256 takes keys of any length");
    };
    mac.update(resource.as_bytes());
    mac.update(b"\n");
    mac.update(expiry.as_bytes());
    mac
}

/// Builds `SharedAccessSignature sr=…&sig=…&se=…[&skn=…]` (the Python/docs field order).
pub fn build_token(sr_as_sent: &str, key: &[u8], expiry_secs: u64, key_name: Option<&str>) -> Secret {
    let se = expiry_secs.to_string();
    let sig = encode_component(&sign(key, sr_as_sent, &se));
    let mut token = format!("SharedAccessSignature sr={sr_as_sent}&sig={sig}&se={se}");
    if let Some(key_name) = key_name {
        token.push_str("&skn=");
        token.push_str(&encode_component(key_name));
    }
    Secret::new(token)
}

/// Decodes a base64 key, the form connection strings carry.
pub fn decode_key(key: &Secret) -> Option<Vec<u8>> {
    BASE64.decode(key.expose().as_bytes()).ok()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// Signs requests for one resource with one policy key, caching the token until it nears expiry.
pub struct SasCredential {
    resource: String,
    key_name: Option<String>,
    key: Vec<u8>,
    ttl: Duration,
    cached: Mutex<Option<(Secret, u64)>>,
}

impl SasCredential {
    /// A credential for `resource` (already URL-encoded) signed with the decoded `key`.
    pub fn new(resource: String, key_name: Option<String>, key: Vec<u8>) -> Self {
        Self { resource, key_name, key, ttl: TOKEN_TTL, cached: Mutex::new(None) }
    }

    /// The `Authorization` header value, renewed when less than [`RENEW_BEFORE`] remains.
    pub fn authorization(&self) -> Secret {
        self.authorization_at(unix_now())
    }

    /// [`Self::authorization`] at a given clock, for tests.
    pub fn authorization_at(&self, now_secs: u64) -> Secret {
        let mut cached = self.cached.lock();
        if let Some((token, expiry)) = cached.as_ref()
            && *expiry > now_secs + RENEW_BEFORE.as_secs()
        {
            return token.clone();
        }
        let expiry = now_secs + self.ttl.as_secs();
        let token = build_token(&self.resource, &self.key, expiry, self.key_name.as_deref());
        *cached = Some((token.clone(), expiry));
        token
    }
}

impl std::fmt::Debug for SasCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SasCredential")
            .field("resource", &self.resource)
            .field("key_name", &self.key_name)
            .field("key", &"***")
            .finish_non_exhaustive()
    }
}

/// Why an `Authorization` header is not a usable SAS token. Never includes the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasParseError {
    /// No `SharedAccessSignature ` prefix.
    #[error("the Authorization header is not a SharedAccessSignature token")]
    NotSas,
    /// A field is missing.
    #[error("the SAS token has no {0} field")]
    MissingField(&'static str),
    /// `se` is not a number.
    #[error("the SAS token's se (expiry) is not a number")]
    BadExpiry,
    /// `sig` is not base64 after URL-decoding.
    #[error("the SAS token's sig is not base64")]
    BadSignature,
}

/// A SAS token taken apart, fields in any order.
#[derive(Clone)]
pub struct ParsedSas {
    /// `sr` exactly as sent (what was signed).
    pub resource_as_sent: String,
    /// `sr` URL-decoded, for scope checks.
    pub resource: String,
    /// `se` exactly as sent (what was signed).
    pub expiry_as_sent: String,
    /// Expiry in Unix seconds (millisecond values are converted).
    pub expiry_secs: u64,
    /// `skn`, the policy name, when present.
    pub key_name: Option<String>,
    signature: Vec<u8>,
}

impl std::fmt::Debug for ParsedSas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedSas")
            .field("resource", &self.resource)
            .field("expiry_secs", &self.expiry_secs)
            .field("key_name", &self.key_name)
            .finish_non_exhaustive()
    }
}

/// Expiry values above this are milliseconds (seconds this large are past year 5000).
const MILLIS_THRESHOLD: u64 = 100_000_000_000;

impl ParsedSas {
    /// Parses `SharedAccessSignature sr=…&sig=…&se=…[&skn=…]`, in any field order.
    pub fn parse(header: &str) -> Result<Self, SasParseError> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(char::is_whitespace).ok_or(SasParseError::NotSas)?;
        if scheme != "SharedAccessSignature" {
            return Err(SasParseError::NotSas);
        }
        let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
        for field in rest.trim().split('&') {
            let (name, value) = field.split_once('=').unwrap_or((field, ""));
            match name {
                "sr" => sr = Some(value),
                "sig" => sig = Some(value),
                "se" => se = Some(value),
                "skn" => skn = Some(value),
                _ => {}
            }
        }
        let resource_as_sent = sr.ok_or(SasParseError::MissingField("sr"))?.to_owned();
        let expiry_as_sent = se.ok_or(SasParseError::MissingField("se"))?.to_owned();
        let sig = sig.ok_or(SasParseError::MissingField("sig"))?;
        let expiry_raw: u64 = expiry_as_sent.parse().map_err(|_| SasParseError::BadExpiry)?;
        let expiry_secs = if expiry_raw > MILLIS_THRESHOLD { expiry_raw / 1000 } else { expiry_raw };
        let signature = BASE64.decode(decode(sig).as_bytes()).map_err(|_| SasParseError::BadSignature)?;
        Ok(Self {
            resource: decode(&resource_as_sent),
            resource_as_sent,
            expiry_as_sent,
            expiry_secs,
            key_name: skn.map(decode).filter(|name| !name.is_empty()),
            signature,
        })
    }

    /// True when the signature was made with `key` (constant-time comparison).
    pub fn verify(&self, key: &[u8]) -> bool {
        mac(key, &self.resource_as_sent, &self.expiry_as_sent).verify_slice(&self.signature).is_ok()
    }

    /// True when the signature was made with `key` over `resource` instead of `sr` as sent
    /// (clients differ in how they encode what they sign).
    pub fn verify_with_resource(&self, key: &[u8], resource: &str) -> bool {
        mac(key, resource, &self.expiry_as_sent).verify_slice(&self.signature).is_ok()
    }

    /// True when the token expired before `now_secs`.
    pub fn is_expired_at(&self, now_secs: u64) -> bool {
        self.expiry_secs < now_secs
    }

    /// The host the token is scoped to: `sr` decoded, scheme and path stripped, port kept.
    pub fn resource_host(&self) -> &str {
        let without_scheme =
            self.resource.strip_prefix("https://").or_else(|| self.resource.strip_prefix("http://")).unwrap_or(&self.resource);
        without_scheme.split('/').next().unwrap_or(without_scheme)
    }
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_B64: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=";

    fn key() -> Vec<u8> {
        decode_key(&Secret::new(KEY_B64)).unwrap()
    }

    #[test]
    fn signature_matches_an_independent_implementation() {
        // Computed with Python's hmac/hashlib/base64 over the same inputs.
        assert_eq!(sign(&key(), "myhub.azure-devices.net", "1456973447"), "4RJmroW/rjSTNMBM46y1USilQoWZ3n8jis6I33SM9Lk=");
        assert_eq!(sign(&key(), "localhost%3A8443", "1456973447"), "TnYaZMioqfj//t6rhwxHZdTTmfj6i6eFef7ygxg+GMk=");
    }

    #[test]
    fn token_has_the_documented_shape() {
        let token = build_token(&resource_for_host("localhost:8443"), &key(), 1_456_973_447, Some("iothubowner"));
        assert_eq!(
            token.expose(),
            "SharedAccessSignature sr=localhost%3A8443&sig=TnYaZMioqfj%2F%2Ft6rhwxHZdTTmfj6i6eFef7ygxg%2BGMk%3D&se=1456973447&skn=iothubowner"
        );
    }

    #[test]
    fn parses_the_documented_example() {
        let parsed = ParsedSas::parse(
            "SharedAccessSignature sr=myhub.azure-devices.net&sig=JdyscqTpXdEJs49elIUCcohw2DlFDR3zfH5KqGJo4r4%3D&se=1456973447&skn=registryRead",
        )
        .unwrap();
        assert_eq!(parsed.resource_as_sent, "myhub.azure-devices.net");
        assert_eq!(parsed.expiry_secs, 1_456_973_447);
        assert_eq!(parsed.key_name.as_deref(), Some("registryRead"));
        assert_eq!(parsed.signature.len(), 32);
        assert_eq!(parsed.resource_host(), "myhub.azure-devices.net");
    }

    #[test]
    fn verifies_every_sdk_shape() {
        let key = key();
        let sig = encode_component(&sign(&key, "localhost", "1795435038"));
        let python_sig = sign(&key, "localhost%3A8443", "1795435028").replace('+', "%2B").replace('=', "%3D");
        let shapes = [
            // Node: order sr,sig,skn,se.
            format!("SharedAccessSignature sr=localhost&sig={sig}&skn=iothubowner&se=1795435038"),
            // Python: sr,sig,se,skn with '/' left unencoded in sig.
            format!("SharedAccessSignature sr=localhost%3A8443&sig={python_sig}&se=1795435028&skn=iothubowner"),
            // No skn (device and DPS tokens).
            format!("SharedAccessSignature sr=localhost&sig={sig}&se=1795435038"),
        ];
        for header in &shapes {
            let parsed = ParsedSas::parse(header).unwrap();
            assert!(parsed.verify(&key), "{header}");
            assert!(!parsed.verify(b"another key"), "{header}");
            assert_eq!(parsed.resource_host().split(':').next(), Some("localhost"));
        }
    }

    #[test]
    fn millisecond_expiry_is_normalised() {
        let key = key();
        let sig = encode_component(&sign(&key, "localhost", "1795435038000"));
        let parsed = ParsedSas::parse(&format!("SharedAccessSignature sr=localhost&sig={sig}&se=1795435038000")).unwrap();
        assert_eq!(parsed.expiry_secs, 1_795_435_038);
        assert!(parsed.verify(&key));
        assert!(parsed.is_expired_at(1_795_435_039));
        assert!(!parsed.is_expired_at(1_795_435_000));
    }

    #[test]
    fn malformed_tokens_get_named_errors() {
        assert_eq!(ParsedSas::parse("Bearer abc").unwrap_err(), SasParseError::NotSas);
        assert_eq!(ParsedSas::parse("SharedAccessSignature sig=a&se=1").unwrap_err(), SasParseError::MissingField("sr"));
        assert_eq!(ParsedSas::parse("SharedAccessSignature sr=a&sig=a&se=soon").unwrap_err(), SasParseError::BadExpiry);
        assert_eq!(ParsedSas::parse("SharedAccessSignature sr=a&sig=*&se=1").unwrap_err(), SasParseError::BadSignature);
    }

    #[test]
    fn credential_caches_and_renews_before_expiry() {
        let credential = SasCredential::new("localhost".to_owned(), Some("iothubowner".to_owned()), key());
        let first = credential.authorization_at(1_000_000);
        assert_eq!(credential.authorization_at(1_000_000 + 3000), first, "still 10 minutes left: reuse");
        let renewed = credential.authorization_at(1_000_000 + 3400);
        assert_ne!(renewed, first, "under 5 minutes left: renew");
        let parsed = ParsedSas::parse(renewed.expose()).unwrap();
        assert_eq!(parsed.expiry_secs, 1_000_000 + 3400 + 3600);
        assert!(parsed.verify(&key()));
        assert!(!format!("{credential:?}").contains(KEY_B64));
    }
}
