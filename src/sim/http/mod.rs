//! The HTTP side of a simulated hub's listener.
//!
//! A request is first told apart by its path alone ([`ListenerRoute`]): nothing else of it has
//! been read, so an endpoint with other rules — the device endpoint's WebSocket upgrade at
//! `/$iothub/websocket`, which carries no api-version and no body — gets the raw request. Service
//! API requests (the hub's, and DPS's on the first hub's listener) then go through the one
//! front end ([`api::serve`]): api-version, query string and `If-Match` from the head
//! ([`front`]), the API's admission (route, SAS, faults), the body up to the API's limit, the
//! operation, and errors in the API's own envelope ([`ErrorEnvelope`]: the hub's
//! `iothub-errorcode` + `{Message, ExceptionMessage}`, DPS's six-digit `errorCode`).

pub mod api;
pub mod api_version;
mod devices;
pub mod front;
pub mod front_error;
pub mod hub_api;
pub mod hub_envelope;
mod jobs;
pub mod query_string;
pub mod response;
mod route;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;

pub use front::{Call, FrontEnd, Head};
pub use front_error::{ErrorEnvelope, FrontError, answer};
pub use hub_api::{HubApi, MAX_BODY_BYTES};
pub use hub_envelope::error_response;
pub use response::{JSON, empty, json, json_or, with_body};
pub use route::{Route, path_segments};

use super::dps::Dps;
use super::hub::Hub;

/// What one listener serves: a hub, and on the first hub's listener also DPS.
#[derive(Clone)]
pub struct Endpoint {
    /// The hub this listener serves; every path DPS does not claim is the hub's.
    pub hub: Arc<Hub>,
    /// The DPS instance, when this listener serves it.
    pub dps: Option<Arc<Dps>>,
    /// Turns true when the simulator stops (upgraded WebSocket sessions outlive their request).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Which endpoint of a listener a request is for, decided from its path before anything else of
/// the request is read. An endpoint that is not a service API (the device endpoint's WebSocket)
/// becomes a variant of its own, whose handler takes the unread request.
enum ListenerRoute<'a> {
    /// The Device Provisioning Service: service API and device registration API.
    Dps(&'a Arc<Dps>),
    /// The hub's service API: everything else.
    Hub(&'a Arc<Hub>),
    /// MQTT over WebSocket for devices (and DPS registrations on the listener that serves DPS).
    DeviceWebSocket,
}

impl ListenerRoute<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::Dps(_) => "DPS",
            Self::Hub(_) => "hub",
            Self::DeviceWebSocket => "device WebSocket",
        }
    }
}

impl Endpoint {
    fn route(&self, path: &str) -> ListenerRoute<'_> {
        match &self.dps {
            _ if path == super::mqtt::websocket::PATH => ListenerRoute::DeviceWebSocket,
            Some(dps) if super::dps::route::is_dps_path(path) => ListenerRoute::Dps(dps),
            _ => ListenerRoute::Hub(&self.hub),
        }
    }
}

/// The axum app serving `endpoint`.
pub fn router(endpoint: Endpoint) -> Router {
    Router::new().fallback(dispatch).with_state(endpoint)
}

async fn dispatch(State(endpoint): State<Endpoint>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = endpoint.route(&path);
    let api = route.name();
    let response = match route {
        ListenerRoute::Dps(dps) => api::serve(&super::dps::http::DpsApi(dps), request).await,
        ListenerRoute::Hub(hub) => api::serve(&HubApi(hub), request).await,
        ListenerRoute::DeviceWebSocket => {
            let device_endpoint = super::mqtt::session::Endpoint {
                hub: Arc::clone(&endpoint.hub),
                dps: endpoint.dps.clone(),
                protocol: crate::azure::wire::DeviceProtocol::MqttWebSocket,
            };
            super::mqtt::websocket::upgrade(request, device_endpoint, endpoint.shutdown.clone())
        }
    };
    tracing::debug!(api, %method, %path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis(), "request");
    response
}
