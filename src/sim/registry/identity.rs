//! Reading the identity part of a PUT body or bulk item: id, status, credentials (keys checked
//! or generated, X.509 thumbprints checked), edge capability and scopes, as the service checks them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::generate_key;
use crate::azure::id_rules::check_device_id;
use crate::azure::secret::Secret;
use crate::azure::wire::{AuthenticationMechanism, AuthenticationType, Device, DeviceStatus, ExportImportDevice};
use crate::sim::error::HubError;
use crate::sim::record::AuthRecord;

/// The identity fields of a PUT body or bulk item, validated.
pub(super) struct IdentityFields {
    pub(super) status: DeviceStatus,
    pub(super) status_reason: Option<String>,
    pub(super) auth: AuthRecord,
    pub(super) iot_edge: bool,
    pub(super) device_scope: Option<String>,
    pub(super) parent_scopes: Vec<String>,
}

impl IdentityFields {
    pub(super) fn from_device(device: &Device) -> Result<Self, HubError> {
        Ok(Self {
            status: device.status,
            status_reason: check_status_reason(device.status_reason.clone())?,
            auth: auth_record(device.authentication.as_ref())?,
            iot_edge: device.capabilities.is_some_and(|capabilities| capabilities.iot_edge),
            device_scope: device.device_scope.clone(),
            parent_scopes: device.parent_scopes.clone().unwrap_or_default(),
        })
    }

    pub(super) fn from_item(item: &ExportImportDevice) -> Result<Self, HubError> {
        Ok(Self {
            status: item.status.unwrap_or_default(),
            status_reason: check_status_reason(item.status_reason.clone())?,
            auth: auth_record(item.authentication.as_ref())?,
            iot_edge: item.capabilities.is_some_and(|capabilities| capabilities.iot_edge),
            device_scope: item.device_scope.clone(),
            parent_scopes: item.parent_scopes.clone().unwrap_or_default(),
        })
    }
}

pub(super) fn validate_id(device_id: &str) -> Result<(), HubError> {
    check_device_id(device_id).map_err(|error| HubError::invalid(error.to_string()))
}

fn check_status_reason(reason: Option<String>) -> Result<Option<String>, HubError> {
    match reason {
        Some(reason) if reason.chars().count() > 128 => Err(HubError::invalid("statusReason is longer than 128 characters")),
        other => Ok(other),
    }
}

/// Validates credentials and generates empty symmetric keys.
fn auth_record(mechanism: Option<&AuthenticationMechanism>) -> Result<AuthRecord, HubError> {
    let kind = mechanism.map_or(AuthenticationType::Sas, |mechanism| mechanism.kind);
    let mut record = AuthRecord { kind, ..AuthRecord::default() };
    match kind {
        AuthenticationType::Sas => {
            let keys = mechanism.and_then(|mechanism| mechanism.symmetric_key.as_ref());
            record.primary_key = Some(key_or_generated(keys.and_then(|keys| keys.primary_key.as_ref()), "primaryKey")?);
            record.secondary_key = Some(key_or_generated(keys.and_then(|keys| keys.secondary_key.as_ref()), "secondaryKey")?);
        }
        AuthenticationType::SelfSigned => {
            let thumbprints = mechanism.and_then(|mechanism| mechanism.x509_thumbprint.as_ref());
            let primary = thumbprints.and_then(|thumbprints| thumbprints.primary_thumbprint.clone()).filter(|value| !value.is_empty());
            let secondary = thumbprints.and_then(|thumbprints| thumbprints.secondary_thumbprint.clone()).filter(|value| !value.is_empty());
            for thumbprint in primary.iter().chain(secondary.iter()) {
                if !(thumbprint.len() == 40 || thumbprint.len() == 64) || !thumbprint.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(HubError::invalid("an X.509 thumbprint must be 40 (SHA-1) or 64 (SHA-256) hex digits"));
                }
            }
            if primary.is_none() {
                return Err(HubError::invalid("a selfSigned device needs a primaryThumbprint"));
            }
            record.primary_thumbprint = primary;
            record.secondary_thumbprint = secondary;
        }
        AuthenticationType::CertificateAuthority | AuthenticationType::None => {}
    }
    Ok(record)
}

fn key_or_generated(key: Option<&Secret>, name: &str) -> Result<Secret, HubError> {
    match key.filter(|key| !key.is_empty()) {
        None => Ok(generate_key()),
        Some(key) => {
            let decoded =
                BASE64.decode(key.expose().as_bytes()).map_err(|_| HubError::invalid(format!("the {name} is not valid base64")))?;
            if !(16..=64).contains(&decoded.len()) {
                return Err(HubError::invalid(format!("the {name} must decode to 16..64 bytes, not {}", decoded.len())));
            }
            Ok(key.clone())
        }
    }
}
