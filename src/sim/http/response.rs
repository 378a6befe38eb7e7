//! Response builders: JSON bodies and the hub's error envelope with `iothub-errorcode`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use serde::Serialize;

use crate::azure::wire::{HubErrorBody, StructuredError};
use crate::sim::error::HubError;

/// The content type the service answers with.
pub const JSON: &str = "application/json; charset=utf-8";

/// A JSON response with `status`.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => with_body(status, bytes),
        Err(error) => error_response(&HubError::new(crate::azure::wire::ErrorCode::ServerError, error.to_string())),
    }
}

/// A response carrying already serialized JSON.
pub fn with_body(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// An empty response (204 for deletes).
pub fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// The error as the hub sends it: status, `iothub-errorcode`, `{"Message","ExceptionMessage"}`.
pub fn error_response(error: &HubError) -> Response {
    let tracking_id = tracking_id();
    let now = Utc::now();
    let message = match &error.structured_info {
        Some(info) => serde_json::to_string(&StructuredError {
            error_code: error.code.number(),
            tracking_id: tracking_id.clone(),
            message: error.message.clone(),
            info: info.clone(),
            timestamp_utc: crate::azure::wire::Timestamp(now).to_wire(),
        })
        .unwrap_or_default(),
        None => format!("ErrorCode:{};{}", error.code.name(), error.message),
    };
    let exception_message = if error.structured_info.is_some() {
        String::new()
    } else {
        format!("Tracking ID:{tracking_id}-G:0-TimeStamp:{}", now.format("%m/%d/%Y %H:%M:%S"))
    };
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json(status, &HubErrorBody { message, exception_message });
    if let Ok(code) = HeaderValue::from_str(error.code.name()) {
        response.headers_mut().insert("iothub-errorcode", code);
    }
    if let Some(seconds) = error.retry_after_secs {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn tracking_id() -> String {
    crate::sim::text::hex(&rand::random::<[u8; 16]>())
}
