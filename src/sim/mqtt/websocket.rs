//! MQTT over WebSocket on the hub's HTTPS listener (`/$iothub/websocket`, subprotocol `mqtt`,
//! binary frames), as the device SDKs use it on port 443: the HTTP upgrade is answered here, then
//! the WebSocket's bytes are one MQTT session like any TLS connection's.

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::TokioAdapter;
use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use ws_stream_tungstenite::WsStream;

use super::session::{self, Endpoint, SessionEnd};

/// The path device SDKs open MQTT `WebSocket`s on (`IoT` Hub and DPS alike).
pub const PATH: &str = "/$iothub/websocket";

/// Answers the upgrade request and serves the session once the connection is upgraded; a
/// request that is not a WebSocket upgrade for `mqtt` is refused with 400 naming what is missing.
pub fn upgrade(mut request: Request, endpoint: Endpoint, shutdown: watch::Receiver<bool>) -> Response {
    let headers = request.headers();
    let is_upgrade =
        headers.get(header::UPGRADE).and_then(|value| value.to_str().ok()).is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).filter(|_| is_upgrade) else {
        return refuse("a WebSocket upgrade (Upgrade: websocket, Sec-WebSocket-Key) is required here");
    };
    let offers_mqtt = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case("mqtt"));
    if !offers_mqtt {
        return refuse("the WebSocket subprotocol must be 'mqtt'");
    }
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "WebSocket upgrade failed");
                return;
            }
        };
        let config = WebSocketConfig::default().max_message_size(Some(session::MAX_MESSAGE_BYTES * 2));
        let socket = WebSocketStream::from_raw_socket(TokioAdapter::new(TokioIo::new(upgraded)), Role::Server, Some(config)).await;
        let end = session::serve(WsStream::new(socket), endpoint, shutdown).await;
        log_end(&end);
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let response_headers = response.headers_mut();
    response_headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    response_headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    response_headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("mqtt"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        response_headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

fn refuse(reason: &'static str) -> Response {
    let mut response = Response::new(Body::from(reason));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

/// Logs how a session ended (debug: refusals and violations are the client's business).
pub fn log_end(end: &SessionEnd) {
    tracing::debug!(reason = %end, "device connection closed");
}
