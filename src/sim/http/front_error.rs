//! What the front end refuses before an operation runs, and [`ErrorEnvelope`]: how each API
//! (hub, DPS) turns those refusals and its own errors into its one error response shape.

use axum::response::Response;

/// A request the front end refuses: no operation has run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrontError {
    /// No `api-version` query parameter (or an empty one).
    #[error("the api-version query parameter is required (e.g. api-version={example})")]
    MissingApiVersion {
        /// A version the API accepts.
        example: &'static str,
    },
    /// An `api-version` the API does not serve.
    #[error("api-version '{version}' is not supported; use {example}")]
    UnsupportedApiVersion {
        /// The version sent.
        version: String,
        /// A version the API accepts.
        example: &'static str,
    },
    /// The body is over the API's limit (it is not read further).
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The operation needs a body and none (or only whitespace) was sent.
    #[error("the request has no body; it must be {what}")]
    NoBody {
        /// What the body must be, in words.
        what: &'static str,
    },
    /// The body is not JSON at all.
    #[error("the request body is not valid JSON ({what}): {detail}")]
    NotJson {
        /// What the body must be, in words.
        what: &'static str,
        /// The parser's message (line and column).
        detail: String,
    },
    /// The body is JSON of another shape than the operation takes.
    #[error("the request body does not match the expected shape ({what}): {detail}")]
    WrongShape {
        /// What the body must be, in words.
        what: &'static str,
        /// The field or value that does not fit.
        detail: String,
    },
}

/// How an API answers errors. The front end's refusals become the API's own error type first
/// (`From<FrontError>`), so every error an API answers — the front end's or an operation's —
/// leaves in that API's one envelope.
pub trait ErrorEnvelope: From<FrontError> {
    /// The response carrying this error: status, headers and body in the API's shape.
    fn to_response(&self) -> Response;
}

/// The response for an operation's outcome: the answer, or the error in its envelope.
pub fn answer<E: ErrorEnvelope>(outcome: Result<Response, E>) -> Response {
    outcome.unwrap_or_else(|error| error.to_response())
}
