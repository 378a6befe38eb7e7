//! The one error type every client call returns.

use std::fmt;
use std::time::Duration;

use super::connection_string::ConnectionStringError;

/// A failed call, with what was being done and what the service said.
#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// The connection string could not be used.
    #[error(transparent)]
    ConnectionString(#[from] ConnectionStringError),
    /// The service answered with an error status.
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// The service could not be reached, or the connection broke.
    #[error("{operation} {target}: {detail}")]
    Transport {
        /// What was being done (`get device`).
        operation: &'static str,
        /// What it was done to (a device id, a query).
        target: String,
        /// What went wrong, in words (no secrets: URLs carry none).
        detail: String,
        /// True when the request timed out.
        timed_out: bool,
    },
    /// The service answered success but with a body that is not what the API defines.
    #[error("{operation} {target}: the service answered HTTP {status} with a body hubdeck cannot read: {detail}")]
    Decode {
        /// What was being done.
        operation: &'static str,
        /// What it was done to.
        target: String,
        /// HTTP status.
        status: u16,
        /// The parse error.
        detail: String,
    },
    /// The caller asked for something the API cannot do (checked before sending).
    #[error("{0}")]
    InvalidInput(String),
    /// The extra CA certificate could not be read or used.
    #[error("the CA certificate cannot be used: {0}")]
    Certificate(String),
    /// The HTTP client could not be built (bad proxy URL, TLS setup).
    #[error("the HTTP client cannot be set up: {0}")]
    ClientSetup(String),
}

impl From<crate::azure::id_rules::IdError> for AzureError {
    fn from(error: crate::azure::id_rules::IdError) -> Self {
        Self::InvalidInput(error.to_string())
    }
}

/// An error status from the service, parsed from whichever body shape it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// What was being done (`get device`).
    pub operation: &'static str,
    /// What it was done to.
    pub target: String,
    /// HTTP status.
    pub status: u16,
    /// Azure error code name (`DeviceNotFound`), from the header or the body.
    pub code: Option<String>,
    /// Six-digit code, when the body carried one.
    pub number: Option<u32>,
    /// The service's message.
    pub message: String,
    /// `Retry-After`, when sent.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: HTTP {}", self.operation, self.target, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ServiceError {}

impl AzureError {
    /// The HTTP status, for service errors.
    pub fn status(&self) -> Option<u16> {
        self.service().map(|error| error.status)
    }

    /// The Azure error code name, for service errors.
    pub fn code(&self) -> Option<&str> {
        self.service()?.code.as_deref()
    }

    /// The service error, if this is one.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            Self::Service(error) => Some(error),
            _ => None,
        }
    }

    /// 412: someone else changed the resource since its etag was read.
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(412)
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

impl From<ServiceError> for AzureError {
    fn from(error: ServiceError) -> Self {
        Self::Service(Box::new(error))
    }
}
