//! Error bodies: the hub's `{"Message","ExceptionMessage"}` (classic and structured) and DPS's
//! `{"errorCode","trackingId","message"}`, read into one shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ErrorCode;

/// The hub's error envelope (`PascalCase` field names).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubErrorBody {
    /// `ErrorCode:<Name>;<text>` or an escaped JSON object.
    #[serde(rename = "Message")]
    pub message: String,
    /// `Tracking ID:<hex>-G:0-TimeStamp:<MM/dd/yyyy HH:mm:ss>`.
    #[serde(rename = "ExceptionMessage", default)]
    pub exception_message: String,
}

/// The structured error (DPS body, and the JSON inside a newer hub `Message`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StructuredError {
    /// Six-digit code.
    pub error_code: u32,
    /// Tracking id.
    #[serde(default)]
    pub tracking_id: String,
    /// Human text.
    #[serde(default)]
    pub message: String,
    /// Extra details (`{"timeout":"00:01:00"}` for `DeviceNotOnline`).
    #[serde(default)]
    pub info: Value,
    /// When the service produced the error (UTC).
    #[serde(default)]
    pub timestamp_utc: String,
}

/// What any error response says, whatever its shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedError {
    /// Code name (`DeviceNotFound`), from the header or the body.
    pub code: Option<String>,
    /// Six-digit code when the body had one.
    pub number: Option<u32>,
    /// Human text (never empty: falls back to the raw body or the status).
    pub message: String,
}

/// Reads an error response. `header_code` is `iothub-errorcode` or `x-ms-error-code`.
pub fn parse_error(status: u16, header_code: Option<&str>, body: &[u8]) -> ParsedError {
    let mut parsed = ParsedError { code: header_code.map(str::to_owned), ..ParsedError::default() };
    let value: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(message) = value.as_ref().and_then(|v| v.get("Message")).and_then(Value::as_str) {
        read_hub_message(message, &mut parsed);
    } else if let Some(structured) = value.and_then(|v| serde_json::from_value::<StructuredError>(v).ok()) {
        read_structured(&structured, &mut parsed);
    } else {
        let text = String::from_utf8_lossy(body).trim().chars().take(500).collect::<String>();
        parsed.message = text;
    }
    if parsed.message.is_empty() {
        parsed.message = format!("HTTP {status} with no error message");
    }
    parsed
}

fn read_hub_message(message: &str, parsed: &mut ParsedError) {
    if let Ok(structured) = serde_json::from_str::<StructuredError>(message) {
        read_structured(&structured, parsed);
        return;
    }
    if let Some(rest) = message.strip_prefix("ErrorCode:") {
        let (code, text) = rest.split_once(';').unwrap_or((rest, ""));
        if parsed.code.is_none() && !code.is_empty() {
            parsed.code = Some(code.to_owned());
        }
        text.clone_into(&mut parsed.message);
    } else {
        message.clone_into(&mut parsed.message);
    }
}

fn read_structured(structured: &StructuredError, parsed: &mut ParsedError) {
    parsed.number = Some(structured.error_code);
    if parsed.code.is_none() {
        parsed.code = ErrorCode::from_number(structured.error_code).map(|code| code.name().to_owned());
    }
    parsed.message.clone_from(&structured.message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_body_with_header() {
        let body =
            br#"{"Message":"ErrorCode:DeviceNotFound;dev1","ExceptionMessage":"Tracking ID:06e0-G:0-TimeStamp:10/24/2023 16:57:00"}"#;
        let parsed = parse_error(404, Some("DeviceNotFound"), body);
        assert_eq!(parsed.code.as_deref(), Some("DeviceNotFound"));
        assert_eq!(parsed.message, "dev1");
    }

    #[test]
    fn classic_body_without_header() {
        let body = br#"{"Message":"ErrorCode:DeviceAlreadyExists;A device with ID 'dev1' is already registered.","ExceptionMessage":""}"#;
        let parsed = parse_error(409, None, body);
        assert_eq!(parsed.code.as_deref(), Some("DeviceAlreadyExists"));
        assert_eq!(parsed.message, "A device with ID 'dev1' is already registered.");
    }

    #[test]
    fn structured_json_inside_message() {
        let body = br#"{"Message":"{\"errorCode\":404103,\"trackingId\":\"dde6\",\"message\":\"Timed out waiting for device to connect.\",\"info\":{\"timeout\":\"00:01:00\"},\"timestampUtc\":\"2018-11-07T09:22:57.6054134Z\"}","ExceptionMessage":""}"#;
        let parsed = parse_error(404, None, body);
        assert_eq!(parsed.code.as_deref(), Some("DeviceNotOnline"));
        assert_eq!(parsed.number, Some(404_103));
        assert_eq!(parsed.message, "Timed out waiting for device to connect.");
    }

    #[test]
    fn dps_body() {
        let body = br#"{"errorCode":404201,"trackingId":"t","message":"Enrollment not found","timestampUtc":"2022-01-01T00:00:00Z"}"#;
        let parsed = parse_error(404, Some("EnrollmentNotFound"), body);
        assert_eq!(parsed.code.as_deref(), Some("EnrollmentNotFound"));
        assert_eq!(parsed.number, Some(404_201));
        assert_eq!(parsed.message, "Enrollment not found");
    }

    #[test]
    fn non_json_and_empty_bodies_still_say_something() {
        assert_eq!(parse_error(502, None, b"Bad gateway from proxy").message, "Bad gateway from proxy");
        assert_eq!(parse_error(503, None, b"").message, "HTTP 503 with no error message");
    }
}
