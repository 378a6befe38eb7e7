//! Simulator errors: [`HubError`] is an API error answered to a client; [`SimError`] stops the
//! simulator from starting.

use std::path::PathBuf;

use serde_json::Value;

use crate::azure::wire::ErrorCode;

/// An error answered over HTTP with the service's status, code and body.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}: {message}", code.name())]
pub struct HubError {
    /// The Azure error code (decides the HTTP status).
    pub code: ErrorCode,
    /// What is wrong, in words a client developer can act on.
    pub message: String,
    /// Send the newer body form (JSON inside `Message`) with this `info`, as the hub does for
    /// direct-method failures.
    pub structured_info: Option<Value>,
    /// `Retry-After` seconds, for 429.
    pub retry_after_secs: Option<u32>,
    /// Overrides the status derived from the code (a 400 bulk failure uses its own body).
    pub status_override: Option<u16>,
}

impl HubError {
    /// An error with a code and text.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), structured_info: None, retry_after_secs: None, status_override: None }
    }

    /// 400 `ArgumentInvalid`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ArgumentInvalid, message)
    }

    /// 404 `DeviceNotFound`.
    pub fn device_not_found(device_id: &str) -> Self {
        Self::new(ErrorCode::DeviceNotFound, format!("Device {device_id} not registered"))
    }

    /// 412 `PreconditionFailed` with the service's wording.
    pub fn precondition_failed() -> Self {
        Self::new(
            ErrorCode::PreconditionFailed,
            "The etag in the request does not match the etag of the existing resource, as per RFC7232. Read the resource again and retry with its current etag.",
        )
    }

    /// 500 `ServerError` for a value the simulator could not encode as JSON; `what` names it.
    /// Answered instead of sending or storing empty bytes.
    pub fn not_encoded(what: &str, error: &serde_json::Error) -> Self {
        Self::new(ErrorCode::ServerError, format!("{what} could not be encoded as JSON: {error}"))
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.status_override.unwrap_or_else(|| self.code.http_status())
    }
}

/// Why the simulator could not start or persist.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// File system trouble, with the path involved.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, as the start of the message ("cannot remove").
        action: &'static str,
        /// The file, directory or address it was done to.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A state-directory file could not be read or written (the error names the path).
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// The listening socket could not be bound.
    #[error("cannot listen on {address}: {source}{hint}")]
    Bind {
        /// Address asked for.
        address: String,
        /// The OS error.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// Certificates could not be made or loaded.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The state database failed.
    #[error("state database {path}: {detail}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A stored record could not be read back.
    #[error("state in {path} is damaged: {detail}")]
    Corrupt {
        /// The database or file.
        path: PathBuf,
        /// What could not be read.
        detail: String,
    },
    /// A setting is invalid, or start-up work failed in a way no other variant names.
    #[error("invalid simulator setting: {0}")]
    Config(String),
    /// The simulator has shut down and its state is closed; nothing more is saved.
    #[error("the simulator has shut down; {0} cannot be saved any more")]
    ShutDown(&'static str),
    /// A record could not be encoded for saving (nothing was saved in its place).
    #[error("{what} could not be encoded for saving: {detail}")]
    Encode {
        /// Which record (`job 'x'`).
        what: String,
        /// The encoder's error.
        detail: String,
    },
}
