//! Maps a DPS method and path to an operation and, for the service API, the policy permission
//! it needs; the device registration API authenticates with the device's
//! own token instead. Collection names match case-insensitively; trailing slashes are ignored.

use axum::http::Method;

use super::error::DpsError;
use crate::sim::auth::Permission;

/// Which enrollment table an operation works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollmentKind {
    /// `/enrollments`: individual enrollments.
    Individual,
    /// `/enrollmentGroups`: enrollment groups.
    Group,
}

/// A DPS operation with its path parameters (percent-decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DpsRoute {
    /// `POST /enrollments` or `/enrollmentGroups`: a bulk operation.
    Bulk(EnrollmentKind),
    /// `POST /enrollments/query` or `/enrollmentGroups/query`.
    Query(EnrollmentKind),
    /// `POST /enrollments/{id}/attestationmechanism` (the only read that shows keys).
    Attestation(EnrollmentKind, String),
    /// `GET /enrollments/{id}`.
    Get(EnrollmentKind, String),
    /// `PUT /enrollments/{id}`, with `If-Match` for an update.
    Put(EnrollmentKind, String),
    /// `DELETE /enrollments/{id}`, with an optional `If-Match`.
    Delete(EnrollmentKind, String),
    /// `POST /registrations/{groupId}/query`: a group's registration records.
    QueryGroupRegistrations(String),
    /// `GET /registrations/{registrationId}`.
    GetRegistration(String),
    /// `DELETE /registrations/{registrationId}`, with an optional `If-Match`.
    DeleteRegistration(String),
    /// `PUT /{idScope}/registrations/{registrationId}/register` (device API).
    Register {
        /// The ID scope in the path.
        scope: String,
        /// The registering device.
        registration_id: String,
    },
    /// `GET /{idScope}/registrations/{registrationId}/operations/{operationId}` (device API).
    OperationStatus {
        /// The ID scope in the path.
        scope: String,
        /// The registering device.
        registration_id: String,
        /// The operation `register` answered with.
        operation_id: String,
    },
    /// `POST /{idScope}/registrations/{registrationId}`: a device reads its registration.
    Lookup {
        /// The ID scope in the path.
        scope: String,
        /// The device.
        registration_id: String,
    },
}

/// True when `path` belongs to DPS rather than to the hub.
pub fn is_dps_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/').map(str::to_ascii_lowercase);
    let first = segments.next().unwrap_or_default();
    let second = segments.next().unwrap_or_default();
    matches!(first.as_str(), "enrollments" | "enrollmentgroups" | "registrations") || second == "registrations"
}

impl DpsRoute {
    /// Resolves a request line; unknown paths are 404, known paths with another method 405.
    pub fn parse(method: &Method, raw_path: &str) -> Result<Self, DpsError> {
        let (segments, words) = crate::sim::http::path_segments(raw_path);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let id = |index: usize| segments[index].clone();
        let not_allowed = |on: &str, allowed: &str| DpsError::new(405_001, format!("{method} is not allowed on {on}; use {allowed}"));
        let kind = match words.first() {
            Some(&"enrollments") => Some(EnrollmentKind::Individual),
            Some(&"enrollmentgroups") => Some(EnrollmentKind::Group),
            _ => None,
        };
        let route = match (words.as_slice(), kind) {
            ([_], Some(kind)) if *method == Method::POST => Self::Bulk(kind),
            ([_, "query"], Some(kind)) if *method == Method::POST => Self::Query(kind),
            ([_, _, "attestationmechanism"], Some(kind)) if *method == Method::POST => Self::Attestation(kind, id(1)),
            ([_, _], Some(kind)) => match *method {
                Method::GET => Self::Get(kind, id(1)),
                Method::PUT => Self::Put(kind, id(1)),
                Method::DELETE => Self::Delete(kind, id(1)),
                _ => return Err(not_allowed(&segments[1], "GET, PUT or DELETE")),
            },
            (["registrations", _, "query"], _) if *method == Method::POST => Self::QueryGroupRegistrations(id(1)),
            (["registrations", _], _) => match *method {
                Method::GET => Self::GetRegistration(id(1)),
                Method::DELETE => Self::DeleteRegistration(id(1)),
                _ => return Err(not_allowed(raw_path, "GET or DELETE")),
            },
            ([_, "registrations", _, "register"], _) if *method == Method::PUT => Self::Register { scope: id(0), registration_id: id(2) },
            ([_, "registrations", _, "register"], _) => return Err(not_allowed(raw_path, "PUT")),
            ([_, "registrations", _, "operations", _], _) if *method == Method::GET => {
                Self::OperationStatus { scope: id(0), registration_id: id(2), operation_id: id(4) }
            }
            ([_, "registrations", _], _) if *method == Method::POST => Self::Lookup { scope: id(0), registration_id: id(2) },
            _ => return Err(DpsError::new(404_001, format!("there is no Device Provisioning Service API at {method} {raw_path}"))),
        };
        Ok(route)
    }

