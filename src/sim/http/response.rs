//! Success responses shared by the hub and DPS: JSON bodies with the service's content type, and
//! empty answers.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use crate::sim::error::HubError;

/// The content type the service answers with.
pub const JSON: &str = "application/json; charset=utf-8";

/// `body` as JSON with `status`. A body that cannot be encoded is an error of the API's error
/// type `E` (a server error, answered in that API's envelope), never an empty answer.
pub fn json_or<E: From<HubError>>(status: StatusCode, body: &impl Serialize) -> Result<Response, E> {
    let bytes = serde_json::to_vec(body).map_err(|error| E::from(encoding_failed(&error)))?;
    Ok(with_body(status, bytes))
}

/// [`json_or`] for the hub.
pub fn json(status: StatusCode, body: &impl Serialize) -> Result<Response, HubError> {
    json_or(status, body)
}

/// The error for an answer that could not be encoded.
pub fn encoding_failed(error: &serde_json::Error) -> HubError {
    HubError::not_encoded("the answer", error)
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
