//! Shared access policies and the service's SAS authorization rules.

use serde::{Deserialize, Serialize};

use super::error::HubError;
use crate::azure::sas::{ParsedSas, decode_key};
use crate::azure::secret::Secret;
use crate::azure::wire::ErrorCode;

/// What a policy may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    /// Read identities and statistics.
    RegistryRead,
    /// Create, update, delete identities.
    RegistryWrite,
    /// Twins, queries, direct methods, jobs.
    ServiceConnect,
    /// Device-facing endpoints.
    DeviceConnect,
    /// DPS: read enrollments and groups (and their attestation keys).
    EnrollmentRead,
    /// DPS: create, change, delete enrollments and groups.
    EnrollmentWrite,
    /// DPS: read registration records.
    RegistrationStatusRead,
    /// DPS: delete registration records.
    RegistrationStatusWrite,
    /// DPS: change the service configuration.
    ServiceConfig,
}

/// A shared access policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Policy name (`iothubowner`).
    pub name: String,
    /// Primary key, base64.
    pub primary_key: Secret,
    /// Secondary key, base64.
    pub secondary_key: Secret,
    /// What it grants.
    pub permissions: Vec<Permission>,
}

/// The built-in policies of a new hub.
pub const BUILT_IN: [(&str, &[Permission]); 5] = [
    ("iothubowner", &[Permission::RegistryRead, Permission::RegistryWrite, Permission::ServiceConnect, Permission::DeviceConnect]),
    ("service", &[Permission::ServiceConnect]),
    ("device", &[Permission::DeviceConnect]),
    ("registryRead", &[Permission::RegistryRead]),
    ("registryReadWrite", &[Permission::RegistryRead, Permission::RegistryWrite]),
];

/// The built-in policies of a new DPS instance (`provisioningserviceowner` holds every right).
pub const DPS_BUILT_IN: [(&str, &[Permission]); 3] = [
    (
        "provisioningserviceowner",
        &[
            Permission::ServiceConfig,
            Permission::EnrollmentRead,
            Permission::EnrollmentWrite,
            Permission::RegistrationStatusRead,
            Permission::RegistrationStatusWrite,
        ],
    ),
    ("enrollmentread", &[Permission::EnrollmentRead, Permission::RegistrationStatusRead]),
    ("enrollmentwrite", &[Permission::EnrollmentRead, Permission::EnrollmentWrite, Permission::RegistrationStatusRead]),
];

/// A hub's policies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policies {
    /// All policies.
    pub policies: Vec<Policy>,
}

impl Policies {
    /// The built-in set with fresh random keys.
    pub fn generate() -> Self {
        Self::generate_from(&BUILT_IN)
    }

    /// The DPS built-in set with fresh random keys.
    pub fn generate_dps() -> Self {
        Self::generate_from(&DPS_BUILT_IN)
    }

    fn generate_from(built_in: &[(&str, &[Permission])]) -> Self {
        let policies = built_in
            .iter()
            .map(|(name, permissions)| Policy {
                name: (*name).to_owned(),
                primary_key: super::registry::generate_key(),
                secondary_key: super::registry::generate_key(),
                permissions: permissions.to_vec(),
            })
            .collect();
        Self { policies }
    }

    /// A policy by name.
    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|policy| policy.name == name)
    }

    /// Checks an `Authorization` header for `required`, as the hub does. `hosts` are the host
    /// names (without port) the token's `sr` may name.
    pub fn authorize(&self, header: Option<&str>, required: Permission, hosts: &[String], now_secs: u64) -> Result<(), HubError> {
        let unauthorized = |reason: String| HubError::new(ErrorCode::IotHubUnauthorizedAccess, format!("Unauthorized: {reason}"));
        let header = header
            .filter(|header| !header.trim().is_empty())
            .ok_or_else(|| unauthorized("the request has no Authorization header".to_owned()))?;
        let token = ParsedSas::parse(header).map_err(|error| unauthorized(error.to_string()))?;
        if token.is_expired_at(now_secs) {
            return Err(unauthorized(format!("the SAS token expired at {} (Unix seconds)", token.expiry_secs)));
        }
        let host = token.resource_host();
        let host_only = host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(host, _)| host);
        if !hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host_only)) {
            return Err(unauthorized(format!("the token's sr '{host}' is not this hub ({})", hosts.join(", "))));
        }
        let Some(key_name) = token.key_name.as_deref() else {
            return Err(unauthorized("the token names no shared access policy (skn); service APIs need a policy token".to_owned()));
        };
        let policy = self.get(key_name).ok_or_else(|| unauthorized(format!("no shared access policy is named '{key_name}'")))?;
        let signed = [&policy.primary_key, &policy.secondary_key].into_iter().filter_map(decode_key).any(|key| token.verify(&key));
        if !signed {
            return Err(unauthorized(format!("the signature does not match the keys of policy '{key_name}'")));
        }
        if !policy.permissions.contains(&required) {
            return Err(unauthorized(format!("policy '{key_name}' does not grant {required:?}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::sas::build_token;

    const NOW: u64 = 1_800_000_000;

    fn token(policies: &Policies, name: &str, sr: &str, expiry: u64) -> String {
        let key = decode_key(&policies.get(name).unwrap().primary_key).unwrap();
        build_token(sr, &key, expiry, Some(name)).expose().to_owned()
    }

    fn hosts() -> Vec<String> {
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
    }

    #[test]
    fn owner_token_passes_for_every_permission() {
        let policies = Policies::generate();
        let header = token(&policies, "iothubowner", "localhost%3A8443", NOW + 3600);
        for permission in [Permission::RegistryRead, Permission::RegistryWrite, Permission::ServiceConnect] {
            policies.authorize(Some(&header), permission, &hosts(), NOW).unwrap();
        }
    }

    #[test]
    fn each_refusal_says_why() {
        let policies = Policies::generate();
        let read_only = token(&policies, "registryRead", "localhost", NOW + 3600);
        let expired = token(&policies, "iothubowner", "localhost", NOW - 1);
        let other_host = token(&policies, "iothubowner", "otherhub.azure-devices.net", NOW + 3600);
        let forged = token(&Policies::generate(), "iothubowner", "localhost", NOW + 3600);
        let cases = [
            (None, "no Authorization header"),
            (Some("Basic abc"), "not a SharedAccessSignature"),
            (Some(expired.as_str()), "expired"),
            (Some(other_host.as_str()), "is not this hub"),
            (Some(forged.as_str()), "signature does not match"),
            (Some(read_only.as_str()), "does not grant RegistryWrite"),
        ];
        for (header, reason) in cases {
            let error = policies.authorize(header, Permission::RegistryWrite, &hosts(), NOW).unwrap_err();
            assert_eq!(error.code, ErrorCode::IotHubUnauthorizedAccess);
            assert_eq!(error.status(), 401);
            assert!(error.message.contains(reason), "{reason}: {}", error.message);
        }
    }

    #[test]
    fn secondary_key_also_signs() {
        let policies = Policies::generate();
        let key = decode_key(&policies.get("service").unwrap().secondary_key).unwrap();
        let header = build_token("127.0.0.1%3A443", &key, NOW + 60, Some("service"));
        policies.authorize(Some(header.expose()), Permission::ServiceConnect, &hosts(), NOW).unwrap();
    }
}
