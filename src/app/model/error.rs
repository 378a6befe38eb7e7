//! `AppError`: why a backend call failed, as events carry it to the reducer — the HTTP status
//! and Azure error code when the service answered, and the message to show.

use crate::azure::AzureError;

/// A failed call or local step, kept typed so the reducer can act on the status (a 400 under
/// the query bar, a 412 as a conflict) instead of parsing text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// HTTP status, when the service answered.
    pub status: Option<u16>,
    /// The service's error code name (`DeviceNotFound`), when it gave one.
    pub code: Option<String>,
    /// The service's own message when it answered, else what went wrong locally.
    pub message: String,
}

impl AppError {
    /// A failure that did not come from the service (no connection, no dialog, a local file).
    pub fn local(message: impl Into<String>) -> Self {
        Self { status: None, code: None, message: message.into() }
    }

    /// The command needs a hub and the profile has none in use.
    pub fn not_connected() -> Self {
        Self::local("not connected to a hub")
    }

    /// The command needs DPS and the profile has no DPS connection string.
    pub fn no_dps() -> Self {
        Self::local("this profile has no DPS connection string")
    }

    /// The same error with `context` in front of its message (`"d1: …"`, `"job-7: …"`).
    #[must_use]
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The message with the error code in parentheses, for places where the code helps the
    /// user (a refused twin save, a direct method).
    pub fn with_code(&self) -> String {
        match &self.code {
            Some(code) => format!("{} ({code})", self.message),
            None => self.message.clone(),
        }
    }
}

impl From<&AzureError> for AppError {
    fn from(error: &AzureError) -> Self {
        match error.service() {
            Some(service) => Self { status: Some(service.status), code: service.code.clone(), message: service.message.clone() },
            None => Self { status: error.status(), code: error.code().map(str::to_owned), message: error.to_string() },
        }
    }
}

impl From<AzureError> for AppError {
    fn from(error: AzureError) -> Self {
        Self::from(&error)
    }
}
