//! The hub's error envelope: the status, `iothub-errorcode`, `Retry-After` on 429, and
//! `{"Message","ExceptionMessage"}` — `Message` holding `ErrorCode:<Name>;<text>`, or for
//! direct-method failures the newer JSON object with a six-digit code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Utc;

use super::front_error::{ErrorEnvelope, FrontError};
use super::response::with_body;
use crate::azure::wire::{ErrorCode, HubErrorBody, StructuredError, Timestamp};
use crate::sim::error::HubError;

impl From<FrontError> for HubError {
    fn from(error: FrontError) -> Self {
        let code = match &error {
            FrontError::MissingApiVersion { .. } | FrontError::UnsupportedApiVersion { .. } => ErrorCode::InvalidProtocolVersion,
            FrontError::BodyTooLarge { .. } => ErrorCode::MessageTooLarge,
            FrontError::NoBody { .. } => ErrorCode::ArgumentNull,
            FrontError::NotJson { .. } | FrontError::WrongShape { .. } => ErrorCode::IotHubFormatError,
        };
        Self::new(code, error.to_string())
    }
}

impl ErrorEnvelope for HubError {
    fn to_response(&self) -> Response {
        error_response(self)
    }
}

/// The error as the hub sends it.
pub fn error_response(error: &HubError) -> Response {
    let tracking_id = crate::sim::text::hex(&rand::random::<[u8; 16]>());
    let now = Utc::now();
    let structured = error.structured_info.as_ref().map(|info| {
        serde_json::to_string(&StructuredError {
            error_code: error.code.number(),
            tracking_id: tracking_id.clone(),
            message: error.message.clone(),
            info: info.clone(),
            timestamp_utc: Timestamp(now).to_wire(),
        })
    });
    let body = match structured {
        Some(Ok(message)) => HubErrorBody { message, exception_message: String::new() },
        // The JSON form could not be written: the classic form still says what went wrong.
        Some(Err(_)) | None => HubErrorBody {
            message: format!("ErrorCode:{};{}", error.code.name(), error.message),
            exception_message: format!("Tracking ID:{tracking_id}-G:0-TimeStamp:{}", now.format("%m/%d/%Y %H:%M:%S")),
        },
    };
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match serde_json::to_vec(&body) {
        Ok(bytes) => with_body(status, bytes),
        // Two strings always encode; were it ever not so, the status and header still tell.
        Err(_) => {
            with_body(status, br#"{"Message":"ErrorCode:ServerError;the error could not be encoded","ExceptionMessage":""}"#.to_vec())
        }
    };
    if let Ok(code) = HeaderValue::from_str(error.code.name()) {
        response.headers_mut().insert("iothub-errorcode", code);
    }
    if let Some(seconds) = error.retry_after_secs {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use serde_json::Value;

    use super::*;

    async fn body(response: Response) -> Value {
        serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn front_end_refusals_use_the_hub_envelope() {
        let cases = [
            (FrontError::BodyTooLarge { limit: 262_144 }, 413, "MessageTooLarge"),
            (FrontError::MissingApiVersion { example: "2021-04-12" }, 400, "InvalidProtocolVersion"),
            (FrontError::UnsupportedApiVersion { version: "2099-01-01".into(), example: "2021-04-12" }, 400, "InvalidProtocolVersion"),
            (FrontError::NoBody { what: "a Device" }, 400, "ArgumentNull"),
            (FrontError::NotJson { what: "a Device", detail: "EOF".into() }, 400, "IotHubFormatError"),
            (FrontError::WrongShape { what: "a Device", detail: "unknown field".into() }, 400, "IotHubFormatError"),
        ];
        for (refusal, status, code) in cases {
            let text = refusal.to_string();
            let response = HubError::from(refusal).to_response();
            assert_eq!(response.status().as_u16(), status, "{code}");
            assert_eq!(response.headers()["iothub-errorcode"], code);
            assert!(response.headers().get("x-ms-error-code").is_none(), "that header is DPS's");
            let body = body(response).await;
            assert_eq!(body["Message"], format!("ErrorCode:{code};{text}"));
            assert!(body["ExceptionMessage"].as_str().unwrap().starts_with("Tracking ID:"));
        }
    }

    #[tokio::test]
    async fn throttling_carries_retry_after_and_method_errors_the_json_form() {
        let throttled = HubError { retry_after_secs: Some(7), ..HubError::new(ErrorCode::ThrottlingException, "slow down") };
        let response = throttled.to_response();
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let offline = HubError {
            structured_info: Some(serde_json::json!({"timeout": "00:00:30"})),
            ..HubError::new(ErrorCode::DeviceNotOnline, "the device is not online")
        };
        let body = body(offline.to_response()).await;
        let inner: StructuredError = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
        assert_eq!(inner.error_code, ErrorCode::DeviceNotOnline.number());
        assert_eq!(inner.info["timeout"], "00:00:30");
        assert_eq!(body["ExceptionMessage"], "");
    }
}
