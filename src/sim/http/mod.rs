//! The HTTP front of a simulated hub: one dispatcher that checks api-version, routes, checks
//! SAS auth, injects faults, reads the body with a size limit and runs the operation.

mod devices;
mod jobs;
mod response;
mod route;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use percent_encoding::percent_decode_str;

pub use response::{JSON, error_response, json as json_response};
pub use route::{Route, path_segments};

use super::clock::unix_now;
use super::error::HubError;
use super::hub::Hub;
use crate::azure::wire::ErrorCode;

/// Largest request body accepted (a direct-method payload may be 128 KB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What one listener serves: a hub, and on the first hub's listener also DPS.
#[derive(Clone)]
pub struct Endpoint {
    /// The hub.
    pub hub: Arc<Hub>,
    /// The DPS instance, when this listener serves it.
    pub dps: Option<Arc<crate::sim::dps::Dps>>,
}

/// The axum app serving `endpoint`.
pub fn router(endpoint: Endpoint) -> Router {
    Router::new().fallback(dispatch).with_state(endpoint)
}

/// What a handler gets besides the hub.
pub struct Call {
    /// Request headers.
    pub headers: HeaderMap,
    /// Query parameters, percent-decoded.
    pub query: HashMap<String, String>,
    /// The body (empty when none was sent).
    pub body: Bytes,
}

impl Call {
    /// A header as text.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body as JSON of type `T`, with an error that says what is wrong.
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, HubError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(HubError::new(ErrorCode::ArgumentNull, format!("the request has no body; it must be {what}")));
        }
        serde_json::from_slice(&self.body).map_err(|error| {
            let kind = if error.is_syntax() || error.is_eof() { "is not valid JSON" } else { "does not match the expected shape" };
            HubError::new(ErrorCode::IotHubFormatError, format!("the request body {kind} ({what}): {error}"))
        })
    }
}

async fn dispatch(State(endpoint): State<Endpoint>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if let Some(dps) = &endpoint.dps
        && crate::sim::dps::http::is_dps_path(&path)
    {
        let response = crate::sim::dps::http::handle(dps, request).await;
        tracing::debug!(%method, %path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis(), "DPS request");
        return response;
    }
    let hub = endpoint.hub;
    let response = match handle(&hub, request).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    };
    tracing::debug!(%method, %path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis(), "hub request");
    response
}

async fn handle(hub: &Arc<Hub>, request: Request) -> Result<Response, HubError> {
    let (parts, body) = request.into_parts();
    let query = parse_query_string(parts.uri.query());
    check_api_version(query.get("api-version").map(String::as_str))?;
    let route = Route::parse(&parts.method, parts.uri.path())?;
    let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    hub.policies().authorize(authorization, route.permission(), hub.host_names(), unix_now())?;
    let latency = hub.faults().latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(fault) = hub.faults().next_fault() {
        return Err(fault);
    }
    let body = read_body(body).await?;
    let call = Call { headers: parts.headers, query, body };
    match route {
        Route::InvokeMethod(_) | Route::PutJob(_) | Route::GetJob(_) | Route::CancelJob(_) | Route::QueryJobs => {
            jobs::run(hub, route, call).await
        }
        route => devices::run(hub, route, call).await,
    }
}

async fn read_body(body: Body) -> Result<Bytes, HubError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| HubError::new(ErrorCode::MessageTooLarge, format!("the request body is larger than {MAX_BODY_BYTES} bytes")))
}

fn parse_query_string(query: Option<&str>) -> HashMap<String, String> {
    let decode = |text: &str| percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// Accepts the api-versions SDKs have used (2016-02-03 to 2024-03-31, `-preview` too).
fn check_api_version(version: Option<&str>) -> Result<(), HubError> {
    let Some(version) = version.filter(|version| !version.is_empty()) else {
        return Err(HubError::new(
            ErrorCode::InvalidProtocolVersion,
            "the api-version query parameter is required (e.g. api-version=2021-04-12)",
        ));
    };
    let date = version.strip_suffix("-preview").unwrap_or(version);
    let valid = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && ("2016-02-03"..="2024-12-31").contains(&date);
    if valid {
        Ok(())
    } else {
        Err(HubError::new(ErrorCode::InvalidProtocolVersion, format!("api-version '{version}' is not supported; use 2021-04-12")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_rules() {
        assert!(check_api_version(Some("2021-04-12")).is_ok());
        assert!(check_api_version(Some("2018-08-30-preview")).is_ok());
        assert!(check_api_version(None).unwrap_err().message.contains("required"));
        assert!(check_api_version(Some("2099-01-01")).unwrap_err().message.contains("'2099-01-01' is not supported"));
        assert!(check_api_version(Some("latest")).is_err());
    }

    #[test]
    fn query_string_is_decoded_in_any_order() {
        let query = parse_query_string(Some("jobType=scheduleDeviceMethod&api-version=2021-04-12&q=a%20b+c"));
        assert_eq!(query["api-version"], "2021-04-12");
        assert_eq!(query["q"], "a b c");
    }
}
