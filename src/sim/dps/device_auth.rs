//! How a device proves itself to the registration API with a symmetric key:
//! the derived key of an enrollment-group device, and the checks on its SAS token, tolerant of the
//! three ways the SDKs sign (`sr` raw or URL-encoded, with or without `skn`).

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::azure::sas::{ParsedSas, SasParseError, encode_component};

/// Why a registration token is refused (never includes the signature).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceAuthError {
    /// Not a SAS token, or a field is missing or malformed.
    #[error("{0}")]
    Parse(#[from] SasParseError),
    /// `sr` names another scope or registration.
    #[error("the token is for '{got}', not '{expected}'")]
    WrongResource {
        /// What the registration needs.
        expected: String,
        /// What the token names.
        got: String,
    },
    /// `skn` is present but is not `registration`.
    #[error("the token's skn is '{0}'; device tokens use 'registration' (or none)")]
    WrongKeyName(String),
    /// `se` is in the past.
    #[error("the token expired")]
    Expired,
    /// No key of the enrollment made the signature.
    #[error("the signature does not match the enrollment's keys")]
    BadSignature,
}

/// The key a device of a symmetric-key enrollment group signs with:
/// HMAC-SHA256(group key, registration id).
pub fn derive_device_key(group_key: &[u8], registration_id: &str) -> Vec<u8> {
    // HMAC-SHA256 takes keys of any length, so building it cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(group_key) else {
        return Vec::new();
    };
    mac.update(registration_id.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Checks a registration's `Authorization` header against candidate keys; returns the index of
/// the key that signed it.
pub fn verify_registration_token(
    header: &str,
    id_scope: &str,
    registration_id: &str,
    keys: &[Vec<u8>],
    now_secs: u64,
) -> Result<usize, DeviceAuthError> {
    let token = ParsedSas::parse(header)?;
    let expected = format!("{id_scope}/registrations/{registration_id}");
    if !token.resource.eq_ignore_ascii_case(&expected) {
        return Err(DeviceAuthError::WrongResource { expected, got: token.resource.clone() });
    }
    if let Some(name) = token.key_name.as_deref().filter(|name| *name != "registration") {
        return Err(DeviceAuthError::WrongKeyName(name.to_owned()));
    }
    if token.is_expired_at(now_secs) {
        return Err(DeviceAuthError::Expired);
    }
    let encoded = encode_component(&token.resource);
    let lower = encode_component(&token.resource.to_lowercase());
    keys.iter()
        .position(|key| token.verify(key) || token.verify_with_resource(key, &encoded) || token.verify_with_resource(key, &lower))
        .ok_or(DeviceAuthError::BadSignature)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;

    use super::*;
    use crate::azure::sas::build_token;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn the_documented_derived_key() {
        let group = BASE64.decode("8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==").unwrap();
        let derived = derive_device_key(&group, "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6");
        assert_eq!(BASE64.encode(derived), "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=");
    }

    #[test]
    fn every_sdk_signing_style_is_accepted_and_the_signing_key_found() {
        let (primary, secondary) = (b"primary-key-bytes".to_vec(), b"secondary-key-bytes".to_vec());
        let keys = [primary.clone(), secondary.clone()];
        let raw = "0ne00111111/registrations/door-17";
        let node = build_token(raw, &secondary, NOW + 3600, Some("registration"));
        assert_eq!(verify_registration_token(node.expose(), "0ne00111111", "door-17", &keys, NOW), Ok(1));
        let cli = build_token(&encode_component(raw), &primary, NOW + 3600, Some("registration"));
        assert_eq!(verify_registration_token(cli.expose(), "0ne00111111", "door-17", &keys, NOW), Ok(0));
        let python = build_token(&encode_component(raw), &primary, NOW + 3600, None);
        assert_eq!(
            verify_registration_token(python.expose(), "0ne00111111", "DOOR-17", &keys, NOW),
            Ok(0),
            "ids compare case-insensitively"
        );
    }

    #[test]
    fn bad_tokens_are_refused_with_the_reason() {
        let key = b"primary-key-bytes".to_vec();
        let keys = [key.clone()];
        let token = build_token("0ne00111111/registrations/door-17", &key, NOW + 3600, Some("registration"));
        assert!(matches!(
            verify_registration_token(token.expose(), "0ne00111111", "door-18", &keys, NOW),
            Err(DeviceAuthError::WrongResource { .. })
        ));
        assert_eq!(verify_registration_token(token.expose(), "0ne00111111", "door-17", &keys, NOW + 7200), Err(DeviceAuthError::Expired));
        assert_eq!(
            verify_registration_token(token.expose(), "0ne00111111", "door-17", &[b"other".to_vec()], NOW),
            Err(DeviceAuthError::BadSignature)
        );
        let owner = build_token("0ne00111111/registrations/door-17", &key, NOW + 3600, Some("provisioningserviceowner"));
        assert_eq!(
            verify_registration_token(owner.expose(), "0ne00111111", "door-17", &keys, NOW),
            Err(DeviceAuthError::WrongKeyName("provisioningserviceowner".into()))
        );
        assert!(matches!(verify_registration_token("Bearer x", "0ne00111111", "door-17", &keys, NOW), Err(DeviceAuthError::Parse(_))));
    }
}
