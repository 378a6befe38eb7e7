//! DPS errors and their envelope: `{"errorCode","trackingId","message","timestampUtc"}` with
//! `x-ms-error-code` and `x-ms-request-id`, the six-digit code starting with the HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::enrollments::EnrollmentError;
use crate::azure::wire::{StructuredError, Timestamp};
use crate::sim::error::HubError;
use crate::sim::http::{ErrorEnvelope, FrontError};

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
    /// The error body `{"errorCode","trackingId","message","timestampUtc"}` (also what the MQTT
    /// response topics carry).
    pub fn body_json(&self) -> Vec<u8> {
        self.body_with_tracking_id().1
    }

    fn body_with_tracking_id(&self) -> (String, Vec<u8>) {
        let tracking_id = uuid_like();
        let body = StructuredError {
            error_code: self.code,
            tracking_id: tracking_id.clone(),
            message: self.message.clone(),
            info: serde_json::Value::Null,
            timestamp_utc: Timestamp::now().to_wire(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| {
            // Numbers and strings always encode; were it ever not so, the code still goes out.
            format!(r#"{{"errorCode":{},"trackingId":"{tracking_id}","message":"the error could not be encoded"}}"#, self.code).into_bytes()
        });
        (tracking_id, bytes)
    }

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

impl From<FrontError> for DpsError {
    fn from(error: FrontError) -> Self {
        let code = match &error {
            FrontError::BodyTooLarge { .. } => 413_001,
            FrontError::MissingApiVersion { .. }
            | FrontError::UnsupportedApiVersion { .. }
            | FrontError::NoBody { .. }
            | FrontError::NotJson { .. }
            | FrontError::WrongShape { .. } => 400_004,
        };
        Self::new(code, error.to_string())
    }
}

impl ErrorEnvelope for DpsError {
    /// `{"errorCode","trackingId","message","timestampUtc"}` with `x-ms-error-code`, and the
    /// tracking id as `x-ms-request-id`.
    fn to_response(&self) -> Response {
        let (tracking_id, body) = self.body_with_tracking_id();
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = crate::sim::http::with_body(status, body);
        let headers = response.headers_mut();
        headers.insert("x-ms-error-code", HeaderValue::from(self.code));
        if let Ok(value) = HeaderValue::from_str(&tracking_id) {
            headers.insert("x-ms-request-id", value);
        }
        if let Some(seconds) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
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

    #[tokio::test]
    async fn front_end_refusals_use_the_dps_envelope() {
        let cases = [
            (FrontError::BodyTooLarge { limit: 98_304 }, 413, 413_001),
            (FrontError::MissingApiVersion { example: "2021-10-01" }, 400, 400_004),
            (FrontError::NotJson { what: "an IndividualEnrollment", detail: "EOF".into() }, 400, 400_004),
            (FrontError::NoBody { what: "an IndividualEnrollment" }, 400, 400_004),
        ];
        for (refusal, status, code) in cases {
            let text = refusal.to_string();
            let response = DpsError::from(refusal).to_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()["x-ms-error-code"], code.to_string().as_str());
            assert!(response.headers().get("iothub-errorcode").is_none(), "that header is the hub's");
            let request_id = response.headers()["x-ms-request-id"].to_str().unwrap().to_owned();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            let body: StructuredError = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body.error_code, code);
            assert_eq!(body.message, text);
            assert_eq!(body.tracking_id, request_id, "the tracking id is the request id");
            assert!(Timestamp::parse(&body.timestamp_utc).is_some());
        }
    }

    #[test]
    fn hub_errors_keep_their_status_and_retry_after() {
        let throttled = HubError { retry_after_secs: Some(3), ..HubError::new(crate::azure::wire::ErrorCode::ThrottlingException, "slow") };
        let error = DpsError::from(throttled);
        assert_eq!((error.code, error.retry_after_secs), (429_001, Some(3)));
        assert_eq!(error.to_response().headers()[header::RETRY_AFTER], "3");
    }
}
