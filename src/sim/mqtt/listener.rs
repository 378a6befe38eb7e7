//! A hub's MQTT/TLS listener (8883 by default): the shared TLS accept loop (TLS 1.2 and 1.3;
//! the Python SDK insists on 1.2), then one [`session`](super::session) per connection.

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::session::{self, Endpoint};
use super::websocket::log_end;

/// Accepts device connections until `shutdown` turns true.
pub async fn accept_loop(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, endpoint: Endpoint, shutdown: watch::Receiver<bool>) {
    let sessions_shutdown = shutdown.clone();
    crate::sim::listener::accept_tls(listener, acceptor, shutdown, move |tls, _peer| {
        let (endpoint, shutdown) = (endpoint.clone(), sessions_shutdown.clone());
        async move { log_end(&session::serve(tls, endpoint, shutdown).await) }
    })
    .await;
}
