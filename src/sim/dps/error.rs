//! DPS errors and how they are answered: `{"errorCode","trackingId","message","timestampUtc"}`
//! with `x-ms-error-code` and `x-ms-request-id`, the six-digit code starting with the HTTP status.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::enrollments::EnrollmentError;
use crate::azure::wire::{StructuredError, Timestamp};
use crate::sim::error::HubError;

/// An error answered by the simulated DPS.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DpsError {
    /// Six digits; the first three are the HTTP status.
    pub code: u32,
    /// Human text naming what is wrong.
    pub message: String,
    /// `Retry-After` seconds (429).
    pub retry_after_secs: Option<u32>,
}

impl DpsError {
    /// An error with a six-digit code.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after_secs: None }
    }

    /// 400: the request is not valid.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400_004, message)
    }

    /// 401: the token is missing, wrong or expired.
    pub fn unauthorized(reason: impl std::fmt::Display) -> Self {
        Self::new(401_002, format!("Unauthorized: {reason}"))
    }

    /// 404 for a registration record.
    pub fn registration_not_found(registration_id: &str) -> Self {
        Self::new(404_202, format!("no registration record exists for '{registration_id}'"))
    }

    /// The HTTP status (the first three digits).
    pub fn status(&self) -> u16 {
        u16::try_from(self.code / 1000).unwrap_or(500)
    }
}

impl From<EnrollmentError> for DpsError {
    fn from(error: EnrollmentError) -> Self {
        let code = match &error {
            EnrollmentError::NotFound(..) => 404_201,
            EnrollmentError::PreconditionFailed => 412_002,
            EnrollmentError::Invalid(_) => 400_004,
            EnrollmentError::Exists(..) => 409_201,
        };
        Self::new(code, error.to_string())
    }
}

impl From<HubError> for DpsError {
    /// Authorization and fault-injection errors come from the hub's shared checks.
    fn from(error: HubError) -> Self {
        let status = u32::from(error.status());
        let code = if status == 401 { 401_002 } else { status * 1000 + 1 };
        Self { code, message: error.message, retry_after_secs: error.retry_after_secs }
    }
}

/// The answer for `error`.
pub fn dps_error_response(error: &DpsError) -> Response {
    let tracking_id = uuid_like();
    let body = StructuredError {
        error_code: error.code,
        tracking_id: tracking_id.clone(),
        message: error.message.clone(),
        info: serde_json::Value::Null,
        timestamp_utc: Timestamp::now().to_wire(),
    };
    let mut response = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
    *response.status_mut() = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::sim::http::JSON));
    headers.insert("x-ms-error-code", HeaderValue::from(error.code));
    if let Ok(value) = HeaderValue::from_str(&tracking_id) {
        headers.insert("x-ms-request-id", value);
    }
    if let Some(seconds) = error.retry_after_secs {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A GUID-shaped id (`x-ms-request-id`, operation ids).
pub fn uuid_like() -> String {
    let hex = crate::sim::text::hex(&rand::random::<[u8; 16]>());
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_the_status() {
        assert_eq!(DpsError::unauthorized("no token").status(), 401);
        assert_eq!(DpsError::from(EnrollmentError::PreconditionFailed).status(), 412);
        assert_eq!(DpsError::from(EnrollmentError::NotFound("enrollment group", "g".into())).code, 404_201);
        assert_eq!(uuid_like().len(), 36);
    }
}