    /// The service-API permission the operation needs; `None` for the device registration API,
    /// which checks the device's own token.
    pub fn permission(&self) -> Option<Permission> {
        match self {
            Self::Query(_) | Self::Attestation(..) | Self::Get(..) => Some(Permission::EnrollmentRead),
            Self::Bulk(_) | Self::Put(..) | Self::Delete(..) => Some(Permission::EnrollmentWrite),
            Self::QueryGroupRegistrations(_) | Self::GetRegistration(_) => Some(Permission::RegistrationStatusRead),
            Self::DeleteRegistration(_) => Some(Permission::RegistrationStatusWrite),
            Self::Register { .. } | Self::OperationStatus { .. } | Self::Lookup { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_service_paths_in_any_case() {
        use EnrollmentKind::{Group, Individual};
        assert_eq!(DpsRoute::parse(&Method::POST, "/enrollments").unwrap(), DpsRoute::Bulk(Individual));
        assert_eq!(DpsRoute::parse(&Method::POST, "/enrollmentGroups/query/").unwrap(), DpsRoute::Query(Group));
        assert_eq!(DpsRoute::parse(&Method::GET, "/enrollments/query").unwrap(), DpsRoute::Get(Individual, "query".into()));
        assert_eq!(DpsRoute::parse(&Method::PUT, "/EnrollmentGroups/lobby").unwrap(), DpsRoute::Put(Group, "lobby".into()));
        assert_eq!(
            DpsRoute::parse(&Method::POST, "/enrollments/door%2D1/attestationMechanism").unwrap(),
            DpsRoute::Attestation(Individual, "door-1".into())
        );
        assert_eq!(
            DpsRoute::parse(&Method::POST, "/registrations/lobby/query").unwrap(),
            DpsRoute::QueryGroupRegistrations("lobby".into())
        );
        assert_eq!(DpsRoute::parse(&Method::DELETE, "/registrations/door-1").unwrap(), DpsRoute::DeleteRegistration("door-1".into()));
        assert_eq!(DpsRoute::parse(&Method::DELETE, "/enrollments/door-1").unwrap().permission(), Some(Permission::EnrollmentWrite));
        assert_eq!(DpsRoute::parse(&Method::GET, "/registrations/door-1").unwrap().permission(), Some(Permission::RegistrationStatusRead));
    }

    #[test]
    fn resolves_device_paths_without_a_policy_permission() {
        let register = DpsRoute::parse(&Method::PUT, "/0ne00ABCDEF/registrations/door-1/register").unwrap();
        assert_eq!(register, DpsRoute::Register { scope: "0ne00ABCDEF".into(), registration_id: "door-1".into() });
        assert_eq!(register.permission(), None);
        let status = DpsRoute::parse(&Method::GET, "/0ne00ABCDEF/registrations/door-1/operations/op-1").unwrap();
        assert_eq!(status.permission(), None);
        assert!(matches!(DpsRoute::parse(&Method::POST, "/0ne00ABCDEF/registrations/door-1"), Ok(DpsRoute::Lookup { .. })));
    }

    #[test]
    fn unknown_paths_and_methods_are_named() {
        let missing = DpsRoute::parse(&Method::GET, "/enrollments").unwrap_err();
        assert_eq!((missing.code, missing.message.contains("GET /enrollments")), (404_001, true));
        let wrong = DpsRoute::parse(&Method::PATCH, "/enrollments/door-1").unwrap_err();
        assert_eq!(wrong.code, 405_001);
        assert!(wrong.message.contains("use GET, PUT or DELETE"), "{}", wrong.message);
        assert_eq!(DpsRoute::parse(&Method::GET, "/0ne00ABCDEF/registrations/door-1/register").unwrap_err().code, 405_001);
        assert_eq!(DpsRoute::parse(&Method::POST, "/registrations/door-1").unwrap_err().code, 405_001);
    }

    #[test]
    fn dps_paths_are_told_from_hub_paths() {
        assert!(is_dps_path("/enrollments/door-1"));
        assert!(is_dps_path("/enrollmentGroups/query"));
        assert!(is_dps_path("/registrations/lobby/query"));
        assert!(is_dps_path("/0ne00ABCDEF/registrations/door-1/register"));
        assert!(!is_dps_path("/devices/door-1"));
        assert!(!is_dps_path("/twins/door-1/methods"));
        assert!(!is_dps_path("/jobs/v2/query"));
        assert!(!is_dps_path("/$iothub/websocket"), "the device endpoint is the hub's");
    }
}
