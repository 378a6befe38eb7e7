//! Maps a method and path to an operation and the permission it needs.

use axum::http::Method;
use percent_encoding::percent_decode_str;

use crate::azure::wire::ErrorCode;
use crate::sim::auth::Permission;
use crate::sim::error::HubError;

/// A hub operation with its path parameters (percent-decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /devices`
    ListDevices,
    /// `POST /devices`
    BulkDevices,
    /// `POST /devices/query`
    QueryDevices,
    /// `GET /devices/{id}`
    GetDevice(String),
    /// `PUT /devices/{id}`
    PutDevice(String),
    /// `DELETE /devices/{id}`
    DeleteDevice(String),
    /// `GET /twins/{id}`
    GetTwin(String),
    /// `PATCH /twins/{id}`
    PatchTwin(String),
    /// `PUT /twins/{id}`
    ReplaceTwin(String),
    /// `GET /statistics/devices`
    DeviceStatistics,
    /// `GET /statistics/service`
    ServiceStatistics,
    /// `GET /hubdeck/connections`: the simulator's own listing of live device connections.
    DeviceConnections,
    /// `POST /twins/{id}/methods`
    InvokeMethod(String),
    /// `PUT /jobs/v2/{id}`
    PutJob(String),
    /// `GET /jobs/v2/{id}`
    GetJob(String),
    /// `POST /jobs/v2/{id}/cancel`
    CancelJob(String),
    /// `GET /jobs/v2/query`
    QueryJobs,
}

/// A request path's segments, percent-decoded, without leading and trailing slashes; and the
/// same lowercased, for case-insensitive matching of collection names.
pub fn path_segments(raw_path: &str) -> (Vec<String>, Vec<String>) {
    let segments: Vec<String> = raw_path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
        .collect();
    let words = segments.iter().map(|segment| segment.to_ascii_lowercase()).collect();
    (segments, words)
}

impl Route {
    /// Resolves a request line. Collection names match case-insensitively and a trailing
    /// slash is ignored, as the SDKs vary on both.
    pub fn parse(method: &Method, raw_path: &str) -> Result<Self, HubError> {
        let (segments, words) = path_segments(raw_path);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let not_allowed = |allowed: &str| HubError {
            status_override: Some(405),
            ..HubError::new(ErrorCode::InvalidOperation, format!("{method} is not allowed on {raw_path}; use {allowed}"))
        };
        let id = |index: usize| segments[index].clone();
        let route = match words.as_slice() {
            ["devices"] => match *method {
                Method::GET => Self::ListDevices,
                Method::POST => Self::BulkDevices,
                _ => return Err(not_allowed("GET or POST")),
            },
            ["devices", "query"] if *method == Method::POST => Self::QueryDevices,
            ["devices", _] => match *method {
                Method::GET => Self::GetDevice(id(1)),
                Method::PUT => Self::PutDevice(id(1)),
                Method::DELETE => Self::DeleteDevice(id(1)),
                _ => return Err(not_allowed("GET, PUT or DELETE")),
            },
            ["twins", _] => match *method {
                Method::GET => Self::GetTwin(id(1)),
                Method::PATCH => Self::PatchTwin(id(1)),
                Method::PUT => Self::ReplaceTwin(id(1)),
                _ => return Err(not_allowed("GET, PATCH or PUT")),
            },
            ["twins", _, "methods"] if *method == Method::POST => Self::InvokeMethod(id(1)),
            ["jobs", "v2", "query"] if *method == Method::GET => Self::QueryJobs,
            ["jobs", "v2", _] => match *method {
                Method::GET => Self::GetJob(id(2)),
                Method::PUT => Self::PutJob(id(2)),
                _ => return Err(not_allowed("GET or PUT")),
            },
            ["jobs", "v2", _, "cancel"] if *method == Method::POST => Self::CancelJob(id(2)),
            ["twins", _, "methods"] | ["jobs", "v2", _, "cancel"] => return Err(not_allowed("POST")),
            ["statistics", "devices"] if *method == Method::GET => Self::DeviceStatistics,
            ["statistics", "service"] if *method == Method::GET => Self::ServiceStatistics,
            ["hubdeck", "connections"] if *method == Method::GET => Self::DeviceConnections,
            ["statistics", "devices" | "service"] | ["hubdeck", "connections"] => return Err(not_allowed("GET")),
            _ => {
                return Err(HubError::new(ErrorCode::ResourceNotFound, format!("there is no IoT Hub service API at {method} {raw_path}")));
            }
        };
        Ok(route)
    }

    /// The permission the operation needs.
    pub fn permission(&self) -> Permission {
        match self {
            Self::ListDevices | Self::GetDevice(_) | Self::DeviceStatistics | Self::DeviceConnections => Permission::RegistryRead,
            Self::BulkDevices | Self::PutDevice(_) | Self::DeleteDevice(_) => Permission::RegistryWrite,
            Self::QueryDevices
            | Self::GetTwin(_)
            | Self::PatchTwin(_)
            | Self::ReplaceTwin(_)
            | Self::ServiceStatistics
            | Self::InvokeMethod(_)
            | Self::PutJob(_)
            | Self::GetJob(_)
            | Self::CancelJob(_)
            | Self::QueryJobs => Permission::ServiceConnect,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_method_and_job_paths() {
        assert_eq!(Route::parse(&Method::POST, "/twins/d%201/methods").unwrap(), Route::InvokeMethod("d 1".into()));
        assert_eq!(Route::parse(&Method::GET, "/jobs/v2/query").unwrap(), Route::QueryJobs);
        assert_eq!(Route::parse(&Method::PUT, "/jobs/v2/job-1").unwrap(), Route::PutJob("job-1".into()));
        assert_eq!(Route::parse(&Method::GET, "/jobs/v2/job-1").unwrap(), Route::GetJob("job-1".into()));
        assert_eq!(Route::parse(&Method::POST, "/jobs/v2/job-1/cancel").unwrap(), Route::CancelJob("job-1".into()));
        assert_eq!(Route::parse(&Method::GET, "/jobs/v2/job-1/cancel").unwrap_err().status(), 405);
    }

    #[test]
    fn resolves_sdk_paths() {
        assert_eq!(Route::parse(&Method::GET, "/devices/").unwrap(), Route::ListDevices);
        assert_eq!(Route::parse(&Method::POST, "/devices").unwrap(), Route::BulkDevices);
        assert_eq!(Route::parse(&Method::POST, "/devices/query").unwrap(), Route::QueryDevices);
        assert_eq!(Route::parse(&Method::GET, "/devices/query").unwrap(), Route::GetDevice("query".into()));
        assert_eq!(Route::parse(&Method::PUT, "/devices/a%23b%3Fc%2Bd").unwrap(), Route::PutDevice("a#b?c+d".into()));
        assert_eq!(Route::parse(&Method::GET, "/Twins/dev-1").unwrap(), Route::GetTwin("dev-1".into()));
        assert_eq!(Route::parse(&Method::GET, "/statistics/service").unwrap(), Route::ServiceStatistics);
    }

    #[test]
    fn unknown_paths_and_methods_are_named() {
        let missing = Route::parse(&Method::GET, "/widgets/1").unwrap_err();
        assert_eq!(missing.status(), 404);
        assert!(missing.message.contains("GET /widgets/1"));
        let wrong = Route::parse(&Method::PATCH, "/devices/d1").unwrap_err();
        assert_eq!(wrong.status(), 405);
        assert!(wrong.message.contains("use GET, PUT or DELETE"));
    }
}
