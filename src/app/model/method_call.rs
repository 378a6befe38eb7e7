//! The direct-method panel: the form for one device and the history of invocations, which stays
//! on screen (results are not toasts that vanish).

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::command::RequestId;
use super::error::AppError;
use crate::azure::wire::{CloudToDeviceMethod, MethodResult};

/// One invocation and its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodInvocation {
    /// The call's request id (its answer echoes it).
    pub request: RequestId,
    /// When it was sent.
    pub at: SystemTime,
    /// The device the method was sent to.
    pub device_id: Arc<str>,
    /// The method invoked.
    pub method_name: String,
    /// The device's answer, the error, or `None` while waiting.
    pub result: Option<Result<MethodResult, AppError>>,
}

/// The direct-method form for one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodForm {
    /// The device the method goes to.
    pub device_id: Arc<str>,
    /// The method to invoke (`lockDoor`).
    pub method_name: String,
    /// Payload JSON text.
    pub payload: String,
    /// Seconds to wait for the answer (5..300).
    pub response_timeout: String,
    /// Seconds to wait for the device to connect (0..300).
    pub connect_timeout: String,
}

impl MethodForm {
    /// A lockDoor form for `device_id`.
    pub fn new(device_id: Arc<str>) -> Self {
        Self {
            device_id,
            method_name: "lockDoor".to_owned(),
            payload: "{\"lockTime\":\"10m\"}".to_owned(),
            response_timeout: "30".to_owned(),
            connect_timeout: "0".to_owned(),
        }
    }

    /// The request, or the first problem (naming the field).
    pub fn request(&self) -> Result<CloudToDeviceMethod, String> {
        if self.method_name.trim().is_empty() {
            return Err("method name: required".to_owned());
        }
        let payload_text = if self.payload.trim().is_empty() { "null" } else { self.payload.as_str() };
        let payload: Value = serde_json::from_str(payload_text)
            .map_err(|error| format!("payload: not valid JSON at line {}, column {}: {error}", error.line(), error.column()))?;
        let response = self.response_timeout.trim().parse::<u64>().ok().filter(|secs| (5..=300).contains(secs));
        let response = response.ok_or_else(|| format!("response timeout: '{}' must be 5 to 300 seconds", self.response_timeout.trim()))?;
        let connect = self.connect_timeout.trim().parse::<u64>().ok().filter(|secs| *secs <= 300);
        let connect = connect.ok_or_else(|| format!("connect timeout: '{}' must be 0 to 300 seconds", self.connect_timeout.trim()))?;
        Ok(CloudToDeviceMethod {
            method_name: self.method_name.trim().to_owned(),
            payload,
            response_timeout_in_seconds: Some(response),
            connect_timeout_in_seconds: Some(connect),
        })
    }
}

/// The direct-method window: its form and every invocation of the session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MethodPanel {
    /// The form, when the panel is open.
    pub form: Option<MethodForm>,
    /// Every invocation this session, newest last.
    pub history: Vec<MethodInvocation>,
}

impl MethodPanel {
    /// True while an invocation for the form's device is waiting.
    pub fn waiting(&self) -> bool {
        self.history.iter().any(|call| call.result.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_the_bad_field() {
        let mut form = MethodForm::new(Arc::from("d1"));
        assert_eq!(form.request().unwrap().payload, serde_json::json!({"lockTime": "10m"}));
        form.payload = "{lockTime".into();
        assert!(form.request().unwrap_err().starts_with("payload: not valid JSON at line 1, column 2"));
        form.payload = String::new();
        form.response_timeout = "400".into();
        assert!(form.request().unwrap_err().starts_with("response timeout: '400'"));
    }
}
